"""The worked example of docs/audit.md at a tiny size: a membership target exported by
tools/export_target.py (a DDPMPipeline folder, the split's four parts as arrays, the evaluation
parts as PNGs) and audited from those files gives the scores notebook 04's path gives (the same
images, seed and batch size)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from helpers import TINY_TARGET
from mialib.attacks.registry import attack_settings
from mialib.attacks.scoring import score_split
from mialib.audit.run import run_audit
from mialib.evaluation.metrics import evaluate_split
from mialib.experiments.membership import MembershipExperiment

TOOL = Path(__file__).resolve().parents[2] / "tools" / "export_target.py"
TARGET = {**TINY_TARGET, "n_members": 24, "n_nonmembers": 24}


def _export_tool():
    spec = importlib.util.spec_from_file_location("export_target", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_an_exported_target_audited_from_its_files_scores_as_the_notebooks_do(tmp_path):
    files = _export_tool().export(tmp_path / "exported", target=TARGET)
    assert sorted(p.name for p in (tmp_path / "exported" / "members").iterdir())[:2] == ["0000.png", "0001.png"]
    exp = MembershipExperiment.open(seed=0, target=TARGET, device="cpu", progress=False)
    result = run_audit(files["model"], files["members"], files["nonmembers"], cal_members=files["cal_members"],
                       cal_nonmembers=files["cal_nonmembers"], attacks=["secmi_stat", "noise_aggregation"],
                       batch_size=256, n_boot=50, progress=False)
    settings = attack_settings()
    for name in ("secmi_stat", "noise_aggregation"):
        want = score_split(settings[name], exp.target, exp.data, seed=0)
        assert torch.equal(result.scores[name].members, want.members) and torch.equal(result.scores[name].nonmembers,
                                                                                      want.nonmembers), name
        assert result.results["attacks"][name]["auc"] == evaluate_split(want, n_boot=50, seed=0)["auc"]
