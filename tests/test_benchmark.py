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
