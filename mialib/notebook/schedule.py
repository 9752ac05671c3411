"""Which notebooks may run side by side, and with how many threads each.

A notebook names the notebooks whose outputs it reads in its metadata,
``{"mialib": {"after": ["01_train_target_model"], "expected_units": 3700}}`` (02-04 attack the
target 01 trains; the others stand alone), and how long it roughly takes, in the training-step
units of ``benchmarks/suite_cost.py`` (rounded from a measured quick run; it only orders the
starts, a wrong value costs time, never a result). The runner starts up to ``jobs`` notebooks at
once, each as soon as the ones it comes after have finished, the ready one with the longest
expected chain of work still ahead of it first (its own cost plus the longest chain of notebooks
waiting on it: critical-path scheduling), and gives each kernel ``cpu_count // jobs`` threads
(``OMP_NUM_THREADS``), so the processes never compete for a core. On the quick run of the
development machine that order finished ~10% sooner than reading order, which left one core
idle while 07 ran last.

Why it pays on a small CPU: the quick models are small enough that a second thread buys little
inside one training step (on the 2-core development machine one step of the quick UNet took
~82 ms on one thread and ~55-61 ms on two, and two one-thread processes ran at ~82 ms each, side
by side), so two notebooks on one thread each finish more work per second than one on two
(``benchmarks/training_variants.py`` prints the measurement). Numbers depend on the thread count
only through float rounding; a results file records the count it ran with.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def _metadata(notebook: Path) -> dict:
    return json.loads(Path(notebook).read_text()).get("metadata", {}).get("mialib", {})


def dependencies(notebook: Path) -> list[str]:
    """The stems listed in ``notebook``'s ``metadata.mialib.after`` (ValueError if malformed)."""
    after = _metadata(notebook).get("after", [])
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise ValueError(f"{Path(notebook).name}: metadata.mialib.after must be a list of notebook "
                         f"names, got {after!r}")
    return list(after)


def expected_cost(notebook: Path) -> float:
    """``metadata.mialib.expected_units`` of ``notebook`` (1 when absent; ValueError if not a
    positive number)."""
    cost = _metadata(notebook).get("expected_units", 1)
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not cost > 0:
        raise ValueError(f"{Path(notebook).name}: metadata.mialib.expected_units must be a positive "
                         f"number, got {cost!r}")
    return float(cost)


def check_dependencies(deps: dict[str, list[str]]) -> None:
    """ValueError if a notebook comes after one that does not exist, or after itself through
    a cycle."""
    for nb, after in deps.items():
        unknown = sorted(set(after) - set(deps))
        if unknown:
            raise ValueError(f"{nb} comes after {unknown}, which are not notebooks; notebooks: {sorted(deps)}")
    state: dict[str, str] = {}

    def visit(nb, chain):
        if state.get(nb) == "done":
            return
        if state.get(nb) == "open":
            raise ValueError(f"notebooks wait on each other in a cycle: {' -> '.join(chain + [nb])}")
        state[nb] = "open"
        for a in deps[nb]:
            visit(a, chain + [nb])
        state[nb] = "done"

    for nb in deps:
        visit(nb, [])


def chain_ahead(deps: dict[str, list[str]], cost: dict[str, float] | None = None) -> dict[str, float]:
    """Notebook -> its own cost plus the costliest chain of notebooks that come after it
    (each notebook costs 1 where ``cost`` does not say)."""
    cost = cost or {}
    memo: dict[str, float] = {}

    def ahead(nb):
        if nb not in memo:
            later = [other for other, after in deps.items() if nb in after]
            memo[nb] = cost.get(nb, 1.0) + max((ahead(o) for o in later), default=0.0)
        return memo[nb]
    return {nb: ahead(nb) for nb in deps}


def next_ready(pending: list[str], finished: set[str], deps: dict[str, list[str]],
               cost: dict[str, float] | None = None) -> str | None:
    """The notebook of ``pending`` (in reading order) to start next: among those whose
    dependencies have all finished, the one with the costliest chain ahead (:func:`chain_ahead`;
    the first in reading order on ties); None if none is ready. Notebooks not in ``deps`` (e.g.
    left out by ``--only``) count as finished."""
    ready = [nb for nb in pending if all(a in finished or a not in deps for a in deps.get(nb, []))]
    if not ready:
        return None
    ahead = chain_ahead(deps, cost)
    return max(ready, key=lambda nb: (ahead.get(nb, 0.0), -pending.index(nb)))


def threads_per_job(jobs: int, cpus: int | None = None) -> int:
    """``cpus // jobs`` (at least 1) for ``cpus`` (default: the CPUs this process may use)."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // max(1, jobs))


def default_jobs(cpus: int | None = None) -> int:
    """Two notebooks at once when there are at least two CPUs, else one."""
    cpus = cpus if cpus is not None else threads_per_job(1)
    return 2 if cpus >= 2 else 1
