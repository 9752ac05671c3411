"""Student versions: solution regions replaced, hidden tests removed; students' notebooks run up
to their first exercise and fail its check until it is solved; the solutions pass (the smoke run
of the solution notebooks executes every check cell)."""

from __future__ import annotations

import nbformat
import pytest

from mialib.notebook import runner, student

NOTEBOOKS = runner.notebook_paths()


def test_regions_are_replaced_and_hidden_tests_removed():
    src = "x = 1\n### BEGIN SOLUTION\ny = x + 1\n### END SOLUTION\nassert True\n"
    out, n = student.student_source(src)
    assert n == 1 and out == "x = 1\n# YOUR CODE HERE\nraise NotImplementedError()\nassert True"
    out, _ = student.student_source("for i in range(2):\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n")
    assert out == "for i in range(2):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    out, n = student.student_source("a = 1\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\n")
    assert n == 0 and out == "a = 1"
    for bad in ("### BEGIN SOLUTION\nx", "### END SOLUTION\n", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n"):
        with pytest.raises(ValueError):
            student.student_source(bad)


def test_at_least_five_notebooks_have_graded_exercises(tmp_path):
    counts = student.write_student_versions(tmp_path)
    assert sum(n > 0 for n in counts.values()) >= 5
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i in student.exercise_cells(nb):
            assert "exercise" in nb.cells[i].metadata.get("tags", []), f"{path.name} cell {i}"
            check = nb.cells[i + 1]
            assert "check" in check.metadata.get("tags", []) and "assert" in check.source, \
                f"{path.name}: the cell after an exercise must grade it"
        out = nbformat.read(tmp_path / path.name, as_version=4)
        assert "### BEGIN SOLUTION" not in "".join(c.source for c in out.cells)
        assert len(out.cells) == len(nb.cells)


@pytest.mark.notebooks
@pytest.mark.parametrize("name", ["02_secmi", "05_property_inference"])
def test_a_student_notebook_runs_to_its_first_exercise_and_fails_there(tmp_path, monkeypatch, name):
    from papermill.exceptions import PapermillExecutionError

    student.write_student_versions(tmp_path / "student", [p for p in NOTEBOOKS if p.stem == name])
    monkeypatch.setenv("MIALIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MIALIB_FIGURES", str(tmp_path / "figures"))
    path = tmp_path / "student" / f"{name}.ipynb"
    plan = runner.plan(runner.load_profile(runner.profile_path("smoke")), runner.notebook_paths())[name]
    with pytest.raises(PapermillExecutionError) as info:
        runner.execute(path, tmp_path / "out.ipynb", plan, cwd=path.parent)
    assert info.value.ename == "NotImplementedError"
    first = student.exercise_cells(nbformat.read(next(p for p in NOTEBOOKS if p.stem == name), as_version=4))
    assert info.value.cell_index == first[0] + 1  # papermill counts its injected parameters cell
