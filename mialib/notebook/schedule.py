"""Which notebooks may run side by side, and with how many threads each.

A notebook names the notebooks whose outputs it reads in its metadata,
``{"mialib": {"after": ["01_train_target_model"]}}`` (02-04 attack the target 01 trains; the
others stand alone). The runner starts up to ``jobs`` notebooks at once, each as soon as the
ones it comes after have finished, the ready one with the most notebooks waiting on it first
(then in reading order), and gives each kernel ``cpu_count // jobs`` threads
(``OMP_NUM_THREADS``), so the processes never compete for a core.

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


def dependencies(notebook: Path) -> list[str]:
    """The stems listed in ``notebook``'s ``metadata.mialib.after`` (ValueError if malformed)."""
    meta = json.loads(Path(notebook).read_text()).get("metadata", {}).get("mialib", {})
    after = meta.get("after", [])
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise ValueError(f"{Path(notebook).name}: metadata.mialib.after must be a list of notebook "
                         f"names, got {after!r}")
    return list(after)


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


def waiting_on(deps: dict[str, list[str]]) -> dict[str, int]:
    """Notebook -> how many notebooks come after it, directly or through others."""
    def later(nb, seen):
        for other, after in deps.items():
            if nb in after and other not in seen:
                seen.add(other)
                later(other, seen)
        return seen
    return {nb: len(later(nb, set())) for nb in deps}


def next_ready(pending: list[str], finished: set[str], deps: dict[str, list[str]]) -> str | None:
    """The notebook of ``pending`` (in reading order) to start next: among those whose
    dependencies have all finished, the one with the most notebooks waiting on it; None if none
    is ready. Notebooks not in ``deps`` (e.g. left out by ``--only``) count as finished."""
    ready = [nb for nb in pending if all(a in finished or a not in deps for a in deps.get(nb, []))]
    if not ready:
        return None
    weight = waiting_on(deps)
    return max(ready, key=lambda nb: (weight.get(nb, 0), -pending.index(nb)))


def threads_per_job(jobs: int, cpus: int | None = None) -> int:
    """``cpus // jobs`` (at least 1) for ``cpus`` (default: the CPUs this process may use)."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // max(1, jobs))


def default_jobs(cpus: int | None = None) -> int:
    """Two notebooks at once when there are at least two CPUs, else one."""
    cpus = cpus if cpus is not None else threads_per_job(1)
    return 2 if cpus >= 2 else 1
