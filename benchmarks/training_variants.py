"""Where a training step's time goes, and what each speed-up buys, side by side.

One step of the denoising objective (batch, noise, forward, epsilon MSE, backward, gradient
clipping, AdamW, EMA) on the quick target's UNet (``--model quick``) or the text-to-image
notebook's latent UNet (``--model text_to_image``). Variants, each timed in ``--rounds``
interleaved rounds (so a drift of the machine's speed hits them all alike) of ``--steps`` steps
after a warm-up:

* ``reference``: the step as it was (AdamW's default implementation, one ``lerp_`` per
  parameter for the EMA, default clipping): the unit of ``benchmarks/suite_cost.py``;
* ``fused AdamW``, ``+ foreach EMA`` (one ``torch._foreach_lerp_``), ``+ foreach clip``: what
  :func:`mialib.diffusion.training.fit` does now;
* ``channels-last`` memory format;
* ``torch.compile`` of the model (``--compile``; its compile time is reported apart);
* the same step on one thread, and two one-thread processes side by side (what the runner's
  ``--jobs 2`` does on a 2-core machine): their step time and the steps per second of the pair.

The table gives the median milliseconds per step, the split (data, forward, backward, clip,
optimizer, EMA) and the ratio to the reference measured in the same rounds.

    .venv/bin/python benchmarks/training_variants.py                  # quick UNet
    .venv/bin/python benchmarks/training_variants.py --model text_to_image --compile

Prints a markdown table and writes results/benchmark_training_variants_<model>.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mialib.core import paths  # noqa: E402
from mialib.core.fileio import write_json  # noqa: E402
from mialib.diffusion.models import build_scheduler, build_unet  # noqa: E402

PHASES = ("data", "forward", "backward", "clip", "optimizer", "ema")
VARIANTS = {  # name -> options of TrainingStep
    "reference": {},
    "fused AdamW": {"fused": True},
    "fused AdamW + foreach EMA": {"fused": True, "foreach_ema": True},
    "fused AdamW + foreach EMA + foreach clip (mialib)": {"fused": True, "foreach_ema": True, "foreach_clip": True},
    "channels-last": {"channels_last": True},
}


def build_model(name: str) -> tuple[torch.nn.Module, tuple, dict]:
    """(model, sample shape, extra call arguments per batch) of ``name``."""
    if name == "quick":
        from mialib.experiments.membership import TargetSpec

        cfg = TargetSpec.from_params().model
        return build_unet(cfg), (cfg.channels, cfg.image_size, cfg.image_size), {}
    from mialib.diffusion.parts import TextToImageConfig, build_latent_unet

    cfg = TextToImageConfig()
    side = cfg.image_size // 2 ** (len(cfg.vae_channels) - 1)
    return build_latent_unet(cfg), (cfg.latent_channels, side, side), {
        "encoder_hidden_states": torch.randn(cfg.batch_size, cfg.max_tokens, cfg.text_dim)}


class TrainingStep:
    """One training step of ``model_name`` with the given options, timed phase by phase."""

    def __init__(self, model_name: str, batch_size: int, fused=False, foreach_ema=False, foreach_clip=False,
                 channels_last=False, compile_model=False):
        torch.manual_seed(0)
        self.model, shape, self.extra = build_model(model_name)
        self.model.train()
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=2e-3, **({"fused": True} if fused else {}))
        self.call = torch.compile(self.model) if compile_model else self.model
        self.gen = torch.Generator().manual_seed(0)
        self.data = torch.rand((256, *shape), generator=self.gen) * 2 - 1
        self.abar = build_scheduler().alphas_cumprod.float()
        self.batch_size, self.foreach_ema, self.foreach_clip, self.cl = batch_size, foreach_ema, foreach_clip, channels_last
        self.params, self.ema_params = list(self.model.parameters()), list(self.ema.parameters())

    def __call__(self) -> list[float]:
        marks = [time.perf_counter()]
        idx = torch.randint(0, len(self.data), (self.batch_size,), generator=self.gen)
        x0 = self.data[idx]
        t = torch.randint(0, len(self.abar), (self.batch_size,), generator=self.gen)
        noise = torch.randn(x0.shape, generator=self.gen)
        a = self.abar[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        if self.cl:
            xt = xt.contiguous(memory_format=torch.channels_last)
        marks.append(time.perf_counter())
        loss = torch.nn.functional.mse_loss(self.call(xt, t, **self.extra).sample, noise)
        marks.append(time.perf_counter())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        marks.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(self.params, 1.0, foreach=True if self.foreach_clip else None)
        marks.append(time.perf_counter())
        self.opt.step()
        marks.append(time.perf_counter())
        with torch.no_grad():
            if self.foreach_ema:
                torch._foreach_lerp_(self.ema_params, self.params, 0.001)
            else:
                for pe, p in zip(self.ema_params, self.params):
                    pe.lerp_(p, 0.001)
        self.last_loss = loss.item()
        marks.append(time.perf_counter())
        return [b - a for a, b in zip(marks, marks[1:])]


def time_steps(step: TrainingStep, n: int) -> list[list[float]]:
    return [step() for _ in range(n)]


def side_by_side(model: str, steps: int, batch_size: int) -> list[float]:
    """Median step seconds of two one-thread processes started together (each its own)."""
    code = (f"import sys, statistics, torch; sys.path.insert(0, {str(ROOT)!r}); torch.set_num_threads(1); "
            f"sys.argv = ['x']; from benchmarks.training_variants import TrainingStep, time_steps; "
            f"s = TrainingStep({model!r}, {batch_size}); time_steps(s, 5); "
            f"print(statistics.median(sum(p) for p in time_steps(s, {steps})))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    return [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=("quick", "text_to_image"), default="quick")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per variant and round")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (minutes to compile)")
    args = ap.parse_args(argv)

    variants = dict(VARIANTS)
    compile_s = None
    if args.compile:
        variants["torch.compile + fused AdamW + foreach EMA"] = {"fused": True, "foreach_ema": True, "compile_model": True}
    threads = torch.get_num_threads()
    steps, timings = {}, {name: [] for name in variants}
    for name, opts in variants.items():
        steps[name] = TrainingStep(args.model, args.batch_size, **opts)
        t0 = time.perf_counter()
        time_steps(steps[name], args.warmup)
        if opts.get("compile_model"):
            compile_s = time.perf_counter() - t0
    one_thread = []
    for _ in range(args.rounds):
        for name in variants:
            timings[name] += time_steps(steps[name], args.steps)
        torch.set_num_threads(1)
        one_thread += time_steps(steps["reference"], args.steps)
        torch.set_num_threads(threads)
    timings[f"reference, 1 thread (of {threads})"] = one_thread
    pair = side_by_side(args.model, args.steps * args.rounds, args.batch_size) if threads >= 2 else None

    ref = statistics.median(sum(p) for p in timings["reference"])
    rows = {}
    for name, runs in timings.items():
        total = statistics.median(sum(p) for p in runs)
        rows[name] = {"ms_per_step": 1000 * total, "ratio_to_reference": total / ref,
                      **{f"{ph}_ms": 1000 * statistics.median(p[i] for p in runs) for i, ph in enumerate(PHASES)}}
    if pair is not None:
        rows["two 1-thread processes side by side"] = {
            "ms_per_step": 1000 * statistics.mean(pair), "ratio_to_reference": statistics.mean(pair) / ref,
            "pair_ms_per_step_of_work": 1000 / (sum(1 / p for p in pair)),
            "pair_throughput_vs_reference": sum(ref / p for p in pair)}

    print(f"{args.model} UNet, batch {args.batch_size}, {threads} threads, {platform.processor() or platform.machine()}; "
          f"median of {args.rounds} x {args.steps} steps" + (f"; compile time {compile_s:.1f} s" if compile_s else ""))
    print("| variant | ms / step | x reference | " + " | ".join(PHASES) + " |")
    print("|---|---|---|" + "---|" * len(PHASES))
    for name, r in rows.items():
        split = " | ".join(f"{r[f'{ph}_ms']:.1f}" if f"{ph}_ms" in r else "" for ph in PHASES)
        print(f"| {name} | {r['ms_per_step']:.1f} | {r['ratio_to_reference']:.2f} | {split} |")
    if pair is not None:
        r = rows["two 1-thread processes side by side"]
        print(f"two 1-thread processes side by side: {r['pair_throughput_vs_reference']:.2f} x the reference's "
              f"steps per second ({r['pair_ms_per_step_of_work']:.1f} ms per step of work)")
    out = paths.results_dir() / f"benchmark_training_variants_{args.model}.json"
    write_json(out, {"model": args.model, "batch_size": args.batch_size, "threads": threads,
                     "torch": torch.__version__, "machine": platform.machine(), "compile_seconds": compile_s,
                     "rows": rows})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
