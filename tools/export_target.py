#!/usr/bin/env python
"""Export notebook 01's target model and its split as a model owner would hand them to
``mialib audit``: the model as a diffusers ``DDPMPipeline`` folder (``save_pretrained``,
safetensors), the four parts of the split as .npy arrays in [-1, 1] (exact) and the evaluation
parts also as PNG folders (8-bit: what a user's image folders look like).

    .venv/bin/python tools/export_target.py --out exported            # the quick profile's target
    mialib audit --model exported/model --members exported/members.npy --nonmembers exported/nonmembers.npy \\
        --cal-members exported/cal_members.npy --cal-nonmembers exported/cal_nonmembers.npy --batch-size 256 --out audit_quick

The target comes from the model cache (trained if it is not there, as notebook 01 does). With the
arrays, the same seed (0) and notebook 04's batch size (256), the audit scores exactly the images
notebook 04 scores with the same noise, so its AUCs are 04's (docs/audit.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mialib.experiments.membership import MembershipExperiment  # noqa: E402

PARTS = ("members", "nonmembers", "cal_members", "cal_nonmembers")


def export(out: Path, *, seed: int = 0, target: dict | None = None, pngs: bool = True) -> dict[str, Path]:
    """Write the model folder, the four arrays and (``pngs``) the two evaluation PNG folders to ``out``."""
    from diffusers import DDPMPipeline
    from PIL import Image

    exp = MembershipExperiment.open(seed=seed, target=target or {}, device="cpu", progress=True)
    out.mkdir(parents=True, exist_ok=True)
    DDPMPipeline(unet=exp.model.unet, scheduler=exp.model.scheduler).save_pretrained(out / "model", safe_serialization=True)
    written = {"model": out / "model"}
    for part in PARTS:
        x = exp.data.part(part).numpy().astype(np.float32)
        np.save(out / f"{part}.npy", x)
        written[part] = out / f"{part}.npy"
        if pngs and part in ("members", "nonmembers"):
            folder = out / part
            folder.mkdir(exist_ok=True)
            for i, img in enumerate(x):
                pixels = np.round((img.transpose(1, 2, 0) + 1) * 127.5).clip(0, 255).astype(np.uint8)
                Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(folder / f"{i:04d}.png")
            written[part + "_png"] = folder
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="exported", help="folder to write (default ./exported)")
    p.add_argument("--seed", type=int, default=0, help="notebook 01's seed (default 0)")
    p.add_argument("--no-png", action="store_true", help="arrays only")
    args = p.parse_args(argv)
    for name, path in export(Path(args.out), seed=args.seed, pngs=not args.no_png).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
