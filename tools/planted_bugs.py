#!/usr/bin/env python
"""Plant plausible one-line bugs in mialib, one at a time, and report which ones the test suite
catches (a hand-made mutation test of what users' numbers depend on).

    .venv/bin/python tools/planted_bugs.py               # every bug, against this checkout
    .venv/bin/python tools/planted_bugs.py --only 1 8    # some of them
    .venv/bin/python tools/planted_bugs.py --root DIR --layout flat   # an older checkout (pre-0.2 layout)

Each bug replaces one exact snippet of one file; the file is restored afterwards, whatever
happens. A bug is "caught" when ``pytest -x -q -m "not notebooks"`` fails with it planted (the
papermill runs of the notebooks are left out to keep the tool fast). A snippet that is not found
is reported as "not applicable" (the code it mutates does not exist in that checkout).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

# (description, file in the current layout, file in the flat pre-0.2 layout, snippet, replacement)
BUGS = [
    ("training regresses x0 instead of the noise", None, "training.py",
     "loss = torch.nn.functional.mse_loss(pred, noise)", "loss = torch.nn.functional.mse_loss(pred, x0)"),
    ("training draws timesteps from the first half only", None, "training.py",
     "t = torch.randint(0, T, (cfg.batch_size,), generator=gen)",
     "t = torch.randint(0, T // 2, (cfg.batch_size,), generator=gen)"),
    ("EMA weights the new model by the decay", "diffusion/training.py", "training.py",
     "torch._foreach_lerp_(ema_params, params, 1.0 - cfg.ema_decay)",
     "torch._foreach_lerp_(ema_params, params, cfg.ema_decay)"),
    ("noised image uses 1 - abar instead of its square root", None, "training.py",
     "xt = a.sqrt() * x0 + (1 - a).sqrt() * noise", "xt = a.sqrt() * x0 + (1 - a) * noise"),
    ("warm-up off by one step", "diffusion/training.py", "training.py",
     "cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))", "cfg.lr * min(1.0, step / max(1, cfg.warmup_steps))"),
    ("resuming forgets the random-number state", "diffusion/training.py", "training.py",
     '    gen.set_state(tensors["rng"])\n', "\n"),
    ("target trained on the calibration non-members", "experiments/membership.py", "experiment.py",
     "return torch.cat([self.members, self.cal_members])", "return torch.cat([self.members, self.cal_nonmembers])"),
    ("cache key ignores the data", "diffusion/trained.py", None,
     '"train": train.to_dict(), "data": data_fp,', '"train": train.to_dict(), "data": "",'),
    ("cache key ignores the split (old layout)", None, "experiment.py",
     '"split": data.split.hash, ', ""),
    ("initial weights from the global RNG instead of the seed", "diffusion/trained.py", None,
     "torch.manual_seed(train.seed)", "pass"),
    ("TPR-at-FPR threshold rounds the allowed false positives up", "evaluation/metrics.py", "metrics.py",
     "k = int(np.floor(fpr * len(n) + 1e-9))", "k = int(np.ceil(fpr * len(n) - 1e-9))"),
    ("TPR at FPR reads twice the budget", "evaluation/metrics.py", "metrics.py",
     "out[fpr_key(f)] = float(np.max(tpr[fpr <= f + 1e-12]))", "out[fpr_key(f)] = float(np.max(tpr[fpr <= 2 * f]))"),
    ("ASR adds the FPR instead of the TNR", "evaluation/metrics.py", "metrics.py",
     '"asr": float(np.max((tpr + 1.0 - fpr) / 2.0))', '"asr": float(np.max((tpr + fpr) / 2.0))'),
    ("bootstrap resamples half the members", "evaluation/metrics.py", "metrics.py",
     "rng.choice(m, len(m))", "rng.choice(m, len(m) // 2)"),
    ("paired bootstrap draws separate images for the two attacks", "evaluation/metrics.py", "metrics.py",
     "draws[i] = auc(ma[im], na[inn]) - auc(mb[im], nb[inn])",
     "draws[i] = auc(ma[im], na[inn]) - auc(mb[rng.integers(0, len(mb), len(mb))], nb[inn])"),
    ("SecMI inverts one step too far", "attacks/secmi.py", "attacks/secmi.py",
     "for s in range(at, t_sec - k, k):", "for s in range(at, t_sec, k):"),
    ("SecMI steps down to t_sec instead of t_sec - k", "attacks/secmi.py", "attacks/secmi.py",
     "x_hat, _ = target.ddim(x_up, t_sec, t_sec - k, None if back is None else back[sl])",
     "x_hat, _ = target.ddim(x_up, t_sec, t_sec, None if back is None else back[sl])"),
    ("DDIM re-noises with the source step's noise level", "diffusion/ddim.py", "ddim.py",
     "return a_u ** 0.5 * x0_pred + (1.0 - a_u) ** 0.5 * e", "return a_u ** 0.5 * x0_pred + (1.0 - a_s) ** 0.5 * e"),
    ("noise aggregation swaps the injection modes", "attacks/noise_aggregation.py", "attacks/noise_aggregation.py",
     'scale = sigma if injection == "decoupled" else (1.0 - a) ** 0.5',
     'scale = sigma if injection == "vp" else (1.0 - a) ** 0.5'),
    ("noise aggregation ignores the stride", "attacks/noise_aggregation.py", "attacks/noise_aggregation.py",
     "s = t - i * m", "s = t - i"),
    ("noise-aggregation score keeps the sign of log C", "attacks/aggregation.py", "attacks/aggregation.py",
     "return -torch.log(c.double() + delta)", "return torch.log(c.double() + delta)"),
    ("L2 spread loses its factor 2", "attacks/aggregation.py", "attacks/aggregation.py",
     "return 2.0 * centred.pow(2).sum(2).mean(1)", "return centred.pow(2).sum(2).mean(1)"),
    ("PIA re-noises with nothing (x_t = sqrt(abar) x0)", "attacks/baselines.py", "attacks/baselines.py",
     "e_t = target.eps(a ** 0.5 * x + (1.0 - a) ** 0.5 * e0, t, c)", "e_t = target.eps(a ** 0.5 * x, t, c)"),
    ("PIAN normalises to the wrong mean absolute value", "attacks/baselines.py", "attacks/baselines.py",
     "e0 = e0 * math.sqrt(2.0 / math.pi) / mean_abs", "e0 = e0 * math.sqrt(math.pi / 2.0) / mean_abs"),
    ("naive loss adds the prediction to the noise", "attacks/baselines.py", "attacks/baselines.py",
     "out[sl] = -(n.double() - e.double()).pow(2).flatten(1).sum(1)",
     "out[sl] = -(n.double() + e.double()).pow(2).flatten(1).sum(1)"),
    ("members and non-members share a noise stream", "attacks/scoring.py", None,
     '"nonmembers": 1,', '"nonmembers": 0,'),
    ("held-out classifier scores its own training images", "attacks/classifier.py", "attacks/classifier.py",
     "m_ev, n_ev = np.sort(m_perm[m_tr:]), np.sort(n_perm[n_tr:])",
     "m_ev, n_ev = np.sort(m_perm[:-m_tr]), np.sort(n_perm[:-n_tr])"),
    ("split parts overlap by one index", "data/splits.py", "splits.py",
     "parts = [np.sort(perm[a:b]).astype(np.int64) for a, b in zip(bounds[:-1], bounds[1:])]",
     "parts = [np.sort(perm[max(0, a - 1):b]).astype(np.int64) for a, b in zip(bounds[:-1], bounds[1:])]"),
    ("cached files are not checked against their hash", "core/cache.py", None,
     'if files_digest(folder) != record["files_sha256"]:', "if False:"),
    ("class labels one past the range are accepted", "diffusion/target.py", None,
     "if lo < 0 or hi >= self.num_embeds:", "if lo < 0 or hi > self.num_embeds:"),
    ("images slightly outside [-1, 1] are accepted", "diffusion/target.py", None,
     "if lo < p_lo - 1e-4 or hi > p_hi + 1e-4:", "if lo < p_lo - 1.0 or hi > p_hi + 1.0:"),
    ("seeding ignores the seed for torch", "core/seeding.py", "seeding.py",
     "    torch.manual_seed(seed)\n", "    torch.manual_seed(0)\n"),
    ("DDIM sampling stops one step early", None, "sampling.py",
     "grid = np.linspace(T - 1, 0, steps + 1).round().astype(int)",
     "grid = np.linspace(T - 1, 1, steps + 1).round().astype(int)"),
    ("snapshots are cached under the next step's key", "diffusion/trained.py", None,
     "s_train = replace(train, steps=int(step))", "s_train = replace(train, steps=int(step) + 1)"),
    # the same bugs where the pre-0.2 code words them differently
    ("initial weights from the global RNG instead of the seed (old layout)", None, "experiment.py",
     "torch.manual_seed(spec.train.seed)", "pass"),
    ("images slightly outside [-1, 1] are accepted (old layout)", None, "attacks/target.py",
     "if lo < -1.0 - 1e-4 or hi > 1.0 + 1e-4:", "if lo < -2.0 or hi > 2.0:"),
    ("snapshots are cached under the next step's key (old layout)", None, "experiment.py",
     "s_spec = with_steps(spec, step)", "s_spec = with_steps(spec, step + 1)"),
    # the same four bugs where the code lives since the training loop takes objectives and the
    # sampler shares its timestep grid
    ("training regresses x0 instead of the noise", "diffusion/objectives.py", None,
     "return torch.nn.functional.mse_loss(pred, noise)",
     "return torch.nn.functional.mse_loss(pred, x0)"),
    ("training draws timesteps from the first half only", "diffusion/objectives.py", None,
     "t = torch.randint(0, len(self.abar), (b,), generator=gen)",
     "t = torch.randint(0, len(self.abar) // 2, (b,), generator=gen)"),
    ("noised image uses 1 - abar instead of its square root", "diffusion/objectives.py", None,
     "xt = a.sqrt() * x0 + (1 - a).sqrt() * noise", "xt = a.sqrt() * x0 + (1 - a) * noise"),
    ("DDIM sampling stops one step early", "diffusion/sampling.py", None,
     "grid = np.linspace(num_timesteps - 1, 0, steps + 1).round().astype(int)",
     "grid = np.linspace(num_timesteps - 1, 1, steps + 1).round().astype(int)"),
]


def run(root: Path, layout: str, only, python: str) -> list[dict]:
    rows = []
    for i, (what, new_path, flat_path, old, new) in enumerate(BUGS, 1):
        if only and i not in only:
            continue
        rel = new_path if layout == "current" else flat_path
        path = root / "mialib" / rel if rel else None
        if path is None or not path.is_file() or old not in path.read_text():
            rows.append({"n": i, "bug": what, "result": "not applicable"})
            continue
        original = path.read_text()
        if original.count(old) != 1:
            raise SystemExit(f"bug {i}: snippet occurs {original.count(old)} times in {path}")
        path.write_text(original.replace(old, new))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([python, "-m", "pytest", "-x", "-q", "-m", "not notebooks", "-p", "no:cacheprovider"],
                                  cwd=root, capture_output=True, text=True)
        finally:
            path.write_text(original)
        failed = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED") or ln.startswith("ERROR")]
        rows.append({"n": i, "bug": what, "result": "caught" if proc.returncode != 0 else "MISSED",
                     "by": failed[0].split(" ")[1] if failed else "", "seconds": round(time.perf_counter() - t0)})
        print(f"{i:2d} {rows[-1]['result']:8s} {what}  {rows[-1]['by']}", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1]), help="checkout to mutate")
    ap.add_argument("--layout", choices=["current", "flat"], default="current")
    ap.add_argument("--only", type=int, nargs="*", default=None, help="bug numbers")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    rows = run(Path(args.root), args.layout, args.only, args.python)
    planted = [r for r in rows if r["result"] != "not applicable"]
    caught = sum(r["result"] == "caught" for r in planted)
    print(f"\n{caught} of {len(planted)} planted bugs caught ({100 * caught / max(1, len(planted)):.0f}%); "
          f"{len(rows) - len(planted)} not applicable to this checkout")
    for r in rows:
        if r["result"] == "MISSED":
            print(f"  missed: {r['n']}. {r['bug']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
