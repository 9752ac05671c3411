"""One results file per notebook, results/<notebook>.json, in one schema:

    {"schema": 1, "notebook": ..., "parameters": {...}, "seed": ..., "git_commit": ...,
     "metrics": {...}, "queries_per_sample": {...}, "figures": [...], "versions": {...},
     "timings": {"wall_time_s": ..., ...}}

Everything outside ``timings`` is a function of the code and the parameters, so two runs of
the same commit and profile give identical files apart from that one field. ``timings``
also holds run provenance that legitimately differs (e.g. whether a model came from cache).
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..core import paths
from ..core.fileio import write_json
from ..evaluation.plots import save_fig

SCHEMA_VERSION = 1
TIMING_KEYS = ("timings",)


def _in_notebook() -> bool:
    """Whether this runs inside an IPython kernel (a notebook), where figures are displayed."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def git_commit() -> str:
    """The repository's HEAD commit ("+dirty" when tracked files changed), or "unknown"."""
    root = paths.repo_root()
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def to_jsonable(obj):
    """Numpy/torch scalars and arrays, tuples, paths and dataclass instances -> plain JSON values
    (dict keys as ``str(key)``); NaN -> None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "detach"):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


class NotebookRun:
    """The bookkeeping of one notebook execution: its name, parameters and seed, the clock,
    and the only two ways it writes output: :meth:`save_fig` and :meth:`write_results`."""

    def __init__(self, notebook: str, parameters: dict, seed: int | None = None):
        self.notebook = notebook
        self.parameters = dict(parameters)
        self.seed = seed if seed is not None else self.parameters.get("seed")
        self.started = time.perf_counter()
        self.figures: list[Path] = []

    @classmethod
    def from_namespace(cls, notebook: str, namespace: dict) -> "NotebookRun":
        """Collect the notebook's parameters from its namespace: every name annotated in the
        parameters cell (``n: int = 3  # ...``), with the value it has now (papermill's
        injected cell overrides values, not annotations)."""
        names = namespace.get("__annotations__", {})
        return cls(notebook, {k: namespace[k] for k in names if k in namespace})

    @classmethod
    def start(cls, notebook: str, namespace: dict) -> "NotebookRun":
        """:meth:`from_namespace`, then seed every generator with the ``seed`` parameter, set
        the figure style, show tables whole (pandas cuts a cell's text after 50 characters by
        default, e.g. a tuned attack's settings) and let the kernel exit without its last garbage
        collection (:mod:`mialib.core.process_exit`): the first line of every notebook after its
        parameters."""
        import pandas as pd

        from ..core.process_exit import skip_final_collection
        from ..core.seeding import seed_everything
        from ..evaluation.plots import use_style

        run = cls.from_namespace(notebook, namespace)
        if run.seed is None:
            raise ValueError(f"{notebook} declares no 'seed' parameter")
        seed_everything(run.seed)
        use_style()
        pd.set_option("display.max_colwidth", None)
        skip_final_collection()  # the kernel exits in ~0.2 s after the last cell, not ~2.5 s
        return run

    def save_fig(self, fig, name: str, show: bool = True) -> list[Path]:
        """Write figures/<notebook>_<name>.png and .pdf, show the figure in the notebook (when
        running in one), and close it."""
        import matplotlib.pyplot as plt

        out = save_fig(fig, self.notebook, name)
        self.figures.extend(out)
        if show and _in_notebook():
            from IPython.display import display

            display(fig)
        plt.close(fig)
        return out

    def write_results(self, metrics: dict, queries_per_sample: dict | None = None,
                      timings: dict | None = None, extra: dict | None = None) -> Path:
        """Write results/<notebook>.json in the schema above and return its path. ``timings``
        (seconds, cache hits) joins the notebook's own wall time under "timings"."""
        doc = {
            "schema": SCHEMA_VERSION,
            "notebook": self.notebook,
            "parameters": to_jsonable(self.parameters),
            "seed": self.seed,
            "git_commit": git_commit(),
            "metrics": to_jsonable(metrics),
            "queries_per_sample": to_jsonable(queries_per_sample or {}),
            "figures": sorted(p.name for p in self.figures),
            "timings": {"wall_time_s": round(time.perf_counter() - self.started, 2),
                        **to_jsonable(timings or {})},
            "versions": {"mialib": __version__, "python": platform.python_version(),
                         "torch_threads": _torch_threads(), **machine()},
        }
        if extra:
            doc["extra"] = to_jsonable(extra)
        return write_json(paths.results_dir() / f"{self.notebook}.json", doc)


def machine() -> dict:
    """The CPU this process computes on: its model name (from /proc/cpuinfo where there is one) and
    the instruction set torch's kernels dispatch to (``ATEN_CPU_CAPABILITY`` can lower it); the
    numbers of a run depend on both through float rounding."""
    import torch

    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return {"cpu": name, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def _torch_threads() -> int:
    """The intra-op threads this process computes with (the runner gives each notebook its
    share of the CPUs; numbers depend on it through float rounding only)."""
    import torch

    return torch.get_num_threads()


def environment(device: str = "auto") -> dict:
    """The versions and hardware this run uses (for notebook 00 and the results files);
    diffusers' version is read from its package metadata, not by importing it (seconds)."""
    from importlib.metadata import version

    import torch

    from ..diffusion.models import resolve_device

    dev = resolve_device(device)
    return {"python": platform.python_version(), "torch": torch.__version__,
            "diffusers": version("diffusers"), "mialib": __version__, "device": str(dev),
            "cpu threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else "none"}


def provenance(folder) -> dict:
    """Where the results files ``NN_*.json`` in ``folder`` came from: {"commits": the distinct
    commits (10 characters, sorted), "machines": the distinct (cpu, instruction set, threads)
    triples, sorted}; what is not recorded reads "?"."""
    docs = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("[0-9][0-9]_*.json"))]
    versions = [d.get("versions", {}) for d in docs]
    return {"commits": sorted({d.get("git_commit", "?")[:10] for d in docs}),
            "machines": sorted({(str(v.get("cpu", "?")), str(v.get("cpu_capability", "?")), str(v.get("torch_threads", "?")))
                                for v in versions})}


def without_timings(doc: dict) -> dict:
    """A results document with its timing fields removed (for reproducibility checks)."""
    return {k: v for k, v in doc.items() if k not in TIMING_KEYS}
