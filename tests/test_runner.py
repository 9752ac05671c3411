"""The papermill runner: profiles are checked against what each notebook declares."""

from __future__ import annotations

import pytest

from mialib import paths, runner


def test_every_shipped_profile_matches_the_notebooks():
    notebooks = runner.notebook_paths()
    assert [nb.stem[:2] for nb in notebooks] == sorted(nb.stem[:2] for nb in notebooks)
    for profile in ("smoke", "quick", "full"):
        plan = runner.plan(runner.load_profile(runner.profile_path(profile)), notebooks)
        assert set(plan) == {nb.stem for nb in notebooks}
        assert all(p.get("seed") == 0 for p in plan.values())


def test_profiles_share_the_target_parameters():
    """Every attack notebook must get the target parameters notebook 01 gets, or it trains
    (and attacks) another model."""
    for profile in ("smoke", "quick", "full"):
        plan = runner.plan(runner.load_profile(runner.profile_path(profile)), runner.notebook_paths())
        declared_01 = runner.declared_parameters(paths.repo_root() / "notebooks" / "01_train_target_model.ipynb")
        for nb in ("02_secmi", "03_noise_aggregation", "04_attack_comparison"):
            shared = [k for k in declared_01 if k in plan[nb]]
            assert "train_steps" in shared and "n_members" in shared
            assert {k: plan["01_train_target_model"][k] for k in shared} == {k: plan[nb][k] for k in shared}, \
                f"{profile}: {nb} would attack another target than 01 trains"


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

    from mialib.experiment import TargetSpec
    from mialib.models import build_unet

    common = runner.load_profile(runner.profile_path("full"))["common"]
    spec = TargetSpec.from_params(**TargetSpec.pick(common))
    unet = build_unet(spec.model)
    x = torch.zeros(1, spec.model.channels, spec.model.image_size, spec.model.image_size)
    with torch.no_grad():
        assert unet(x, torch.tensor([10])).sample.shape == x.shape
