"""The audit's report, from the results document of :func:`mialib.audit.run.run_audit`.

:func:`summary` is the text: the split check first (in bold when the folders differ in
distribution, so that no AUC is read as evidence of membership), then the strongest attack, each
attack's verdict against chance and the paired comparisons, every verdict by the rule the
notebooks use (:func:`mialib.evaluation.compare.judge`: a bound within the hosts' tolerance of
its line is "too close to call"). :func:`write_report` writes, into the output folder,
``report.md``, ``report.html`` (self-contained: the figures inline, readable offline),
``results.json``, ``scores.csv`` (a row per image, a column per attack) and ``figures/``.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from ..core.fileio import atomic_path, write_json
from ..evaluation.compare import BEATS, CLOSE, FAILS, HOLDS, HOST_TOLERANCE, LOSES, TOO_CLOSE

FIGURES = {"roc": "ROC of every attack (linear and log-log axes)",
           "score_histograms": "Scores of members and non-members, per attack",
           "split_check": "The split check: the blind baseline's held-out scores"}


def _ci(r: dict, key: str) -> str:
    lo, hi = r["ci"][key]
    return f"{r[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def split_check_text(check: dict) -> str:
    """The split check's sentence (module docstring)."""
    auc = f"AUC {check['auc']:.3f}, 95% CI [{check['ci'][0]:.3f}, {check['ci'][1]:.3f}]"
    if check["verdict"] == HOLDS:
        return (f"**The two folders differ in distribution: a classifier that never queries the model tells the members "
                f"from the non-members by the images alone ({auc}). No attack AUC in this report is evidence of "
                "membership: an attack can score the difference between the folders instead. Audit with non-members "
                "drawn from the same population as the members (e.g. a held-out part of the training data).**")
    if check["verdict"] == TOO_CLOSE:
        return (f"The split check is too close to call: the blind baseline, which never queries the model, reaches "
                f"{auc}, an interval that ends within {HOST_TOLERANCE:g} of chance. The folders may differ a little in "
                "distribution; read attack AUCs near that of the baseline with care.")
    return (f"The split check passes: a classifier that never queries the model cannot tell the members from the "
            f"non-members ({auc}), so what the attacks gain above chance comes from the model.")


LEAK = {HOLDS: "leaks membership (AUC above chance by more than the tolerance)",
        FAILS: "shows no evidence of membership leakage (AUC interval reaches 0.5)",
        TOO_CLOSE: f"is too close to call (AUC interval ends within {HOST_TOLERANCE:g} of 0.5)"}


def attack_line(name: str, r: dict) -> str:
    """One attack's verdict and numbers: AUC with its interval, and the TPR at 1% FPR at the
    threshold chosen on the calibration images, with the FPR it reaches on the evaluation images."""
    q = r["queries_per_image"]
    line = (f"- **{r['label']}** ({name}, {q:g} {'query' if q == 1 else 'queries'} per image): AUC {_ci(r, 'auc')}, "
            f"{LEAK[r['verdict']]}")
    if "calibrated_tpr@1%fpr" in r:
        line += (f"; TPR {r['calibrated_tpr@1%fpr']:.3f} at the calibrated 1% FPR threshold (which reaches FPR "
                 f"{r['calibrated_fpr@1%fpr']:.3f} on the evaluation non-members)")
        if "calibrated_tpr@1%fpr" in r.get("unreliable", []):
            line += (f", a threshold that {r['n_calibration'][1]} calibration non-members cannot set at 1% (fewer than "
                     "100: it is the threshold of no false positive among them)")
    return line + "."


def summary(doc: dict) -> str:
    """The report's text (markdown) from the results document."""
    att, best = doc["attacks"], doc["strongest"]
    out = [split_check_text(doc["split_check"])]
    b = att[best]
    leaky = [n for n, r in att.items() if r["verdict"] == HOLDS]
    out.append(f"The strongest attack is **{b['label']}** (AUC {_ci(b, 'auc')}). "
               + (f"{len(leaky)} of {len(att)} attacks find membership leakage." if leaky else
                  "No attack finds membership leakage beyond the tolerance."))
    out.append("\n".join(attack_line(n, r) for n, r in att.items()))
    if doc["comparisons"]:
        said = {BEATS: "beats", LOSES: "loses to", CLOSE: "is too close to call against", "is not distinguishable from":
                "is not distinguishable from"}
        out.append("Paired on the same images (bootstrap of the AUC difference): " + "; ".join(
            f"{att[c['a']]['label']} {said.get(c['verdict'], c['verdict'])} {att[c['b']]['label']} "
            f"({c['difference']:+.3f} [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}])" for c in doc["comparisons"]) + ".")
    if "calibrated_tpr@1%fpr" not in b:
        out.append("No calibration images were held out (--calibration 0), so no threshold was chosen and no TPR at "
                   "low FPR is reported: choosing it on the evaluation images would flatter the attack.")
    return "\n\n".join(out)


def _blocks(doc: dict) -> list[tuple]:
    m, im = doc["model"], doc["images"]
    setup = [f"Model: {m['description']} ({m['path']}, fingerprint {m['fingerprint']}).", f"Images: {im['how']}."]
    if im["resized"]:
        setup.append("Resized: " + ", ".join(f"{k}: {v}" for k, v in im["resized"].items())
                     + f" image(s), {im['resize_rule']}.")
    setup.append(f"The split check's classifier sees the images average-pooled to at most {doc['split_check']['max_side']} "
                 "pixels a side.")
    setup += m["notices"] + im["warnings"]
    table = [["attack", "AUC [95% CI]", "ASR", "calibrated TPR@1%FPR (its FPR)", "TPR@1%FPR at best threshold",
              "queries", "verdict"]]
    for name, r in doc["attacks"].items():
        cal = (f"{r['calibrated_tpr@1%fpr']:.3f} ({r['calibrated_fpr@1%fpr']:.3f})" if "calibrated_tpr@1%fpr" in r else "–")
        table.append([r["label"], _ci(r, "auc"), f"{r['asr']:.3f}", cal, f"{r['tpr@1%fpr']:.3f}",
                      f"{r['queries_per_image']:g}", r["verdict"]])
    return [("h1", "Membership audit"), ("p", summary(doc)), ("h2", "What was audited"), ("p", " ".join(setup)),
            ("h2", "Every attack"), ("table", table), *[("img", k, v) for k, v in FIGURES.items()],
            ("p", f"Wall time {doc['timings']['wall_time_s']:.1f} s; torch {doc['environment'].get('torch')}, "
                  f"diffusers {doc['environment'].get('diffusers')}, mialib {doc['environment'].get('mialib')}, "
                  f"{doc['environment'].get('cpu')}.")]


def markdown(doc: dict) -> str:
    """The report as markdown, figures linked from ``figures/``."""
    lines = []
    for block in _blocks(doc):
        if block[0] in ("h1", "h2"):
            lines.append(("# " if block[0] == "h1" else "## ") + block[1])
        elif block[0] == "p":
            lines.append(block[1])
        elif block[0] == "table":
            head, *rows = block[1]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
        else:
            lines.append(f"![{block[2]}](figures/{block[1]}.png)")
        lines.append("")
    return "\n".join(lines)


def _inline(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def to_html(doc: dict, figures: Path) -> str:
    """The report as one HTML page with its figures inline (base64 PNG): readable offline."""
    body = []
    for block in _blocks(doc):
        if block[0] in ("h1", "h2"):
            body.append(f"<{block[0]}>{html.escape(block[1])}</{block[0]}>")
        elif block[0] == "p":
            for para in block[1].split("\n\n"):
                if para.startswith("- "):
                    body.append("<ul>" + "".join(f"<li>{_inline(li[2:])}</li>" for li in para.split("\n")) + "</ul>")
                else:
                    body.append(f"<p>{_inline(para)}</p>")
        elif block[0] == "table":
            head, *rows = block[1]
            body.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
                        + "</table>")
        else:
            data = base64.b64encode((figures / f"{block[1]}.png").read_bytes()).decode()
            body.append(f'<figure><img alt="{html.escape(block[2])}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(block[2])}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.45}"
             "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.25em .5em}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Membership audit</title><style>{style}</style>"
            f"</head><body>{''.join(body)}</body></html>\n")


def _figures(result, folder: Path) -> None:
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import torch

    from ..evaluation.plots import plot_score_hist, roc_figure

    labels = {n: r["label"] for n, r in result.results["attacks"].items()}
    figs = {"roc": roc_figure({labels[n]: s.evaluation for n, s in result.scores.items()}, title="Membership audit")}
    n = len(result.scores)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.2), squeeze=False)
    for ax, (name, s) in zip(axes[0], result.scores.items()):
        m, nm = (v.double() for v in s.evaluation)
        if torch.cat([m, nm]).max() < 0:  # a negated error (SecMI, PIA): its size spans decades, so a log axis
            plot_score_hist(ax, -m, -nm, xlabel="-score, log (lower: member)", log_x=True)
        else:
            plot_score_hist(ax, m, nm, xlabel="score (higher: member)")
        ax.set_title(labels[name])
    fig.tight_layout()
    figs["score_histograms"] = fig
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    blind = result.blind["scores"]
    plot_score_hist(ax, blind["members"], blind["nonmembers"], xlabel="blind baseline score (no model query)")
    ax.set_title(f"Split check: AUC {result.blind['auc']:.3f}")
    fig.tight_layout()
    figs["split_check"] = fig
    for name, fig in figs.items():
        with atomic_path(folder / f"{name}.png") as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)


def write_report(folder: Path, result) -> dict[str, Path]:
    """Every file of the report in ``folder`` (module docstring), each written atomically."""
    from .run import scores_table

    folder.mkdir(parents=True, exist_ok=True)
    figures = folder / "figures"
    figures.mkdir(exist_ok=True)
    _figures(result, figures)
    files = {"results": write_json(folder / "results.json", result.results)}
    for name, text in (("report.md", markdown(result.results)), ("report.html", to_html(result.results, figures))):
        with atomic_path(folder / name) as tmp:
            tmp.write_text(text)
        files[name.split(".")[1]] = folder / name
    with atomic_path(folder / "scores.csv") as tmp:
        scores_table(result).to_csv(tmp, index=False)
    files["scores"] = folder / "scores.csv"
    files.update({k: figures / f"{k}.png" for k in FIGURES})
    return files
