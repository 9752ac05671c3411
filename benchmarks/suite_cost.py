"""The quick suite's cost in machine-independent units: each notebook's wall time divided by the
time of ONE training step of the quick target's UNet (batch 64), measured in the same process on
the same machine (the unit of the cost budget: about 10,000 steps for the whole quick suite).

The step is the REFERENCE step of ``benchmarks/training_variants.py`` (batch, noise, forward,
epsilon MSE, backward, gradient clipping, AdamW in its default implementation, one EMA ``lerp_`` per
parameter: the quick training step as it was when the budget was set) on the quick profile's UNet
and batch, at this process's thread count, the median of ``--steps`` steps after ``--warmup``. It
is fixed on purpose: mialib's own loop may get faster (it now fuses AdamW), and a speed-up must
show as fewer units, not as a smaller unit.

    ./run_all.sh | tee run.log && .venv/bin/python benchmarks/suite_cost.py --log run.log
    .venv/bin/python benchmarks/suite_cost.py          # notebook times from results/*.json

``./run_all.sh`` (quick and full profiles) does both itself: it times the step before the notebooks
(``--step-only``), keeps its own output in build/logs/run_all.log, and ends with this table, the
unit being the mean of the step timed before and after (a shared machine's speed drifts: on the
development machine by up to 1.5x within an hour, so a step timed at another moment misleads).

With ``--log`` (the output of ``./run_all.sh`` or ``python -m mialib.notebook.runner``) each
notebook's time is the runner's "done in" (kernel start and imports included) and the total is its
"notebooks wall time" (HTML build included); without, each notebook's ``timings.wall_time_s`` from
its results file (kernel start and imports excluded) and their sum. Prints a markdown table and
writes results/benchmark_suite_cost.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mialib.core import paths  # noqa: E402
from mialib.core.fileio import write_json  # noqa: E402
from benchmarks.training_variants import TrainingStep, time_steps  # noqa: E402

BUDGET_STEPS = 10_000  # the quick suite's budget in step units
DONE = re.compile(r"\[run_all\] (\S+?)(?:\.ipynb)? done in ([0-9.]+) s")
TOTAL = re.compile(r"\[run_all\] notebooks wall time: ([0-9.]+) s")
STEP = re.compile(r"\[run_all\] reference training step: ([0-9.]+) ms")


def step_seconds(steps: int = 50, warmup: int = 10, batch_size: int = 64) -> float:
    """Seconds of one reference training step of the quick target's UNet at ``batch_size``: the
    median of ``steps`` steps after ``warmup`` (see the module docstring)."""
    import statistics

    step = TrainingStep("quick", batch_size)
    time_steps(step, warmup)
    return statistics.median(sum(p) for p in time_steps(step, steps))


def steps_from_log(text: str) -> list[float]:
    """The reference step times (seconds) that ``--step-only`` wrote into a run's log."""
    return [float(ms) / 1000 for ms in STEP.findall(text)]


def times_from_log(text: str) -> tuple[dict[str, float], float | None]:
    """(notebook -> seconds, the runner's total or None) from the runner's output."""
    per = {name: float(s) for name, s in DONE.findall(text)}
    total = TOTAL.findall(text)
    if not per:
        raise ValueError("no '[run_all] <notebook> done in <s> s' line in the log: pass the output of ./run_all.sh")
    return per, float(total[-1]) if total else None


def times_from_results(folder: Path) -> dict[str, float]:
    """Notebook -> ``timings.wall_time_s`` of every results/<notebook>.json that has one."""
    out = {}
    for path in sorted(folder.glob("[0-9][0-9]_*.json")):
        wall = json.loads(path.read_text()).get("timings", {}).get("wall_time_s")
        if wall is not None:
            out[path.stem] = float(wall)
    if not out:
        raise ValueError(f"no results/<notebook>.json with timings in {folder}: run ./run_all.sh first")
    return out


def cost_table(per_notebook: dict[str, float], total: float | None, unit_s: float) -> dict:
    """Each notebook's seconds and step units, the total (the runner's, else the sum) and its share
    of the budget."""
    if not unit_s > 0:
        raise ValueError(f"the step time must be positive, got {unit_s}")
    total = sum(per_notebook.values()) if total is None else total
    rows = [{"notebook": n, "seconds": s, "step_units": s / unit_s} for n, s in per_notebook.items()]
    return {"step_seconds": unit_s, "rows": rows, "total_seconds": total, "total_step_units": total / unit_s,
            "budget_step_units": BUDGET_STEPS, "within_budget": total / unit_s <= BUDGET_STEPS}


def markdown(table: dict) -> str:
    lines = ["| notebook | seconds | step units |", "|---|---|---|"]
    lines += [f"| {r['notebook']} | {r['seconds']:.1f} | {r['step_units']:,.0f} |" for r in table["rows"]]
    lines.append(f"| **total** | {table['total_seconds']:.1f} | {table['total_step_units']:,.0f} |")
    lines.append(f"\none step = {1000 * table['step_seconds']:.1f} ms; budget {table['budget_step_units']:,} "
                 f"step units: {'within' if table['within_budget'] else 'OVER'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--log", default=None, help="the output of ./run_all.sh (default: results/*.json timings)")
    p.add_argument("--steps", type=int, default=50, help="timed training steps")
    p.add_argument("--warmup", type=int, default=10, help="training steps not counted")
    p.add_argument("--out", default=None, help="JSON output (default results/benchmark_suite_cost.json)")
    p.add_argument("--step-only", action="store_true",
                   help="only time the reference step and print it as a log line (run_all.sh does, before the notebooks)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        raise SystemExit("--steps and --warmup must be at least 1")
    if args.step_only:
        print(f"[run_all] reference training step: {1000 * step_seconds(args.steps, args.warmup):.1f} ms", flush=True)
        return 0
    try:
        if args.log:
            text = Path(args.log).read_text(errors="replace")
            (per, total), logged = times_from_log(text), steps_from_log(text)
        else:
            (per, total), logged = (times_from_results(paths.results_dir()), None), []
    except (OSError, ValueError) as exc:
        raise SystemExit(str(exc)) from exc
    measured = logged + [step_seconds(args.steps, args.warmup)]
    table = cost_table(per, total, sum(measured) / len(measured))
    table.update(source=args.log or "results/*.json", torch=torch.__version__, threads=torch.get_num_threads(),
                 machine=platform.processor() or platform.machine(), step_seconds_measured=measured)
    print(markdown(table))
    if len(measured) > 1:
        print(f"the step, timed before and after the notebooks: {', '.join(f'{1000 * m:.1f}' for m in measured)} ms "
              f"(their mean is the unit; the machine's speed moved by {100 * (max(measured) / min(measured) - 1):.0f}% "
              "between them)")
    write_json(Path(args.out) if args.out else paths.results_dir() / "benchmark_suite_cost.json", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
