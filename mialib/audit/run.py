"""One audit, end to end: :func:`run_audit`.

1. The model (:mod:`.model`) and the images (:mod:`.inputs`) are loaded and checked, and split
   into evaluation and calibration parts.
2. **The split check**, before any verdict: the blind baseline (:mod:`mialib.attacks.blind`, a
   classifier that never queries the model) is trained to tell the evaluation members from the
   non-members by the images alone. If it can (its AUC interval above 0.5 by more than the
   hosts' tolerance, :func:`mialib.evaluation.compare.judge`), the folders differ in
   distribution and no attack AUC is evidence of membership (notebook 04's shifted split).
3. Every attack asked for scores all four parts (:func:`mialib.attacks.scoring.score_split`, the
   noise of each part seeded as in the notebooks), and its scores are kept the moment it is done
   (:mod:`.store`).
4. Each attack's metrics with 95% bootstrap intervals (:func:`mialib.evaluation.metrics.evaluate`;
   TPR at low FPR at thresholds chosen on the calibration images), its verdict against chance
   and the strongest attack's paired AUC differences to the others
   (:func:`mialib.evaluation.compare.compare`) make the report (:mod:`.report`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..attacks.blind import blind_baseline
from ..attacks.registry import ATTACKS, CLASSIFIERS, attack_settings
from ..attacks.scoring import SplitScores, score_split
from ..core.progress import progress_bar
from ..diffusion.target import DiffusionTarget
from ..evaluation.compare import compare, judge, verdict
from ..evaluation.metrics import evaluate, evaluate_split
from .errors import AuditError
from .inputs import RESIZE_RULE, AuditSplit, build_split, read_images, with_conditioning
from .model import AuditedModel, load_audited_model
from .store import ScoreStore

BLIND_MAX_SIDE = 32   # the blind baseline sees images average-pooled to at most this size: a shift shows there too


@dataclass
class AuditResult:
    """What an audit found (``results``: the JSON-able document :mod:`.report` writes) and where it
    wrote it (``files``: name -> path; empty without an output folder)."""

    results: dict
    scores: dict[str, SplitScores]
    split: AuditSplit
    blind: dict
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def text(self) -> str:
        from .report import summary
        return summary(self.results)


def probe_fingerprint(target: DiffusionTarget, seed: int = 0) -> str:
    """A fingerprint of a model given in code (no files to hash): its noise predictions on a seeded
    batch at three timesteps, with its schedule."""
    g = torch.Generator().manual_seed(seed)
    shape = target.sample_shape or target.image_shape
    x = torch.randn(2, *shape, generator=g)
    h = hashlib.sha256(target.alphas_cumprod.numpy().tobytes())
    if target.cond.kind is None:
        for t in (1, target.num_timesteps // 2, target.num_timesteps - 1):
            h.update(target.eps(x, t).numpy().round(5).tobytes())
    else:
        h.update(f"conditional {target.cond.kind} {id(target)}".encode())
    return h.hexdigest()[:16]


def _as_model(model, scheduler, device, batch_size) -> tuple[AuditedModel, str]:
    if isinstance(model, DiffusionTarget):
        shape = model.image_shape
        if shape is None or len(shape) != 3:
            raise AuditError("a DiffusionTarget given to run_audit needs its image_shape (C, H, W)")
        kind = {None: None, "class": "class", "embedding": "text"}[model.cond.kind]
        audited = AuditedModel(model, kind, shape, "epsilon", probe_fingerprint(model),
                               "a DiffusionTarget given in code", [],
                               num_classes=model.cond.num_embeds if kind == "class" else None)
        return audited, "(in code)"
    return load_audited_model(model, scheduler=scheduler, device=device, batch_size=batch_size), str(Path(model))


def _pick_attacks(names, target: DiffusionTarget) -> list[str]:
    if names is None:
        fit = [n for n, a in ATTACKS.items() if a.is_valid(target)]
        if not fit:
            raise AuditError(f"no attack can run on this model at its default settings (its schedule has "
                             f"{target.num_timesteps} timesteps; the attacks query timesteps up to about 300)")
        return fit
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in ATTACKS]
    if unknown:
        extra = [n for n in unknown if n in CLASSIFIERS]
        raise AuditError(f"unknown attack(s) {unknown}; known per-image attacks: {sorted(ATTACKS)}"
                         + (f" ({extra} train a classifier on part of the images and are not audited)" if extra else ""))
    if not names:
        raise AuditError("--attacks names no attack")
    for n in names:
        try:
            ATTACKS[n].config.check(target)
        except ValueError as exc:
            raise AuditError(f"{n} cannot run on this model with its default settings: {exc}") from None
    return list(dict.fromkeys(names))


def _pooled(x: torch.Tensor) -> torch.Tensor:
    side = max(x.shape[-2:])
    if side <= BLIND_MAX_SIDE:
        return x
    return torch.nn.functional.adaptive_avg_pool2d(x, (min(BLIND_MAX_SIDE, x.shape[-2]), min(BLIND_MAX_SIDE, x.shape[-1])))


def split_check(split: AuditSplit, *, seed: int, n_boot: int, store: ScoreStore | None, progress: bool) -> dict:
    """The blind baseline on the evaluation images (module docstring, step 2): its held-out AUC
    with a 95% bootstrap interval and its verdict against 0.5."""
    recipe = CLASSIFIERS["blind_baseline"]
    settings = {"recipe": recipe.to_dict(), "seed": seed, "max_side": BLIND_MAX_SIDE}
    stored = store.load("blind_baseline", settings) if store is not None else None
    if stored is None:
        held = blind_baseline(_pooled(split.members), _pooled(split.nonmembers), seed=seed, progress=progress)
        stored = {"members": held.member_scores, "nonmembers": held.nonmember_scores,
                  "member_idx": torch.as_tensor(held.member_eval_idx), "nonmember_idx": torch.as_tensor(held.nonmember_eval_idx)}
        if store is not None:
            store.save("blind_baseline", stored, {"settings": settings})
    res = evaluate(stored["members"], stored["nonmembers"], n_boot=n_boot, seed=seed)
    lo, hi = res["ci"]["auc"]
    return {"auc": res["auc"], "ci": [lo, hi], "verdict": judge(lo, hi, 0.5), "n_members": res["n_members"],
            "n_nonmembers": res["n_nonmembers"], "recipe": recipe.to_dict(), "max_side": BLIND_MAX_SIDE,
            "scores": stored}


def _score(name: str, cfg, target, split: AuditSplit, *, seed: int, store: ScoreStore | None,
           progress: bool) -> tuple[SplitScores, bool, float]:
    settings = {"attack": cfg.to_dict(), "seed": seed}
    stored = store.load(name, settings) if store is not None else None
    if stored is not None:
        meta = stored["meta"]
        return SplitScores(stored["members"], stored["nonmembers"], stored.get("cal_members"), stored.get("cal_nonmembers"),
                           meta["queries_per_image"], meta["seconds_per_1000"]), True, meta["wall_s"]
    n = sum(len(getattr(split, p)) for p in ("members", "nonmembers", "cal_members", "cal_nonmembers")
            if getattr(split, p) is not None)
    bar = progress_bar(total=n, desc=ATTACKS[name].label, enabled=progress)
    started = time.perf_counter()

    def moved(part, k):
        bar.update(k)
        bar.set_postfix_str(f"{bar.n / max(time.perf_counter() - started, 1e-9):.1f} images/s")
    try:
        scores = score_split(cfg, target, split, seed=seed, calibration=split.calibrated, cond=split.cond, on_part=moved)
    finally:
        bar.close()
    wall = time.perf_counter() - started
    if store is not None:
        parts = {p: getattr(scores, p) for p in ("members", "nonmembers", "cal_members", "cal_nonmembers")
                 if getattr(scores, p) is not None}
        store.save(name, parts, {"settings": settings, "queries_per_image": scores.queries_per_image,
                                 "seconds_per_1000": scores.seconds_per_1000, "wall_s": wall})
    return scores, False, wall


def run_audit(model, members, nonmembers, *, out: str | Path | None = None, scheduler: str | Path | None = None,
              cal_members=None, cal_nonmembers=None, class_labels: str | Path | None = None,
              captions: str | Path | None = None, attacks=None, calibration: float = 0.2, device: str = "auto",
              batch_size: int = 64, seed: int = 0, max_images: int | None = None, n_boot: int = 1000,
              progress: bool = True) -> AuditResult:
    """Audit ``model`` (a local diffusers folder, :mod:`.model`, or a :class:`DiffusionTarget`) on
    the images it was trained on (``members``) and images it was not (``nonmembers``): folders,
    .npy / .npz arrays or tensors (:mod:`.inputs`). With ``out`` the report, results, scores and
    figures are written there (:mod:`.report`) and every attack's scores are kept, so that a rerun
    resumes. Everything the user gives is checked first; a problem is an :class:`AuditError`."""
    started = time.perf_counter()
    from ..core.checks import check_int
    try:
        check_int(batch_size, "--batch-size", low=1)
        check_int(seed, "--seed", low=0)
        check_int(n_boot, "--n-boot", low=1)
        if max_images is not None:
            check_int(max_images, "--max-images", low=1)
    except ValueError as exc:
        raise AuditError(str(exc)) from None
    audited, model_path = _as_model(model, scheduler, device, batch_size)
    target = audited.target
    names = _pick_attacks(attacks, target)
    sources = [read_images(src, audited.image_shape, what) if src is not None else None
               for src, what in ((members, "--members"), (nonmembers, "--nonmembers"),
                                 (cal_members, "--cal-members"), (cal_nonmembers, "--cal-nonmembers"))]
    given = [s for s in sources if s is not None]
    if audited.conditioning is not None:
        table, flag = (class_labels, "--class-labels") if audited.conditioning == "class" else (captions, "--captions")
        if table is None:
            raise AuditError(f"this model is {'class-conditional' if audited.conditioning == 'class' else 'text-conditioned'}: "
                             f"pass {flag} CSV with filename,{'label' if audited.conditioning == 'class' else 'caption'}")
        conditioned = iter(with_conditioning(given, table, audited.conditioning, audited.num_classes))
        sources = [next(conditioned) if s is not None else None for s in sources]
    elif class_labels is not None or captions is not None:
        raise AuditError("this model is unconditional: it takes no --class-labels or --captions")
    split = build_split(sources[0], sources[1], calibration=calibration, cal_members=sources[2], cal_nonmembers=sources[3],
                        max_images=max_images, seed=seed)
    settings = attack_settings()
    identity = {"model": audited.fingerprint, "images": split.fingerprint(), "seed": seed}
    store = ScoreStore(out, identity) if out is not None else None

    blind = split_check(split, seed=seed, n_boot=n_boot, store=store, progress=progress)
    scores, results, resumed, walls = {}, {}, [], {}
    for name in names:
        s, was_stored, wall = _score(name, settings[name], target, split, seed=seed, store=store, progress=progress)
        scores[name], walls[name] = s, wall
        if was_stored:
            resumed.append(name)
        res = evaluate_split(s, n_boot=n_boot, seed=seed)
        res["queries_per_image"] = s.queries_per_image
        res["verdict"] = judge(*res["ci"]["auc"], 0.5)
        res["label"] = ATTACKS[name].label
        res["settings"] = settings[name].to_dict()
        results[name] = res
    best = max(results, key=lambda n: results[n]["auc"])
    comparisons = []
    for name in names:
        if name != best:
            d = compare(scores[best], scores[name], seed=seed)
            comparisons.append({"a": best, "b": name, "difference": d["difference"], "ci": d["ci"], "verdict": verdict(d)})
    doc = _document(audited, model_path, split, sources, blind, results, comparisons, names, settings,
                    dict(seed=seed, calibration=calibration, n_boot=n_boot, device=str(target.device),
                         batch_size=batch_size, max_images=max_images),
                    dict(wall_time_s=time.perf_counter() - started, attack_wall_s=walls, resumed=resumed))
    result = AuditResult(doc, scores, split, blind)
    if out is not None:
        from .report import write_report
        result.files = write_report(Path(out).expanduser(), result)
    return result


def _document(audited, model_path, split, sources, blind, results, comparisons, names, settings, run, timings) -> dict:
    from ..notebook.results import environment, machine, to_jsonable

    return to_jsonable({
        "model": {"path": model_path, "description": audited.description, "fingerprint": audited.fingerprint,
                  "prediction_type": audited.prediction_type, "conditioning": audited.conditioning,
                  "image_shape": list(audited.image_shape), "notices": audited.notices},
        "images": {"how": split.how, "fingerprint": split.fingerprint(),
                   "counts": {p: len(split.names[p]) for p in split.names},
                   "resized": {s.origin: s.resized for s in sources if s is not None and s.resized},
                   "resize_rule": RESIZE_RULE,
                   "warnings": split.warnings},
        "settings": {**run, "attacks": {n: settings[n].to_dict() for n in names}},
        "split_check": {k: v for k, v in blind.items() if k != "scores"},
        "attacks": results,
        "strongest": max(results, key=lambda n: results[n]["auc"]),
        "comparisons": comparisons,
        "environment": {**environment(run["device"] if run["device"] in ("cpu", "cuda") else "auto"), **machine()},
        "timings": timings,
    })


def scores_table(result: AuditResult):
    """One row per image and attack's score, for re-analysis: image name, part, member (1 / 0),
    and a column per attack (the blind baseline's only on the images it held out)."""
    import pandas as pd

    rows = []
    split = result.split
    for part in ("members", "nonmembers", "cal_members", "cal_nonmembers"):
        for i, name in enumerate(split.names.get(part, [])):
            row = {"image": name, "part": part, "member": int(part in ("members", "cal_members"))}
            for attack, s in result.scores.items():
                v = getattr(s, part)
                row[attack] = float(v[i]) if v is not None else np.nan
            rows.append(row)
    table = pd.DataFrame(rows)
    blind = result.blind["scores"]
    col = np.full(len(table), np.nan)
    for part, idx_key in (("members", "member_idx"), ("nonmembers", "nonmember_idx")):
        offset = 0 if part == "members" else len(split.names["members"])
        col[offset + np.asarray(blind[idx_key])] = np.asarray(blind[part])
    table["blind_baseline"] = col
    return table
