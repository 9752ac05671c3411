"""Progress bars: tqdm's notebook widget in Jupyter (when ipywidgets is installed), its text bar
elsewhere, and nothing when ``MIALIB_PROGRESS=0`` (the tests set it) or ``enabled=False``."""

from __future__ import annotations

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
