"""Execute every notebook headless with papermill under one parameter profile.

    python -m mialib.notebook.runner quick                  # params/quick.yaml, all notebooks
    python -m mialib.notebook.runner smoke --only 02_secmi  # one notebook
    python -m mialib.notebook.runner params/my.yaml --output-dir /tmp/run

A profile file (params/<name>.yaml) has a ``common`` section, passed to every notebook that
declares the name, and one section per notebook. Unlike papermill, which only warns, a
parameter a notebook does not declare is an error, and so is a common parameter that no
notebook declares (a typo would otherwise silently run the defaults). Execution stops at the
first failing notebook, naming it and the failing cell. Executed copies go to
build/executed/.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

from ..core import paths


class ParameterError(ValueError):
    """A profile names a parameter, notebook or section that does not exist."""


def notebook_paths(root: Path | None = None) -> list[Path]:
    """notebooks/NN_*.ipynb in reading order."""
    root = root or paths.repo_root()
    return sorted(p for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def profile_path(profile: str, root: Path | None = None) -> Path:
    """params/<profile>.yaml, or ``profile`` itself when it is a path to a YAML file."""
    root = root or paths.repo_root()
    p = Path(profile)
    if p.suffix in (".yaml", ".yml"):
        return p if p.is_absolute() else Path.cwd() / p
    return root / "params" / f"{profile}.yaml"


def load_profile(path: Path) -> dict:
    """The YAML profile as a dict of sections; ParameterError for a missing or malformed file."""
    if not path.is_file():
        known = sorted(q.stem for q in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        raise ParameterError(f"profile {path} not found; known profiles: {known}")
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values() if v is not None):
        raise ParameterError(f"{path}: expected sections 'common' and '<notebook>' holding "
                             "name: value pairs")
    return {k: (v or {}) for k, v in doc.items()}


def declared_parameters(notebook: Path) -> dict:
    """The names papermill finds in the notebook's cell tagged ``parameters``."""
    import papermill as pm

    params = pm.inspect_notebook(str(notebook))
    if not params:
        raise ParameterError(f"{notebook.name} has no cell tagged 'parameters'")
    return params


def plan(profile: dict, notebooks: list[Path], declared: dict[str, dict] | None = None) -> dict[str, dict]:
    """Notebook stem -> the parameters to inject, after checking every name in the profile
    is declared where it is used."""
    declared = declared or {nb.stem: declared_parameters(nb) for nb in notebooks}
    stems = [nb.stem for nb in notebooks]
    unknown_sections = sorted(set(profile) - {"common", *stems})
    if unknown_sections:
        raise ParameterError(f"profile sections {unknown_sections} name no notebook; notebooks: {stems}")
    common = profile.get("common", {})
    unused = sorted(k for k in common if not any(k in declared[s] for s in stems))
    if unused:
        raise ParameterError(f"common parameters {unused} are declared by no notebook")
    out = {}
    for s in stems:
        own = profile.get(s, {})
        bad = sorted(k for k in own if k not in declared[s])
        if bad:
            raise ParameterError(f"{s}: unknown parameter(s) {bad}; the notebook declares "
                                 f"{sorted(declared[s])}")
        out[s] = {**{k: v for k, v in common.items() if k in declared[s]}, **own}
    return out


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mialib.notebook.runner", description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", nargs="?", default="quick", help="smoke, quick, full or a .yaml path")
    ap.add_argument("--only", nargs="*", default=None, help="notebook stems to run (default: all)")
    ap.add_argument("--output-dir", default=None, help="executed copies (default build/executed)")
    ap.add_argument("--log-output", action="store_true",
                    help="stream cell output (and progress bars) to the terminal")
    args = ap.parse_args(argv)

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
        missing = sorted(set(args.only) - set(todo))
        if missing:
            print(f"run_all: no notebook named {missing}; notebooks: {sorted(todo)}", file=sys.stderr)
            return 2
        todo = {k: v for k, v in todo.items() if k in args.only}
    out_dir = Path(args.output_dir) if args.output_dir else root / "build" / "executed"
    total = time.perf_counter()
    for nb in notebooks:
        if nb.stem not in todo:
            continue
        t0 = time.perf_counter()
        print(f"[run_all] {nb.name} ({args.profile}) ...", flush=True)
        try:
            execute(nb, out_dir / nb.name, todo[nb.stem], cwd=nb.parent, log_output=args.log_output)
        except Exception as exc:  # papermill or kernel failure: report and stop
            print(f"[run_all] FAILED {describe_failure(exc, nb)}\n[run_all] executed copy with "
                  f"the traceback: {out_dir / nb.name}", file=sys.stderr, flush=True)
            return 1
        print(f"[run_all] {nb.name} done in {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"[run_all] all {len(todo)} notebook(s) done in {time.perf_counter() - total:.1f} s; "
          f"figures in {paths.figures_dir()}, results in {paths.results_dir()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
