"""How good must notebook 05's sharers be, what does it cost, and does their generator bias come
from under-training?

Trains notebook 05's sharers (``PropertyParams`` defaults: 256 coloured digits, the 8x8
one-level UNet, Min-SNR-5, batch 64), one per proportion p, either

* ``--mode scratch``: from the seeded initial weights for ``--steps`` steps (what the quick
  profile does at 800), or
* ``--mode warm``: from a *base* model trained for ``--base-steps`` on the receiver's public
  digits inked in both colours (every digit twice, so the base has no property to pass on),
  then ``--steps`` steps on the sharer's own data (a sharer who fine-tunes a public checkpoint),

samples each with the profile's sampler (DDIM, 10 steps, eta = 1) and reports per sharer:
precision against the real digits' manifold and its ratio to the held-out real digits' (the
bar is ``QUALITY_BAR`` of that, :mod:`mialib.evaluation.sample_quality`); the share of samples
and of training images the colour rule calls property 1; the generator's own proportion (the
rule corrected with the real digits' exact rates, as notebook 05 computes it); and how far the
inks spread (:func:`mialib.data.coloured.ink_spread`), in the samples and in the training images.

    .venv/bin/python benchmarks/sharer_quality.py --mode scratch --steps 800
    .venv/bin/python benchmarks/sharer_quality.py --mode warm --base-steps 4800 --steps 800

The models come from notebook 05's own entry points (``train_base_model``, ``train_model`` with
``init``), so they are cached like 05's and a second run only samples; ``train_s`` is the
training time in the cache record. Prints one JSON object per model and writes them to --out
(default results/benchmark_sharer_quality_<mode>.json). One thread unless --threads says otherwise.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mialib.attacks.property import ReaderRates, corrected_estimate  # noqa: E402
from mialib.core import paths  # noqa: E402
from mialib.core.fileio import write_json  # noqa: E402
from mialib.data.coloured import colour_rule, colour_rule_rates, coloured_population  # noqa: E402
from mialib.diffusion.trained import train_model  # noqa: E402
from mialib.experiments.property import PropertyParams, SharerModel, ink_comparison, train_base_model  # noqa: E402
from mialib.experiments.sharing import digit_quality  # noqa: E402

P_GRID = (0.1, 0.3, 0.5, 0.7, 0.9)  # notebook 05's grid; a sharer's data stream is its position in it


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("scratch", "warm"), default="scratch")
    p.add_argument("--steps", type=int, default=800, help="training steps on the sharer's own data")
    p.add_argument("--base-steps", type=int, default=4800, help="the base model's steps (--mode warm)")
    p.add_argument("--p", default="0.1,0.5,0.9", help="comma-separated proportions, from notebook 05's grid")
    p.add_argument("--samples", type=int, default=2000, help="samples per model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    return p.parse_args(argv)


def describe(sharer: SharerModel, samples: torch.Tensor, quality, rates: ReaderRates) -> dict:
    check = quality.check(samples)
    ink = ink_comparison({sharer.p: samples}, {sharer.p: sharer})[sharer.p]
    return {"precision": check["precision"], "ratio_to_real": check["ratio_to_real"], "passes": check["passes"],
            "rule_share_samples": ink["rule share, samples"], "rule_share_training": ink["rule share, training"],
            "generator_proportion": corrected_estimate(colour_rule(samples), rates).value,
            "ink_spread_samples": ink["ink spread, samples"], "ink_spread_training": ink["ink spread, training"]}


def run(args) -> list[dict]:
    torch.set_num_threads(args.threads)
    params = replace(PropertyParams(), train_steps=args.steps, base_steps=args.base_steps if args.mode == "warm" else 0)
    grid = [float(v) for v in args.p.split(",")]
    if any(p not in P_GRID for p in grid):
        raise SystemExit(f"--p takes values of notebook 05's grid {P_GRID}, got {grid}")
    pop = coloured_population(colour_noise=params.colour_noise, seed=args.seed)
    quality = digit_quality(pop)
    rates = ReaderRates.exact(*colour_rule_rates(pop.noise))
    # the sharers of notebook 05, trained (and cached) by its own entry points
    base = train_base_model(pop, params, seed=args.seed, device="cpu", progress=False) if params.base_steps else None
    rows = []
    for p in grid:
        data = pop.sample_with_proportion(params.n_train, p, stream=P_GRID.index(p))
        model = train_model(data.images, params.model_config(), params.train_config(args.seed), device="cpu",
                            progress=False, init=base)
        t0 = time.perf_counter()
        x = model.sample(args.samples, steps=params.sample_steps, eta=params.sample_eta,
                         generator=torch.Generator().manual_seed(args.seed + 123), progress=False)
        row = {"mode": args.mode, "p": p, "steps": args.steps, "base_steps": params.base_steps, "seed": args.seed,
               "train_s": model.record["wall_time_s"], "base_train_s": 0.0 if base is None else base.record["wall_time_s"],
               "from_cache": model.from_cache, "sample_s": time.perf_counter() - t0,
               "real_precision": quality.real_precision, **describe(SharerModel(p, data, model), x, quality, rates)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    if min(args.steps, args.base_steps, args.samples, args.threads) < 1:
        raise SystemExit("--steps, --base-steps, --samples and --threads must be positive")
    rows = run(args)
    out = Path(args.out) if args.out else paths.results_dir() / f"benchmark_sharer_quality_{args.mode}.json"
    write_json(out, {"torch": torch.__version__, "threads": args.threads,
                     "machine": platform.processor() or platform.machine(), "rows": rows})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
