"""Parameter checks written once: every public entry point (attack settings, metrics, configs)
validates its arguments with these, so a wrong type or range gets the same kind of message
everywhere: a ``ValueError`` that names the parameter, what it must be, and what it got.

A number given as a string, a bool given where a number is meant, or a float where an
integer is meant is an error, never a silent coercion.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import typing

import numpy as np


def _describe(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int, after checking it is an integer (not a bool, float or string)
    in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {_describe(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value}")
    return value


def check_float(value, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in the interval given (``low_open``/``high_open`` exclude
    the ends); ints are accepted, bools and strings are not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {_describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must lie in {left}{lo}, {hi}{right}, got {value:g}")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` if it is a bool (numpy bools included)."""
    if type(value).__name__ not in ("bool", "bool_"):
        raise ValueError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def check_choice(value, name: str, choices) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {_describe(value)}")
    return value


def check_binary(values, name: str) -> np.ndarray:
    """``values`` as an int64 array, after checking it is a non-empty 1-D array of 0s and 1s
    (labels, predictions, a sensitive attribute)."""
    a = np.asarray(values)
    if a.ndim != 1 or len(a) == 0 or not set(np.unique(a)) <= {0, 1}:
        raise ValueError(f"{name} must be a non-empty 1-D array of 0s and 1s")
    return a.astype(np.int64)


_CHECKERS = {int: check_int, float: check_float, bool: check_bool}


def check_field_types(obj) -> None:
    """Check every field of the dataclass instance ``obj`` against its annotation (int, float,
    bool or str; ``X | None`` allows None), so a config built from a YAML file or a notebook
    cell fails at once, naming the field, instead of deep inside a computation."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        hint, value = hints[f.name], getattr(obj, f.name)
        args = typing.get_args(hint)
        if type(None) in args:
            if value is None:
                continue
            hint = next(a for a in args if a is not type(None))
        label = f"{type(obj).__name__}.{f.name}"
        if hint in _CHECKERS:
            _CHECKERS[hint](value, label)
        elif hint is str and not isinstance(value, str):
            raise ValueError(f"{label} must be a string, got {_describe(value)}")
