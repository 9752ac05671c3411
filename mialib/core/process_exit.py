"""A quicker end for short-lived processes: skip the interpreter's last garbage collection.

When a Python process that has imported torch, diffusers and scikit-learn exits, the
interpreter's final cyclic garbage collection walks the millions of objects those libraries
created at import, memory the operating system is about to take back anyway. A notebook
kernel spends 2.5-3.1 s on it after its last cell; the runner waits for it after every
notebook. ``gc.freeze()`` run as an exit handler moves every tracked object to the permanent
generation, which that last collection skips: the kernel is gone 0.2-0.3 s after its last cell
(docs/cost.md, "Kernel exit").

Everything else about exiting is unchanged. Exit handlers run in the reverse order of
registration, so the freeze runs after every handler registered before it. Objects freed by
reference counting as modules are torn down are finalized as usual; only objects caught in
reference cycles at exit are no longer collected (they are freed with the process). Files the
library writes are closed when written, and its cache locks are released by the operating
system.
"""

from __future__ import annotations

import atexit
import gc

_registered = False


def skip_final_collection() -> None:
    """Freeze the garbage collector when this process exits (once per process, however often
    it is called). Called by the notebooks' first cell (:meth:`mialib.notebook.results.NotebookRun.start`)
    and by the runner's processes; a library user's own process is left alone unless it calls this."""
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True
