"""I.i.d. member / non-member splits, saved under data/splits/ and identified by a hash.

Members and non-members are drawn uniformly at random from ONE population (docs/papers.md,
section 5): any distribution shift between them lets a blind classifier that
never queries the model "infer" membership. Each side also has a disjoint calibration part
used only to fit thresholds (calibrated ASR / TPR).

The model is trained on ``members`` and ``cal_members``; attacks are evaluated on
``members`` vs ``nonmembers`` and calibrated on ``cal_members`` vs ``cal_nonmembers``.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import paths
from ..core.fileio import atomic_path

_KEYS = ("members", "nonmembers", "cal_members", "cal_nonmembers")


@dataclass(frozen=True)
class Split:
    """Index arrays into one data set (all disjoint), plus what they were drawn from."""

    members: np.ndarray
    nonmembers: np.ndarray
    cal_members: np.ndarray
    cal_nonmembers: np.ndarray
    n_total: int
    seed: int
    labels_sha: str = ""

    @property
    def training(self) -> np.ndarray:
        """Every index the target model is trained on: members then calibration members."""
        return np.concatenate([self.members, self.cal_members])

    @property
    def hash(self) -> str:
        """SHA-256 (16 hex chars) of the index arrays and the population they index."""
        h = hashlib.sha256(f"{self.n_total}:{self.labels_sha}".encode())
        for k in _KEYS:
            h.update(k.encode())
            h.update(np.asarray(getattr(self, k), dtype=np.int64).tobytes())
        return h.hexdigest()[:16]

    def validate(self) -> None:
        """Raise ValueError unless the parts are disjoint, in range and non-empty."""
        parts = [np.asarray(getattr(self, k)) for k in _KEYS]
        if len(self.members) == 0 or len(self.nonmembers) == 0:
            raise ValueError("a split needs at least one member and one non-member")
        allidx = np.concatenate(parts)
        if allidx.size and (allidx.min() < 0 or allidx.max() >= self.n_total):
            raise ValueError(f"split indices must lie in [0, {self.n_total})")
        if len(np.unique(allidx)) != len(allidx):
            raise ValueError("split parts overlap: members, non-members and calibration "
                             "parts must be disjoint")


def labels_sha(labels) -> str:
    """Short hash of a label array ("" when there are none): detects a changed data set."""
    if labels is None:
        return ""
    return hashlib.sha256(np.asarray(labels, dtype=np.int64).tobytes()).hexdigest()[:16]


def make_split(n_total: int, n_members: int, n_nonmembers: int, n_cal_members: int = 0,
               n_cal_nonmembers: int = 0, seed: int = 0, labels=None) -> Split:
    """Draw a uniformly random, disjoint split of ``range(n_total)`` with numpy's PCG64
    seeded by ``seed``. Raises ValueError when the population is too small."""
    sizes = [n_members, n_nonmembers, n_cal_members, n_cal_nonmembers]
    if any(int(s) != s or s < 0 for s in sizes) or n_members < 1 or n_nonmembers < 1:
        raise ValueError(f"split sizes must be non-negative integers with at least one member "
                         f"and one non-member, got {sizes}")
    if sum(sizes) > n_total:
        raise ValueError(f"the split asks for {sum(sizes)} images (members {n_members} + "
                         f"non-members {n_nonmembers} + calibration {n_cal_members} + "
                         f"{n_cal_nonmembers}) but the data set has only {n_total}")
    perm = np.random.default_rng(seed).permutation(n_total)
    bounds = np.cumsum([0, *sizes])
    parts = [np.sort(perm[a:b]).astype(np.int64) for a, b in zip(bounds[:-1], bounds[1:])]
    split = Split(*parts, n_total=int(n_total), seed=int(seed), labels_sha=labels_sha(labels))
    split.validate()
    return split


def split_path(dataset: str, split: Split | None = None, *, n_members=None, n_nonmembers=None,
               n_cal_members=0, n_cal_nonmembers=0, seed=0) -> Path:
    """``data/splits/<dataset>_m<M>_n<N>_cm<CM>_cn<CN>_s<seed>.npz``."""
    if split is not None:
        n_members, n_nonmembers = len(split.members), len(split.nonmembers)
        n_cal_members, n_cal_nonmembers, seed = len(split.cal_members), len(split.cal_nonmembers), split.seed
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in dataset)
    return paths.splits_dir() / (f"{safe}_m{n_members}_n{n_nonmembers}_cm{n_cal_members}"
                                 f"_cn{n_cal_nonmembers}_s{seed}.npz")


def save_split(split: Split, path: str | Path) -> Path:
    """Write the split (index arrays, population size, seed, label hash, split hash) as .npz."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: getattr(split, k) for k in _KEYS}, n_total=split.n_total,
                     seed=split.seed, labels_sha=np.str_(split.labels_sha), hash=np.str_(split.hash))
    return Path(path)


def load_split(path: str | Path) -> Split:
    """Read a split written by :func:`save_split`; ValueError if it is corrupt or its stored
    hash does not match its contents."""
    try:
        with np.load(path, allow_pickle=False) as z:
            split = Split(*(z[k].astype(np.int64) for k in _KEYS), n_total=int(z["n_total"]),
                          seed=int(z["seed"]), labels_sha=str(z["labels_sha"]))
            stored = str(z["hash"])
    except Exception as exc:  # zipfile/npz/key errors all mean the same thing here
        raise ValueError(f"{path}: unreadable split file ({type(exc).__name__}: {exc})") from exc
    split.validate()
    if split.hash != stored:
        raise ValueError(f"{path}: split hash {split.hash} does not match the stored {stored}")
    return split


def get_split(dataset: str, n_total: int, n_members: int, n_nonmembers: int,
              n_cal_members: int = 0, n_cal_nonmembers: int = 0, seed: int = 0,
              labels=None) -> Split:
    """The committed split for these sizes and seed, created (and saved) if absent.
    A corrupt split file is recreated from the seed with a warning; a split drawn from a
    different population (size or labels changed) raises ValueError."""
    kw = dict(n_members=n_members, n_nonmembers=n_nonmembers, n_cal_members=n_cal_members,
              n_cal_nonmembers=n_cal_nonmembers, seed=seed)
    path = split_path(dataset, **kw)
    fresh = make_split(n_total, labels=labels, **kw)
    if path.exists():
        try:
            stored = load_split(path)
        except ValueError as exc:
            warnings.warn(f"{exc}; recreating it from seed {seed}", RuntimeWarning, stacklevel=2)
        else:
            if stored.n_total != n_total or stored.labels_sha != fresh.labels_sha:
                raise ValueError(f"{path} was drawn from a different data set ({stored.n_total} "
                                 f"images, labels {stored.labels_sha!r}) than the one loaded "
                                 f"({n_total} images, labels {fresh.labels_sha!r}); delete it "
                                 "to draw a new split")
            return stored
    save_split(fresh, path)
    return fresh


@dataclass(frozen=True)
class LabelBalance:
    """Class counts per part of a split (``counts[i, j]``: part ``names[i]``, class
    ``classes[j]``) and the chi-squared test of homogeneity across the parts: on an i.i.d.
    split the proportions differ only by chance, so ``p_value`` is uniform on [0, 1]. A data set
    without labels has no classes and ``p_value`` None: the balance cannot be checked."""

    names: list
    classes: np.ndarray
    counts: np.ndarray
    p_value: float | None

    @property
    def checked(self) -> bool:
        """Whether there were labels to check the balance with."""
        return self.p_value is not None


def label_balance(labels, parts: dict) -> LabelBalance:
    """:class:`LabelBalance` of ``parts`` (name -> index array into ``labels``); empty parts
    and classes no part contains are left out. ``labels`` None (a data set without labels) gives
    the unchecked balance: no classes, ``p_value`` None."""
    import scipy.stats

    if labels is None:
        return LabelBalance(list(parts), np.array([], dtype=np.int64), np.zeros((len(parts), 0)), None)
    labels = np.asarray(labels)
    classes = np.unique(labels)
    names = [name for name, idx in parts.items() if len(idx)]
    counts = np.array([[np.sum(labels[parts[name]] == c) for c in classes] for name in names])
    keep = counts.sum(0) > 0
    counts, classes = counts[:, keep], classes[keep]
    return LabelBalance(names, classes, counts, float(scipy.stats.chi2_contingency(counts).pvalue))
