"""Skipping the last garbage collection at exit: the exit handlers still run, the collector
is frozen after them, once however often it is asked for, and the process exits cleanly."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import atexit, gc, sys
atexit.register(lambda: print("earlier handler ran, frozen:", gc.get_freeze_count() > 0, flush=True))
from mialib.core.process_exit import skip_final_collection
n0 = atexit._ncallbacks()
skip_final_collection()
n1 = atexit._ncallbacks()
skip_final_collection()
print("handlers added:", n1 - n0, atexit._ncallbacks() - n1, flush=True)
atexit.register(lambda: print("later handler ran, frozen:", gc.get_freeze_count() > 0, flush=True))
"""


def test_the_freeze_runs_once_after_the_handlers_registered_before_it():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # exit handlers run last-in first-out: the later one before the freeze, the earlier one after it
    assert lines[0] == "handlers added: 1 0" and lines[1:] == ["later handler ran, frozen: False",
                                                              "earlier handler ran, frozen: True"]


def test_without_it_nothing_is_frozen_at_exit():
    child = CHILD.replace("\nskip_final_collection()\n", "\n")
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.splitlines() == ["handlers added: 0 0",
                                                               "later handler ran, frozen: False",
                                                               "earlier handler ran, frozen: False"]
