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
