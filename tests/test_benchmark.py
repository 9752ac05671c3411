"""The overhead benchmark runs end to end on a tiny model and reports every attack."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from mialib.attacks import ATTACKS

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "attack_overhead.py"


def test_benchmark_reports_every_attack(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("attack_overhead", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "bench.json"
    assert mod.main(["--profile", "smoke", "--batch", "8", "--repeats", "1", "--device", "cpu",
                     "--nns-epochs", "1", "--nns-width", "4", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    rows = {r["attack"]: r for r in doc["rows"]}
    assert set(rows) == set(ATTACKS) | {"secmi_nns"}
    for name, info in ATTACKS.items():
        assert rows[name]["queries_per_sample"] == info.queries()
    assert all(r["overhead_ratio"] > 0 and r["wall_s"] > 0 for r in rows.values())
    assert doc["forward_pass_s"] > 0
    printed = capsys.readouterr().out
    assert "| Noise aggregation | 5 |" in printed


def test_benchmark_rejects_unknown_profile():
    import pytest
    spec = importlib.util.spec_from_file_location("attack_overhead", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(SystemExit, match="no profile"):
        mod.main(["--profile", "nope"])


def test_training_throughput_times_every_variant(tmp_path, capsys):
    script = SCRIPT.parent / "training_throughput.py"
    spec = importlib.util.spec_from_file_location("training_throughput", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "throughput.json"
    assert mod.main(["--batch", "2", "--models", "2", "--repeats", "1", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["variant"] for r in rows] == ["1 model, batch 2", "1 model, batch 16", "2 models in a loop, batch 2 each",
                                            "2 models, torch.func.vmap, batch 2 each"]
    for r in rows:
        assert "error" not in r and r["seconds_per_step"] > 0
        assert r["images_per_second"] == r["images_per_step"] / r["seconds_per_step"]
    assert "| 2 models in a loop, batch 2 each |" in capsys.readouterr().out


def _suite_cost():
    spec = importlib.util.spec_from_file_location("suite_cost", SCRIPT.parent / "suite_cost.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_suite_cost_reads_the_runners_log_and_counts_in_steps():
    mod = _suite_cost()
    log = ("[run_all] 00_setup_and_data.ipynb (quick) ...\n[run_all] 00_setup_and_data.ipynb done in 12.1 s\n"
           "noise\n[run_all] 01_train_target_model.ipynb done in 251.1 s\n[run_all] notebooks wall time: 300 s\n")
    per, total = mod.times_from_log(log)
    assert per == {"00_setup_and_data": 12.1, "01_train_target_model": 251.1} and total == 300.0
    table = mod.cost_table(per, total, 0.1)
    assert [round(r["step_units"], 6) for r in table["rows"]] == [121.0, 2511.0]
    assert table["total_step_units"] == 3000.0 and table["within_budget"]
    assert mod.cost_table(per, None, 0.01)["total_seconds"] == 263.2
    assert "| **total** | 300.0 | 3,000 |" in mod.markdown(table)
    import pytest
    with pytest.raises(ValueError, match="done in"):
        mod.times_from_log("nothing here")
    with pytest.raises(ValueError, match="positive"):
        mod.cost_table(per, total, 0.0)


def test_the_unit_is_the_mean_of_the_steps_timed_before_and_after(tmp_path, capsys, monkeypatch):
    mod = _suite_cost()
    assert mod.main(["--step-only", "--steps", "2", "--warmup", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert mod.steps_from_log(line)[0] > 0 and line.startswith("[run_all] reference training step: ")
    log = tmp_path / "run.log"
    log.write_text("[run_all] reference training step: 100.0 ms\n[run_all] 00_a.ipynb done in 10.0 s\n"
                   "[run_all] notebooks wall time: 10 s\n")
    monkeypatch.setattr(mod, "step_seconds", lambda *a: 0.300)
    out = tmp_path / "cost.json"
    assert mod.main(["--log", str(log), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["step_seconds_measured"] == [0.1, 0.3] and abs(doc["step_seconds"] - 0.2) < 1e-12
    assert abs(doc["total_step_units"] - 50.0) < 1e-9
    assert "moved by 200%" in capsys.readouterr().out


def test_suite_cost_times_a_real_training_step_and_writes_its_table(tmp_path, capsys, monkeypatch):
    mod = _suite_cost()
    results = tmp_path / "results"
    results.mkdir()
    (results / "00_setup_and_data.json").write_text(json.dumps({"timings": {"wall_time_s": 2.0}}))
    monkeypatch.setenv("MIALIB_RESULTS", str(results))
    out = tmp_path / "cost.json"
    assert mod.main(["--steps", "2", "--warmup", "1", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["step_seconds"] > 0 and doc["rows"][0]["notebook"] == "00_setup_and_data"
    assert doc["total_step_units"] == 2.0 / doc["step_seconds"]
    assert "| 00_setup_and_data | 2.0 |" in capsys.readouterr().out


def _training_variants():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "training_variants.py"
    spec = importlib.util.spec_from_file_location("training_variants", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_training_variants_time_every_phase_of_every_variant_and_the_pair(tmp_path, capsys, monkeypatch):
    mod = _training_variants()
    monkeypatch.setenv("MIALIB_RESULTS", str(tmp_path))
    assert mod.main(["--steps", "2", "--rounds", "1", "--warmup", "1"]) == 0
    doc = json.loads((tmp_path / "benchmark_training_variants_quick.json").read_text())
    rows = doc["rows"]
    assert set(mod.VARIANTS) <= set(rows) and rows["reference"]["ratio_to_reference"] == 1.0
    for name in mod.VARIANTS:
        assert all(rows[name][f"{ph}_ms"] >= 0 for ph in mod.PHASES) and rows[name]["ms_per_step"] > 0
    if doc["threads"] >= 2:
        assert rows["two 1-thread processes side by side"]["pair_throughput_vs_reference"] > 0
    assert "| reference |" in capsys.readouterr().out


def test_every_training_variant_takes_the_same_first_step():
    """The variants are speed-ups of one computation: from the same seed the first loss agrees to
    float rounding, and after one AdamW step (which moves each weight by about lr = 2e-3 times
    the sign of its gradient) almost every weight agrees to 1e-5; the few that do not have a
    near-zero gradient whose sign rounding decides."""
    import torch
    mod = _training_variants()
    ref = mod.TrainingStep("quick", 8)
    ref()
    for opts in list(mod.VARIANTS.values())[1:]:
        other = mod.TrainingStep("quick", 8, **opts)
        other()
        assert abs(other.last_loss - ref.last_loss) <= 1e-5 * abs(ref.last_loss), opts
        a = torch.cat([p.detach().flatten() for p in ref.model.parameters()])
        b = torch.cat([p.detach().flatten() for p in other.model.parameters()])
        assert (a - b).abs().max() <= 2 * 2e-3 + 1e-6, opts
        assert ((a - b).abs() > 1e-5).float().mean() < 0.01, opts


def test_sharer_quality_reports_each_sharer_from_scratch_and_warm(tmp_path, capsys):
    import pytest
    spec = importlib.util.spec_from_file_location("sharer_quality", SCRIPT.parent / "sharer_quality.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = {}
    for mode in ("scratch", "warm"):
        out = tmp_path / f"{mode}.json"
        assert mod.main(["--mode", mode, "--steps", "2", "--base-steps", "2", "--samples", "16", "--p", "0.1,0.9",
                         "--out", str(out)]) == 0
        rows[mode] = json.loads(out.read_text())["rows"]
    for mode, got in rows.items():
        assert [r["p"] for r in got] == [0.1, 0.9] and all(r["mode"] == mode for r in got)
        for r in got:
            assert 0 <= r["precision"] <= 1 and r["ratio_to_real"] == pytest.approx(r["precision"] / r["real_precision"])
            assert r["ink_spread_training"] > 0 and 0 <= r["rule_share_samples"] <= 1
    assert all(r["base_steps"] == 0 for r in rows["scratch"]) and all(r["base_steps"] == 2 for r in rows["warm"])
    # the same sharer data either way: the training images' measures agree
    assert [r["rule_share_training"] for r in rows["scratch"]] == [r["rule_share_training"] for r in rows["warm"]]
    with pytest.raises(SystemExit, match="grid"):
        mod.main(["--p", "0.2"])
