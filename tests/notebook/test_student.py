"""Student versions: solution regions replaced, hidden tests removed; students' notebooks run up
to their first exercise and fail its check until it is solved; the solutions pass (the smoke run
of the solution notebooks executes every check cell)."""

from __future__ import annotations

import os
import subprocess

import nbformat
import pytest

from mialib.notebook import lane, runner, student

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
def test_student_notebooks_run_to_their_first_exercise_and_fail_there(tmp_path, monkeypatch):
    """Two students' notebooks, each in its own lane (side by side, as run_all runs them): each
    stops with NotImplementedError in the cell of its first exercise, and the lane names that cell."""
    names = ["02_secmi", "05_property_inference"]
    student.write_student_versions(tmp_path / "student", [p for p in NOTEBOOKS if p.stem in names])
    monkeypatch.setenv("MIALIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MIALIB_FIGURES", str(tmp_path / "figures"))
    plans = runner.plan(runner.load_profile(runner.profile_path("smoke")), runner.notebook_paths())
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in names}
    lanes = {name: subprocess.Popen(lane.command(tmp_path / "student" / f"{name}.ipynb", tmp_path / f"{name}.out.ipynb",
                                                 lane.write_parameters(tmp_path / f"{name}.json", plans[name])),
                                    stdout=logs[name], stderr=subprocess.STDOUT, env=env)
             for name in names}
    for name, proc in lanes.items():
        proc.wait(timeout=900)
        logs[name].close()
        err = (tmp_path / f"{name}.log").read_text()
        first = student.exercise_cells(nbformat.read(next(p for p in NOTEBOOKS if p.stem == name), as_version=4))
        assert proc.returncode == 1, err
        # papermill counts its injected parameters cell
        assert f"{name}.ipynb: cell {first[0] + 1} (execution count" in err and "raised NotImplementedError" in err, err
