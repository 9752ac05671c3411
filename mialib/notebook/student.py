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


MARKER_LIKE = re.compile(r"^\s*#+\s*(begin|end)\s+(solutions?|hidden\s+tests?)\b", re.I)


def marker_problems(nb, stem: str) -> list[str]:
    """Cells that would ship a solution to students: a cell tagged ``exercise`` without a solution
    region, and a line that looks like a marker but is not exactly one (``## BEGIN SOLUTION``,
    ``### begin solution``, ``### END SOLUTIONS``), which neither nbgrader nor
    :func:`student_source` would strip."""
    out = []
    exact = {BEGIN, END, BEGIN_HIDDEN, END_HIDDEN}
    regions = set(exercise_cells(nb))
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if "exercise" in cell.get("metadata", {}).get("tags", []) and i not in regions:
            out.append(f"{stem}: cell {i} is tagged 'exercise' but holds no '{BEGIN}' ... '{END}' region: "
                       "its solution would reach the students")
        for line in cell.source.splitlines():
            if MARKER_LIKE.match(line) and line.strip() not in exact:
                out.append(f"{stem}: cell {i} has the line {line.strip()!r}, not a marker nbgrader reads "
                           f"(write exactly {BEGIN!r} / {END!r}): the solution would reach the students")
    return out


def default_out_dir() -> Path:
    """build/student/ of the repository."""
    return paths.repo_root() / "build" / "student"


def write_student_versions(out_dir: Path | None = None, notebooks=None) -> dict[str, int]:
    """Write the student version of every notebook to ``out_dir`` (build/student); return
    notebook name -> number of exercises (notebooks without exercises are copied cleared)."""
    out_dir = Path(out_dir) if out_dir else default_out_dir()
    notebooks = list(notebooks or notebook_paths())
    sources = {p.resolve().parent for p in notebooks}
    if out_dir.resolve() in sources:
        raise ValueError(f"{out_dir} holds the source notebooks: their student versions would overwrite "
                         "the solutions; choose another folder (default build/student)")
    read = {path: nbformat.read(path, as_version=4) for path in notebooks}
    bad = [line for path, nb in read.items() for line in marker_problems(nb, path.stem)]
    if bad:
        raise ValueError("no student versions written:\n" + "\n".join(bad))
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for path, nb in read.items():
        nb, n = student_notebook(nb)
        nbformat.write(nb, out_dir / path.name)
        counts[path.name] = n
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mialib.notebook.student", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None, help="output folder (default build/student)")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else default_out_dir()
    try:
        counts = write_student_versions(out)
    except ValueError as exc:
        print(f"student: {exc}", file=sys.stderr)
        return 2
    for name, n in counts.items():
        print(f"{name}: {n} exercise(s)")
    print(f"student versions in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
