"""The papermill runner: profiles are checked against what each notebook declares."""

from __future__ import annotations

import pytest

from mialib.core import paths
from mialib.notebook import profiles, runner


def test_every_shipped_profile_matches_the_notebooks():
    notebooks = runner.notebook_paths()
    assert [nb.stem[:2] for nb in notebooks] == sorted(nb.stem[:2] for nb in notebooks)
    for profile in ("smoke", "quick", "full"):
        plan = runner.plan(runner.load_profile(runner.profile_path(profile)), notebooks)
        assert set(plan) == {nb.stem for nb in notebooks}
        assert all(p.get("seed") == 0 for p in plan.values())


def test_every_notebook_and_profile_agree_with_the_library_defaults():
    """One target block and one set of attack defaults: every notebook that trains or attacks
    the membership target declares `target` (and, if it attacks, `attacks`) with the library's
    defaults ({}: no override), and every profile gives all of them the same valid values."""
    from mialib.attacks import attack_settings
    from mialib.experiments.membership import TargetSpec

    members = ["00_setup_and_data", "01_train_target_model", "02_secmi", "03_noise_aggregation",
               "04_attack_comparison"]
    for nb in members:
        declared = profiles.declared_parameters(paths.repo_root() / "notebooks" / f"{nb}.ipynb")
        assert declared["target"]["default"] == "{}", nb
        if nb not in members[:2]:
            assert declared["attacks"]["default"] == "{}", nb
        assert "n_members" not in declared and "train_steps" not in declared, f"{nb}: a copied target parameter"
    for profile in ("smoke", "quick", "full"):
        plan = runner.plan(runner.load_profile(runner.profile_path(profile)), runner.notebook_paths())
        targets = {nb: plan[nb].get("target", {}) for nb in members}
        assert len({repr(t) for t in targets.values()}) == 1, f"{profile}: notebooks would train different targets"
        TargetSpec.from_params(targets[members[0]])
        attack_blocks = {nb: plan[nb].get("attacks", {}) for nb in members[2:]}
        assert len({repr(a) for a in attack_blocks.values()}) == 1, f"{profile}: attack settings differ"
        attack_settings(attack_blocks[members[2]])
        budgets = {nb: plan[nb].get("budget_steps", profiles.declared_parameters(
            paths.repo_root() / "notebooks" / f"{nb}.ipynb")["budget_steps"]["default"])
            for nb in ("01_train_target_model", "04_attack_comparison")}
        assert len({repr(b) for b in budgets.values()}) == 1, f"{profile}: 01 would not cache 04's budgets"


DECLARED = {"00_a": {"seed": {}, "n": {}}, "01_b": {"seed": {}, "lr": {}}}


class _NB:
    def __init__(self, stem):
        self.stem = stem


NBS = [_NB("00_a"), _NB("01_b")]


def test_plan_distributes_common_and_own_parameters():
    plan = runner.plan({"common": {"seed": 1, "n": 2}, "01_b": {"lr": 0.1}}, NBS, DECLARED)
    assert plan == {"00_a": {"seed": 1, "n": 2}, "01_b": {"seed": 1, "lr": 0.1}}


@pytest.mark.parametrize("profile, match", [
    ({"01_b": {"n_stepz": 3}}, r"01_b: unknown parameter\(s\) \['n_stepz'\]"),
    ({"common": {"typo": 1}}, "declared by no notebook"),
    ({"99_missing": {"seed": 1}}, "name no notebook"),
])
def test_plan_rejects_unknown_names(profile, match):
    with pytest.raises(runner.ParameterError, match=match):
        runner.plan(profile, NBS, DECLARED)


def test_load_profile_errors(tmp_path):
    with pytest.raises(runner.ParameterError, match="not found"):
        runner.load_profile(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(runner.ParameterError, match="sections"):
        runner.load_profile(bad)


def test_main_rejects_unknown_parameter_before_running(tmp_path, capsys):
    prof = tmp_path / "p.yaml"
    prof.write_text("common:\n  seed: 0\n02_secmi:\n  t_secc: 5\n")
    assert runner.main([str(prof), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "t_secc" in err and "02_secmi" in err
    assert not (tmp_path / "out").exists()
    assert runner.main(["smoke", "--only", "99_nope"]) == 2


def test_describe_failure_names_notebook_and_cell(tmp_path):
    from papermill.exceptions import PapermillExecutionError

    exc = PapermillExecutionError(cell_index=4, exec_count=3, source="1/0", ename="ZeroDivisionError",
                                  evalue="division by zero", traceback=[])
    msg = runner.describe_failure(exc, tmp_path / "02_secmi.ipynb")
    assert msg.startswith("02_secmi.ipynb: cell 4") and "ZeroDivisionError: division by zero" in msg


def test_full_profile_model_builds_and_runs_on_its_image_size():
    """The full profile is sized for a GPU and not run by the tests; at least its model must
    build from the profile and denoise an image of the profile's size."""
    import torch

    from mialib.experiments.membership import TargetSpec
    from mialib.diffusion.models import build_unet

    common = runner.load_profile(runner.profile_path("full"))["common"]
    spec = TargetSpec.from_params(common["target"])
    unet = build_unet(spec.model)
    x = torch.zeros(1, spec.model.channels, spec.model.image_size, spec.model.image_size)
    with torch.no_grad():
        assert unet(x, torch.tensor([10])).sample.shape == x.shape


# ----------------------------------------------------------------------------- profile checks
TYPED = {"00_a": {"seed": {"inferred_type_name": "int", "default": "0"},
                  "lr": {"inferred_type_name": "float", "default": "0.1"},
                  "name": {"inferred_type_name": "str", "default": "'x'"},
                  "steps": {"inferred_type_name": "list", "default": "[1, 2]"},
                  "sigmas": {"inferred_type_name": "list", "default": "[0.1, 0.2]"},
                  "target": {"inferred_type_name": "dict", "default": "{}"},
                  "attacks": {"inferred_type_name": "dict", "default": "{}"},
                  "defences": {"inferred_type_name": "dict", "default": "{}"}}}


@pytest.mark.parametrize("own, match", [
    ({"seed": "0"}, "seed must be int, got '0'"), ({"seed": 1.0}, "seed must be int"),
    ({"seed": True}, "seed must be int"), ({"lr": "0.1"}, "lr must be float"), ({"name": 3}, "name must be str"),
    ({"steps": 16}, "steps must be list"), ({"steps": [1, "2"]}, "list of integers"), ({"steps": [1.5]}, "list of integers"),
    ({"sigmas": ["a"]}, "list of numbers"),
    ({"target": {"train_steps": "20"}}, "parameter target: TargetParams.train_steps must be an integer"),
    ({"target": {"block_out_channels": 16}}, "parameter target: ModelConfig.block_out_channels"),
    ({"target": {"n_member": 3}}, r"parameter target: TargetParams has no parameter\(s\) \['n_member'\]"),
    ({"attacks": {"secmi": {}}}, r"parameter attacks: attacks names unknown attack\(s\) \['secmi'\]"),
    ({"attacks": {"noise_aggregation": {"K": "5"}}}, "NoiseAggregation.K must be an integer"),
    ({"defences": {"dp_epsilon": [1.0]}}, r"parameter defences: DefenceParams has no parameter\(s\) \['dp_epsilon'\]"),
    ({"defences": {"dp_epsilons": [-1.0]}}, "parameter defences: dp_epsilons must be positive finite numbers"),
    ({"defences": {"dp_delta": 2.0}}, r"parameter defences: dp_delta must lie in \(0, 1\)"),
    ({"defences": {"augment": "rotate"}}, "parameter defences: unknown augmentation 'rotate'"),
])
def test_plan_checks_types_and_library_settings(own, match):
    with pytest.raises(runner.ParameterError, match=match):
        runner.plan({"00_a": own}, [_NB("00_a")], TYPED)
    ok = runner.plan({"00_a": {"seed": 1, "lr": 1, "steps": [3], "sigmas": [1, 0.5], "target": {"n_members": 8}}},
                     [_NB("00_a")], TYPED)
    assert ok["00_a"]["lr"] == 1


@pytest.mark.parametrize("text, match", [
    ("common:\n  seed: 0\n  seed: 1\n", r"dup\.yaml:3:3: not a valid profile: duplicate key 'seed' \(first at line 2\)"),
    ("common:\n  seed: [0, 1\n", r"dup\.yaml:3:1: not a valid profile"),
    ("", "is empty"), ("# only a comment\n", "is empty"),
])
def test_malformed_profiles_name_file_and_line(tmp_path, text, match):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(runner.ParameterError, match=match):
        runner.load_profile(path)


def test_main_refuses_an_empty_only(tmp_path, capsys):
    assert runner.main(["smoke", "--only", "--output-dir", str(tmp_path)]) == 2
    assert "--only needs at least one notebook" in capsys.readouterr().err


@pytest.mark.notebooks
def test_a_missing_mathjax_package_ends_the_run_with_its_name_not_a_traceback(tmp_path, monkeypatch, capsys):
    from mialib.notebook import html

    def missing():
        raise html.MathJaxMissing("the HTML build needs a local MathJax, from the package jupyter-server-mathjax")

    monkeypatch.setattr(html, "mathjax_source", missing)
    assert runner.main(["smoke", "--only", "00_setup_and_data", "--output-dir", str(tmp_path / "executed")]) == 1
    err = capsys.readouterr().err
    assert "[run_all] no HTML build: " in err and "jupyter-server-mathjax" in err
    assert (tmp_path / "executed" / "00_setup_and_data.ipynb").is_file()  # the notebook's run is kept
