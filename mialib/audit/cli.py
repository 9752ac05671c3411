"""``mialib audit`` (also ``python -m mialib.audit``): the command line over
:func:`mialib.audit.run.run_audit`. Every problem with what was given is one line on stderr and
exit status 2, never a traceback; the report's summary is printed at the end.

    mialib audit --model my_ddpm/ --members train/ --nonmembers held_out/ --out audit/
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from .errors import AuditError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mialib audit",
        description="How much does a diffusion model leak about the images it was trained on? Runs every "
                    "membership attack on member and non-member images and writes a report.",
        epilog="Folders and files are relative to the current directory. Nothing is downloaded: the model is "
               "loaded offline from its folder (safetensors weights only).")
    p.add_argument("--model", required=True, metavar="DIR",
                   help="a local diffusers folder: DDPMPipeline / DDIMPipeline, StableDiffusionPipeline, or a bare "
                        "UNet2DModel folder (with --scheduler)")
    p.add_argument("--scheduler", metavar="DIR", help="the scheduler folder of a bare UNet2DModel folder")
    p.add_argument("--members", required=True, metavar="PATH",
                   help="images the model was trained on: a folder of PNG/JPEG, or a .npy/.npz array [N, C, H, W] in [-1, 1]")
    p.add_argument("--nonmembers", required=True, metavar="PATH",
                   help="images from the same population it was not trained on (same forms)")
    p.add_argument("--cal-members", metavar="PATH", help="calibration members given apart (then --calibration is unused)")
    p.add_argument("--cal-nonmembers", metavar="PATH", help="calibration non-members given apart")
    p.add_argument("--class-labels", metavar="CSV", help="filename,label for a class-conditional UNet")
    p.add_argument("--captions", metavar="CSV", help="filename,caption for a text-to-image pipeline")
    p.add_argument("--attacks", nargs="+", metavar="NAME", help="attacks to run (default: every per-image attack)")
    p.add_argument("--calibration", type=float, default=0.2,
                   help="share of each folder held out to choose thresholds (default 0.2)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu or cuda")
    p.add_argument("--batch-size", type=int, default=64, help="images per model call (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seeds the split, the attacks' noise and the bootstrap")
    p.add_argument("--max-images", type=int, metavar="N", help="at most N images of each folder (a seeded subset)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of every interval (default 1000)")
    p.add_argument("--out", default="audit", metavar="DIR", help="the report's folder (default ./audit)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from .run import run_audit

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the split's warnings are in the report
            result = run_audit(args.model, args.members, args.nonmembers, out=args.out, scheduler=args.scheduler,
                               cal_members=args.cal_members, cal_nonmembers=args.cal_nonmembers,
                               class_labels=args.class_labels, captions=args.captions, attacks=args.attacks,
                               calibration=args.calibration, device=args.device, batch_size=args.batch_size,
                               seed=args.seed, max_images=args.max_images, n_boot=args.n_boot,
                               progress=not args.quiet)
    except (AuditError, ValueError) as exc:  # what was given cannot be used (the library's checks raise ValueError)
        print(f"mialib audit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mialib audit: interrupted; what was scored is kept in --out, run the same command to resume",
              file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug, or a model the checks did not foresee: one line, and how to see more
        if os.environ.get("MIALIB_DEBUG") == "1":
            raise
        print(f"mialib audit: unexpected {type(exc).__name__}: {exc} (MIALIB_DEBUG=1 shows the traceback; what was "
              "scored is kept in --out)", file=sys.stderr)
        return 1
    print(result.text)
    print(f"\nreport: {result.files['html']}")
    return 0


def command(argv=None) -> int:
    """The ``mialib`` console script: ``mialib audit ...`` (the only subcommand so far)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: mialib audit --model DIR --members PATH --nonmembers PATH [--out DIR] ...\n"
              "       mialib audit --help    (every option)")
        return 0 if argv else 2
    if argv[0] != "audit":
        print(f"mialib: unknown command {argv[0]!r}; the command is 'mialib audit' (see mialib audit --help)",
              file=sys.stderr)
        return 2
    return main(argv[1:])
