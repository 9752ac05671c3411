"""How much each attack costs beyond its model queries.

For every attack on the same model and the same batch of images, in one run:

    overhead ratio = wall time of the attack on the batch
                     / (queries per image x time of one batched forward pass of that batch)

A ratio of 1 means the attack is nothing but its model calls; the goal is <= 1.2. The model
is the profile's UNet with seeded random weights (timing does not depend on the weights, and
nothing needs training). Attack runs and plain forward passes are interleaved, --repeats
times each after a warm-up, and each ratio uses the medians of its own row, so slow drifts of
the machine cancel. Ratios a few percent below 1 are timing noise.

    .venv/bin/python benchmarks/attack_overhead.py                 # quick profile's UNet, CPU
    .venv/bin/python benchmarks/attack_overhead.py --profile full --device cuda

Prints a markdown table and writes results/benchmark_attack_overhead.json.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mialib.attacks import ATTACKS, DiffusionTarget, run_attack, secmi_nns  # noqa: E402
from mialib.core import paths  # noqa: E402
from mialib.core.fileio import write_json  # noqa: E402
from mialib.diffusion.models import ModelConfig, build_scheduler, build_unet, resolve_device  # noqa: E402
from mialib.experiments.membership import TargetSpec  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="quick", help="params/<profile>.yaml whose UNet is timed")
    p.add_argument("--batch", type=int, default=256, help="images per batch (one batch is attacked)")
    p.add_argument("--repeats", type=int, default=7, help="timed runs per measurement (median)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--nns-epochs", type=int, default=15, help="SecMI_NNs classifier epochs (paper: 15)")
    p.add_argument("--nns-width", type=int, default=64, help="SecMI_NNs classifier width (paper: 64)")
    p.add_argument("--out", default=None, help="JSON output (default results/benchmark_attack_overhead.json)")
    return p.parse_args(argv)


def model_config(profile: str) -> ModelConfig:
    """The UNet configuration the notebooks build from the profile's ``common`` section."""
    path = ROOT / "params" / f"{profile}.yaml"
    if not path.is_file():
        raise SystemExit(f"no profile {profile!r}: {path} does not exist")
    common = yaml.safe_load(path.read_text())["common"]
    return TargetSpec.from_params(common.get("target")).model


def _clock(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def timed_pair(attack, forward, repeats: int, device: torch.device) -> tuple[float, float]:
    """Median wall seconds of ``attack()`` and of ``forward()`` over ``repeats`` interleaved
    runs (after one warm-up each), so both see the same machine state."""
    _clock(attack, device), _clock(forward, device)
    a, f = [], []
    for _ in range(repeats):
        f.append(_clock(forward, device))
        a.append(_clock(attack, device))
        f.append(_clock(forward, device))
    return statistics.median(a), statistics.median(f)


def main(argv=None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device)
    cfg = model_config(args.profile)
    torch.manual_seed(0)
    unet = build_unet(cfg).to(device).eval()
    scheduler = build_scheduler()
    target = DiffusionTarget.from_unet(unet, scheduler, batch_size=args.batch)
    x0 = (torch.rand(args.batch, cfg.channels, cfg.image_size, cfg.image_size,
                     generator=torch.Generator().manual_seed(0)) * 2 - 1)
    x_dev, t_dev = x0.to(device), torch.full((args.batch,), 100, device=device)

    def forward():
        with torch.no_grad():
            unet(x_dev, t_dev)

    def measure(name: str, label: str, attack, repeats: int, note: str = "") -> dict:
        """Queries per image of one counted run, then interleaved timings of ``attack()``."""
        with target.counting(len(x0)) as q:
            attack()
        wall, t_fwd = timed_pair(attack, forward, repeats, device)
        return {"attack": name, "label": label, "queries_per_sample": q.per_sample, "wall_s": wall,
                "forward_pass_s": t_fwd, "overhead_ratio": wall / (q.per_sample * t_fwd), "note": note}

    rows = [measure(name, info.label, lambda name=name: run_attack(
        name, target, x0, generator=torch.Generator().manual_seed(0)), args.repeats)
        for name, info in ATTACKS.items()]
    half = args.batch // 2
    nns_kw = dict(epochs=args.nns_epochs, width=args.nns_width, seed=0)
    rows.append(measure("secmi_nns", "SecMI_NNs", lambda: secmi_nns(target, x0[:half], x0[half:], **nns_kw),
                        max(1, args.repeats // 3),
                        f"includes training its classifier ({args.nns_epochs} epochs, width {args.nns_width})"))
    t_fwd = statistics.median(r["forward_pass_s"] for r in rows)

    header = (f"UNet of the '{args.profile}' profile ({sum(p.numel() for p in unet.parameters()):,} parameters, "
              f"{cfg.channels}x{cfg.image_size}x{cfg.image_size}), batch {args.batch}, {device}, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads; one batched forward pass: "
              f"{1000 * t_fwd:.1f} ms (median; each row uses the forward passes timed beside it)")
    print(header + "\n")
    print("| attack | queries per image | wall time (s) | overhead ratio | note |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['label']} | {r['queries_per_sample']:g} | {r['wall_s']:.3f} | {r['overhead_ratio']:.2f} | {r['note']} |")
    out = Path(args.out) if args.out else paths.results_dir() / "benchmark_attack_overhead.json"
    write_json(out, {"profile": args.profile, "batch": args.batch, "repeats": args.repeats, "device": str(device),
                     "forward_pass_s": t_fwd, "rows": rows, "torch": torch.__version__,
                     "threads": torch.get_num_threads(), "machine": platform.machine(),
                     "python": platform.python_version()})
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
