"""Parameter sweeps: one attack setting varied over a list of values, everything else fixed,
each value scored on the same images with the same noise (:mod:`mialib.attacks.scoring`) and
evaluated with the same metrics. Values that are invalid or that the target's schedule cannot
take (e.g. K steps of stride m below step 0) are skipped and listed with the reason, not
silently dropped.

Where one value's model queries are a prefix or a point of another's (SecMI's t_sec at a fixed
stride, noise aggregation's K: :meth:`~mialib.attacks.config.AttackConfig.shared_sweep`), the
whole sweep is ONE pass of queries, each value's scores bitwise those of scoring it alone, and
the sweep's query count is that of its most expensive value, not the sum.

Choosing a value by its result on the evaluation images is optimistic in the same way as the
papers' best-threshold ASR; :func:`tune_on_calibration` chooses on the calibration split, and
:func:`tune_settings_on_calibration` chooses several parameters there one after another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..attacks.scoring import SplitScores, part_generator, score_part, score_split
from ..evaluation.metrics import evaluate

SUMMARY_KEYS = ("auc", "asr", "tpr@1%fpr", "tpr@0.1%fpr", "ci")


def sweep_boot(n_boot: int) -> int:
    """Bootstrap resamples for each row of a sweep: a fifth of ``n_boot``, at least 20 (a
    sweep has many rows; its intervals need less precision than the headline numbers)."""
    return max(20, n_boot // 5)


@dataclass
class Sweep:
    """Metrics (``results``: value -> :func:`evaluate` dict) of one parameter's values, in the
    order given, the values that were ``skipped`` and why (``reasons``)."""

    parameter: str
    results: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    reasons: dict = field(default_factory=dict)
    shared: bool = False                       # all values scored from one pass of queries
    queries_per_image: float = float("nan")    # what the whole sweep cost (evaluation images)

    def best(self, key: str = "auc"):
        """The value with the highest ``key`` (the first one on ties)."""
        if not self.results:
            raise ValueError(f"the {self.parameter} sweep has no valid value (skipped: {self.skipped})")
        return max(self.results, key=lambda v: self.results[v][key])

    def gaps(self, other: "Sweep", key: str = "auc") -> dict:
        """value -> this sweep's ``key`` minus ``other``'s, at the values both scored (in this
        sweep's order); unpaired point estimates."""
        return {v: self.results[v][key] - other.results[v][key] for v in self.results if v in other.results}

    def values(self, key: str) -> list:
        return [r[key] for r in self.results.values()]

    def skipped_note(self) -> str:
        """One line for the reader: how many values were scored, and each skipped one with why."""
        head = f"{self.parameter}: {len(self.results)} value(s) scored"
        if self.shared:
            head += f" from one shared pass ({self.queries_per_image:g} queries per image in all)"
        if not self.skipped:
            return head + ", none skipped"
        return head + "; skipped " + "; ".join(f"{v} ({self.reasons[v]})" for v in self.skipped)

    def summary(self, keys: Sequence[str] = SUMMARY_KEYS) -> dict:
        """{str(value): {key: metric}} for a results file."""
        return {str(v): {k: r[k] for k in keys} for v, r in self.results.items()}

    def table(self, keys: Sequence[str] = ("auc",), paper: dict | None = None, paper_key: str = ""):
        """A DataFrame, one row per value: "ours: <key>" columns and, with ``paper`` (value ->
        reported number), a "paper: <paper_key>" column (empty where the paper has no value)."""
        import pandas as pd

        cols = {f"ours: {k}": {v: f"{r[k]:.3f}" for v, r in self.results.items()} for k in keys}
        if paper is not None:
            cols[f"paper: {paper_key}"] = {v: f"{paper[v]:.3f}" for v in self.results if v in paper}
        return pd.DataFrame(cols).rename_axis(self.parameter).fillna("")


def sweep_values(parameter: str, values, score_fn: Callable, *, n_boot: int, seed: int) -> Sweep:
    """Evaluate ``score_fn(value) -> (member_scores, nonmember_scores)`` for each value; a
    value for which it raises ValueError is skipped, with the message as its reason."""
    out = Sweep(parameter)
    for v in values:
        try:
            scores = score_fn(v)
        except ValueError as exc:
            out.skipped.append(v)
            out.reasons[v] = str(exc)
            continue
        out.results[v] = evaluate(*scores, n_boot=n_boot, seed=seed)
    return out


def skipped_notes(sweeps: dict) -> str:
    """:meth:`Sweep.skipped_note` of every sweep (name -> :class:`Sweep`), one per line."""
    return "\n".join(sw.skipped_note() for sw in sweeps.values())


def sweep_aggregation_metric(attack, noises: dict, metrics, *, n_boot: int, seed: int) -> Sweep:
    """Noise aggregation's aggregation metric varied over ``metrics`` on noises collected once
    (``noises``: "members" and "nonmembers" -> Tensor[N, K, ...] from :meth:`NoiseAggregation.noises`):
    the metric only changes how the K noises are aggregated, so no model query is repeated."""
    def score(name):
        cfg = attack.replace(metric=name)
        return cfg.scores_from_noises(noises["members"]), cfg.scores_from_noises(noises["nonmembers"])
    return sweep_values("metric", list(metrics), score, n_boot=n_boot, seed=seed)


def _variant(attack, parameter: str, value, target):
    """``attack`` with ``parameter = value``, checked against ``target`` (ValueError if not)."""
    cfg = attack.replace(**{parameter: value})
    cfg.check(target)
    return cfg


def _variants(attack, parameter: str, values, target) -> tuple[dict, dict]:
    """({value: ``attack`` with ``parameter = value``} for the values ``target`` can take,
    {value: why not} for the others)."""
    valid, reasons = {}, {}
    for v in values:
        try:
            valid[v] = _variant(attack, parameter, v, target)
        except ValueError as exc:
            reasons[v] = str(exc)
    return valid, reasons


def sweep_part_scores(attack, parameter: str, values, target, x0, *, seed: int, part: str,
                      cond=None) -> tuple[dict, dict]:
    """({value: scores of ``x0``}, {value: why it was skipped}) for ``attack`` with ``parameter``
    set to each of ``values``, with the noise of ``part`` (:func:`~mialib.attacks.scoring.part_generator`):
    one shared pass where the attack allows it, else one run per value."""
    valid, reasons = _variants(attack, parameter, values, target)
    if valid and attack.shared_sweep(parameter):
        scores = attack.sweep_scores(target, x0, parameter, list(valid), cond=cond, generator=part_generator(seed, part))
        return {v: scores[v] for v in valid}, reasons
    return {v: score_part(cfg, target, x0, seed=seed, part=part, cond=cond) for v, cfg in valid.items()}, reasons


def _sweep_parts(attack, parameter: str, values, target, data, parts, *, seed: int, n_boot: int,
                 known: dict | None = None, also: tuple = (), cond: dict | None = None) -> tuple[Sweep, dict]:
    """The sweep of ``parameter`` scored on the two ``parts`` of ``data`` (members first); a
    value whose settings are in ``known`` (settings -> their scores of the two parts) is not
    scored again. Values in ``also`` are scored in the same pass but not reported: (the sweep,
    {value in ``also``: its scores of the two parts})."""
    known = {} if attack.shared_sweep(parameter) else (known or {})
    have = {}
    for v in values if known else ():
        try:
            cfg = attack.replace(**{parameter: v})
        except ValueError:
            continue  # invalid: skipped below, with the reason
        if cfg in known:
            have[v] = known[cfg]
    todo = [v for v in values if v not in have] + [v for v in also if v not in values]
    with target.counting(sum(len(getattr(data, p)) for p in parts)) as q:
        scored = [sweep_part_scores(attack, parameter, todo, target, getattr(data, p), seed=seed, part=p,
                                    cond=(cond or {}).get(p)) for p in parts]
    for v, pair in have.items():
        for (scores, _), mine in zip(scored, pair):
            scores[v] = mine

    def lookup(v):
        if v in scored[0][1]:
            raise ValueError(scored[0][1][v])
        return scored[0][0][v], scored[1][0][v]
    out = sweep_values(parameter, values, lookup, n_boot=n_boot, seed=seed)
    out.shared, out.queries_per_image = attack.shared_sweep(parameter), q.per_sample
    return out, {v: lookup(v) for v in also}


def sweep_attack(attack, parameter: str, values, target, data, *, seed: int, n_boot: int,
                 known: dict | None = None, cond: dict | None = None) -> Sweep:
    """``attack`` (an :class:`~mialib.attacks.config.AttackConfig`) with ``parameter`` set to
    each of ``values``, scored on the evaluation parts of ``data`` (see the module docstring).
    ``known`` maps settings to their :class:`~mialib.attacks.scoring.SplitScores` on ``data``
    with this ``seed`` (e.g. ``{na: scores}``, the notebook's headline scores): a value whose
    settings are there is taken from them instead of being scored again (same scores, fewer
    queries). ``cond`` maps a part name to its conditioning (e.g. a text-to-image target's prompts,
    :meth:`mialib.experiments.text_to_image.CaptionedSplit.prompts`)."""
    known = {cfg: sc.evaluation for cfg, sc in (known or {}).items()}
    return _sweep_parts(attack, parameter, values, target, data, ("members", "nonmembers"), seed=seed, n_boot=n_boot,
                        known=known, cond=cond)[0]


def score_split_with_sweep(attack, parameter: str, values, target, data, *, seed: int,
                           n_boot: int) -> tuple[SplitScores, Sweep]:
    """(``attack``'s scores on the parts of ``data``, as :func:`score_split` gives them; its
    sweep of ``parameter`` over ``values``, as :func:`sweep_attack` gives it) for the price of the
    sweep alone where the sweep is shared and reaches the attack's own value (SecMI's t_sec up to
    the largest swept one, noise aggregation's K likewise): the attack's evaluation scores are
    then a point of the sweep's pass, bitwise what scoring it alone gives, and only the
    calibration parts are scored apart. The attack's ``queries_per_image`` and
    ``seconds_per_1000`` are then measured on those calibration parts. Otherwise the attack is
    scored first and the sweep takes it as ``known``."""
    attack.check(target)  # before any query
    own = getattr(attack, parameter)
    reach = list(_variants(attack, parameter, values, target)[0])
    if not (attack.shared_sweep(parameter) and reach and own <= max(reach)):
        scores = score_split(attack, target, data, seed=seed)
        return scores, sweep_attack(attack, parameter, values, target, data, seed=seed, n_boot=n_boot,
                                    known={attack: scores})
    sweep, extra = _sweep_parts(attack, parameter, values, target, data, ("members", "nonmembers"), seed=seed,
                                n_boot=n_boot, also=(own,))
    members, nonmembers = extra[own]
    n_cal = len(data.cal_members) + len(data.cal_nonmembers)
    started = time.perf_counter()
    with target.counting(n_cal) as q:
        cal = [score_part(attack, target, getattr(data, p), seed=seed, part=p) for p in ("cal_members", "cal_nonmembers")]
    return SplitScores(members, nonmembers, *cal, queries_per_image=q.per_sample,
                       seconds_per_1000=1000 * (time.perf_counter() - started) / n_cal), sweep


def calibration_sweep(attack, parameter: str, grid, target, data, *, seed: int) -> Sweep:
    """``attack`` with ``parameter`` set to each value of ``grid``, scored on the calibration parts
    of ``data`` (no bootstrap): the :class:`Sweep` a tuning chooses from, the values the target
    cannot take listed in its ``skipped`` with the reason. The evaluation images are never looked at."""
    return _sweep_parts(attack, parameter, grid, target, data, ("cal_members", "cal_nonmembers"), seed=seed,
                        n_boot=0)[0]


def calibration_aucs(sweep: Sweep) -> dict:
    """{value: calibration AUC} of a :func:`calibration_sweep`."""
    return {v: r["auc"] for v, r in sweep.results.items()}


def tune_on_calibration(attack, parameter: str, grid, target, data, *, seed: int):
    """(the value of ``parameter`` in ``grid`` with the highest AUC on the calibration parts
    of ``data``, {value: calibration AUC}); the evaluation images are never looked at."""
    tuned = calibration_sweep(attack, parameter, grid, target, data, seed=seed)
    return tuned.best("auc"), calibration_aucs(tuned)


def tune_settings_on_calibration(attack, grid: dict, target, data, *, seed: int):
    """(``attack`` with every parameter of ``grid`` (parameter -> values, in the order given)
    set to its value of highest calibration AUC, {parameter: its :func:`calibration_sweep`}): one
    round of coordinate ascent, each parameter chosen with the choices before it in place (e.g.
    noise aggregation's t, then K at that t, then m, ...). Values the settings so far cannot
    take are skipped (each sweep's ``skipped`` and ``reasons`` say which and why); a parameter
    none of whose values can be taken is a ValueError. The evaluation images are never looked at."""
    sweeps = {}
    for parameter, values in grid.items():
        sweeps[parameter] = calibration_sweep(attack, parameter, values, target, data, seed=seed)
        attack = attack.replace(**{parameter: sweeps[parameter].best("auc")})
    return attack, sweeps


def metrics_by_model(models: dict, attacks: dict, data, *, seed: int, batch_size: int = 256,
                     known: dict | None = None, n_boot: int = 0) -> dict:
    """{attack name: {model key: :func:`evaluate` dict}}: every attack (name -> settings) on every
    model (key -> :class:`~mialib.diffusion.trained.TrainedModel`, e.g. one per training budget),
    all on the evaluation parts of ``data`` with the same noise, with ``n_boot`` bootstrap
    resamples for the intervals. ``known`` (model key -> {attack name:
    :class:`~mialib.attacks.scoring.SplitScores` with this ``seed``}) gives scores already
    computed, e.g. those of the target itself, which is the largest budget's model."""
    known = known or {}
    out = {name: {} for name in attacks}
    for key, model in models.items():
        target = None
        for name, cfg in attacks.items():
            scores = known.get(key, {}).get(name)
            if scores is None:
                target = target or model.target(batch_size=batch_size)
                scores = score_split(cfg, target, data, seed=seed, calibration=False)
            out[name][key] = evaluate(*scores.evaluation, n_boot=n_boot, seed=seed)
    return out


def metric_of(metrics: dict, key: str = "auc", *, interval: bool = False) -> dict:
    """{attack: {model key: one metric}} of :func:`metrics_by_model`'s result, or with
    ``interval`` its 95% interval (low, high)."""
    return {name: {k: tuple(r["ci"][key]) if interval else r[key] for k, r in by_model.items()}
            for name, by_model in metrics.items()}


def auc_by_model(models: dict, attacks: dict, data, *, seed: int, batch_size: int = 256,
                 known: dict | None = None) -> dict:
    """{attack name: {model key: AUC}} (:func:`metrics_by_model` without intervals)."""
    return metric_of(metrics_by_model(models, attacks, data, seed=seed, batch_size=batch_size, known=known))
