"""Fairness poisoning by the sharer of a diffusion model, end to end (notebook 06).

The sharer picks its training records from a pool of coloured digits in which the label
y = 1[digit < 5] and the ink s are independent (four balanced cells), with one of the selection
methods of :mod:`mialib.attacks.fairness`, and trains a class-conditional diffusion model (labels
dropped 10% of the time, for classifier-free guidance), in the quick profile by fine-tuning the
public base model that notebook 05's sharers fine-tune too (:func:`.sharing.train_base_model`). The receiver samples the same number of
images of each class, trains a classifier on them, and deploys it on real digits it never trained
on. It can also read the ink of what it received (an attribute reader trained on its own coloured
digits), test whether ink and class are dependent there, and post-process its classifier with
fairlearn's ThresholdOptimizer under a demographic-parity constraint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..attacks.fairness import (GREEDY_RULES, METHODS, feature_codes, mutual_information, poisoned_mutual_information, select_training_set,
                               utility_drift)
from ..attacks.property import PropertyReader
from ..core.checks import check_choice, check_float, check_int
from ..data.coloured import ColouredPopulation, colour_rule
from ..data.images import ImageSet
from ..diffusion.trained import TrainedModel, train_models
from ..evaluation.sample_quality import SampleQuality
from .sharing import SharerParams, train_base_model
from ..evaluation import reference
from ..evaluation.compare import meets_aim
from ..evaluation.fairness import METRICS, dependence_test, fairness_metrics, paired_differences


@dataclass(frozen=True)
class FairnessParams(SharerParams):
    """Notebook 06's settings: the shared class-conditional model's (:class:`.sharing.SharerParams`)
    and the receiver's; the defaults are the quick profile's (2-core CPU, minutes)."""

    NUM_CLASSES = 2                  # the label y = 1[digit < 5]
    LABEL_DROPOUT_FIELD = "label_dropout"

    n_train: int = 400               # records the sharer trains on
    label_dropout: float = 0.1       # classifier-free guidance: labels dropped this often
    guidance_scale: float = 1.0      # w in (1 + w) eps(x, y) - w eps(x, null)
    n_per_class: int = 500           # samples of each class the receiver trains on
    n_codes: int = 16                # k-means codes of the I(X;Y) estimator
    n_boot: int = 200                # bootstrap resamples of the fairness intervals
    n_permutations: int = 1000       # permutations of the dependence test
    reader_held_out: float = 0.3     # share of the receiver's auxiliary digits that measures its ink reader

    def validate(self) -> None:
        super().validate()
        check_float(self.label_dropout, "label_dropout", low=0.0, high=1.0, high_open=True)
        check_int(self.n_per_class, "n_per_class", low=1)
        check_float(self.reader_held_out, "reader_held_out", low=0.0, high=1.0, low_open=True, high_open=True)


def poisoning_plan(alphas: dict) -> list[tuple[str, float]]:
    """The sharers to train: the unpoisoned one ("none", 0.0) first, then every (method, alpha) of
    ``alphas`` (method -> list of poisoning rates in [0, 1]), in the order given."""
    if not isinstance(alphas, dict):
        raise ValueError(f"alphas must map a method to a list of rates, got {type(alphas).__name__}")
    plan = [("none", 0.0)]
    for method, values in alphas.items():
        check_choice(method, "each method of alphas", [m for m in METHODS if m != "none"])
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not list(values):
            raise ValueError(f"alphas[{method!r}] must be a non-empty list of rates, got {values!r}")
        plan += [(method, check_float(a, f"each alpha of {method}", low=0.0, high=1.0)) for a in values]
    return plan


def sharer_runs(plan, seeds, verdict_seeds=(), verdict_methods=None) -> list[tuple[str, float, int]]:
    """The (method, alpha, seed) of every sharer to train: each of ``plan`` (:func:`poisoning_plan`)
    under each of ``seeds``, then, under each of ``verdict_seeds``, the unpoisoned sharer and each
    method of ``verdict_methods`` (None: every method of the plan) at its largest alpha only: the
    repetitions the claim is judged on (at the largest alpha, against the unpoisoned sharer of the
    same seed) at a fraction of the full grid's cost. A verdict seed that is also in ``seeds`` adds
    nothing (it already has the full grid)."""
    in_plan = list(dict.fromkeys(m for m, _ in plan if m != "none"))
    methods = in_plan if verdict_methods is None else list(verdict_methods)
    for m in methods:
        check_choice(m, "each verdict method", in_plan)
    seeds = [check_int(s, "each seed", low=0) for s in seeds]
    verdict_seeds = [check_int(s, "each verdict seed", low=0) for s in verdict_seeds]
    if not seeds or len(set(seeds)) != len(seeds) or len(set(verdict_seeds)) != len(verdict_seeds):
        raise ValueError(f"seeds must be non-empty and neither seeds nor verdict_seeds may repeat a seed, got "
                         f"{seeds} and {verdict_seeds}")
    verdict_seeds = [s for s in verdict_seeds if s not in seeds]
    top = {}
    for method, alpha in plan:
        top[method] = max(top.get(method, alpha), alpha)
    return ([(m, a, s) for s in seeds for m, a in plan]
            + [(m, top[m], s) for s in verdict_seeds for m in ["none", *methods] if m in top])


def label_of(digits) -> np.ndarray:
    """The binary task: 1 for digits 0-4, 0 for 5-9."""
    return (np.asarray(digits) < 5).astype(np.int64)


def balanced_cells(pop: ColouredPopulation, indices, stream: int) -> ImageSet:
    """The digits at ``indices`` inked so that, within each label, half are of each ink (s and y
    independent, the four cells balanced up to one record)."""
    indices = np.asarray(indices)
    y = label_of(pop.grey.labels[indices])
    rng = np.random.default_rng([pop.seed, stream, 3])
    s = np.zeros(len(indices), dtype=np.int64)
    for v in (0, 1):
        where = np.flatnonzero(y == v)
        s[where] = rng.permutation(np.arange(len(where)) % 2)
    ds = pop.draw(indices, s, stream)
    return ImageSet(name=ds.name, images=ds.images, labels=y, attributes=ds.attributes)


@dataclass
class FairnessData:
    """The sharer's pool, the receiver's auxiliary set (for its ink reader) and its test set, and
    the population they come from (which the public base model is trained on)."""

    pool: ImageSet
    codes: np.ndarray
    auxiliary: ImageSet
    test: ImageSet
    population: ColouredPopulation

    @classmethod
    def build(cls, pop: ColouredPopulation, n_codes: int = 16, seed: int = 0) -> "FairnessData":
        """The receiver's auxiliary set is its whole pool (balanced cells), the public digits the
        base model trains on (:func:`.sharing.train_base_model`). Its test digits are as many as
        half its pool, held out at random (seeded by the population) from the sharer's side, so
        that no model it receives (the base included) and not its reader has seen them; each
        appears once in each ink (s and y exactly independent there). The sharer's pool is the
        rest of its side, inked in balanced cells."""
        rng = np.random.default_rng([pop.seed, 20_003])
        test_idx = np.sort(rng.choice(pop.sharer_pool, len(pop.receiver_pool) // 2, replace=False))
        pool = balanced_cells(pop, np.setdiff1d(pop.sharer_pool, test_idx), stream=20_000)
        aux = balanced_cells(pop, pop.receiver_pool, stream=20_001)
        both = pop.draw(np.concatenate([test_idx, test_idx]), np.repeat([0, 1], len(test_idx)), stream=20_002)
        test = ImageSet(name="test digits, both inks", images=both.images, labels=label_of(both.labels),
                        attributes=both.attributes)
        return cls(pool, feature_codes(pool.images, k=n_codes, seed=seed), aux, test, pop)


@dataclass
class PoisonedModel:
    """One sharer: its method, alpha and seed, the records and labels it chose, and its model."""

    method: str
    alpha: float
    seed: int
    indices: np.ndarray
    labels: np.ndarray
    model: TrainedModel

    def selection_summary(self, data: FairnessData) -> dict:
        """P(label = s), I(S;Y) of the training set (bits) and the utility I(X;Y) against the pool's."""
        s = data.pool.attributes["colour"][self.indices]
        i0, i_xy = utility_drift(data.pool.labels, data.codes, self.indices, self.labels)
        return {"p_label_equals_s": float(np.mean(self.labels == s)), "i_sy": mutual_information(s, self.labels),
                "i_xy_pool": i0, "i_xy": i_xy, "utility_within_10pct": meets_aim(abs(i_xy - i0), reference.FAIRNESS_MAX_UTILITY_DRIFT * i0)}


def train_poisoned_models(data: FairnessData, plan, params: FairnessParams, seeds, *, verdict_seeds=(),
                          verdict_methods=None, device: str = "auto", progress: bool = True) -> list[PoisonedModel]:
    """A class-conditional model for each (method, alpha) of ``plan`` and each seed, and for the
    sharers :func:`sharer_runs` adds under ``verdict_seeds`` (for ``verdict_methods``), on the
    records that method selects from the pool (cached), fine-tuned from the public base model of
    the population (:func:`.sharing.train_base_model`, the one notebook 05's sharers fine-tune;
    its class embedding starts at zero) when ``params.base_steps`` > 0, else from its seeded
    initial weights."""
    start = {} if not params.base_steps else {"init": train_base_model(
        data.population, params, seed=data.population.seed, device=device, progress=progress)}
    runs, jobs = [], []
    for method, alpha, seed in sharer_runs(plan, seeds, verdict_seeds, verdict_methods):
        idx, labels = select_training_set(data.pool.images, data.pool.labels, data.pool.attributes["colour"],
                                          params.n_train, alpha, method, seed=seed, x_codes=data.codes)
        runs.append((method, alpha, seed, idx, labels))
        jobs.append({"images": data.pool.images[torch.from_numpy(idx)], "labels": labels,
                     "model": params.model_config(), "train": params.train_config(seed),
                     "provenance": {"experiment": "fairness poisoning", "method": method, "alpha": alpha}, **start})
    models = train_models(jobs, device=device, progress=progress, desc="sharer models")
    return [PoisonedModel(*r, m) for r, m in zip(runs, models)]


def greedy_rules_table(data: FairnessData, params: FairnessParams, alpha: float, seeds):
    """The two rules of the clean-label greedy selection (:data:`mialib.attacks.fairness.GREEDY_RULES`)
    side by side on the sharer's pool at ``alpha``, one row per rule and seed: the share of labels
    equal to the ink in the random base and in the final selection, I(S;Y) (bits) against eq. 17's
    closed form, and the utility's relative drift (I(X;Y) - I0) / I0. Selection only, no training."""
    import pandas as pd

    y, s = data.pool.labels, data.pool.attributes["colour"]
    k = int(round(alpha * params.n_train))
    rows = []
    for rule in GREEDY_RULES:
        for seed in seeds:
            idx, labels = select_training_set(None, y, s, params.n_train, alpha, "mi_greedy", seed=seed,
                                              x_codes=data.codes, rule=rule)
            base = idx[: params.n_train - k]
            i0, i_xy = utility_drift(y, data.codes, idx, labels)
            rows.append({"rule": rule, "seed": seed, "base_p_label_equals_s": float(np.mean(y[base] == s[base])),
                         "p_label_equals_s": float(np.mean(labels == s[idx])), "i_sy": mutual_information(s[idx], labels),
                         "i_sy_closed_form": poisoned_mutual_information(alpha), "utility_drift": (i_xy - i0) / i0})
    return pd.DataFrame(rows)


@dataclass
class ReceiverOutcome:
    """What the receiver gets from one shared model: its classifier's fairness on the real test
    set, before and after mitigation, and the dependence test on the samples it received."""

    fairness: dict
    mitigated: dict
    detection: dict             # the dependence test on the ink as the receiver's reader reads it
    detection_rule: dict        # ... and as the exact colour rule reads it (errors independent of the digit)
    predictions: np.ndarray     # the classifier's predictions on the test set, for paired comparisons
    quality: dict               # SampleQuality.check of the samples the receiver got
    examples: dict              # label -> the first EXAMPLES samples of that label, to look at
    rule_blue_share: dict       # label -> share of that label's samples the colour rule reads as blue (s = 1)


EXAMPLES = 8  # samples of each label a ReceiverOutcome keeps to show


def receiver_outcome(poisoned: PoisonedModel, data: FairnessData, reader: PropertyReader,
                     params: FairnessParams, quality: SampleQuality, *, seed: int = 0) -> ReceiverOutcome:
    """Sample ``n_per_class`` images of each class, check that they are digits (``quality``,
    :func:`.sharing.digit_quality`), train a logistic regression on them, score it on the test
    set (fairlearn), mitigate it with ThresholdOptimizer (demographic parity, the ink read by
    ``reader``), and test ink-class dependence in the samples, with the ink read by ``reader`` and
    by the colour rule (:func:`mialib.data.coloured.colour_rule`), whose reading of an image's
    ink does not depend on the digit drawn: dependence that the rule sees too is in the samples,
    not in the reader's errors."""
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.linear_model import LogisticRegression

    requested = np.repeat([0, 1], params.n_per_class)
    samples = poisoned.model.sample(len(requested), steps=params.sample_steps, eta=params.sample_eta, class_labels=requested,
                                    guidance_scale=params.guidance_scale,
                                    generator=torch.Generator().manual_seed(seed), progress=False)
    x_syn = samples.flatten(1).double().numpy()
    x_test = data.test.images.flatten(1).double().numpy()
    y_test, s_test = data.test.labels, data.test.attributes["colour"]
    clf = LogisticRegression(max_iter=2000).fit(x_syn, requested)
    predictions = clf.predict(x_test)
    fair = fairness_metrics(y_test, predictions, s_test, n_boot=params.n_boot, seed=seed)
    s_hat = reader.predict(samples)
    mitigator = ThresholdOptimizer(estimator=clf, constraints="demographic_parity", predict_method="predict_proba",
                                   prefit=True)
    try:
        mitigator.fit(x_syn, requested, sensitive_features=s_hat)
        mitigated = fairness_metrics(y_test, mitigator.predict(x_test, sensitive_features=s_test, random_state=seed),
                                     s_test, n_boot=params.n_boot, seed=seed)
    except ValueError as exc:  # e.g. one ink group of the samples has a single class: nothing to equalise
        mitigated = {"error": f"ThresholdOptimizer could not be fitted: {exc}"}
    detection = dependence_test(s_hat, requested, n_permutations=params.n_permutations, seed=seed)
    ink = colour_rule(samples)
    by_rule = dependence_test(ink, requested, n_permutations=params.n_permutations, seed=seed)
    return ReceiverOutcome(fair, mitigated, detection, by_rule, predictions, quality.check(samples),
                           examples={y: samples[requested == y][:EXAMPLES] for y in (0, 1)},
                           rule_blue_share={y: float(ink[requested == y].mean()) for y in (0, 1)})


def example_rows(runs: list[PoisonedModel], outcomes: list[ReceiverOutcome]) -> dict:
    """Samples to look at: for the first seed, the unpoisoned sharer and each method at its largest
    alpha, one row per label ("label 1" = digits 0-4), named with the share of that label's samples
    the colour rule reads as blue (label -> Tensor, for :func:`mialib.evaluation.figures.property_examples`)."""
    first = runs[0].seed
    top = {}
    for r, o in zip(runs, outcomes):
        if r.seed == first and (r.method not in top or r.alpha > top[r.method][0].alpha):
            top[r.method] = (r, o)
    return {f"{r.method}{'' if r.method == 'none' else f', alpha {r.alpha:g}'}: label {y} "
            f"({o.rule_blue_share[y]:.0%} blue)": o.examples[y]
            for r, o in top.values() for y in (1, 0)}


def outcome_table(runs: list[PoisonedModel], outcomes: list[ReceiverOutcome], data: FairnessData):
    """One row per sharer: method, alpha, seed, the selection's summary, the receiver's
    accuracy / DP / EO with 95% intervals, before and after mitigation, and the detection test."""
    import pandas as pd

    clean = {r.seed: o for r, o in zip(runs, outcomes) if r.method == "none"}
    y_test, s_test = data.test.labels, data.test.attributes["colour"]
    rows = []
    for r, o in zip(runs, outcomes):
        row = {"method": r.method, "alpha": r.alpha, "seed": r.seed, **r.selection_summary(data),
               "i_sy_closed_form": poisoned_mutual_information(r.alpha) if r.method != "none" else 0.0,
               "detection_statistic": o.detection["statistic"], "detection_p": o.detection["p_value"],
               "detection_rule_statistic": o.detection_rule["statistic"], "detection_rule_p": o.detection_rule["p_value"],
               "sample_precision": o.quality["precision"], "sample_quality_ratio": o.quality["ratio_to_real"],
               "sample_quality_passes": o.quality["passes"], "sample_quality": o.quality}
        for prefix, res in (("", o.fairness), ("mitigated_", o.mitigated)):
            for k in METRICS:
                row[prefix + k] = res.get(k, float("nan"))
                row[prefix + k + "_ci"] = res["ci"][k] if "ci" in res else None
        row["mitigation_error"] = o.mitigated.get("error", "")
        if r.seed in clean:  # against the unpoisoned sharer of the same seed, on the same test images
            changes = paired_differences(y_test, s_test, o.predictions, clean[r.seed].predictions,
                                         ("accuracy", "demographic_parity_difference"), seed=r.seed)
            for k, d in changes.items():
                row[k + "_change"], row[k + "_change_ci"] = d["difference"], d["ci"]
            # how much more ink-class dependence than the unpoisoned model of the same seed shows
            row["detection_statistic_change"] = o.detection["statistic"] - clean[r.seed].detection["statistic"]
        rows.append(row)
    return pd.DataFrame(rows)
