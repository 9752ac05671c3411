"""Property inference by the receiver of a shared diffusion model (Luo et al. 2024;
docs/papers.md section 4, eqs. 12-15): estimate the proportion p of a sensitive property in the
sharer's training data from N generated samples.

Each sample is labelled 0/1 by a property reader f (a classifier trained on auxiliary data, or a
zero-shot rule), and p^ = mean f(x_i). Three facts make this exact:

- the labels are independent Bernoulli draws with mean E f, so Hoeffding's inequality gives
  |p^ - E f| < eps(N, delta) = sqrt(ln(2/delta) / (2N)) with probability >= 1 - delta (eq. 12),
  and N >= ln(2/delta) / (2 eps^2) samples suffice for accuracy eps (eq. 13);
- E f = p TPR + (1 - p) FPR (eq. 14), so the naive p^ is pulled toward the reader's base rate;
- inverting it, p~ = clip((p^ - FPR) / (TPR - FPR), 0, 1) (eq. 15) is unbiased (before clipping)
  when TPR and FPR are those of the reader on the generated images.

The intervals here are finite-sample guarantees, not asymptotic ones: for the naive estimator
Hoeffding on the N labels (eq. 12, the paper's); for the corrected one the exact binomial
(Clopper-Pearson) intervals of the N labels and of the held-out positives and negatives that
measured TPR and FPR, combined by a union bound and propagated through eq. 15 by interval
arithmetic. The exact interval holds the same 1 - delta for every N, and is narrower than
Hoeffding's (which bounds any variable in [0, 1], not only a 0/1 count).
What they cannot cover is a generator whose samples do not carry the training proportion (its
bias) or a reader whose rates differ on generated images: the notebook measures both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["hoeffding_epsilon", "hoeffding_sample_size", "clopper_pearson", "expected_positive_rate", "corrected_proportion",
           "ReaderRates", "Estimate", "naive_estimate", "corrected_estimate", "PropertyReader",
           "query_estimates"]

import numpy as np

from ..core.checks import check_binary, check_float, check_int


def hoeffding_epsilon(n: int, delta: float = 0.05) -> float:
    """eps with P(|p^ - E f| >= eps) <= delta for the mean of ``n`` independent 0/1 labels:
    sqrt(ln(2/delta) / (2n)) (docs/papers.md eq. 12)."""
    n = check_int(n, "n", low=1)
    delta = check_float(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    return math.sqrt(math.log(2.0 / delta) / (2.0 * n))


def clopper_pearson(k: int, n: int, delta: float = 0.05) -> tuple[float, float]:
    """The exact binomial interval (Clopper & Pearson 1934) for a rate seen k times in n trials,
    holding with probability >= 1 - delta: the delta/2 and 1 - delta/2 quantiles of
    Beta(k, n - k + 1) and Beta(k + 1, n - k), with 0 and 1 at the ends."""
    from scipy.stats import beta

    n = check_int(n, "n", low=1)
    k = check_int(k, "k", low=0, high=n)
    delta = check_float(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    low = 0.0 if k == 0 else float(beta.ppf(delta / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - delta / 2, k + 1, n - k))
    return low, high


def hoeffding_sample_size(eps: float, delta: float = 0.05) -> int:
    """The smallest N with hoeffding_epsilon(N, delta) <= eps: ceil(ln(2/delta) / (2 eps^2))
    (docs/papers.md eq. 13; eps = delta = 0.05 gives 738)."""
    eps = check_float(eps, "eps", low=0.0, high=1.0, low_open=True)
    delta = check_float(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    return int(math.ceil(math.log(2.0 / delta) / (2.0 * eps ** 2) - 1e-9))


def expected_positive_rate(p: float, tpr: float, fpr: float) -> float:
    """E f = p TPR + (1 - p) FPR (docs/papers.md eq. 14)."""
    return p * tpr + (1.0 - p) * fpr


def corrected_proportion(p_hat: float, tpr: float, fpr: float) -> float:
    """clip((p^ - FPR) / (TPR - FPR), 0, 1) (docs/papers.md eq. 15); a ValueError when
    TPR <= FPR (the reader carries no information, or is inverted)."""
    for name, v in (("p_hat", p_hat), ("tpr", tpr), ("fpr", fpr)):
        check_float(v, name, low=0.0, high=1.0)
    if tpr <= fpr:
        raise ValueError(f"the correction needs TPR > FPR, got TPR {tpr:.3f} <= FPR {fpr:.3f}: the "
                         "property reader is no better than chance on this data")
    return float(np.clip((p_hat - fpr) / (tpr - fpr), 0.0, 1.0))


def _corrected_range(q: tuple, t: tuple, f: tuple) -> tuple[float, float]:
    """Range of (q - f)/(t - f) over the box q x t x f (each an interval), clipped to [0, 1]:
    the map is monotone in each argument while t > f, so its extremes sit at corners."""
    if t[0] <= f[1]:
        return 0.0, 1.0  # the box contains readers no better than chance: no information
    corners = [(qq - ff) / (tt - ff) for qq in q for tt in t for ff in f]
    return float(np.clip(min(corners), 0, 1)), float(np.clip(max(corners), 0, 1))


@dataclass(frozen=True)
class ReaderRates:
    """A property reader's TPR and FPR measured on ``n_pos`` held-out positives and ``n_neg``
    negatives (so each carries its own Hoeffding interval)."""

    tpr: float
    fpr: float
    n_pos: int
    n_neg: int

    @classmethod
    def measure(cls, predicted, truth) -> "ReaderRates":
        predicted, truth = np.asarray(predicted), np.asarray(truth)
        if predicted.shape != truth.shape or not set(np.unique(truth)) <= {0, 1}:
            raise ValueError("predicted and true properties must be aligned 0/1 arrays")
        pos, neg = truth == 1, truth == 0
        if not pos.any() or not neg.any():
            raise ValueError("measuring TPR and FPR needs held-out images of both properties")
        return cls(float(predicted[pos].mean()), float(predicted[neg].mean()), int(pos.sum()), int(neg.sum()))

    @classmethod
    def exact(cls, tpr: float, fpr: float) -> "ReaderRates":
        """Rates known exactly (e.g. from the noise model): no uncertainty of their own."""
        return cls(float(tpr), float(fpr), 0, 0)

    def intervals(self, delta: float) -> tuple[tuple, tuple]:
        """(TPR interval, FPR interval), each holding with probability >= 1 - delta/2: the exact
        binomial (Clopper-Pearson) interval of the held-out count, which for rates near 0 or 1 is
        far narrower than Hoeffding's and still guaranteed; a point for rates known exactly."""
        def band(v, n):
            return clopper_pearson(int(round(v * n)), n, delta / 2) if n else (v, v)
        return band(self.tpr, self.n_pos), band(self.fpr, self.n_neg)


@dataclass(frozen=True)
class Estimate:
    """A proportion estimate from ``n`` labels, with its (1 - ``delta``) interval."""

    value: float
    low: float
    high: float
    n: int
    delta: float

    def covers(self, p: float) -> bool:
        return self.low <= p <= self.high


def naive_estimate(labels, delta: float = 0.05) -> Estimate:
    """p^ = mean of the 0/1 labels, with the Hoeffding interval around it, which covers E f
    (not p: a reader with errors is biased toward its base rate, eq. 14)."""
    y = check_binary(labels, "property labels")
    p_hat, e = float(y.mean()), hoeffding_epsilon(len(y), delta)
    return Estimate(p_hat, max(0.0, p_hat - e), min(1.0, p_hat + e), len(y), delta)


def corrected_estimate(labels, rates: ReaderRates, delta: float = 0.05) -> Estimate:
    """p~ = eq. 15 with the reader's measured rates; its interval holds with probability
    >= 1 - delta: the exact binomial interval of E f from the N labels (delta/2; all of delta
    when the rates are exact) and of the held-out rates (delta/4 each), propagated through eq. 15."""
    y = check_binary(labels, "property labels")
    p_hat = float(y.mean())
    value = corrected_proportion(p_hat, rates.tpr, rates.fpr)
    share = delta / 2 if rates.n_pos else delta
    t_band, f_band = rates.intervals(delta / 2)
    low, high = _corrected_range(clopper_pearson(int(y.sum()), len(y), share), t_band, f_band)
    return Estimate(value, low, high, len(y), delta)


class PropertyReader:
    """The receiver's auxiliary property classifier: logistic regression on the pixels, trained
    on part of the auxiliary images and its TPR/FPR measured on the rest (``held_out``)."""

    def __init__(self, model, rates: ReaderRates):
        self.model, self.rates = model, rates

    @classmethod
    def fit(cls, images, truth, *, held_out: float = 0.3, seed: int = 0, groups=None) -> "PropertyReader":
        """Trained on a random ``1 - held_out`` of the images, its rates measured on the rest; with
        ``groups`` (one id per image, e.g. the digit an image inks) whole groups are held out, so
        no digit is both trained on and used to measure the rates."""
        from sklearn.linear_model import LogisticRegression

        check_float(held_out, "held_out", low=0.0, high=1.0, low_open=True, high_open=True)
        x, y = _features(images), np.asarray(truth)
        rng = np.random.default_rng(seed)
        if groups is None:
            perm = rng.permutation(len(y))
            n_test = int(round(held_out * len(y)))
            test, train = perm[:n_test], perm[n_test:]
        else:
            groups = np.asarray(groups)
            if groups.shape != y.shape:
                raise ValueError(f"groups must give one id per image: {groups.shape} ids for {len(y)} images")
            ids = rng.permutation(np.unique(groups))
            held = np.isin(groups, ids[:int(round(held_out * len(ids)))])
            test, train = np.flatnonzero(held), np.flatnonzero(~held)
        if len(np.unique(y[train])) < 2:
            raise ValueError("the auxiliary training part needs images of both properties")
        model = LogisticRegression(max_iter=2000).fit(x[train], y[train])
        return cls(model, ReaderRates.measure(model.predict(x[test]), y[test]))

    def predict(self, images) -> np.ndarray:
        return self.model.predict(_features(images)).astype(np.int64)


def _features(images) -> np.ndarray:
    x = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    return x.reshape(len(x), -1).astype(np.float64)


def query_estimates(labels, n_queries: int, n_per_query: int, *, rates: ReaderRates | None = None,
                    delta: float = 0.05) -> list[Estimate]:
    """The receiver's ``n_queries`` independent queries of ``n_per_query`` samples each (the
    first n_queries x n_per_query labels, in order): one naive estimate each, or with ``rates``
    one corrected estimate each."""
    y = check_binary(labels, "property labels")
    check_int(n_queries, "n_queries", low=1)
    check_int(n_per_query, "n_per_query", low=1)
    if n_queries * n_per_query > len(y):
        raise ValueError(f"{n_queries} queries of {n_per_query} need {n_queries * n_per_query} labels, got {len(y)}")
    chunks = y[:n_queries * n_per_query].reshape(n_queries, n_per_query)
    return [naive_estimate(c, delta) if rates is None else corrected_estimate(c, rates, delta) for c in chunks]

