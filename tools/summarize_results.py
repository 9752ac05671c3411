#!/usr/bin/env python
"""Print the headline numbers of results/*.json as a Markdown table (for the README and
closing notes): python tools/summarize_results.py [results_dir]"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt(r: dict, key: str) -> str:
    v = r.get(key)
    if v is None:
        return ""
    ci = r.get("ci", {}).get(key)
    return f"{v:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def main(folder: str = "results") -> int:
    folder = Path(folder)
    files = sorted(folder.glob("[0-9][0-9]_*.json"))  # not the benchmarks' files
    if not files:
        print(f"no results in {folder}; run ./run_all.sh first", file=sys.stderr)
        return 1
    rows = []
    for f in files:
        doc = json.loads(f.read_text())
        commit = doc.get("git_commit", "?")[:10]
        wall = doc.get("timings", {}).get("wall_time_s")
        flat = {}
        for name, r in doc.get("metrics", {}).items():
            if isinstance(r, dict) and "auc" not in r:  # one level of nesting, e.g. "external"
                flat.update({f"{name}/{k}": v for k, v in r.items() if isinstance(v, dict)})
            else:
                flat[name] = r
        for name, r in flat.items():
            if isinstance(r, dict) and "auc" in r and "n_members" in r:
                rows.append((doc["notebook"], name, fmt(r, "auc"), fmt(r, "asr"), fmt(r, "tpr@1%fpr"),
                             fmt(r, "tpr@0.1%fpr"), f"{r['n_members']}/{r['n_nonmembers']}"))
        print(f"- {doc['notebook']}: {wall} s (commit {commit})")
    print()
    print("| notebook | attack | AUC [95% CI] | ASR | TPR@1%FPR | TPR@0.1%FPR | members/non-members |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
