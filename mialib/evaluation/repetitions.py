"""Claims about a method rest on repetitions of it: several training seeds of the same
experiment. This module turns a table with one row per (setting, seed) into one row per
setting, each number the mean over seeds with a Student-t interval over the seeds (the seeds'
spread, which a bootstrap over test images inside one seed cannot see).

With n independent repetitions x_1..x_n of mean m and sample standard deviation s, the 95%
interval is m +- t_{0.975, n-1} s / sqrt(n) (Student 1908). It assumes the repetitions are
independent draws of the same experiment (here: only the training seed changes) and is exact for
normal x; with three seeds t_{0.975, 2} = 4.30, so it is wide, as it should be.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["seed_interval", "aggregate_seeds"]


def seed_interval(values, level: float = 0.95) -> tuple[float, float | None, float | None]:
    """(mean, low, high) of ``values`` (one per repetition): the Student-t interval of the mean at
    ``level``; low and high are None for a single value (no spread to measure). NaNs are refused."""
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0 or np.isnan(x).any():
        raise ValueError(f"seed_interval needs one or more numbers and no NaN, got {values!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    mean = float(x.mean())
    if x.size < 2:
        return mean, None, None
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, df=x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half


def aggregate_seeds(table, keys, *, by=("method", "alpha"), level: float = 0.95):
    """One row per ``by`` group of ``table`` (a DataFrame with a ``seed`` column and one row per
    seed and group): ``n_seeds``, and for each of ``keys`` its mean over the seeds as ``key`` and
    its interval as ``key_ci`` = [low, high]: over the seeds (:func:`seed_interval`) where there
    are two or more, else the single row's own ``key_ci`` (e.g. a bootstrap over test images) when
    the table has one, else None. Groups keep their first appearance's order; a key that is NaN
    in some seed (e.g. a mitigation that could not be fitted) is averaged over the others."""
    import pandas as pd

    missing = [c for c in (*by, "seed", *keys) if c not in table.columns]
    if missing:
        raise ValueError(f"the table has no column(s) {missing}")
    rows = []
    for group, g in table.groupby(list(by), sort=False):
        if g.seed.duplicated().any():
            raise ValueError(f"group {group} has more than one row per seed")
        row = dict(zip(by, group if isinstance(group, tuple) else (group,)))
        row["n_seeds"] = int(len(g))
        for key in keys:
            values = g[key].astype(float).dropna()
            if values.empty:
                row[key], row[key + "_ci"] = float("nan"), None
                continue
            mean, lo, hi = seed_interval(values, level)
            own = g.at[values.index[0], key + "_ci"] if len(values) == 1 and key + "_ci" in g else None
            row[key] = mean
            row[key + "_ci"] = [lo, hi] if lo is not None else (list(own) if own is not None else None)
        rows.append(row)
    return pd.DataFrame(rows)
