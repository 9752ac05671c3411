#!/usr/bin/env python
"""A student's first minutes: how long each student notebook takes, opened on this machine, to
reach its first exercise (where it stops with NotImplementedError until the student solves it).

    .venv/bin/python tools/first_minutes.py                 # quick profile, the models ./run_all.sh cached
    .venv/bin/python tools/first_minutes.py --cold          # each notebook with an empty cache of its own
    .venv/bin/python tools/first_minutes.py --profile smoke --only 07_text_to_image

Each notebook's student version (``mialib.notebook.student``) runs alone, as a student's kernel
would, under the profile's parameters (papermill), its results and figures written to a temporary
folder, never over the committed ones. The time is the wall time of the whole run, kernel start
included, up to the failing exercise cell; the tool checks that the cell it stopped in is the first
exercise, and prints a Markdown table (docs/teaching.md quotes it).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mialib.notebook import lane, student  # noqa: E402
from mialib.notebook.course import exercise_notebooks  # noqa: E402
from mialib.notebook.profiles import load_profile, notebook_paths, plan, profile_path  # noqa: E402


def run_to_first_exercise(notebook: Path, parameters: dict, work: Path, cache: Path | None = None) -> dict:
    """Run the student version of ``notebook`` in its own process; return its first exercise's
    cell (as in the source notebook), the wall time, and whether it stopped there."""
    first = student.exercise_cells(nbformat.read(notebook, as_version=4))
    if not first:
        raise ValueError(f"{notebook.name} has no exercise")
    student.write_student_versions(work / "student", [notebook])
    env = {**os.environ, "MIALIB_RESULTS": str(work / "results"), "MIALIB_FIGURES": str(work / "figures")}
    if cache is not None:
        env["MIALIB_CACHE"] = str(cache)
    cmd = lane.command(work / "student" / notebook.name, work / f"{notebook.stem}.out.ipynb",
                       lane.write_parameters(work / f"{notebook.stem}.json", parameters))
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    # papermill counts its injected parameters cell, one after the parameters cell
    stopped = (done.returncode == 1 and f"{notebook.name}: cell {first[0] + 1} (execution count" in done.stderr
               and "raised NotImplementedError" in done.stderr)
    return {"notebook": notebook.stem, "first_exercise_cell": first[0], "seconds": seconds,
            "stopped_at_first_exercise": stopped, "log": done.stdout[-2000:] + done.stderr[-2000:]}


def table(rows: list[dict], profile: str, cold: bool) -> str:
    """The Markdown table of :func:`run_to_first_exercise`'s rows."""
    cache = "empty cache per notebook (trains what it needs)" if cold else "models cached by ./run_all.sh"
    lines = [f"Profile `{profile}`, {cache}; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs.", "",
             "| notebook | first exercise (cell) | time to reach it |", "|---|---|---|"]
    for r in rows:
        ok = "" if r["stopped_at_first_exercise"] else " (did NOT stop at its first exercise)"
        lines.append(f"| `{r['notebook']}` | {r['first_exercise_cell']} | {r['seconds']:.0f} s{ok} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--cold", action="store_true", help="give each notebook an empty cache of its own")
    ap.add_argument("--only", nargs="+", metavar="NOTEBOOK")
    args = ap.parse_args(argv)
    notebooks = exercise_notebooks()
    if args.only:
        unknown = sorted(set(args.only) - {p.stem for p in notebooks})
        if unknown:
            print(f"first_minutes: no exercise notebook named {', '.join(unknown)}", file=sys.stderr)
            return 2
        notebooks = [p for p in notebooks if p.stem in args.only]
    plans = plan(load_profile(profile_path(args.profile)), notebook_paths())
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = []
    with tempfile.TemporaryDirectory(prefix="first_minutes_") as tmp:
        for nb in notebooks:
            work = Path(tmp) / nb.stem
            row = run_to_first_exercise(nb, plans[nb.stem], work, cache=work / "cache" if args.cold else None)
            print(f"[first_minutes] {nb.stem}: {row['seconds']:.0f} s", file=sys.stderr, flush=True)
            if not row["stopped_at_first_exercise"]:
                print(row["log"], file=sys.stderr)
            rows.append(row)
    print(table(rows, args.profile, args.cold))
    return 0 if all(r["stopped_at_first_exercise"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
