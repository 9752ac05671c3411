"""The nbgrader course folder: every exercise notebook, the profile's parameters injected after
the parameters cell (the only way they reach nbgrader's execution), and a config nbgrader reads.
The real round trip is tests/notebook/test_nbgrader.py."""

from __future__ import annotations

import ast

import nbformat
import pytest

from mialib.notebook import course, grading, runner, student


def _injected(nb) -> dict:
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cells[0].source).body}


def test_course_has_every_exercise_notebook_with_the_profiles_parameters(tmp_path):
    written = course.write_course(tmp_path, profile="smoke")
    with_exercises = [p.stem for p in runner.notebook_paths()
                      if student.exercise_cells(nbformat.read(p, as_version=4))]
    assert [p.stem for p in written] == with_exercises and len(written) >= 6
    assert all(p.parent == tmp_path / "source" / "ps1" for p in written)
    plans = runner.plan(runner.load_profile(runner.profile_path("smoke")), runner.notebook_paths())
    for path in written:
        nb = nbformat.read(path, as_version=4)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        at = next(i for i, t in enumerate(tags) if "parameters" in t)
        assert "injected-parameters" in tags[at + 1], path.name
        assert _injected(nb) == plans[path.stem], path.name
        # the injected cell carries no nbgrader metadata; every other cell keeps what grading wrote
        assert "nbgrader" not in nb.cells[at + 1].metadata
        original = nbformat.read(runner.notebook_paths()[0].parent / path.name, as_version=4)
        assert [c.metadata.get("nbgrader") for i, c in enumerate(nb.cells) if i != at + 1] == \
            [c.metadata.get("nbgrader") for c in original.cells]
    config = (tmp_path / "nbgrader_config.py").read_text()
    assert 'course_id = "mialib"' in config and f"Execute.timeout = {course.CELL_TIMEOUT_S}" in config
    # nbgrader's stub must be the student module's, so both releases agree
    assert '"# YOUR CODE HERE\\nraise NotImplementedError()"' in config
    assert student.student_source("### BEGIN SOLUTION\nx\n### END SOLUTION")[0] == \
        "# YOUR CODE HERE\nraise NotImplementedError()"


def test_the_quick_profile_is_the_default_and_only_picks_notebooks(tmp_path):
    written = course.write_course(tmp_path, only=["05_property_inference"], assignment="week-3")
    assert [p.relative_to(tmp_path).as_posix() for p in written] == ["source/week-3/05_property_inference.ipynb"]
    plans = runner.plan(runner.load_profile(runner.profile_path("quick")), runner.notebook_paths())
    assert _injected(nbformat.read(written[0], as_version=4)) == plans["05_property_inference"]


@pytest.mark.parametrize("kwargs, message", [
    ({"only": ["01_train_target_model"]}, "no exercises in 01_train_target_model"),
    ({"only": ["99_nothing"]}, "choose among 02_secmi"),
    ({"assignment": "../ps1"}, "assignment name"),
    ({"assignment": ""}, "assignment name"),
])
def test_bad_requests_are_refused_naming_the_value(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        course.write_course(tmp_path, **kwargs)
    assert not (tmp_path / "source").exists()


def test_unknown_profile_and_drifted_metadata_are_refused(tmp_path, capsys):
    assert course.main([str(tmp_path), "--profile", "no_such_profile"]) == 2
    assert "no_such_profile" in capsys.readouterr().err
    src = next(p for p in runner.notebook_paths() if p.stem == "02_secmi")
    nb = nbformat.read(src, as_version=4)
    i = student.exercise_cells(nb)[0]
    del nb.cells[i + 1].metadata["nbgrader"]
    broken = tmp_path / "02_secmi.ipynb"
    nbformat.write(nb, broken)
    assert grading.problems(nb, "02_secmi")
    with pytest.raises(ValueError, match="python -m mialib.notebook.grading"):
        course.source_notebook(broken, {"seed": 0})
