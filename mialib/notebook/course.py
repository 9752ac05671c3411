"""An nbgrader course folder made from the exercise notebooks, under one parameter profile.

    python -m mialib.notebook.course COURSE                      # quick profile, assignment ps1
    python -m mialib.notebook.course COURSE --profile smoke --only 02_secmi 05_property_inference

writes ``COURSE/source/<assignment>/<notebook>.ipynb`` for every notebook with exercises and
``COURSE/nbgrader_config.py``; then, in ``COURSE``, nbgrader's own commands do the rest
(docs/teaching.md): ``nbgrader generate_assignment ps1``, ``nbgrader autograde ps1``,
``nbgrader export``.

How the profile reaches nbgrader's execution: nbgrader runs a notebook as it is, with no
parameters of its own, so each source notebook gets the profile's parameters written into it
the way ``./run_all.sh`` gives them to papermill — a cell tagged ``injected-parameters`` right
after the ``parameters`` cell (papermill's own :func:`papermill.parameterize.parameterize_notebook`).
The release keeps that cell, a student may edit it (it is not locked), and ``nbgrader autograde``
executes the student's copy with it. The cell-level nbgrader metadata comes from
:mod:`.grading`; the per-cell time limit in the config fits the profile (training a model on the
first run of a notebook takes minutes on the quick profile).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from .grading import problems
from .profiles import ParameterError, load_profile, notebook_paths, plan, profile_path
from .student import exercise_cells

COURSE_ID = "mialib"
CELL_TIMEOUT_S = 3600  # one cell may train a target model when nothing is cached

CONFIG = '''# nbgrader configuration written by `python -m mialib.notebook.course` (docs/teaching.md).
c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.course_id = "{course_id}"
# the student's stub, as `python -m mialib.notebook.student` writes it
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
# a cell may train a model when nothing is cached yet
c.Execute.timeout = {timeout}
'''


def exercise_notebooks(notebooks=None) -> list[Path]:
    """The notebooks (default notebooks/*.ipynb) that hold at least one exercise."""
    return [p for p in (notebooks or notebook_paths()) if exercise_cells(nbformat.read(p, as_version=4))]


def source_notebook(path: Path, parameters: dict):
    """The notebook at ``path`` with ``parameters`` injected after its parameters cell, as
    papermill injects them; a ValueError if its nbgrader metadata drifted from its exercises."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(path))  # papermill's reader: every cell gets its tags list
    drift = problems(nb, path.stem)
    if drift:
        raise ValueError(f"{path.name}: nbgrader metadata out of date ({drift[0]}); run "
                         "`python -m mialib.notebook.grading` and commit the notebooks")
    return parameterize_notebook(nb, parameters, kernel_name="python3", language="python")


def write_course(course: Path, profile: str = "quick", assignment: str = "ps1", only=None) -> list[Path]:
    """Write the source folder of ``assignment`` and the nbgrader config under ``course``; return
    the source notebooks written. ``only``: notebook stems to include (default every notebook
    with exercises)."""
    if not assignment or not assignment.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"assignment name {assignment!r}: use letters, digits, '-' or '_' (e.g. ps1)")
    notebooks = exercise_notebooks()
    if only:
        known = {p.stem: p for p in notebooks}
        unknown = [s for s in only if s not in known]
        if unknown:
            raise ValueError(f"no exercises in {', '.join(unknown)}: choose among {', '.join(known)}")
        notebooks = [known[s] for s in only]
    plans = plan(load_profile(profile_path(profile)), notebook_paths())
    source = Path(course) / "source" / assignment
    source.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        out = source / path.name
        nbformat.write(source_notebook(path, plans[path.stem]), out)
        written.append(out)
    config = Path(course) / "nbgrader_config.py"
    config.write_text(CONFIG.format(course_id=COURSE_ID, timeout=CELL_TIMEOUT_S))
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mialib.notebook.course", description=__doc__.split("\n\n")[0])
    ap.add_argument("course", type=Path, help="the course folder (created if missing)")
    ap.add_argument("--profile", default="quick", help="parameter profile: quick, smoke, full or a YAML file")
    ap.add_argument("--assignment", default="ps1", help="assignment name (default ps1)")
    ap.add_argument("--only", nargs="+", metavar="NOTEBOOK", help="notebook stems (default: all with exercises)")
    args = ap.parse_args(argv)
    try:
        written = write_course(args.course, args.profile, args.assignment, args.only)
    except (ValueError, ParameterError, FileNotFoundError) as exc:
        print(f"course: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"[course] {path}")
    print(f"[course] next: cd {args.course} && nbgrader generate_assignment {args.assignment}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
