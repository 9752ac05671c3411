"""Member / non-member splits: disjoint, uniform, deterministic, saved with a hash, and
recreated (or refused) when the stored file is corrupt (or drawn from another population)."""

from __future__ import annotations

import numpy as np
import pytest

from mialib.data import splits
from mialib.data.splits import Split, get_split, labels_sha, load_split, make_split, save_split, split_path

PARTS = ("members", "nonmembers", "cal_members", "cal_nonmembers")


@pytest.fixture
def splits_root(tmp_path, monkeypatch):
    """MIALIB_ROOT at a temporary folder, so no test touches the committed data/splits/."""
    monkeypatch.setenv("MIALIB_ROOT", str(tmp_path))
    folder = tmp_path / "data" / "splits"
    folder.mkdir(parents=True)
    return folder


# ----------------------------------------------------------------------------- make_split
def test_make_split_sizes_disjoint_sorted_in_range():
    sp = make_split(100, 20, 30, 5, 7, seed=3)
    assert [len(getattr(sp, k)) for k in PARTS] == [20, 30, 5, 7]
    allidx = np.concatenate([getattr(sp, k) for k in PARTS])
    assert len(np.unique(allidx)) == 62  # pairwise disjoint
    assert allidx.min() >= 0 and allidx.max() < 100
    for k in PARTS:
        arr = getattr(sp, k)
        assert arr.dtype == np.int64
        assert np.all(np.diff(arr) > 0), k  # sorted, no repeats
    assert sp.n_total == 100 and sp.seed == 3 and sp.labels_sha == ""
    assert np.array_equal(sp.training, np.concatenate([sp.members, sp.cal_members]))
    assert len(sp.training) == 25
    assert not set(sp.training) & set(sp.nonmembers) and not set(sp.training) & set(sp.cal_nonmembers)


def test_make_split_uses_the_whole_population():
    sp = make_split(10, 4, 3, 2, 1, seed=0)
    assert sorted(np.concatenate([getattr(sp, k) for k in PARTS]).tolist()) == list(range(10))


def test_make_split_deterministic_per_seed():
    a, b = make_split(500, 50, 60, 10, 10, seed=7), make_split(500, 50, 60, 10, 10, seed=7)
    for k in PARTS:
        assert np.array_equal(getattr(a, k), getattr(b, k))
    assert a.hash == b.hash
    c = make_split(500, 50, 60, 10, 10, seed=8)
    assert not np.array_equal(a.members, c.members)
    assert a.hash != c.hash


def test_make_split_too_large_and_empty():
    with pytest.raises(ValueError, match="only 50"):
        make_split(50, 30, 20, 1, 0)
    make_split(50, 30, 20, 0, 0)  # exactly the population is fine
    with pytest.raises(ValueError):
        make_split(50, 0, 10)
    with pytest.raises(ValueError):
        make_split(50, 10, 0)
    with pytest.raises(ValueError):
        make_split(50, 10, 10, -1, 0)
    with pytest.raises(ValueError):
        make_split(50, 2.5, 10)


def _label_table(split, labels, n_classes=10):
    return np.stack([np.bincount(labels[split.members], minlength=n_classes),
                     np.bincount(labels[split.nonmembers], minlength=n_classes)])


def test_make_split_is_iid_in_the_labels():
    """Member and non-member label proportions agree (chi-square homogeneity test), on a
    population whose labels are sorted, so a split that took contiguous blocks would fail."""
    from scipy.stats import chi2_contingency

    labels = np.repeat(np.arange(10), 600)  # 6000 images, sorted by label
    sp = make_split(len(labels), 2000, 2000, 200, 200, seed=0, labels=labels)
    table = _label_table(sp, labels)
    assert chi2_contingency(table).pvalue > 0.001
    # every class appears on both sides in roughly its population share (10 %)
    assert np.all(np.abs(table / 2000 - 0.1) < 0.03)
    # control: a biased split (members from the first 60 %, non-members from the last 60 %
    # of the label-sorted population) is caught by the same test
    biased = Split(np.arange(0, 3600, 2), np.arange(2401, 6000, 2), np.array([], np.int64),
                   np.array([], np.int64), n_total=6000, seed=0)
    assert chi2_contingency(_label_table(biased, labels)).pvalue < 1e-6


def test_make_split_records_labels_sha():
    labels = np.arange(30) % 3
    sp = make_split(30, 5, 5, labels=labels)
    assert sp.labels_sha == labels_sha(labels) != ""
    assert labels_sha(labels) != labels_sha(np.roll(labels, 1))
    assert labels_sha(None) == ""
    assert sp.hash != make_split(30, 5, 5).hash  # the population enters the hash


# ----------------------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path):
    sp = make_split(200, 20, 30, 4, 6, seed=11, labels=np.arange(200) % 7)
    path = save_split(sp, tmp_path / "s.npz")
    assert path == tmp_path / "s.npz" and path.is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temporary file left over
    back = load_split(path)
    for k in PARTS:
        assert np.array_equal(getattr(back, k), getattr(sp, k))
    assert (back.n_total, back.seed, back.labels_sha) == (200, 11, sp.labels_sha)
    assert back.hash == sp.hash


def test_hash_changes_with_one_index():
    sp = make_split(200, 20, 30, seed=0)
    free = sorted(set(range(200)) - set(np.concatenate([getattr(sp, k) for k in PARTS]).tolist()))
    members = sp.members.copy()
    members[0] = free[0]
    other = Split(members, sp.nonmembers, sp.cal_members, sp.cal_nonmembers, n_total=200, seed=0)
    other.validate()
    assert other.hash != sp.hash
    assert Split(sp.members, sp.nonmembers, sp.cal_members, sp.cal_nonmembers, n_total=201,
                 seed=0).hash != sp.hash
    # the same arrays under another seed number are the same split
    assert Split(sp.members, sp.nonmembers, sp.cal_members, sp.cal_nonmembers, n_total=200,
                 seed=5).hash == sp.hash


def test_load_split_garbage_file(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="unreadable"):
        load_split(path)
    with pytest.raises(ValueError, match="unreadable"):
        load_split(tmp_path / "missing.npz")


def test_load_split_truncated_file(tmp_path):
    path = save_split(make_split(100, 10, 10), tmp_path / "s.npz")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError):
        load_split(path)


def _write_raw(path, sp, **override):
    fields = {k: getattr(sp, k) for k in PARTS}
    fields.update(n_total=sp.n_total, seed=sp.seed, labels_sha=np.str_(sp.labels_sha),
                  hash=np.str_(sp.hash))
    fields.update(override)
    with open(path, "wb") as fh:
        np.savez(fh, **fields)


def test_load_split_tampered(tmp_path):
    sp = make_split(100, 10, 10, 2, 2, seed=1)
    path = tmp_path / "s.npz"
    _write_raw(path, sp)
    assert load_split(path).hash == sp.hash  # the hand-written file is valid as written
    _write_raw(path, sp, hash=np.str_("0" * 16))
    with pytest.raises(ValueError, match="does not match"):
        load_split(path)
    # an index moved to an unused image, hash left as it was
    free = sorted(set(range(100)) - set(np.concatenate([getattr(sp, k) for k in PARTS]).tolist()))
    members = sp.members.copy()
    members[-1] = free[-1]
    _write_raw(path, sp, members=np.sort(members))
    with pytest.raises(ValueError, match="does not match"):
        load_split(path)
    # a key missing
    fields = {k: getattr(sp, k) for k in PARTS}
    with open(path, "wb") as fh:
        np.savez(fh, **fields)
    with pytest.raises(ValueError, match="unreadable"):
        load_split(path)


def test_load_split_rejects_overlap_even_with_matching_hash(tmp_path):
    sp = make_split(100, 10, 10, seed=0)
    bad = Split(sp.members, np.concatenate([sp.nonmembers[:-1], sp.members[:1]]), sp.cal_members,
                sp.cal_nonmembers, n_total=100, seed=0)
    path = tmp_path / "s.npz"
    _write_raw(path, bad)  # stored hash is consistent with the (overlapping) contents
    with pytest.raises(ValueError, match="overlap"):
        load_split(path)


def test_validate():
    e = np.array([], dtype=np.int64)
    Split(np.array([0, 1]), np.array([2]), e, e, n_total=3, seed=0).validate()
    with pytest.raises(ValueError, match="overlap"):
        Split(np.array([0, 1]), np.array([1, 2]), e, e, n_total=3, seed=0).validate()
    with pytest.raises(ValueError, match="overlap"):
        Split(np.array([0, 1]), np.array([2]), np.array([0]), e, n_total=5, seed=0).validate()
    with pytest.raises(ValueError, match="overlap"):
        Split(np.array([0]), np.array([2]), np.array([3]), np.array([3]), n_total=5, seed=0).validate()
    with pytest.raises(ValueError, match="overlap"):
        Split(np.array([0, 0]), np.array([2]), e, e, n_total=5, seed=0).validate()
    with pytest.raises(ValueError, match="lie in"):
        Split(np.array([0, 1]), np.array([3]), e, e, n_total=3, seed=0).validate()
    with pytest.raises(ValueError, match="lie in"):
        Split(np.array([-1, 1]), np.array([2]), e, e, n_total=3, seed=0).validate()
    with pytest.raises(ValueError, match="at least one"):
        Split(e, np.array([2]), e, e, n_total=3, seed=0).validate()


# ----------------------------------------------------------------------------- get_split
def test_split_path_name(splits_root):
    p = split_path("folder:my faces", n_members=3, n_nonmembers=4, n_cal_members=1,
                   n_cal_nonmembers=2, seed=9)
    assert p == splits_root / "folder-my-faces_m3_n4_cm1_cn2_s9.npz"
    sp = make_split(20, 3, 4, 1, 2, seed=9)
    assert split_path("folder:my faces", sp) == p


def test_get_split_creates_then_reuses(splits_root):
    labels = np.arange(300) % 10
    kw = dict(n_members=30, n_nonmembers=40, n_cal_members=5, n_cal_nonmembers=5, seed=2)
    path = split_path("toy", **kw)
    assert path.parent == splits_root and not path.exists()
    first = get_split("toy", 300, labels=labels, **kw)
    assert path.is_file()
    assert load_split(path).hash == first.hash == make_split(300, labels=labels, **kw).hash
    assert list(splits_root.iterdir()) == [path]
    # the stored file is what a second call returns, even if the seed would now draw another
    other = make_split(300, 30, 40, 5, 5, seed=99, labels=labels)
    save_split(other, path)
    again = get_split("toy", 300, labels=labels, **kw)
    assert again.hash == other.hash != first.hash
    assert np.array_equal(again.members, other.members)


@pytest.mark.parametrize("corruption", [b"", b"garbage", "truncate", "tamper"])
def test_get_split_recreates_corrupt_file(splits_root, corruption):
    kw = dict(n_members=10, n_nonmembers=10, n_cal_members=2, n_cal_nonmembers=2, seed=0)
    fresh = make_split(100, **kw)
    path = split_path("toy", **kw)
    if corruption == "truncate":
        save_split(fresh, path)
        path.write_bytes(path.read_bytes()[:100])
    elif corruption == "tamper":
        _write_raw(path, fresh, hash=np.str_("f" * 16))
    else:
        path.write_bytes(corruption)
    with pytest.warns(RuntimeWarning, match="recreating"):
        got = get_split("toy", 100, **kw)
    assert got.hash == fresh.hash
    for k in PARTS:
        assert np.array_equal(getattr(got, k), getattr(fresh, k))
    assert load_split(path).hash == fresh.hash  # the file was rewritten


def test_get_split_refuses_split_of_another_population(splits_root):
    labels = np.arange(100) % 4
    kw = dict(n_members=10, n_nonmembers=10, seed=0)
    get_split("toy", 100, labels=labels, **kw)
    with pytest.raises(ValueError, match="delete it"):
        get_split("toy", 120, labels=np.arange(120) % 4, **kw)
    changed = labels.copy()
    changed[0] = 3
    with pytest.raises(ValueError, match="delete it"):
        get_split("toy", 100, labels=changed, **kw)
    with pytest.raises(ValueError, match="different data set"):
        get_split("toy", 100, labels=None, **kw)
    # without labels only the population size tells populations apart
    get_split("plain", 100, **kw)
    with pytest.raises(ValueError, match="delete it"):
        get_split("plain", 101, **kw)
    # the original population still gets its split
    assert get_split("toy", 100, labels=labels, **kw).hash == make_split(100, labels=labels, **kw).hash


def test_get_split_too_large_writes_nothing(splits_root):
    with pytest.raises(ValueError, match="only 10"):
        get_split("toy", 10, 8, 8)
    assert list(splits_root.iterdir()) == []


def test_committed_splits_untouched(splits_root):
    """The repository's data/splits/ is not where get_split writes under MIALIB_ROOT."""
    assert splits.paths.splits_dir() == splits_root


def test_label_balance_counts_and_chi2_against_scipy():
    import scipy.stats

    from mialib.data.splits import label_balance
    labels = np.array([0, 0, 1, 1, 2, 0, 1, 1, 2, 2, 5])
    parts = {"a": np.arange(0, 5), "b": np.arange(5, 10), "empty": np.array([], dtype=np.int64)}
    b = label_balance(labels, parts)
    # the empty part and the class no part holds (5) are left out
    assert b.names == ["a", "b"] and b.classes.tolist() == [0, 1, 2]
    assert b.counts.tolist() == [[2, 2, 1], [1, 2, 2]]
    assert b.p_value == pytest.approx(scipy.stats.chi2_contingency([[2, 2, 1], [1, 2, 2]]).pvalue)
    assert b.checked


def test_label_balance_without_labels_is_unchecked():
    from mialib.data.splits import label_balance
    b = label_balance(None, {"a": np.arange(3), "b": np.arange(3, 5)})
    assert not b.checked and b.p_value is None and b.names == ["a", "b"] and b.counts.shape == (2, 0)
