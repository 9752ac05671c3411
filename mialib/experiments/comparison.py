"""Notebook 04's comparison of every attack on one target, the parts that are more than one call:
SecMI_NNs scored and timed on the same split as the per-image attacks, each attack's timestep
tuned on the calibration split (:func:`tune_attacks`: timesteps, and
for noise aggregation and SecMI their other knobs), and the attacks whose papers report
numbers to set beside ours (:func:`reported_attacks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..attacks.registry import ATTACKS, AttackInfo
from ..attacks.scoring import SplitScores, score_split
from ..attacks.secmi import NNsResult, secmi_nns
from ..core.progress import progress_bar, stopwatch
from ..evaluation.compare import compare
from ..evaluation.metrics import evaluate_split
from ..evaluation.report import settings_text
from .sweeps import calibration_aucs, score_split_with_sweep, tune_settings_on_calibration


def reported_attacks() -> dict[str, AttackInfo]:
    """The registry's attacks whose papers report numbers (:mod:`mialib.evaluation.reference`)."""
    return {name: info for name, info in ATTACKS.items() if info.reference}


def run_secmi_nns(target, data, settings: dict, *, seed: int, progress: bool = True) -> tuple[NNsResult, float]:
    """SecMI_NNs (:func:`mialib.attacks.secmi_nns`) at SecMI_stat's t_sec and k and the
    ``secmi_nns`` classifier recipe of ``settings``, on the evaluation members and non-members of
    ``data``: (its result, seconds per 1000 evaluation images, classifier training included)."""
    secmi = settings["secmi_stat"]
    with stopwatch() as sw:
        nns = secmi_nns(target, data.members, data.nonmembers, t_sec=secmi.t_sec, k=secmi.k, seed=seed,
                        progress=progress, **settings["secmi_nns"].to_dict())
    return nns, 1000 * sw.seconds / (len(data.members) + len(data.nonmembers))


def score_attacks(settings: dict, target, data, *, seed: int, sweeps: dict | None = None, sweep_n_boot: int = 0,
                  progress: bool = True) -> tuple[dict, dict]:
    """({name: :class:`~mialib.attacks.scoring.SplitScores`} of every attack in ``settings`` (name
    -> settings) on ``data``, {name: its :class:`~.sweeps.Sweep`}) for the attacks named in
    ``sweeps`` (name -> (parameter, values), evaluated with ``sweep_n_boot`` bootstrap resamples
    for their intervals, none by default): a swept attack is
    scored with its sweep (:func:`~.sweeps.score_split_with_sweep`: one pass where the sweep is
    shared and reaches the attack's own value, the same scores as alone)."""
    sweeps = sweeps or {}
    unknown = sorted(set(sweeps) - set(settings))
    if unknown:
        raise ValueError(f"sweeps name attacks {unknown} that are not scored; attacks: {sorted(settings)}")
    scores, curves = {}, {}
    for name in progress_bar(list(settings), desc="attacks", enabled=progress):
        if name in sweeps:
            parameter, values = sweeps[name]
            scores[name], curves[name] = score_split_with_sweep(settings[name], parameter, values, target, data,
                                                                seed=seed, n_boot=sweep_n_boot)
        else:
            scores[name] = score_split(settings[name], target, data, seed=seed)
    return scores, curves


def query_curve(name: str, label: str, sweep, attack, order) -> tuple:
    """One attack's sweep of a cost knob (its other settings fixed) as a curve of
    :func:`mialib.evaluation.figures.auc_vs_queries`: (legend, queries per image of each swept
    value, their AUCs, the attack's colour, the AUCs' 95% lower and upper bounds). The colour is
    the attack's place in ``order`` (the attacks' order in the figure's points) in matplotlib's
    cycle; without bootstrap intervals the bounds are the AUCs themselves."""
    values = list(sweep.results)
    legend = f"{label}, {sweep.parameter} = {', '.join(map(str, values))}"
    queries = [attack.replace(**{sweep.parameter: v}).queries() for v in values]
    aucs = sweep.values("auc")
    bounds = [(sweep.results[v].get("ci") or {}).get("auc") or (a, a) for v, a in zip(values, aucs)]
    return (legend, queries, aucs, f"C{list(order).index(name)}", [b[0] for b in bounds], [b[1] for b in bounds])


@dataclass
class Tuning:
    """Each attack's settings chosen on the calibration split (``chosen``: name -> {parameter:
    value}, in the order they were tuned), the calibration AUC of every value tried (``path``:
    name -> {parameter: {value: AUC}}), the scores on the evaluation parts at the chosen settings,
    their metrics, and the values of the grid that could not be tried (``skipped``: name ->
    {parameter: {value: why}}, only parameters with such values)."""

    chosen: dict
    path: dict
    scores: dict
    results: dict
    skipped: dict = field(default_factory=dict)

    def describe(self, name: str) -> str:
        """The chosen settings of ``name`` as one line, e.g. "t = 60, K = 8, sigma = 0.05"."""
        return settings_text(self.chosen[name])

    def calibration_ranges(self, name: str) -> dict:
        """{parameter: (lowest, highest) calibration AUC over the values tried} of ``name``: how much
        each knob moved the attack on the calibration split, the others at their values then."""
        return {parameter: (min(aucs.values()), max(aucs.values())) for parameter, aucs in self.path[name].items()}

    def at_grid_edge(self) -> dict:
        """{attack: {parameter: "smallest" or "largest"}} for each numeric knob whose chosen value is
        the smallest or largest of the values scored, in a grid of three or more: a value beyond
        them might do better, and the search cannot say. A knob whose larger values were skipped
        counts as at its largest when it chose the largest value it could take."""
        out = {}
        for name, by_parameter in self.path.items():
            for parameter, aucs in by_parameter.items():
                values = list(aucs)
                n_grid = len(values) + len(self.skipped.get(name, {}).get(parameter, {}))
                if n_grid < 3 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                    continue
                pick = self.chosen[name][parameter]
                side = "smallest" if pick == min(values) else "largest" if pick == max(values) else None
                if side:
                    out.setdefault(name, {})[parameter] = side
        return out

    def queries(self) -> dict:
        """{attack: queries per image at its chosen settings} on the evaluation parts."""
        return {name: scores.queries_per_image for name, scores in self.scores.items()}

    def ranges(self) -> dict:
        """{attack: :meth:`calibration_ranges`} of every tuned attack."""
        return {name: self.calibration_ranges(name) for name in self.path}

    def comparison(self, a: str, b: str, *, n_boot: int, seed: int) -> dict | None:
        """The paired AUC difference of tuned ``a`` minus tuned ``b`` (:func:`mialib.evaluation.compare.compare`), or
        None when either was not tuned."""
        if a not in self.scores or b not in self.scores:
            return None
        return compare(self.scores[a], self.scores[b], n_boot=n_boot, seed=seed)


def tuning_plan(name: str, values) -> dict:
    """{parameter: values} to tune for attack ``name``: a list is its main timestep's values
    (``ATTACKS[name].timestep``), a mapping names the parameters itself (tuned in its order)."""
    return dict(values) if isinstance(values, dict) else {ATTACKS[name].timestep: values}


def check_tuning_grid(grid) -> dict:
    """``grid`` (attack name -> list of timesteps, or {parameter: list of values} tuned one after
    another) after checking it names registry attacks, parameters of their settings and a
    non-empty list for each."""
    if not isinstance(grid, dict):
        raise ValueError(f"tuning_grid must map attack names to lists of timesteps, got {type(grid).__name__}")
    unknown = sorted(set(grid) - set(ATTACKS))
    if unknown:
        raise ValueError(f"tuning_grid names unknown attacks {unknown}; known: {sorted(ATTACKS)}")
    for name, values in grid.items():
        if not isinstance(values, (list, dict)) or not values:
            raise ValueError(f"tuning_grid must give each attack a non-empty list of timesteps or a non-empty "
                             f"{{parameter: [values]}}; not so for {name}: {values!r}")
        plan = tuning_plan(name, values)
        fields = set(ATTACKS[name].config.to_dict())
        wrong = sorted(p for p in plan if p not in fields)
        if wrong:
            raise ValueError(f"tuning_grid[{name!r}] names parameters {wrong} that {name} does not have; "
                             f"it has {sorted(fields)}")
        empty = sorted(p for p, v in plan.items() if not isinstance(v, list) or not v)
        if empty:
            raise ValueError(f"tuning_grid must give each parameter a non-empty list of values; not so for "
                             f"{name}: {empty}")
    return grid


def tune_attacks(settings: dict, grid: dict, target, data, *, seed: int, n_boot: int,
                 known: dict | None = None) -> Tuning:
    """For each attack of ``grid`` (:func:`check_tuning_grid`), its settings chosen by AUC on the
    calibration split (:func:`.sweeps.tune_settings_on_calibration`: the parameters one after another,
    the evaluation images never looked at), then scored and evaluated on the evaluation parts.
    ``known`` (name -> :class:`~mialib.attacks.scoring.SplitScores` of ``settings[name]`` with this
    ``seed``) saves scoring again an attack whose chosen settings are the ones it already had."""
    chosen, path, scores, results, skipped = {}, {}, {}, {}, {}
    for name, values in check_tuning_grid(grid).items():
        plan = tuning_plan(name, values)
        cfg, sweeps = tune_settings_on_calibration(settings[name], plan, target, data, seed=seed)
        path[name] = {parameter: calibration_aucs(sw) for parameter, sw in sweeps.items()}
        chosen[name] = {parameter: getattr(cfg, parameter) for parameter in plan}
        missed = {parameter: {v: sw.reasons[v] for v in sw.skipped} for parameter, sw in sweeps.items() if sw.skipped}
        if missed:
            skipped[name] = missed
        if known and name in known and cfg == settings[name]:
            scores[name] = SplitScores(*known[name].evaluation, queries_per_image=known[name].queries_per_image)
        else:
            scores[name] = score_split(cfg, target, data, seed=seed, calibration=False)
        results[name] = evaluate_split(scores[name], n_boot=n_boot, seed=seed)
    return Tuning(chosen, path, scores, results, skipped)
