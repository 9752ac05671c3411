"""The audit end to end: a tiny UNet saved by diffusers and PNG folders written here, through the
command line and the library call; the report's files; the memorisation controls (members
memorised: caught; non-members memorised: flipped); the split check on a shifted and an i.i.d.
split; a v-prediction model against its epsilon twin; resume after a kill, a rerun with more
attacks, and an output folder of another audit."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import RewrittenUNet
from mialib.audit import cli
from mialib.audit import run as audit_run
from mialib.audit.errors import AuditError
from mialib.audit.run import run_audit
from mialib.data.loaders import load_digits
from mialib.data.shifts import shift_population
from mialib.diffusion.controls import memorising_eps_fn
from mialib.diffusion.models import ModelConfig, build_scheduler, build_unet
from mialib.diffusion.target import DiffusionTarget
from mialib.notebook.results import without_timings

TINY = ModelConfig(image_size=8, channels=1, block_out_channels=(8, 16), norm_num_groups=4)
FAST = dict(n_boot=50, progress=False)


def _write_pngs(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, x in enumerate(images):
        Image.fromarray(((x[0].numpy() + 1) * 127.5).round().astype(np.uint8), "L").save(folder / f"d{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def digits():
    return load_digits().images


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, digits):
    """A DDPMPipeline folder of a tiny random UNet, and 30 + 30 digits as PNG folders."""
    from diffusers import DDPMPipeline

    root = tmp_path_factory.mktemp("audit")
    torch.manual_seed(0)
    DDPMPipeline(unet=build_unet(TINY), scheduler=build_scheduler()).save_pretrained(root / "model")
    _write_pngs(root / "members", digits[:30])
    _write_pngs(root / "nonmembers", digits[30:60])
    return root


def test_the_command_writes_every_file_of_the_report(workspace, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(workspace)  # paths are relative to the current directory
    out = tmp_path / "report"
    rc = cli.command(["audit", "--model", "model", "--members", "members", "--nonmembers", "nonmembers",
                      "--out", str(out), "--n-boot", "50", "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "The split check" in printed and f"report: {out / 'report.html'}" in printed
    for name in ("report.md", "report.html", "results.json", "scores.csv", "audit.json",
                 "figures/roc.png", "figures/score_histograms.png", "figures/split_check.png"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["attacks"]) == {"naive_loss", "pia_proximal", "pian_proximal", "secmi_stat", "noise_aggregation"}
    r = doc["attacks"]["secmi_stat"]
    assert r["queries_per_image"] == 11 and len(r["ci"]["auc"]) == 2 and "calibrated_tpr@1%fpr" in r
    assert doc["images"]["counts"] == {"members": 24, "nonmembers": 24, "cal_members": 6, "cal_nonmembers": 6}
    assert doc["model"]["prediction_type"] == "epsilon" and len(doc["model"]["fingerprint"]) == 16
    assert doc["environment"]["torch"] == torch.__version__ and doc["timings"]["wall_time_s"] > 0
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "src=\"figures/" not in html  # readable offline
    import pandas as pd
    table = pd.read_csv(out / "scores.csv")
    assert len(table) == 60 and set(table.part) == {"members", "nonmembers", "cal_members", "cal_nonmembers"}
    assert table[table.part == "cal_members"].blind_baseline.isna().all()  # the baseline scores held-out evaluation images only
    assert table.secmi_stat.notna().all() and sorted(table.image)[:2] == ["d000.png", "d000.png"]


def test_bad_input_is_one_line_and_exit_status_2(workspace, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    cases = [(["--model", "nowhere"], "--model: no folder"),
             (["--model", "members"], "is not a diffusers model folder"),
             (["--model", "model", "--attacks", "secmi_nns"], "unknown attack(s) ['secmi_nns']"),
             (["--model", "model", "--members", "empty"], "holds no images"),
             (["--model", "model", "--class-labels", "x.csv"], "this model is unconditional")]
    (workspace / "empty").mkdir(exist_ok=True)
    for extra, says in cases:
        args = {"--model": "model", "--members": "members", "--nonmembers": "nonmembers", "--out": str(tmp_path / "o")}
        for k, v in zip(extra[::2], extra[1::2]):
            args[k] = v
        argv = ["audit"] + [a for kv in args.items() for a in kv] + ["--quiet"]
        if "--attacks" in extra:
            argv = [a for a in argv if a not in ("--attacks", "secmi_nns")] + ["--attacks", "secmi_nns"]
        assert cli.command(argv) == 2, extra
        err = capsys.readouterr().err.strip()
        assert err.startswith("mialib audit: ") and says in err and "Traceback" not in err and "\n" not in err, err
    assert cli.command(["lineage"]) == 2 and "unknown command" in capsys.readouterr().err


def test_an_unforeseen_failure_is_one_line_too(workspace, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    monkeypatch.setattr(audit_run, "score_split", lambda *a, **k: 1 / 0)
    argv = ["audit", "--model", "model", "--members", "members", "--nonmembers", "nonmembers", "--out", str(tmp_path / "o"),
            "--quiet", "--attacks", "naive_loss"]
    assert cli.command(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("mialib audit: unexpected ZeroDivisionError") and "MIALIB_DEBUG=1" in err and "\n" not in err
    monkeypatch.setenv("MIALIB_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.command(argv)


def test_an_attack_the_model_cannot_take_is_refused_before_any_query():
    def target(steps):
        abar = build_scheduler(num_train_timesteps=steps).alphas_cumprod
        return DiffusionTarget(lambda x, t, cond=None: torch.zeros_like(x), abar, image_shape=(1, 8, 8))
    x = load_digits().images[:60]
    with pytest.raises(AuditError, match="pia_proximal cannot run on this model"):  # PIA's t = 200 is past 150 steps
        run_audit(target(150), x[:30], x[30:], attacks=["pia_proximal"], **FAST)
    picked = run_audit(target(150), x[:30], x[30:], **FAST)  # by default, only the attacks that fit
    assert sorted(picked.results["attacks"]) == ["naive_loss", "noise_aggregation", "secmi_stat"]
    with pytest.raises(AuditError, match="no attack can run on this model at its default settings"):
        run_audit(target(50), x[:30], x[30:], **FAST)


@pytest.mark.parametrize("flipped", [False, True])
def test_a_memorising_model_is_caught_and_one_memorising_the_non_members_flips(digits, flipped):
    members, nonmembers = digits[:40], digits[40:80]
    abar = build_scheduler().alphas_cumprod
    memorised = nonmembers if flipped else members
    target = DiffusionTarget(memorising_eps_fn(memorised, abar, bandwidth=0.1), abar, image_shape=(1, 8, 8))
    result = run_audit(target, members, nonmembers, attacks=["naive_loss", "pia_proximal", "secmi_stat"], **FAST)
    for name, r in result.results["attacks"].items():
        assert (r["auc"] < 0.05) if flipped else (r["auc"] > 0.95), (name, r["auc"])
    assert result.results["split_check"]["verdict"] != "holds"


def test_the_split_check_fires_on_a_shifted_split_and_stays_quiet_on_an_iid_one(digits):
    abar = build_scheduler().alphas_cumprod
    target = DiffusionTarget(memorising_eps_fn(digits[:10], abar, bandwidth=0.1), abar, image_shape=(1, 8, 8))
    mixed = digits[torch.from_numpy(np.random.default_rng(0).permutation(len(digits)))]  # the data set is ordered by writer
    iid = run_audit(target, mixed[:100], mixed[100:200], attacks=["naive_loss"], **FAST)
    assert iid.results["split_check"]["verdict"] == "fails" and iid.text.startswith("The split check passes")
    shifted = run_audit(target, mixed[:100], shift_population(mixed[100:200], "flip"), attacks=["naive_loss"], **FAST)
    assert shifted.results["split_check"]["verdict"] == "holds"
    assert shifted.text.startswith("**The two folders differ in distribution") and "No attack AUC" in shifted.text


def test_a_v_prediction_model_gives_its_epsilon_twins_scores(digits):
    torch.manual_seed(1)
    unet = build_unet(TINY).eval()
    sched = build_scheduler()
    abar = sched.alphas_cumprod.double()

    v_sched = build_scheduler()
    v_sched.register_to_config(prediction_type="v_prediction")
    eps_t = DiffusionTarget.from_unet(unet, sched)
    v_t = DiffusionTarget.from_unet(RewrittenUNet(unet, abar, "v_prediction"), v_sched)
    a = run_audit(eps_t, digits[:30], digits[30:60], attacks=["pia_proximal", "secmi_stat"], **FAST)
    b = run_audit(v_t, digits[:30], digits[30:60], attacks=["pia_proximal", "secmi_stat"], **FAST)
    for name in a.scores:
        torch.testing.assert_close(b.scores[name].members, a.scores[name].members, rtol=1e-3, atol=1e-5)
        torch.testing.assert_close(b.scores[name].nonmembers, a.scores[name].nonmembers, rtol=1e-3, atol=1e-5)


def test_an_interrupted_audit_resumes_to_the_same_results(workspace, tmp_path, monkeypatch):
    kw = dict(out=None, n_boot=50, progress=False)
    args = (workspace / "model", workspace / "members", workspace / "nonmembers")
    whole = run_audit(*args, **{**kw, "out": tmp_path / "whole"})
    calls, real = [], audit_run.score_split

    def dies_on_the_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)
    monkeypatch.setattr(audit_run, "score_split", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        run_audit(*args, **{**kw, "out": tmp_path / "killed"})
    monkeypatch.setattr(audit_run, "score_split", real)
    kept = sorted(p.stem for p in (tmp_path / "killed" / "scores").glob("*.safetensors"))
    assert kept == ["blind_baseline", "naive_loss", "pia_proximal"]
    again = run_audit(*args, **{**kw, "out": tmp_path / "killed"})
    assert again.results["timings"]["resumed"] == ["naive_loss", "pia_proximal"]
    got, want = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("killed", "whole"))
    assert without_timings(got) == without_timings(want)
    # more attacks later: only the new one is scored
    first = run_audit(*args, **{**kw, "out": tmp_path / "grow", "attacks": ["naive_loss"]})
    more = run_audit(*args, **{**kw, "out": tmp_path / "grow", "attacks": ["naive_loss", "pia_proximal"]})
    assert more.results["timings"]["resumed"] == ["naive_loss"] and first.results["timings"]["resumed"] == []
    torch.testing.assert_close(more.scores["naive_loss"].members, whole.scores["naive_loss"].members)


def test_an_output_folder_of_another_audit_is_refused(workspace, tmp_path, digits):
    args = (workspace / "model", workspace / "members", workspace / "nonmembers")
    run_audit(*args, out=tmp_path / "o", attacks=["naive_loss"], **FAST)
    with pytest.raises(AuditError, match="holds another audit \\(its images differ"):
        run_audit(workspace / "model", workspace / "members", digits[60:90], out=tmp_path / "o", attacks=["naive_loss"], **FAST)
    with pytest.raises(AuditError, match="holds another audit \\(its images, seed differ"):
        run_audit(*args, out=tmp_path / "o", attacks=["naive_loss"], seed=1, **FAST)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("x")
    with pytest.raises(AuditError, match="is not empty and holds no audit"):
        run_audit(*args, out=tmp_path / "busy", attacks=["naive_loss"], **FAST)
    assert (tmp_path / "busy" / "thesis.tex").read_text() == "x"  # nothing lost


def test_python_dash_m_runs_the_same_command(workspace):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "mialib.audit", "--help"], capture_output=True, text=True,
                         env={**os.environ, "MIALIB_PROGRESS": "0"})
    assert out.returncode == 0 and "--nonmembers" in out.stdout and "--calibration" in out.stdout
