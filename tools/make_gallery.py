#!/usr/bin/env python
"""Regenerate the committed gallery (docs/gallery.md and docs/gallery/*.png) from the figures and
results of the last quick run, so a reader on the web sees what each notebook finds:

    ./run_all.sh && .venv/bin/python tools/make_gallery.py
    .venv/bin/python tools/make_gallery.py --out /tmp/docs --readme /tmp/README.md   # elsewhere

Figures are reduced to at most 800 pixels wide; every number in the tables is read from
results/*.json (nothing is typed by hand). The same tables, with the commit and machine of the run,
replace the README's block between the markers README_BEGIN and README_END, so the README and
the gallery always show one run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mialib.core import paths  # noqa: E402
from mialib.notebook.results import provenance as run_provenance  # noqa: E402

FIGURES = [
    ("01_train_target_model_samples_vs_nearest", "01 · samples of the target next to their nearest training image"),
    ("02_secmi_roc", "02 · SecMI_stat and SecMI_NNs on the quick target (linear and log-log ROC)"),
    ("03_noise_aggregation_ablations", "03 · noise-aggregation ablations with 95% bands, the paper's K curve in grey"),
    ("04_attack_comparison_roc_all", "04 · every attack on the same target and split"),
    ("04_attack_comparison_auc_vs_training_budget", "04 · AUC against training budget"),
    ("04_attack_comparison_blind_baseline_and_shift", "04 · the blind baseline on an i.i.d. and a shifted split"),
    ("05_property_inference_estimates_vs_truth", "05 · property inference: estimates against the true proportion"),
    ("06_fairness_poisoning_examples", "06 · what the receiver gets: samples of each label, unpoisoned and poisoned"),
    ("06_fairness_poisoning_fairness_vs_alpha", "06 · fairness poisoning: gaps and accuracy against alpha"),
    ("07_text_to_image_samples", "07 · samples of the tiny text-to-image model trained here"),
    ("08_defences_privacy_vs_utility", "08 · defences: the strongest attack's AUC against the samples' Fréchet distance"),
    ("08_defences_epsilon_bounds", "08 · is the DP claim true? ε ruled out by the attacks beside the accountant's ε"),
]


def _load(name: str) -> dict | None:
    path = paths.results_dir() / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _ci(r: dict, key: str) -> str:
    v = r.get(key)
    if v is None:
        return ""
    lo, hi = r.get("ci", {}).get(key, (None, None))
    return f"{v:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")


def _num(r: dict, key: str) -> str:
    """A number to three decimals, or a dash where the attack does not report it (SecMI_NNs has no
    calibration split)."""
    v = r.get(key)
    return "–" if v is None or v != v else f"{v:.3f}"


def _paired(out: list, title: str, diffs: dict) -> None:
    from mialib.evaluation.compare import verdict

    out += [title, "", "| comparison | AUC difference [95% CI] | verdict |", "|---|---|---|"]
    for name, d in diffs.items():
        lo, hi = d["ci"]
        out.append(f"| {name} | {d['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {verdict(d)} |")
    out.append("")


def tables() -> list[str]:
    out = []
    sec = _load("02_secmi")
    if sec:
        _paired(out, "### 02 · SecMI: paired comparisons on the same images", sec["metrics"]["paired_auc_differences"])
    cmp = _load("04_attack_comparison")
    if cmp:
        out += ["### 04 · every attack at its paper's defaults", "",
                "| attack | AUC [95% CI] | ASR | calibrated ASR | TPR@1%FPR | queries |", "|---|---|---|---|---|---|"]
        for name, r in cmp["metrics"]["attacks"].items():
            out.append(f"| {name} | {_ci(r, 'auc')} | {r['asr']:.3f} | {_num(r, 'calibrated_asr')} | "
                       f"{r['tpr@1%fpr']:.3f} | {cmp['queries_per_sample'][name]:g} |")
        out.append("")
        _paired(out, "### 04 · noise aggregation against its rivals, paired", cmp["metrics"]["paired_auc_differences"])
    prop = _load("05_property_inference")
    if prop:
        m = prop["metrics"]
        out += ["### 05 · property inference over the grid", "", "| estimator | mean abs. error | interval coverage |",
                "|---|---|---|"]
        out += [f"| {k} | {v:.3f} | {m['interval_coverage'][k]:.2f} |" for k, v in m["mean_absolute_error"].items()]
        out.append("")
        if "sample_quality" in m:
            gens = m["sample_quality"]
            first = next(iter(next(iter(gens.values())).values()))
            out += [f"Sample quality (precision against real digits; real digits {first['real_precision']:.3f}, bar "
                    f"{first['bar'] * first['real_precision']:.3f}): "
                    + "; ".join(f"{g} " + ", ".join(f"p = {p} {c['precision']:.3f}" for p, c in by_p.items())
                                for g, by_p in gens.items()) + ".", ""]
    fair = _load("06_fairness_poisoning")
    if fair:
        out += ["### 06 · fairness poisoning", "",
                "| method | alpha | seed | accuracy | DP difference | EO difference | detection p | sample precision |",
                "|---|---|---|---|---|---|---|---|"]
        for r in fair["metrics"]["runs"]:
            out.append(f"| {r['method']} | {r['alpha']:g} | {r['seed']} | {r['accuracy']:.3f} | "
                       f"{r['demographic_parity_difference']:.3f} | {r['equalized_odds_difference']:.3f} | "
                       f"{r['detection_p']:.4f} | {r.get('sample_precision', float('nan')):.3f} |")
        out.append("")
    t2i = _load("07_text_to_image")
    if t2i:
        settings = list(t2i["metrics"]["attacks"])
        out += ["### 07 · attacks on the tiny text-to-image model (AUC)", "",
                "| attack | " + " | ".join(settings) + " |", "|---" * (len(settings) + 1) + "|"]
        for name in t2i["metrics"]["attacks"][settings[0]]:
            out.append(f"| {name} | " + " | ".join(_ci(t2i["metrics"]["attacks"][s][name], "auc") for s in settings) + " |")
        out.append("")
    dfn = _load("08_defences")
    if dfn:
        m = dfn["metrics"]
        out += ["### 08 · defences (strongest attack on each model; empirical ε at 95%)", "",
                "| model | strongest attack: AUC | Fréchet distance | accountant ε | empirical ε ≥ |", "|---|---|---|---|---|"]
        order = ["none", "early stopping", "augmentation", "weight decay", "dp"]  # the notebook's order
        models = sorted(m["models"].items(), key=lambda kv: (order.index(kv[1]["kind"]), -kv[1]["train"]["steps"],
                                                             -(kv[1]["privacy"] or {}).get("epsilon", 0)))
        for name, info in models:
            rows = m["attacks"][name]
            best = max(rows, key=lambda a: rows[a]["metrics"]["auc"])
            acc = info["privacy"]["epsilon"] if info.get("privacy") else None
            out.append(f"| {info['label']} | {best}: {_ci(rows[best]['metrics'], 'auc')} | "
                       f"{m['utility']['frechet_distance'][name]:.2f} | {'–' if acc is None else f'{acc:.2f}'} | "
                       f"{m['epsilon_bounds'][name]['best']['epsilon']:.2f} |")
        out.append("")
    return out


README_BEGIN = "<!-- quick-run tables: generated by tools/make_gallery.py, do not edit -->"
README_END = "<!-- end of quick-run tables -->"


def provenance() -> str:
    """"Results of commit(s) ... on <cpu> (<instruction set>, <threads> thread(s) per notebook)"."""
    made = run_provenance(paths.results_dir())
    machines = "; ".join(f"{cpu if cpu != '?' else 'an unrecorded CPU'} ({capability}, {threads} thread(s) per notebook)"
                         for cpu, capability, threads in made["machines"])
    return f"Results of commit(s) {', '.join(made['commits'])} on {machines}."


def write_readme(readme: Path, lines: list[str]) -> None:
    """Replace the README's generated block (between README_BEGIN and README_END) with ``lines``."""
    text = readme.read_text()
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1 or text.index(README_BEGIN) > text.index(README_END):
        raise ValueError(f"{readme} must hold the markers {README_BEGIN!r} and {README_END!r} once each, in that order")
    head, rest = text.split(README_BEGIN)
    _, tail = rest.split(README_END)
    readme.write_text(head + README_BEGIN + "\n" + "\n".join(lines).strip("\n") + "\n" + README_END + tail)


def main(argv=None) -> int:
    from PIL import Image

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs"), help="folder for gallery.md and gallery/ (default: docs/)")
    ap.add_argument("--readme", default=str(ROOT / "README.md"), help="README whose generated block to rewrite "
                    "(default: the repository's; '' leaves every README alone)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    gallery = out / "gallery"
    lines = ["# Gallery of the quick profile", "",
             "Regenerated by `tools/make_gallery.py` from the last `./run_all.sh` (quick profile, 2-core CPU); every "
             "number below is read from `results/*.json`. The notebooks' own text, computed from the same run, is in "
             "`build/html/` after a run.", ""]
    lines += [provenance(), ""]
    missing = [str(paths.figures_dir() / f"{stem}.png") for stem, _ in FIGURES
               if not (paths.figures_dir() / f"{stem}.png").is_file()]
    if missing:
        print(f"missing {', '.join(missing)}; run ./run_all.sh first", file=sys.stderr)
        return 1
    gallery.mkdir(parents=True, exist_ok=True)
    for stem, caption in FIGURES:
        src = paths.figures_dir() / f"{stem}.png"
        with Image.open(src) as im:
            im = im.convert("RGB")
            if im.width > 800:
                im = im.resize((800, round(im.height * 800 / im.width)), Image.Resampling.LANCZOS)
            im.save(gallery / f"{stem}.png", optimize=True)
        lines += [f"**{caption}**", "", f"![{caption}](gallery/{stem}.png)", ""]
    lines += ["## Headline tables", ""] + tables()
    (out / "gallery.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'gallery.md'} and {len(FIGURES)} figures")
    if args.readme:
        write_readme(Path(args.readme), [provenance(), ""] + [line.replace("### ", "#### ", 1) for line in tables()])
        print(f"rewrote the generated block of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
