"""The public face of mialib is its layer packages (``mialib.data``, ``mialib.diffusion``,
``mialib.attacks``, ``mialib.evaluation``, ...) and the modules in them; the only other names
are the two DESIGN promises to code outside the repository: ``mialib.metrics`` (the metrics of
``mialib.evaluation.metrics``) and ``DiffusionTarget`` importable from ``mialib.attacks``."""

import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "mialib"


def test_the_only_top_level_module_is_the_metrics_promise():
    assert sorted(p.stem for p in ROOT.glob("*.py")) == ["__init__", "metrics"]


def test_the_promised_names_are_the_library_objects():
    import mialib.attacks
    import mialib.diffusion.target
    import mialib.evaluation.metrics
    import mialib.metrics
    assert mialib.metrics.evaluate is mialib.evaluation.metrics.evaluate
    assert set(mialib.metrics.__all__) == set(mialib.evaluation.metrics.__all__)
    assert mialib.attacks.DiffusionTarget is mialib.diffusion.target.DiffusionTarget
    for name in ("naive_loss", "secmi_stat", "secmi_nns", "pia_proximal", "noise_aggregation"):
        assert callable(getattr(mialib.attacks, name))


def test_every_layer_exports_what_it_lists():
    for layer in ("data", "diffusion", "attacks"):
        mod = importlib.import_module(f"mialib.{layer}")
        missing = [n for n in getattr(mod, "__all__", []) if not hasattr(mod, n)]
        assert not missing, f"mialib.{layer}.__all__ lists {missing}, which it does not have"
