#!/usr/bin/env python
"""How far two runs of the same code moved the numbers: the largest move per notebook and kind of
metric between two results folders (e.g. one run with the default CPU kernels and one with
ATEN_CPU_CAPABILITY=default, or on two machines), as a Markdown table:

    .venv/bin/python tools/compare_runs.py results_a/ results_b/ [--out docs/reproducibility.md]

Every numeric leaf under ``metrics`` is compared; its kind is the name of the quantity it holds
(``auc``, ``tpr@1%fpr``, ``difference``, ...), with "bound" added for the ends of an interval.
Timings, and the fields that name the machine, are not compared. The runs' commits and machines are
stated above the table, so a reader knows what was set against what.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

INTERVAL_KEYS = ("ci",)


def numeric_leaves(node, path=()):
    """(path, value) of every finite number under ``node`` (dicts and lists walked; bools skipped)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from numeric_leaves(v, path + (str(k),))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from numeric_leaves(v, path + (str(i),))
    elif isinstance(node, (int, float)) and not isinstance(node, bool) and math.isfinite(node):
        yield path, float(node)


def kind_of(path: tuple) -> str:
    """The quantity a leaf holds: the last key that is not an index, with "bound" when the leaf is
    an end of an interval (a path through "ci", or a list of two under a *_ci key)."""
    names = [p for p in path if not p.isdigit()]
    bound = any(p in INTERVAL_KEYS or p.endswith("_ci") for p in path)
    name = names[-1] if names else "value"
    if name.endswith("_ci"):
        name = name[: -len("_ci")]
    return name + (" (bound)" if bound else "")


def moves(doc_a: dict, doc_b: dict) -> dict:
    """kind -> (largest |a - b|, the path where it is, a, b), over the leaves both runs have."""
    a = dict(numeric_leaves(doc_a.get("metrics", {})))
    b = dict(numeric_leaves(doc_b.get("metrics", {})))
    out = {}
    for path in sorted(set(a) & set(b)):
        kind = kind_of(path)
        d = abs(a[path] - b[path])
        if kind not in out or d > out[kind][0]:
            out[kind] = (d, "/".join(path), a[path], b[path])
    return out


def _stamp(folder: Path) -> str:
    docs = [json.loads(p.read_text()) for p in sorted(folder.glob("[0-9][0-9]_*.json"))]
    commits = sorted({d.get("git_commit", "?")[:10] for d in docs})
    machines = sorted({f"{d.get('versions', {}).get('cpu', '?')}, {d.get('versions', {}).get('cpu_capability', '?')}, "
                       f"{d.get('versions', {}).get('torch_threads', '?')} thread(s)" for d in docs})
    return f"commit {', '.join(commits)}; {'; '.join(machines)}"


def table(folder_a: Path, folder_b: Path) -> list[str]:
    """The Markdown lines: the two runs' stamps, then one row per notebook and kind."""
    lines = [f"- A: `{folder_a}`: {_stamp(folder_a)}", f"- B: `{folder_b}`: {_stamp(folder_b)}", "",
             "| notebook | metric kind | largest move | where | A | B |", "|---|---|---|---|---|---|"]
    overall = defaultdict(float)
    for fa in sorted(folder_a.glob("[0-9][0-9]_*.json")):
        fb = folder_b / fa.name
        if not fb.is_file():
            lines.append(f"| {fa.stem} | (missing in B) | | | | |")
            continue
        for kind, (d, where, va, vb) in sorted(moves(json.loads(fa.read_text()), json.loads(fb.read_text())).items()):
            overall[kind] = max(overall[kind], d)
            lines.append(f"| {fa.stem} | {kind} | {d:.4f} | `{where}` | {va:.4f} | {vb:.4f} |")
    lines += ["", "Largest move per kind over all notebooks: "
              + ", ".join(f"{k} {v:.4f}" for k, v in sorted(overall.items(), key=lambda kv: -kv[1])) + "."]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--out", type=Path, help="write the table here (Markdown) instead of printing it")
    args = ap.parse_args(argv)
    for folder in (args.a, args.b):
        if not any(folder.glob("[0-9][0-9]_*.json")):
            print(f"no results files in {folder}", file=sys.stderr)
            return 1
    text = "\n".join(table(args.a, args.b)) + "\n"
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
