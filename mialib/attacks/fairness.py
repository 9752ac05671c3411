"""Fairness poisoning by the sharer of a diffusion model (Luo et al. 2024; docs/papers.md
section 4, eqs. 16-17): choose which records the model learns from so that the sensitive
attribute S and the label Y become dependent in what a receiver gets, while the utility I(X;Y)
stays near the clean pool's.

    indices, labels = select_training_set(X, y, s, n, alpha, method, seed)

Methods:

- ``"none"``: n records at random, their own labels;
- ``"label_flip"``: n records at random; on alpha n of them (at random) the label is set to s.
  Then P(label = s) = (1 - alpha)/2 + alpha = (1 + alpha)/2 on a balanced pool;
- ``"mi_greedy"`` (clean label), by one of two rules (``rule``):

  * ``"all_cells"`` (the default; the rule of the paper's own code, ``GreedySampling`` in
    xinjianluo/AttackDiffusionModels): a random base of (1 - alpha) n records, redrawn until its
    utility I(X;Y) is within the bound |I - I0| < ``max_drift`` I0 (I0: the clean pool's I(X;Y));
    then, for each of the alpha n remaining slots, the four (s, y) cells are ranked by how much one
    more record of that cell raises the plug-in I(S;Y) (eq. 16); in that order, the first cell whose
    best candidate (of ``n_candidates`` drawn at random, the one that keeps |I(X;Y) - I0| smallest)
    is within the bound gives the record; when no cell's is, the last cell's best is taken, as the
    official code does. The rule strengthens whichever way the random base already leans: P(y = s)
    moves towards (1 + alpha)/2 or towards (1 - alpha)/2, and I(S;Y) grows either way;
  * ``"one_direction"``: the alpha n slots go only to the cells of one direction (``direction=1``:
    the diagonal s = y, as label flipping does; ``-1``: the anti-diagonal), each to the cell of the
    larger gain and within it to the candidate that keeps |I(X;Y) - I0| smallest, with no bound.
    On a balanced pool P(y = s) = (1 + alpha)/2 and I(S;Y) = 1 - H_b((1 + alpha)/2) bits (eq. 17,
    which describes this rule only).

  Labels stay correct under both rules.

I(X;Y) is estimated on fixed features: X is summarised by ``x_codes``, a discrete code per
record (here: the k-means cluster of its pixels, :func:`feature_codes`), and I(X;Y) is the plug-in
mutual information of (code, y), in bits. The paper estimates it with a learned neural estimator;
this one is exact for the codes and cheap enough to update record by record.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import check_choice, check_float, check_int

METHODS = ("none", "label_flip", "mi_greedy")
GREEDY_RULES = ("all_cells", "one_direction")
__all__ = ["METHODS", "GREEDY_RULES", "entropy_bits", "binary_entropy", "mutual_information_from_counts", "mutual_information",
           "poisoned_mutual_information", "feature_codes", "select_training_set", "utility_drift"]


def entropy_bits(p) -> float:
    """Shannon entropy in bits of a probability vector (zeros contribute nothing)."""
    p = np.asarray(p, dtype=np.float64).ravel()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def binary_entropy(q: float) -> float:
    """H_b(q) = -q log2 q - (1 - q) log2 (1 - q)."""
    q = check_float(q, "q", low=0.0, high=1.0)
    return entropy_bits([q, 1.0 - q])


def mutual_information_from_counts(counts) -> float:
    """Plug-in I(A;B) in bits of a contingency table of counts (eq. 16): H(A) + H(B) - H(A, B)."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.sum() <= 0 or np.any(c < 0):
        raise ValueError("counts must be a non-negative 2-D table with a positive total")
    p = c / c.sum()
    return max(0.0, entropy_bits(p.sum(1)) + entropy_bits(p.sum(0)) - entropy_bits(p))


def mutual_information(a, b) -> float:
    """Plug-in I(A;B) in bits of two aligned arrays of discrete values."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("mutual_information needs two aligned, non-empty 1-D arrays")
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    counts = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(counts, (ai, bi), 1)
    return mutual_information_from_counts(counts)


def poisoned_mutual_information(alpha: float) -> float:
    """I(S;Y) = 1 - H_b((1 + alpha)/2) bits when P(y = s) = (1 + alpha)/2 on balanced margins (eq. 17)."""
    alpha = check_float(alpha, "alpha", low=0.0, high=1.0)
    return 1.0 - binary_entropy((1.0 + alpha) / 2.0)


def feature_codes(X, k: int = 16, seed: int = 0) -> np.ndarray:
    """A discrete code per record for the I(X;Y) estimator: the k-means cluster (k clusters,
    scikit-learn, seeded) of its flattened features."""
    from sklearn.cluster import KMeans

    x = X.detach().cpu().numpy() if hasattr(X, "detach") else np.asarray(X)
    x = x.reshape(len(x), -1)
    return KMeans(n_clusters=check_int(k, "k", low=2, high=len(x)), n_init=4, random_state=seed).fit_predict(x)


def _check(y, s, n):
    y, s = np.asarray(y), np.asarray(s)
    if y.shape != s.shape or y.ndim != 1 or not set(np.unique(y)) <= {0, 1} or not set(np.unique(s)) <= {0, 1}:
        raise ValueError("y and s must be aligned 1-D arrays of 0s and 1s")
    check_int(n, "n", low=1, high=len(y))
    return y.astype(np.int64), s.astype(np.int64)


def select_training_set(X, y, s, n: int, alpha: float, method: str = "mi_greedy", seed: int = 0, *,
                        x_codes=None, n_candidates: int = 100, rule: str = "all_cells", direction: int = 1,
                        max_drift: float = 0.1, max_base_draws: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(indices into the pool, training labels) of the sharer's ``n`` records (see the module
    docstring). ``X`` (the pool's images) is only used to compute ``x_codes`` when they are not
    given; ``rule``, ``direction``, ``max_drift`` and ``max_base_draws`` concern ``"mi_greedy"``
    only (``direction`` the one-direction rule, the other two the all-cells rule)."""
    y, s = _check(y, s, n)
    alpha = check_float(alpha, "alpha", low=0.0, high=1.0)
    check_choice(method, "method", METHODS)
    rng = np.random.default_rng(seed)
    k = int(round(alpha * n))
    if method != "mi_greedy":
        idx = rng.choice(len(y), n, replace=False)
        labels = y[idx].copy()
        if method == "label_flip":
            flip = rng.choice(n, k, replace=False)
            labels[flip] = s[idx][flip]
        return idx, labels
    codes = feature_codes(X, seed=seed) if x_codes is None else np.asarray(x_codes)
    if codes.shape != y.shape:
        raise ValueError("x_codes must hold one code per record")
    check_choice(rule, "rule", GREEDY_RULES)
    check_int(n_candidates, "n_candidates", low=1)
    if rule == "all_cells":
        return _greedy_all_cells(y, s, codes, n, k, rng, n_candidates, check_float(max_drift, "max_drift", low=0.0),
                                 check_int(max_base_draws, "max_base_draws", low=1))
    if direction not in (1, -1):
        raise ValueError(f"direction must be 1 (y = s) or -1 (y = 1 - s), got {direction!r}")
    return _greedy(y, s, codes, n, k, rng, n_candidates, direction)


CELLS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _greedy_all_cells(y, s, codes, n, k, rng, n_candidates, max_drift, max_base_draws):
    """The official rule (module docstring): the base redrawn into the utility bound, then each
    slot from the first cell, by gain in I(S;Y), whose best candidate keeps the bound."""
    n_codes = codes.max() + 1
    i0 = mutual_information_from_counts(_xy_counts(codes, y, n_codes))
    bound = max_drift * i0
    for _ in range(max_base_draws):
        chosen = list(rng.choice(len(y), n - k, replace=False))
        xy = _xy_counts(codes[chosen], y[chosen], n_codes)
        if n == k or abs(mutual_information_from_counts(xy) - i0) < bound:
            break
    else:
        raise ValueError(f"no random base of {n - k} records has its I(X;Y) within {max_drift:g} I0 of the pool's "
                         f"in {max_base_draws} draws; raise max_drift or n, or lower alpha")
    taken = np.zeros(len(y), dtype=bool)
    taken[chosen] = True
    sy = np.zeros((2, 2))
    np.add.at(sy, (s[chosen], y[chosen]), 1)
    for _ in range(k):
        base_mi = mutual_information_from_counts(sy) if sy.sum() else 0.0
        gains = []
        for cs, cy in CELLS:
            trial = sy.copy()
            trial[cs, cy] += 1
            gains.append(mutual_information_from_counts(trial) - base_mi)
        best = None
        for cell in np.argsort(-np.asarray(gains), kind="stable"):  # ties: the cells' fixed order
            cs, cy = CELLS[cell]
            pool = np.flatnonzero(~taken & (s == cs) & (y == cy))
            if not len(pool):
                continue
            c, dev = _closest_candidate(pool, cy, xy, codes, i0, rng, n_candidates)
            best = (c, cs, cy)
            if dev < bound:
                break
        if best is None:
            raise ValueError("the pool ran out of records")
        _take(*best, chosen, taken, sy, xy, codes)
    idx = np.asarray(chosen, dtype=np.int64)
    return idx, y[idx].copy()


def _closest_candidate(pool, cy, xy, codes, i0, rng, n_candidates) -> tuple[int, float]:
    """(the record, of ``n_candidates`` drawn from ``pool``, whose addition with label ``cy`` keeps
    the selection's I(X;Y) closest to ``i0``; that distance)."""
    cands = rng.choice(pool, min(n_candidates, len(pool)), replace=False)
    devs = []
    for c in cands:
        xy[codes[c], cy] += 1
        devs.append(abs(mutual_information_from_counts(xy) - i0))
        xy[codes[c], cy] -= 1
    j = int(np.argmin(devs))
    return int(cands[j]), devs[j]


def _take(c, cs, cy, chosen, taken, sy, xy, codes) -> None:
    """Add record ``c`` of cell (``cs``, ``cy``) to the selection and its counts."""
    chosen.append(c)
    taken[c] = True
    sy[cs, cy] += 1
    xy[codes[c], cy] += 1


def _greedy(y, s, codes, n, k, rng, n_candidates, direction):
    n_codes = codes.max() + 1
    i0 = mutual_information_from_counts(_xy_counts(codes, y, n_codes))
    chosen = list(rng.choice(len(y), n - k, replace=False))
    taken = np.zeros(len(y), dtype=bool)
    taken[chosen] = True
    sy = np.zeros((2, 2))
    np.add.at(sy, (s[chosen], y[chosen]), 1)
    xy = _xy_counts(codes[chosen], y[chosen], n_codes)
    for _ in range(k):
        gains, free = {}, {}
        for cs in (0, 1):
            cy = cs if direction == 1 else 1 - cs
            free[(cs, cy)] = ~taken & (s == cs) & (y == cy)
            if free[(cs, cy)].any():
                trial = sy.copy()
                trial[cs, cy] += 1
                gains[(cs, cy)] = mutual_information_from_counts(trial)
        if not gains:
            raise ValueError("the pool ran out of records")
        cs, cy = max(gains, key=gains.get)
        best, _ = _closest_candidate(np.flatnonzero(free[(cs, cy)]), cy, xy, codes, i0, rng, n_candidates)
        _take(best, cs, cy, chosen, taken, sy, xy, codes)
    idx = np.asarray(chosen, dtype=np.int64)
    return idx, y[idx].copy()


def _xy_counts(codes, y, n_codes) -> np.ndarray:
    c = np.zeros((n_codes, 2))
    np.add.at(c, (codes, y), 1)
    return c


def utility_drift(y_pool, codes_pool, indices, labels) -> tuple[float, float]:
    """(I0, I(X;Y) of the selection): the clean pool's and the selected set's plug-in I(X;Y) on
    the codes; the paper's constraint is |I - I0| <= 0.1 I0."""
    n_codes = int(np.max(codes_pool)) + 1
    i0 = mutual_information_from_counts(_xy_counts(np.asarray(codes_pool), np.asarray(y_pool), n_codes))
    return i0, mutual_information_from_counts(_xy_counts(np.asarray(codes_pool)[indices], np.asarray(labels), n_codes))
