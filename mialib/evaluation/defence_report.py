"""Notebook 08's tables and its "What the numbers say", from the numbers of a run: which attack is
strongest on each model, the defended models against the undefended one of the same training
budget (paired AUC differences, judged by :func:`.compare.verdict`), utility, and the empirical
ε lower bound against the accountant's ε."""

from __future__ import annotations

import math

from .compare import BEATS, CLOSE, LOSES, TIE
from .report import ci_text


def strongest(rows: dict) -> str:
    """The attack with the highest AUC among ``rows`` ({attack: row with "metrics"})."""
    return max(rows, key=lambda a: rows[a]["metrics"]["auc"])


def _difference_text(d: dict) -> str:
    """A paired difference (:func:`.compare.compare`) as "-0.102 [-0.147, -0.055]"."""
    return f"{d['difference']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]"


def _eps(x) -> str:
    return "—" if x is None else "∞" if math.isinf(x) else f"{x:.2f}"


def model_rows(models: dict, table: dict, bounds: dict, utility, attack_labels: dict) -> list[dict]:
    """One row per model: training, utility (Fréchet distance, held-out loss), the strongest
    attack's AUC, the accountant's ε and the empirical lower bound."""
    rows = []
    for name, m in models.items():
        best = strongest(table[name])
        b = bounds[name]["best"]
        proven = f"{b['epsilon']:.2f} ({attack_labels[b['attack']]})" if b["epsilon"] > 0 else "0 (none)"
        rows.append({"model": m.label, "steps": m.train.steps,
                     "Fréchet distance": f"{utility.frechet[name]:.2f}",
                     "held-out loss": f"{utility.held_out_loss[name]:.4f}",
                     "strongest attack": attack_labels[best],
                     "its AUC [95% CI]": ci_text(table[name][best]["metrics"], "auc"),
                     "accountant ε": _eps(bounds[name]["accountant"]),
                     "empirical ε ≥ (95%)": proven})
    return rows


def attack_rows(models: dict, table: dict, attack_labels: dict) -> list[dict]:
    """One row per model and attack: AUC and TPR@1%FPR with intervals, and the paired AUC
    difference to the model's baseline with its verdict."""
    rows = []
    for name, m in models.items():
        for a, r in table[name].items():
            met = r["metrics"]
            row = {"model": m.label, "attack": attack_labels[a], "AUC [95% CI]": ci_text(met, "auc"),
                   "TPR@1%FPR [95% CI]": ci_text(met, "tpr@1%fpr"), "paired with": "", "ΔAUC [95% CI]": "", "verdict": ""}
            if "vs_baseline" in r:
                d = r["vs_baseline"]
                row.update({"paired with": models[m.baseline].label,
                            "ΔAUC [95% CI]": _difference_text(d),
                            "verdict": {LOSES: "lower", BEATS: "higher", TIE: "no difference shown",
                                        CLOSE: "too close to call"}[d["verdict"]]})
            rows.append(row)
    return rows


def _effect(models: dict, table: dict, name: str, attack_labels: dict) -> str:
    """How the defended model ``name`` moved the strongest attack on its baseline."""
    m = models[name]
    base = m.baseline
    a = strongest(table[base])
    d = table[name][a]["vs_baseline"]
    word = {LOSES: "lowers", BEATS: "raises", TIE: "does not measurably change", CLOSE: "may lower or raise"}[d["verdict"]]
    return (f"**{m.label}** {word} the AUC of {attack_labels[a]} (the strongest attack on {models[base].label}): "
            f"{table[name][a]['metrics']['auc']:.3f} against {table[base][a]['metrics']['auc']:.3f}, "
            f"paired difference {_difference_text(d)}")


def defences_summary(*, models: dict, table: dict, bounds: dict, utility, attack_labels: dict,
                     n_members: int, n_nonmembers: int) -> str:
    """The notebook's closing text (markdown) from this run's numbers."""
    ref = "undefended"
    lines = []
    a0 = strongest(table[ref])
    lines.append(f"- The undefended target ({models[ref].label}) is attacked best by {attack_labels[a0]}, AUC "
                 f"{ci_text(table[ref][a0]['metrics'], 'auc')}.")
    for name, m in models.items():
        if m.baseline is None:
            continue
        fd, fd_base = utility.frechet[name], utility.frechet[m.baseline]
        quality = (f"Fréchet distance {fd:.2f} against {fd_base:.2f} for {models[m.baseline].label} "
                   f"(real images: {utility.real_floor:.2f}; lower is better)")
        lines.append(f"- {_effect(models, table, name, attack_labels)}; {quality}.")
    lines.append("")
    lines.append("**Is the DP claim true?** For each model the largest ε that the best attack rules out at 95% "
                 "confidence (five attacks, each bound at 99%):")
    lines.append("")
    provable = None
    for name, m in models.items():
        b, acc = bounds[name]["best"], bounds[name]["accountant"]
        provable = b["largest_provable"]
        if b["epsilon"] == 0:
            lines.append(f"- {m.label}: no attack rules out any ε > 0"
                         + ("." if acc is None else f"; the accountant claims ε = {acc:.2f}: nothing against the claim."))
        elif acc is None:
            lines.append(f"- {m.label}: ε ≥ {b['epsilon']:.2f} ({attack_labels[b['attack']]}; TPR {b['tpr']:.3f} at "
                         f"FPR {b['fpr']:.4f} on the evaluation images).")
        elif b["epsilon"] <= acc:
            lines.append(f"- {m.label}: ε ≥ {b['epsilon']:.2f}, below the accountant's ε = {acc:.2f}, as it must be: "
                         "the audit finds nothing against the claim.")
        else:
            lines.append(f"- {m.label}: ε ≥ {b['epsilon']:.2f}, **above the accountant's ε = {acc:.2f}: this training "
                         "is not (ε, δ)-DP** (a bug in the clipping, the noise or the accounting).")
    lines.append("")
    lines.append(f"With {n_members} members and {n_nonmembers} non-members no attack can prove more than ε ≥ "
                 f"{provable:.2f} (every member caught, no non-member), however private or leaky the model is: a "
                 "bound below the accountant's ε says nothing about how loose the accountant is, and an undefended "
                 "model's bound is the most these images can show, not its privacy. Audits that want to test ε = 10 "
                 "need far more trials (many training runs with canaries, Jagielski et al. 2020; Nasr et al. 2021).")
    return "\n".join(lines)
