"""Progress bars: tqdm's notebook widget in Jupyter (when ipywidgets is installed), its text bar
elsewhere, and nothing when ``MIALIB_PROGRESS=0`` (the tests set it) or ``enabled=False``; and
diffusers' and transformers' own bars turned off around their saves and loads
(:func:`library_bars_off`)."""

from __future__ import annotations

import contextlib
import os


def progress_enabled() -> bool:
    """False when the environment variable MIALIB_PROGRESS is 0/false/off."""
    return os.environ.get("MIALIB_PROGRESS", "1").strip().lower() not in ("0", "false", "off", "no")


def progress_bar(iterable=None, *, total: int | None = None, desc: str = "", enabled: bool = True,
                 initial: int = 0):
    """A tqdm bar over ``iterable`` (or ``total`` manual updates)."""
    try:
        import ipywidgets  # noqa: F401  (tqdm.auto needs it for the widget bar)
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    return tqdm(iterable, total=total, desc=desc, initial=initial, dynamic_ncols=True,
                mininterval=0.5, disable=not (enabled and progress_enabled()))


@contextlib.contextmanager
def library_bars_off():
    """diffusers' and transformers' own progress bars off for the block, each library's setting
    restored after. Their bars (``save_pretrained``'s "Writing model shards", ``from_pretrained``'s
    "Loading weights" and "Loading pipeline components...") ignore MIALIB_PROGRESS, and an executed
    notebook keeps each as a widget frozen at 0%; around the cache's saves and loads, mialib's own
    bars are the only ones left."""
    from diffusers.utils import logging as diffusers_logging

    undo = []
    if diffusers_logging.is_progress_bar_enabled():
        diffusers_logging.disable_progress_bar()
        undo.append(diffusers_logging.enable_progress_bar)
    try:
        import huggingface_hub.utils as hub
        from transformers.utils import logging as transformers_logging
    except ImportError:  # transformers is only needed by text-to-image models
        transformers_logging = None
    if transformers_logging is not None and transformers_logging.is_progress_bar_enabled():
        hub_bars_were_off = hub.are_progress_bars_disabled()
        transformers_logging.disable_progress_bar()  # turns huggingface_hub's bars off too

        def restore_transformers():
            transformers_logging.enable_progress_bar()  # ... and back on
            if hub_bars_were_off:
                hub.disable_progress_bars()
        undo.append(restore_transformers)
    try:
        yield
    finally:
        for step in reversed(undo):
            step()


class stopwatch:
    """``with stopwatch() as sw: ...`` then ``sw.seconds``: wall time of the block."""

    def __enter__(self):
        import time

        self._start = time.perf_counter()
        self.seconds = float("nan")
        return self

    def __exit__(self, *exc):
        import time

        self.seconds = time.perf_counter() - self._start
        return False
