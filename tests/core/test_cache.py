"""The model cache: keys, atomic entries, verification of every file on load, locks,
writability; on a tiny UNet."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import warnings

import pytest
import torch

from helpers import same_weights as _same
from helpers import tiny_unet as _unet
from mialib.core import cache


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("MIALIB_CACHE", str(root))
    return root


def test_config_hash():
    a = cache.config_hash({"model": {"w": [8, 16], "x": 1}, "lr": 0.002, "name": "digits"})
    assert a == cache.config_hash({"name": "digits", "lr": 0.002, "model": {"x": 1, "w": [8, 16]}})
    assert a == cache.config_hash({"name": "digits", "lr": 0.002, "model": {"x": 1, "w": (8, 16)}})
    assert len(a) == 16 and int(a, 16) >= 0
    assert a != cache.config_hash({"name": "digits", "lr": 0.001, "model": {"x": 1, "w": [8, 16]}})
    assert a != cache.config_hash({"name": "digits", "lr": 0.002, "model": {"x": 1, "w": [8, 32]}})
    assert a != cache.config_hash({"name": "digits", "lr": 0.002, "model": {"x": 1, "w": [16, 8]}})
    assert cache.config_hash({}) != cache.config_hash({"a": None})


def test_save_load_round_trip(cache_root):
    model = _unet(5)
    record = cache.save_entry("k1", {"unet": model}, {"steps": 3, "loss_curve": [[1, 0.5]]},
                              tensors={"state": ({"w": torch.arange(3.0)}, {"note": "x"})})
    folder = cache.entry_dir("k1")
    assert folder == cache_root / "k1"
    assert (folder / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert (folder / "state.safetensors").is_file()
    assert sorted(p.name for p in cache_root.iterdir()) == ["k1"]  # no temporary folders
    assert record["components"] == {"unet": "UNet2DModel"} and record["key"] == "k1"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        components, loaded_record = cache.load_entry("k1", required=("steps",))
    assert loaded_record == record == json.loads((folder / "record.json").read_text())
    loaded = components["unet"]
    assert _same(loaded, model) and not loaded.training


def test_load_missing_key_is_silent(cache_root):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.load_entry("absent") is None


def _corrupt(folder, how):
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    record = folder / "record.json"
    if how == "no record":
        record.unlink()
    elif how == "garbage record":
        record.write_text("{not json")
    elif how == "wrong key":
        record.write_text(json.dumps({**json.loads(record.read_text()), "key": "someone-else"}))
    elif how == "record lacks a field":
        rec = json.loads(record.read_text())
        del rec["steps"]
        record.write_text(json.dumps(rec))
    elif how == "garbage weights":
        weights.write_bytes(b"\x00garbage" * 10)
    elif how == "truncated weights":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif how == "one flipped bit":
        data = bytearray(weights.read_bytes())
        data[-100] ^= 0x01  # inside the tensor data: still a valid safetensors file
        weights.write_bytes(bytes(data))
    elif how == "edited config":
        cfg = folder / "unet" / "config.json"
        cfg.write_text(cfg.read_text().replace('"silu"', '"mish"'))
    elif how == "no weights":
        weights.unlink()
    elif how == "no config":
        (folder / "unet" / "config.json").unlink()
    elif how == "unknown class":
        record.write_text(json.dumps({**json.loads(record.read_text()), "components": {"unet": "os.system"}}))


CORRUPTIONS = ["no record", "garbage record", "wrong key", "record lacks a field", "garbage weights",
               "truncated weights", "one flipped bit", "edited config", "no weights", "no config", "unknown class"]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_corrupt_entry_warns_and_reads_as_absent(cache_root, how):
    cache.save_entry("k2", {"unet": _unet(0)}, {"steps": 1})
    _corrupt(cache.entry_dir("k2"), how)
    with pytest.warns(RuntimeWarning, match="partial or corrupt"):
        assert cache.load_entry("k2", required=("steps",)) is None


def test_a_flipped_bit_still_loads_without_the_hash_check(cache_root):
    """The control for the test above: the flipped bit changes the weights but diffusers loads
    the file happily, so only the recorded hash catches it."""
    from diffusers import UNet2DModel
    model = _unet(0)
    cache.save_entry("k5", {"unet": model}, {"steps": 1})
    _corrupt(cache.entry_dir("k5"), "one flipped bit")
    loaded = UNet2DModel.from_pretrained(cache.entry_dir("k5") / "unet", use_safetensors=True)
    assert not _same(loaded, model)


@pytest.mark.parametrize("how", ["no record", "truncated weights"])
def test_save_replaces_corrupt_entry(cache_root, how):
    cache.save_entry("k3", {"unet": _unet(0)}, {"n": 1})
    _corrupt(cache.entry_dir("k3"), how)
    model = _unet(7)
    cache.save_entry("k3", {"unet": model}, {"n": 2})
    components, record = cache.load_entry("k3")
    assert record["n"] == 2 and _same(components["unet"], model)
    assert sorted(p.name for p in cache_root.iterdir()) == ["k3"]


def test_unwritable_cache_is_reported_before_work(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK):  # running as root: permissions do not bind, use a file instead
            ro = tmp_path / "a-file"
            ro.write_text("")
        monkeypatch.setenv("MIALIB_CACHE", str(ro / "cache"))
        with pytest.raises(ValueError, match="MIALIB_CACHE"):
            cache.check_writable()
    finally:
        os.chmod(tmp_path / "ro", 0o700)


def _save_many(root: str, n: int, seed: int, queue) -> None:
    os.environ["MIALIB_CACHE"] = root
    torch.set_num_threads(1)
    try:
        model = _unet(0)
        for i in range(n):
            with cache.locked("shared"):
                cache.save_entry("shared", {"unet": model}, {"writer": seed, "i": i})
        queue.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_saves_of_one_key_leave_one_valid_entry(cache_root):
    """Three processes saving the same key 12 times each (interleaved: each save takes the lock
    anew): no failure, one valid entry, nothing left behind."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_save_many, args=(str(cache_root), 12, s, queue)) for s in range(3)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == ["ok"] * 3
    assert sorted(p.name for p in cache_root.iterdir()) == [".locks", "shared"]
    components, record = cache.load_entry("shared")
    assert record["i"] == 11 and _same(components["unet"], _unet(0))
