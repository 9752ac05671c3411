"""Does training several small models at once pay on this machine?

Times one optimisation step (noise, forward, epsilon MSE, backward, AdamW) of the profile's UNet:

* one model at batch B and at batch 8B (bigger batches: more images per second?);
* N models one after the other, each at batch B (what ``train_models`` does);
* the same N models as ONE batched computation with ``torch.func`` (``stack_module_state`` +
  ``vmap`` over the models' parameters and batches, gradients with ``grad``, a plain SGD update
  standing in for AdamW, which only flatters the batched variant).

Every variant runs --repeats times after a warm-up; the table reports the median seconds per
step and the images per second. The decision it informs is documented in
``mialib.diffusion.trained.train_models``: on a 2-core CPU the loop is kept.

    .venv/bin/python benchmarks/training_throughput.py            # the quick profile's UNet, CPU
    .venv/bin/python benchmarks/training_throughput.py --models 4 --repeats 3

Prints a markdown table and writes results/benchmark_training_throughput.json.
"""

from __future__ import annotations

import argparse
import copy
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
from mialib.diffusion.models import build_unet  # noqa: E402
from mialib.experiments.membership import TargetSpec  # noqa: E402

T = 1000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64, help="images per model per step (B)")
    p.add_argument("--models", type=int, default=8, help="models trained together (N)")
    p.add_argument("--repeats", type=int, default=5, help="timed steps per variant (median)")
    p.add_argument("--out", default=None, help="JSON output (default results/benchmark_training_throughput.json)")
    return p.parse_args(argv)


def _median_seconds(step, repeats: int) -> float:
    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _eps_loss(out: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return (out - noise).pow(2).mean()


def single_model_step(unet, batch: int, gen: torch.Generator):
    """One AdamW step of one model on ``batch`` random images (timing needs no real data)."""
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-3)
    shape = (batch, unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)

    def step():
        x, noise = torch.rand(shape, generator=gen) * 2 - 1, torch.randn(shape, generator=gen)
        t = torch.randint(0, T, (batch,), generator=gen)
        loss = _eps_loss(unet(x + noise, t).sample, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def vmapped_models_step(unets, batch: int, gen: torch.Generator):
    """One step of len(unets) models as one ``torch.func.vmap`` computation over their stacked
    parameters, each model on its own batch (SGD update)."""
    from torch.func import functional_call, grad, stack_module_state, vmap

    params, buffers = stack_module_state(unets)
    base = copy.deepcopy(unets[0]).to("meta")
    n = len(unets)
    shape = (n, batch, unets[0].config.in_channels, unets[0].config.sample_size, unets[0].config.sample_size)

    def loss_of(p, b, x, t, noise):
        return _eps_loss(functional_call(base, (p, b), (x, t)).sample, noise)

    grad_all = vmap(grad(loss_of), in_dims=(0, 0, 0, 0, 0), randomness="different")

    def step():
        x, noise = torch.rand(shape, generator=gen) * 2 - 1, torch.randn(shape, generator=gen)
        t = torch.randint(0, T, (n, batch), generator=gen)
        grads = grad_all(params, buffers, x + noise, t, noise)
        with torch.no_grad():
            for k, g in grads.items():
                params[k].sub_(1e-3 * g)
    return step


def run(args) -> dict:
    model_cfg = TargetSpec.from_params(None).model
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    rows = []

    def add(variant, seconds, images):
        rows.append({"variant": variant, "seconds_per_step": seconds, "images_per_step": images,
                     "images_per_second": images / seconds})

    b, n = args.batch, args.models
    add(f"1 model, batch {b}", _median_seconds(single_model_step(build_unet(model_cfg), b, gen), args.repeats), b)
    add(f"1 model, batch {8 * b}", _median_seconds(single_model_step(build_unet(model_cfg), 8 * b, gen), args.repeats), 8 * b)
    steps = [single_model_step(build_unet(model_cfg), b, gen) for _ in range(n)]
    add(f"{n} models in a loop, batch {b} each",
        _median_seconds(lambda: [s() for s in steps], args.repeats), n * b)
    try:
        add(f"{n} models, torch.func.vmap, batch {b} each",
            _median_seconds(vmapped_models_step([build_unet(model_cfg) for _ in range(n)], b, gen), args.repeats), n * b)
    except Exception as err:  # report, do not hide: some diffusers blocks may not vmap
        rows.append({"variant": f"{n} models, torch.func.vmap", "error": f"{type(err).__name__}: {err}"[:300]})
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
            "model": model_cfg.to_dict(), "rows": rows}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.batch < 1 or args.models < 1 or args.repeats < 1:
        raise SystemExit("--batch, --models and --repeats must be positive")
    doc = run(args)
    print(f"torch {doc['torch']}, {doc['threads']} threads\n")
    print("| variant | s per step | images per s |\n|---|---|---|")
    for r in doc["rows"]:
        if "error" in r:
            print(f"| {r['variant']} | failed: {r['error']} | |")
        else:
            print(f"| {r['variant']} | {r['seconds_per_step']:.3f} | {r['images_per_second']:.0f} |")
    out = Path(args.out) if args.out else paths.results_dir() / "benchmark_training_throughput.json"
    write_json(out, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
