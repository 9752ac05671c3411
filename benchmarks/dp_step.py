"""What DP-SGD costs per step, against the plain step, and which per-sample gradient mode is faster.

One training step of the quick target's UNet through :func:`mialib.diffusion.training.fit`'s own
code path (``TrainConfig`` with and without ``dp_clip``), timed as the median of ``--steps`` steps
per round over ``--rounds`` interleaved rounds, so the machine's drift hits every variant alike:

* ``plain``: the quick profile's step (batch ``--batch``, batch-level clipping, fused AdamW);
* ``DP-SGD, hooks``: Poisson batches of expected size ``--batch``, opacus' per-sample gradients
  from its per-layer hooks, clipping and noise (what ``mialib.defences.dp`` uses);
* ``DP-SGD, functorch``: the same with opacus' functorch (vmap) per-sample gradients.

    .venv/bin/python benchmarks/dp_step.py --threads 1

Prints a markdown table (ms per step and the ratio to ``plain`` in the same rounds) and writes
results/benchmark_dp_step.json.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mialib.core import paths  # noqa: E402
from mialib.core.fileio import write_json  # noqa: E402
from mialib.defences import dp  # noqa: E402
from mialib.diffusion.models import ModelConfig, build_scheduler, build_unet  # noqa: E402
from mialib.diffusion.training import TrainConfig, train_diffusion  # noqa: E402


def time_variant(mode: str, steps: int, batch: int, images: torch.Tensor) -> float:
    """Median seconds per step of ``steps`` steps (after 3 warm-up steps) of one variant."""
    if mode == "plain":
        cfg = TrainConfig(steps=steps + 3, batch_size=batch)
    else:
        cfg = TrainConfig(steps=steps + 3, batch_size=batch, grad_clip=0.0, dp_clip=1.0, dp_noise=1.0)
    old = dp.GRAD_SAMPLE_MODE
    dp.GRAD_SAMPLE_MODE = "hooks" if mode != "functorch" else "functorch"
    try:
        torch.manual_seed(0)
        unet = build_unet(ModelConfig())
        stamps = []  # the loop calls on_snapshot after each listed step: time between calls = one step
        train_diffusion(unet, build_scheduler().alphas_cumprod, images, cfg, progress=False,
                        on_snapshot=lambda step, ema, curve: stamps.append(time.perf_counter()),
                        snapshot_steps=tuple(range(1, steps + 3)))
        times = [b - a for a, b in zip(stamps, stamps[1:])]
    finally:
        dp.GRAD_SAMPLE_MODE = old
    return statistics.median(times[2:])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    images = torch.rand(256, 1, 8, 8) * 2 - 1
    modes = ["plain", "hooks", "functorch"]
    runs = {m: [] for m in modes}
    for _ in range(args.rounds):
        for m in modes:
            runs[m].append(time_variant(m, args.steps, args.batch, images))
    med = {m: statistics.median(v) for m, v in runs.items()}
    names = {"plain": "plain (quick profile)", "hooks": "DP-SGD, hooks (used)", "functorch": "DP-SGD, functorch"}
    print(f"| variant | ms / step | x plain |  (batch {args.batch}, {torch.get_num_threads()} thread(s), "
          f"{platform.processor() or platform.machine()})\n|---|---|---|")
    for m in modes:
        print(f"| {names[m]} | {1000 * med[m]:.1f} | {med[m] / med['plain']:.2f} |")
    write_json(paths.results_dir() / "benchmark_dp_step.json",
               {"ms_per_step": {m: 1000 * v for m, v in med.items()}, "rounds": {m: v for m, v in runs.items()},
                "batch": args.batch, "threads": torch.get_num_threads(), "steps": args.steps})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
