"""nbgrader metadata of the exercise notebooks: written from one place (mialib.notebook.grading), and a
test fails when a committed notebook's metadata drifts from its exercise and check cells."""

from __future__ import annotations

import re

import nbformat
import pytest

from mialib.notebook import grading, runner, student
from mialib.notebook.student import exercise_cells

NOTEBOOKS = runner.notebook_paths()


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_carry_the_metadata_their_exercises_need(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    assert grading.problems(nb, nb_path.stem) == [], "run: python -m mialib.notebook.grading"
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
    for i in exercise_cells(nb):  # every solution region sits in a solution cell, graded by the next one
        assert nb.cells[i].metadata["nbgrader"]["solution"] is True
        check = nb.cells[i + 1].metadata["nbgrader"]
        assert check["grade"] is True and check["locked"] is True and check["points"] > 0


def _tiny():
    cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("import math"),
             nbformat.v4.new_code_cell("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION", metadata={"tags": ["exercise"]}),
             nbformat.v4.new_code_cell("assert y == 2", metadata={"tags": ["check"]})]
    return nbformat.v4.new_notebook(cells=cells)


def test_drift_is_named_and_written_back():
    nb = _tiny()
    found = grading.problems(nb, "09_t")
    assert [p.split(" has ")[0] for p in found] == ["09_t: cell 1", "09_t: cell 2", "09_t: cell 3"]
    grading.apply(nb, "09_t")
    assert grading.problems(nb, "09_t") == []
    assert nb.cells[2].metadata["nbgrader"]["grade_id"] == "09_t_exercise_1"
    assert nb.cells[3].metadata["nbgrader"] == {"grade": True, "grade_id": "09_t_check_1", "locked": True,
                                                 "points": grading.POINTS, "schema_version": 3, "solution": False,
                                                 "task": False}
    assert nb.cells[1].metadata["nbgrader"]["locked"] is True and "nbgrader" not in nb.cells[0].metadata
    nb.cells[2].metadata["nbgrader"]["solution"] = False  # a teacher's accidental edit
    assert grading.problems(nb, "09_t") and not grading.problems(grading.apply(nb, "09_t"), "09_t")


def test_an_exercise_without_its_check_cell_is_refused():
    nb = _tiny()
    nb.cells[3].metadata["tags"] = []
    with pytest.raises(ValueError, match="not followed by a cell tagged 'check'"):
        grading.expected_metadata(nb, "09_t")


def test_a_notebook_without_exercises_carries_none():
    nb = _tiny()
    nb.cells = nb.cells[:2]
    assert grading.expected_metadata(nb, "09_t") == {} and grading.problems(nb, "09_t") == []


def test_the_command_checks_and_writes(tmp_path, capsys):
    path = tmp_path / "09_t.ipynb"
    nbformat.write(_tiny(), path)
    assert grading.main(["--check", str(path)]) == 1 and "09_t: cell 2" in capsys.readouterr().err
    assert grading.main([str(path)]) == 0
    assert grading.main(["--check", str(path)]) == 0


@pytest.mark.parametrize("line", ["## BEGIN SOLUTION", "### begin solution", "### END SOLUTIONS",
                                  "#### BEGIN HIDDEN TEST", "### BEGIN  SOLUTION"])
def test_a_mistyped_marker_is_refused_everywhere_a_solution_could_leak(tmp_path, line, capsys):
    """nbgrader and mialib.notebook.student strip exact markers only: a near-miss would ship the solution."""
    nb = _tiny()
    nb.cells[2].source = nb.cells[2].source.replace("### BEGIN SOLUTION", line) if "BEGIN S" in line.upper() \
        else nb.cells[2].source.replace("### END SOLUTION", f"### END SOLUTION\n{line}")
    found = grading.problems(nb, "09_t")
    assert found and any(repr(line.strip()) in p for p in found), found
    path = tmp_path / "09_t.ipynb"
    nbformat.write(nb, path)
    assert grading.main([str(path)]) == 1 and "would reach the students" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no student versions written"):
        student.write_student_versions(tmp_path / "out", [path])
    assert not (tmp_path / "out").exists()


def test_an_exercise_cell_without_markers_is_refused():
    nb = _tiny()
    nb.cells[2].source = "x = 1\ny = 2"  # tagged exercise, the markers forgotten: the answer is in plain sight
    assert any("tagged 'exercise' but holds no" in p for p in grading.problems(nb, "09_t"))


def test_student_versions_never_overwrite_the_sources(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    nbformat.write(grading.apply(_tiny(), "09_t"), src / "09_t.ipynb")
    before = (src / "09_t.ipynb").read_text()
    with pytest.raises(ValueError, match="would overwrite the solutions"):
        student.write_student_versions(src, [src / "09_t.ipynb"])
    assert (src / "09_t.ipynb").read_text() == before
    assert student.main(["--out", str(runner.notebook_paths()[0].parent)]) == 2
