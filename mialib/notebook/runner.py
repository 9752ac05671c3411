"""Execute every notebook headless with papermill under one parameter profile.

    python -m mialib.notebook.runner quick                  # params/quick.yaml, all notebooks
    python -m mialib.notebook.runner smoke --only 02_secmi  # one notebook
    python -m mialib.notebook.runner params/my.yaml --output-dir /tmp/run

A profile (params/<name>.yaml, :mod:`.profiles`) is checked whole before anything runs:
unknown names, wrong types, malformed YAML and duplicate keys are errors naming the file and
line. Up to ``--jobs`` notebooks run at once (default two on a machine with two or more CPUs),
each after the notebooks it reads from and with its share of the CPUs (:mod:`.schedule`); each
one's output goes to build/logs/<notebook>.log. Execution stops at the first failing notebook,
naming it and the failing cell. Executed copies go to build/executed/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..core import paths
from . import lane
from .profiles import ParameterError, load_profile, notebook_paths, plan, profile_path
from .schedule import check_dependencies, default_jobs, dependencies, expected_cost, next_ready, threads_per_job


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def execute(notebook: Path, output: Path, parameters: dict, cwd: Path, log_output: bool = False):
    """Run one notebook with papermill (kernel ``python3``), its figures drawn by matplotlib's
    inline backend so the executed copy holds them (whatever MPLBACKEND the caller has)."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE_BACKEND  # read by the kernel process when it starts
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name="python3",
                            cwd=str(cwd), progress_bar=False, log_output=log_output,
                            request_save_on_cell_execute=False)
    finally:
        if saved is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved


def describe_failure(exc: Exception, notebook: Path) -> str:
    """One readable paragraph naming the notebook, the failing cell and the error."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return (f"{notebook.name}: cell {exc.cell_index} (execution count {exc.exec_count}) "
                f"raised {exc.ename}: {exc.evalue}")
    return f"{notebook.name}: {type(exc).__name__}: {exc}"


def run_one(notebook: Path, output: Path, parameters: dict, *, label: str = "", log_output: bool = False) -> bool:
    """Execute one notebook into ``output``, saying when it starts and how long it took, or
    naming the failing cell and where the executed copy with the traceback is; True if it failed."""
    t0 = time.perf_counter()
    print(f"[run_all] {notebook.name}{label} ...", flush=True)
    try:
        execute(notebook, output, parameters, cwd=notebook.parent, log_output=log_output)
    except Exception as exc:  # papermill or kernel failure: report and stop
        print(f"[run_all] FAILED {describe_failure(exc, notebook)}\n[run_all] executed copy with "
              f"the traceback: {output}", file=sys.stderr, flush=True)
        return True
    print(f"[run_all] {notebook.name} done in {time.perf_counter() - t0:.1f} s", flush=True)
    return False


def _run_in_order(notebooks: list[Path], todo: dict, out_dir: Path, args) -> bool:
    """Run ``notebooks`` one after the other in this process; True if one failed."""
    return any(run_one(nb, out_dir / nb.name, todo[nb.stem], label=f" ({args.profile})", log_output=args.log_output)
               for nb in notebooks)


def _stop(proc: subprocess.Popen) -> None:
    """Stop a lane and its kernel (its own process group); a re-run resumes training
    from the checkpoints it wrote."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def _run_side_by_side(notebooks: list[Path], todo: dict, deps: dict, cost: dict, args, out_dir: Path,
                      jobs: int) -> bool:
    """Run ``notebooks`` ``jobs`` at a time, each in its own process (a :mod:`.lane`, given the
    parameters planned here, so the profile is not checked again) with ``cpus // jobs`` threads,
    after its dependencies, costliest chain first; True if one failed (the others are then stopped)."""
    threads = threads_per_job(jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    log_dir = out_dir.parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"[run_all] {len(notebooks)} notebooks, up to {jobs} at once with {threads} thread(s) each; "
          f"logs in {log_dir}", flush=True)
    by_stem = {nb.stem: nb for nb in notebooks}
    pending, finished, running = [nb.stem for nb in notebooks], set(), {}
    try:
        while pending or running:
            while len(running) < jobs:
                stem = next_ready(pending, finished, deps, cost)
                if stem is None:
                    break
                pending.remove(stem)
                log = open(log_dir / f"{stem}.log", "w")
                print(f"[run_all] {by_stem[stem].name} ({args.profile}) ...", flush=True)
                nb = by_stem[stem]
                params = lane.write_parameters(log_dir / f"{stem}.parameters.json", todo[stem])
                proc = subprocess.Popen(lane.command(nb, out_dir / nb.name, params), env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
                running[stem] = (proc, time.perf_counter(), log)
            time.sleep(0.2)
            for stem, (proc, t0, log) in list(running.items()):
                if proc.poll() is None:
                    continue
                log.close()
                del running[stem]
                if proc.returncode != 0:
                    tail = (log_dir / f"{stem}.log").read_text().strip().splitlines()[-6:]
                    print("\n".join(tail), file=sys.stderr)
                    print(f"[run_all] FAILED {by_stem[stem].name} (exit {proc.returncode}); its log: "
                          f"{log_dir / f'{stem}.log'}", file=sys.stderr, flush=True)
                    return True
                finished.add(stem)
                print(f"[run_all] {by_stem[stem].name} done in {time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        for proc, _, log in running.values():
            _stop(proc)
            log.close()
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mialib.notebook.runner", description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", nargs="?", default="quick", help="smoke, quick, full or a .yaml path")
    ap.add_argument("--only", nargs="*", default=None, help="notebook stems to run (default: all)")
    ap.add_argument("--output-dir", default=None, help="executed copies (default build/executed)")
    ap.add_argument("--no-html", dest="html", action="store_false",
                    help="skip rendering the executed notebooks to HTML (build/html/index.html)")
    ap.add_argument("--log-output", action="store_true",
                    help="stream cell output (and progress bars) to the terminal (runs one notebook at a time)")
    ap.add_argument("--jobs", type=int, default=default_jobs(),
                    help="notebooks run at once, each on its share of the CPUs (default: %(default)s here)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        print(f"run_all: --jobs must be at least 1, got {args.jobs}", file=sys.stderr)
        return 2

    root = paths.repo_root()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not args.log_output:  # nobody sees in-notebook bars in a headless run; keep copies clean
        os.environ.setdefault("MIALIB_PROGRESS", "0")
    os.environ["MIALIB_ROOT"] = str(root)
    notebooks = notebook_paths(root)
    try:
        profile = load_profile(profile_path(args.profile, root))
        todo = plan(profile, notebooks)
    except ParameterError as exc:
        print(f"run_all: {exc}", file=sys.stderr)
        return 2
    if args.only is not None:
        if not args.only:
            print("run_all: --only needs at least one notebook name; notebooks: "
                  f"{sorted(todo)}", file=sys.stderr)
            return 2
        missing = sorted(set(args.only) - set(todo))
        if missing:
            print(f"run_all: no notebook named {missing}; notebooks: {sorted(todo)}", file=sys.stderr)
            return 2
        todo = {k: v for k, v in todo.items() if k in args.only}
    out_dir = Path(args.output_dir) if args.output_dir else root / "build" / "executed"
    jobs = 1 if args.log_output or len(todo) == 1 else args.jobs
    total = time.perf_counter()
    if jobs == 1:
        failed = _run_in_order([nb for nb in notebooks if nb.stem in todo], todo, out_dir, args)
    else:
        try:
            deps = {nb.stem: [a for a in dependencies(nb) if a in todo] for nb in notebooks if nb.stem in todo}
            check_dependencies(deps)
            cost = {nb.stem: expected_cost(nb) for nb in notebooks if nb.stem in todo}
        except ValueError as exc:
            print(f"run_all: {exc}", file=sys.stderr)
            return 2
        failed = _run_side_by_side([nb for nb in notebooks if nb.stem in todo], todo, deps, cost, args, out_dir,
                                   jobs)
    if failed:
        return 1
    print(f"[run_all] all {len(todo)} notebook(s) done in {time.perf_counter() - total:.1f} s; "
          f"figures in {paths.figures_dir()}, results in {paths.results_dir()}", flush=True)
    if args.html:
        from .html import MathJaxMissing, render

        try:
            print(f"[run_all] HTML of the executed notebooks: {render(out_dir, out_dir.parent / 'html')}", flush=True)
        except MathJaxMissing as exc:  # the notebooks ran and their results are written; only the HTML is missing
            print(f"[run_all] no HTML build: {exc}", file=sys.stderr, flush=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
