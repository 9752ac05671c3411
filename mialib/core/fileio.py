"""Atomic writes: a file or folder appears complete or not at all, so an interrupted run
never leaves a half-written split, cache entry or results file behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path, directory: bool = False):
    """Yield a temporary path beside ``target``; on success move it onto ``target``
    (replacing what was there), on error delete it. With ``directory=True`` the temporary
    path is an empty folder."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if directory and target.exists():
            # a folder cannot be renamed onto a non-empty one: move the old one aside to a
            # unique empty folder first (never a name another process could also pick)
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj, indent: int = 2) -> Path:
    """Write ``obj`` as JSON (sorted keys, trailing newline) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=indent, sort_keys=True) + "\n")
    return Path(path)
