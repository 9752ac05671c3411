"""nbgrader's cell metadata for the exercises, written and checked from one place, so the teacher's
`nbgrader generate_assignment` finds what it needs (it reads ``metadata.nbgrader``, not the
``### BEGIN SOLUTION`` markers alone, and stops with "Solution region detected in a non-solution
cell" without it):

- a cell holding a solution region (tagged ``exercise``): an autograded answer
  (``solution: true``, ``grade: false``);
- the cell tagged ``check`` after it: an autograder test (``grade: true``, ``locked: true``, with
  :data:`POINTS` points);
- every other code cell of a notebook with exercises: read-only (``locked: true``), the set-up a
  student must not edit.

Each carries ``schema_version`` 3 and a ``grade_id`` unique in its notebook: ``<stem>_exercise_<k>``
and ``<stem>_check_<k>`` for the k-th exercise (stable while exercises keep their order), and
``<stem>_setup_<i>`` for the i-th other code cell.

    python -m mialib.notebook.grading            # write the metadata into notebooks/*.ipynb
    python -m mialib.notebook.grading --check    # exit 1 naming every cell whose metadata drifted
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from .profiles import notebook_paths
from .student import exercise_cells, marker_problems

SCHEMA_VERSION = 3
POINTS = 1  # points of each exercise's check cell


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def expected_metadata(nb, stem: str) -> dict[int, dict]:
    """Cell index -> the ``nbgrader`` metadata it must carry (empty for a notebook without
    exercises). A ValueError if an exercise is not followed by a cell tagged ``check``."""
    exercises = exercise_cells(nb)
    if not exercises:
        return {}
    out, setup = {}, 0
    for k, i in enumerate(exercises, 1):
        if i + 1 >= len(nb.cells) or "check" not in _tags(nb.cells[i + 1]):
            raise ValueError(f"{stem}: exercise {k} (cell {i}) is not followed by a cell tagged 'check'")
        out[i] = {"grade": False, "grade_id": f"{stem}_exercise_{k}", "locked": False,
                  "schema_version": SCHEMA_VERSION, "solution": True, "task": False}
        out[i + 1] = {"grade": True, "grade_id": f"{stem}_check_{k}", "locked": True, "points": POINTS,
                      "schema_version": SCHEMA_VERSION, "solution": False, "task": False}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and i not in out:
            setup += 1
            out[i] = {"grade": False, "grade_id": f"{stem}_setup_{setup}", "locked": True,
                      "schema_version": SCHEMA_VERSION, "solution": False, "task": False}
    return out


def problems(nb, stem: str) -> list[str]:
    """Every cell whose ``nbgrader`` metadata differs from :func:`expected_metadata` (or that
    carries some where none is expected), and every :func:`marker_problems`."""
    out = marker_problems(nb, stem)
    if out:
        return out
    want = expected_metadata(nb, stem)
    for i, cell in enumerate(nb.cells):
        have = cell.get("metadata", {}).get("nbgrader")
        if have != want.get(i):
            out.append(f"{stem}: cell {i} has nbgrader metadata {have}, expected {want.get(i)}")
    return out


def apply(nb, stem: str):
    """``nb`` with every cell's ``nbgrader`` metadata set to :func:`expected_metadata`."""
    want = expected_metadata(nb, stem)
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("nbgrader", None)
        if i in want:
            cell.metadata["nbgrader"] = want[i]
    return nb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mialib.notebook.grading", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check; exit 1 if any notebook's metadata drifted")
    ap.add_argument("notebooks", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    args = ap.parse_args(argv)
    bad = []
    for path in args.notebooks or notebook_paths():
        nb = nbformat.read(path, as_version=4)
        if args.check or marker_problems(nb, path.stem):
            bad += problems(nb, path.stem)
        elif problems(nb, path.stem):
            nbformat.write(apply(nb, path.stem), path)
            print(f"{path.name}: nbgrader metadata written")
    for line in bad:
        print(line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
