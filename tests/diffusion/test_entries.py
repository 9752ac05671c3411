"""The one cache path every model kind goes through: lock and re-check, train once, drop the
checkpoint; the common record fields."""

from __future__ import annotations

import pytest

from mialib.core import cache
from mialib.diffusion import entries


@pytest.fixture(autouse=True)
def cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MIALIB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


class _Model:
    """A component with save_pretrained, as the cache needs (a tokenizer-like, weightless one)."""

    def __init__(self, text="w"):
        self.text = text

    def save_pretrained(self, folder):
        folder.mkdir(parents=True)
        (folder / "w.txt").write_text(self.text)


def test_trains_once_then_loads_and_removes_the_checkpoint(monkeypatch):
    monkeypatch.setattr(cache, "_component_class", {"_Model": _Loader}.get)
    calls = []

    def train():
        calls.append(1)
        cache.checkpoint_path("k1").parent.mkdir(parents=True, exist_ok=True)
        cache.checkpoint_path("k1").write_text("partial")
        record = cache.save_entry("k1", {"m": _Model("x")}, entries.training_record({"steps": 3}, wall_time_s=1.234,
                                                                                    device="cpu"))
        return ("trained", record)

    first = entries.load_or_train("k1", ("steps",), lambda comps, rec: ("loaded", rec), train)
    again = entries.load_or_train("k1", ("steps",), lambda comps, rec: ("loaded", comps["m"].text), train)
    assert first[0] == "trained" and again == ("loaded", "x") and calls == [1]
    assert not cache.checkpoint_path("k1").exists()
    assert first[1]["wall_time_s"] == 1.23 and first[1]["device"] == "cpu" and set(first[1]["versions"]) == {
        "mialib", "torch", "python"}


def test_an_entry_lacking_a_required_field_is_retrained(monkeypatch):
    monkeypatch.setattr(cache, "_component_class", {"_Model": _Loader}.get)
    cache.save_entry("k2", {"m": _Model()}, {"steps": 1})
    with pytest.warns(RuntimeWarning, match="partial or corrupt"):
        out = entries.load_or_train("k2", ("loss_curve",), lambda c, r: "loaded", lambda: "trained")
    assert out == "trained"


class _Loader:
    @staticmethod
    def from_pretrained(folder, **kw):
        return _Model((folder / "w.txt").read_text())
