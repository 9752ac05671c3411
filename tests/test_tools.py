"""The tools that turn results into the README, the gallery and the reproducibility table:
tools/compare_runs.py on hand-made results files, and the README's generated block."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(folder: Path, auc: float, lo: float, cap: str) -> None:
    folder.mkdir()
    doc = {"git_commit": "abc1234567xyz", "versions": {"cpu": "Test CPU", "cpu_capability": cap, "torch_threads": 1},
           "metrics": {"attacks": {"a": {"auc": auc, "ci": {"auc": [lo, 0.9]}, "n": 5, "flag": True}},
                       "runs": [{"accuracy_change_ci": [lo - 0.5, 0.1]}]},
           "timings": {"wall_time_s": auc * 100}}
    (folder / "02_secmi.json").write_text(json.dumps(doc))


def test_compare_runs_reports_the_largest_move_per_kind(tmp_path):
    cr = _tool("compare_runs")
    _write(tmp_path / "a", 0.80, 0.70, "AVX2")
    _write(tmp_path / "b", 0.83, 0.69, "DEFAULT")
    m = cr.moves(json.loads((tmp_path / "a" / "02_secmi.json").read_text()),
                 json.loads((tmp_path / "b" / "02_secmi.json").read_text()))
    assert m["auc"][0] == pytest.approx(0.03) and m["auc"][1] == "attacks/a/auc"
    assert m["auc (bound)"][0] == pytest.approx(0.01) and m["accuracy_change (bound)"][0] == pytest.approx(0.01)
    assert m["n"][0] == 0.0 and "flag" not in m and "wall_time_s" not in m  # bools and timings are not compared
    assert cr.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "t.md")]) == 0
    text = (tmp_path / "t.md").read_text()
    assert "commit abc1234567; Test CPU, AVX2, 1 thread(s)" in text and "Test CPU, DEFAULT" in text
    assert "| 02_secmi | auc | 0.0300 | `attacks/a/auc` | 0.8000 | 0.8300 |" in text
    assert "Largest move per kind over all notebooks: auc 0.0300" in text
    assert cr.main([str(tmp_path / "a"), str(tmp_path / "nothing")]) == 1


def test_the_readme_block_is_replaced_between_its_markers_only(tmp_path):
    mg = _tool("make_gallery")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{mg.README_BEGIN}\nold table\n{mg.README_END}\nrest\n")
    mg.write_readme(readme, ["new", "table"])
    assert readme.read_text() == f"intro\n{mg.README_BEGIN}\nnew\ntable\n{mg.README_END}\nrest\n"
    mg.write_readme(readme, ["again"])
    assert readme.read_text() == f"intro\n{mg.README_BEGIN}\nagain\n{mg.README_END}\nrest\n"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="must hold the markers"):
        mg.write_readme(readme, ["x"])


def test_the_repository_readme_has_its_generated_block():
    mg = _tool("make_gallery")
    text = (TOOLS.parent / "README.md").read_text()
    assert text.count(mg.README_BEGIN) == 1 and text.count(mg.README_END) == 1


def test_the_gallery_stamp_names_the_runs_commits_and_machines(tmp_path, monkeypatch):
    mg = _tool("make_gallery")
    _write(tmp_path / "run", 0.8, 0.7, "AVX2")
    (tmp_path / "run" / "03_noise_aggregation.json").write_text(json.dumps({"git_commit": "def9876543210", "versions": {}}))
    monkeypatch.setenv("MIALIB_RESULTS", str(tmp_path / "run"))
    assert mg.provenance() == ("Results of commit(s) abc1234567, def9876543 on an unrecorded CPU (?, ? thread(s) per "
                               "notebook); Test CPU (AVX2, 1 thread(s) per notebook).")


@pytest.mark.notebooks
def test_first_minutes_times_a_student_notebook_to_its_first_exercise(tmp_path, capsys):
    """07's student version (smoke profile, an empty cache: it trains its tiny model) stops in its
    first exercise cell, and the tool's table says how long that took."""
    fm = _tool("first_minutes")
    assert fm.main(["--profile", "smoke", "--only", "07_text_to_image", "--cold"]) == 0
    out = capsys.readouterr().out
    assert "| `07_text_to_image` | 5 |" in out and "did NOT" not in out and "empty cache per notebook" in out
    assert fm.main(["--only", "01_train_target_model"]) == 2  # no exercise there
    row = fm.run_to_first_exercise(next(p for p in fm.notebook_paths() if p.stem == "07_text_to_image"),
                                   {"seed": 0, "n_members": "not a number"}, tmp_path, cache=tmp_path / "cache")
    assert not row["stopped_at_first_exercise"]  # a run that fails elsewhere is not counted as reaching it
