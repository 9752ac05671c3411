"""Intervals over repetitions (training seeds): Student-t against scipy's and a hand case, and the
per-setting aggregation of a per-seed table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mialib.evaluation.repetitions import aggregate_seeds, seed_interval


def test_seed_interval_is_students_t_interval():
    x = [0.11, 0.19, 0.16, 0.08]
    mean, lo, hi = seed_interval(x)
    ref = stats.t.interval(0.95, df=3, loc=np.mean(x), scale=stats.sem(x))
    assert mean == pytest.approx(np.mean(x)) and (lo, hi) == pytest.approx(ref, abs=1e-12)
    # by hand: two values 0 and 2 have mean 1, sd sqrt(2), half-width t_{0.975,1} * sqrt(2) / sqrt(2) = 12.706
    mean, lo, hi = seed_interval([0.0, 2.0])
    assert mean == 1.0 and hi - mean == pytest.approx(12.7062047, abs=1e-6) and lo == pytest.approx(2 * mean - hi)
    assert seed_interval([0.3, 0.3, 0.3])[1:] == (0.3, 0.3)
    wide, narrow = seed_interval(x, 0.99), seed_interval(x, 0.5)
    assert wide[2] - wide[1] > narrow[2] - narrow[1]


def test_one_value_has_no_spread_and_bad_input_is_refused():
    assert seed_interval([0.4]) == (0.4, None, None)
    for bad in ([], [0.1, float("nan")]):
        with pytest.raises(ValueError, match="no NaN"):
            seed_interval(bad)
    with pytest.raises(ValueError, match="level"):
        seed_interval([0.1, 0.2], level=1.0)


def _table():
    rows = [dict(method="none", alpha=0.0, seed=s, acc=0.9 + 0.01 * s, acc_ci=[0.8, 1.0]) for s in range(3)]
    rows += [dict(method="flip", alpha=0.4, seed=s, acc=v, acc_ci=[v - 0.1, v + 0.1]) for s, v in enumerate((0.7, 0.8, 0.75))]
    rows += [dict(method="flip", alpha=0.2, seed=0, acc=0.85, acc_ci=[0.8, 0.9])]
    rows += [dict(method="mit", alpha=0.4, seed=s, acc=v, acc_ci=None) for s, v in enumerate((0.6, float("nan"), float("nan")))]
    return pd.DataFrame(rows)


def test_aggregate_seeds_gives_one_row_per_setting():
    agg = aggregate_seeds(_table(), ["acc"])
    assert list(zip(agg.method, agg.alpha, agg.n_seeds)) == [("none", 0.0, 3), ("flip", 0.4, 3), ("flip", 0.2, 1),
                                                              ("mit", 0.4, 3)]
    flip = agg.iloc[1]
    _, lo, hi = seed_interval([0.7, 0.8, 0.75])
    assert flip.acc == pytest.approx(0.75) and flip.acc_ci == pytest.approx([lo, hi])
    assert agg.iloc[2].acc_ci == [0.8, 0.9]          # one seed: its own (bootstrap) interval
    mit = agg.iloc[3]                                # NaN seeds are left out of the mean
    assert mit.acc == 0.6 and mit.acc_ci is None


def test_aggregate_seeds_without_a_ci_column_and_on_bad_tables():
    agg = aggregate_seeds(_table().drop(columns="acc_ci").query("method == 'flip' and alpha == 0.2"), ["acc"])
    assert agg.iloc[0].acc == 0.85 and agg.iloc[0].acc_ci is None
    with pytest.raises(ValueError, match="no column"):
        aggregate_seeds(_table(), ["accuracy"])
    doubled = pd.concat([_table(), _table().iloc[:1]])
    with pytest.raises(ValueError, match="more than one row per seed"):
        aggregate_seeds(doubled, ["acc"])
    with pytest.raises(ValueError, match="more than one row per seed"):  # alpha 0.2 and 0.4 share seed 0
        aggregate_seeds(_table(), ["acc"], by=("method",))
