"""The nbgrader round trip, run for real (docs/teaching.md): a course folder made by
``mialib.notebook.course`` under the smoke profile, ``nbgrader generate_assignment`` releases every
exercise notebook without its solutions (the same text ``mialib.notebook.student`` writes), and
``nbgrader autograde`` gives (a) the solution notebooks full points, (b) the released notebooks
zero for every exercise, (c) a release with one exercise solved exactly that exercise's points.

nbgrader is the teaching extra (requirements-teaching.txt), which tools/test.sh installs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mialib.notebook import course, grading, student

nbgrader = pytest.importorskip("nbgrader", reason="nbgrader (the teaching extra) is not installed: "
                               "tools/test.sh installs it, or pip install -r requirements-teaching.txt")

ASSIGNMENT = "ps1"
SOLVED = "02_secmi"  # the cheapest exercise notebook: the one case (c) solves


def _env() -> dict:
    # nbgrader calls `alembic` by name: the venv's bin must come first on PATH
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _nbgrader(course_dir: Path, *args, background=False, log=None):
    cmd = [sys.executable, "-m", "nbgrader", *args]
    if background:
        return subprocess.Popen(cmd, cwd=course_dir, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    done = subprocess.run(cmd, cwd=course_dir, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _scores(course_dir: Path, student_id: str) -> dict[str, float]:
    """grade_id -> score of every graded cell of ``student_id``'s submission."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        sub = gb.find_submission(ASSIGNMENT, student_id)
        return {g.name: g.score for nb in sub.notebooks for g in nb.grades}


def _submit(course_dir: Path, student_id: str, notebooks: dict):
    folder = course_dir / "submitted" / student_id / ASSIGNMENT
    folder.mkdir(parents=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / name)


@pytest.mark.notebooks
def test_nbgrader_releases_and_autogrades_the_exercises(tmp_path):
    src_dir = tmp_path / "course"
    sources = course.write_course(src_dir, profile="smoke", assignment=ASSIGNMENT)
    names = [p.name for p in sources]
    assert len(names) >= 6 and f"{SOLVED}.ipynb" in names
    _nbgrader(src_dir, "generate_assignment", ASSIGNMENT)

    # the release: every exercise notebook, no solution text, exercise cells as mialib.notebook.student writes them
    release = {name: nbformat.read(src_dir / "release" / ASSIGNMENT / name, as_version=4) for name in names}
    source = {name: nbformat.read(src_dir / "source" / ASSIGNMENT / name, as_version=4) for name in names}
    points = {}
    for name in names:
        text = "".join(c.source for c in release[name].cells)
        assert student.BEGIN not in text and student.END not in text, name
        exercises = student.exercise_cells(source[name])
        assert exercises, name
        for k, i in enumerate(exercises, 1):
            assert release[name].cells[i].source == student.student_source(source[name].cells[i].source)[0], \
                f"{name}: nbgrader's release of exercise {k} differs from mialib.notebook.student's"
            solution_lines = [ln for ln in source[name].cells[i].source.splitlines()
                              if ln.strip() and ln.strip() not in (student.BEGIN, student.END)
                              and ln not in student.student_source(source[name].cells[i].source)[0].splitlines()]
            assert solution_lines and not any(ln in text.splitlines() for ln in solution_lines), name
            points[f"{Path(name).stem}_check_{k}"] = grading.POINTS

    # (a) the solutions; (b)+(c) the release with only SOLVED's exercise solved; (b) SOLVED's release unchanged
    solved = {name: nbformat.from_dict(nb) for name, nb in release.items()}
    for i in student.exercise_cells(source[f"{SOLVED}.ipynb"]):
        solved[f"{SOLVED}.ipynb"].cells[i].source = source[f"{SOLVED}.ipynb"].cells[i].source
    second = tmp_path / "course2"  # two course copies graded side by side (one gradebook each)
    shutil.copytree(src_dir, second)
    _submit(src_dir, "alice", source)
    _submit(second, "carol", solved)
    _submit(second, "bob", {f"{SOLVED}.ipynb": release[f"{SOLVED}.ipynb"]})
    t0 = time.perf_counter()
    logs = {d: (tmp_path / f"{d.name}.log").open("w") for d in (src_dir, second)}
    procs = {d: _nbgrader(d, "autograde", ASSIGNMENT, "--create", background=True, log=logs[d])
             for d in (src_dir, second)}
    for d, proc in procs.items():
        proc.wait(timeout=1200)
        logs[d].close()
        assert proc.returncode == 0, (tmp_path / f"{d.name}.log").read_text()[-4000:]
    print(f"autograde of 3 students: {time.perf_counter() - t0:.0f} s")

    alice, carol, bob = _scores(src_dir, "alice"), _scores(second, "carol"), _scores(second, "bob")
    print("points (a) solutions:", alice, "\n(c) one solved:", carol, "\n(b) release unchanged:", bob)
    assert alice == points, "(a) the solution notebooks must get every point"
    solved_ids = {g for g in points if g.startswith(SOLVED)}
    assert carol == {g: (p if g in solved_ids else 0.0) for g, p in points.items()}, \
        "(c) one solved exercise must give exactly its points, the unchanged ones none"
    assert {g: s for g, s in bob.items() if g in solved_ids} == dict.fromkeys(solved_ids, 0.0), \
        "(b) an unchanged release must get no points"
