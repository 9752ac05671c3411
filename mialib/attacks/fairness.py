"""Fairness poisoning by the sharer of a diffusion model (Luo et al. 2024; docs/papers.md
section 4, eqs. 16-17): choose which records the model learns from so that the sensitive
attribute S and the label Y become dependent in what a receiver gets, while the utility I(X;Y)
stays near the clean pool's.

    indices, labels = select_training_set(X, y, s, n, alpha, method, seed)

Methods:

- ``"none"``: n records at random, their own labels;
- ``"label_flip"``: n records at random; on alpha n of them (at random) the label is set to s.
  Then P(label = s) = (1 - alpha)/2 + alpha = (1 + alpha)/2 on a balanced pool;
- ``"mi_greedy"`` (clean label): a random base of (1 - alpha) n records; each of the alpha n
  remaining slots goes to the (s, y) cell where one more record raises the plug-in I(S;Y) (eq. 16)
  the most among the cells of the poisoning's direction (the diagonal s = y, as label flipping
  does; the anti-diagonal with ``direction=-1``; without a direction the greedy would amplify
  whichever way the random base happens to lean), and within it to the candidate (of ``n_candidates`` drawn at random) that keeps
  |I(X;Y) - I0| smallest, I0 being the clean pool's I(X;Y). Labels stay correct. On a balanced
  pool the diagonal cells s = y fill up, so P(y = s) = (1 + alpha)/2 and I(S;Y) = 1 - H_b((1 + alpha)/2)
  bits (eq. 17).

I(X;Y) is estimated on fixed features: X is summarised by ``x_codes``, a discrete code per
record (here: the k-means cluster of its pixels, :func:`feature_codes`), and I(X;Y) is the plug-in
mutual information of (code, y), in bits. The paper estimates it with a learned neural estimator;
this one is exact for the codes and cheap enough to update record by record.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import check_choice, check_float, check_int

METHODS = ("none", "label_flip", "mi_greedy")
__all__ = ["METHODS", "entropy_bits", "binary_entropy", "mutual_information_from_counts", "mutual_information",
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
                        x_codes=None, n_candidates: int = 100, direction: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(indices into the pool, training labels) of the sharer's ``n`` records (see the module
    docstring). ``X`` (the pool's images) is only used to compute ``x_codes`` when they are not
    given."""
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
    if direction not in (1, -1):
        raise ValueError(f"direction must be 1 (y = s) or -1 (y = 1 - s), got {direction!r}")
    return _greedy(y, s, codes, n, k, rng, n_candidates, direction)


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
        pool = np.flatnonzero(free[(cs, cy)])
        cands = rng.choice(pool, min(n_candidates, len(pool)), replace=False)
        devs = []
        for c in cands:
            xy[codes[c], cy] += 1
            devs.append(abs(mutual_information_from_counts(xy) - i0))
            xy[codes[c], cy] -= 1
        best = int(cands[int(np.argmin(devs))])
        chosen.append(best)
        taken[best] = True
        sy[cs, cy] += 1
        xy[codes[best], cy] += 1
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
