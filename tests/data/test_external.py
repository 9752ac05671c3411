"""Externally produced score files: read as minus the t-errors, a missing file named."""

from __future__ import annotations

import numpy as np
import pytest

from mialib.data import DataNotFoundError
from mialib.data import external


def test_terrors_are_negated_float64(tmp_path, monkeypatch):
    monkeypatch.setattr(external.paths, "external_data_dir", lambda: tmp_path)
    np.savez(tmp_path / "secmi_terrors_toy.npz", member=np.array([1, 2], np.float32),
             nonmember=np.array([3.5], np.float32))
    m, n = external.load_external_terrors("toy")
    assert m.dtype == n.dtype == np.float64 and m.tolist() == [-1.0, -2.0] and n.tolist() == [-3.5]


def test_a_missing_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(external.paths, "external_data_dir", lambda: tmp_path)
    with pytest.raises(DataNotFoundError, match="secmi_terrors_nope.npz"):
        external.load_external_terrors("nope")


def test_the_shipped_files_load():
    for dataset in ("cifar10", "cifar100"):
        m, n = external.load_external_terrors(dataset)
        assert len(m) == len(n) == 25_000 and np.all(m <= 0) and np.all(n <= 0)
    assert "data/external/README.md" in external.SOURCE


def test_the_settings_of_the_external_t_errors_are_the_readme_s():
    from mialib.data.external import SECMI_SETTINGS
    from mialib.core import paths
    readme = (paths.external_data_dir() / "README.md").read_text()
    assert f"t_sec = {SECMI_SETTINGS['t_sec']}, k = {SECMI_SETTINGS['k']}" in readme
