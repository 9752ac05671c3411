"""Deliberate population shifts: shape, range and what each one does."""

from __future__ import annotations

import pytest
import torch

from helpers import gen as _gen


def test_shifts_keep_shape_and_range_and_do_what_they_say():
    from mialib.data.shifts import SHIFTS, shift_population
    x = torch.rand(3, 1, 4, 4, generator=_gen(0)) * 2 - 1
    for kind in SHIFTS:
        y = shift_population(x, kind, 0.5)
        assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1, kind
    torch.testing.assert_close(shift_population(x, "flip"), x.flip(-1))
    torch.testing.assert_close(shift_population(x, "contrast", 1.0), x.mean((1, 2, 3), keepdim=True).expand_as(x))
    torch.testing.assert_close(shift_population(x, "blur", 0.0), x)
    const = torch.full((1, 1, 4, 4), 0.3)
    torch.testing.assert_close(shift_population(const, "blur", 1.0), const)  # a flat image stays flat
    torch.testing.assert_close(shift_population(x, "noise", 0.2, seed=1), shift_population(x, "noise", 0.2, seed=1))
    with pytest.raises(ValueError, match="unknown shift"):
        shift_population(x, "rotate")
    with pytest.raises(ValueError, match="strength"):
        shift_population(x, "blur", 1.5)

