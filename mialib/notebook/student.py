"""Student versions of the notebooks, for teaching (nbgrader's conventions):

    python -m mialib.notebook.student              # notebooks/*.ipynb -> build/student/*.ipynb

In every code cell, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are
replaced by ``raise NotImplementedError()`` (with a "YOUR CODE HERE" comment, indented like the
region), and the lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed.
Cells tagged ``exercise`` hold the solution regions; the cell after each, tagged ``check``, grades
it with asserts against mialib's own tested functions, so a student's notebook fails its checks
until the exercises are solved. Outputs are cleared. The same markers work with nbgrader
(``nbgrader generate_assignment``) and otter-grader.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from ..core import paths
from .profiles import notebook_paths

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _strip_regions(source: str, begin: str, end: str, replacement) -> tuple[str, int]:
    lines, out, n, inside, indent = source.splitlines(), [], 0, False, ""
    for line in lines:
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ValueError(f"nested {begin}")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            n += 1
            out.extend(replacement(indent))
        elif stripped == end:
            if not inside:
                raise ValueError(f"{end} without {begin}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin} without {end}")
    return "\n".join(out), n


def student_source(source: str) -> tuple[str, int]:
    """A cell's source with its solution regions replaced and hidden tests removed; also the
    number of solution regions."""
    source, n = _strip_regions(source, BEGIN, END,
                               lambda ind: [f"{ind}# YOUR CODE HERE", f"{ind}raise NotImplementedError()"])
    source, _ = _strip_regions(source, BEGIN_HIDDEN, END_HIDDEN, lambda ind: [])
    return source, n


def student_notebook(nb) -> tuple[object, int]:
    """A copy of the notebook as students get it, and its number of exercises."""
    nb = nbformat.from_dict(nb)
    total = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source, n = student_source(cell.source)
            total += n
            cell.outputs, cell.execution_count = [], None
    return nb, total


def exercise_cells(nb) -> list[int]:
    """Indices of the cells that hold a solution region."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and re.search(rf"^\s*{re.escape(BEGIN)}\s*$",
                                                                                      c.source, re.M)]


def default_out_dir() -> Path:
    """build/student/ of the repository."""
    return paths.repo_root() / "build" / "student"


def write_student_versions(out_dir: Path | None = None, notebooks=None) -> dict[str, int]:
    """Write the student version of every notebook to ``out_dir`` (build/student); return
    notebook name -> number of exercises (notebooks without exercises are copied cleared)."""
    out_dir = Path(out_dir) if out_dir else default_out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for path in notebooks or notebook_paths():
        nb, n = student_notebook(nbformat.read(path, as_version=4))
        nbformat.write(nb, out_dir / path.name)
        counts[path.name] = n
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mialib.notebook.student", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None, help="output folder (default build/student)")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else default_out_dir()
    counts = write_student_versions(out)
    for name, n in counts.items():
        print(f"{name}: {n} exercise(s)")
    print(f"student versions in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
