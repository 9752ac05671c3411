"""One seed for every generator; checked types."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mialib.core.seeding import make_generator, seed_everything


def test_seed_everything_seeds_python_numpy_and_torch():
    g = seed_everything(5)
    a = (random.random(), np.random.rand(), torch.rand(3), torch.rand(2, generator=g))
    torch.manual_seed(5)
    want_torch = torch.rand(3)
    random.seed(5)
    np.random.seed(5)
    assert a[0] == random.random() and a[1] == np.random.rand()
    assert torch.equal(a[2], want_torch) and torch.equal(a[3], torch.rand(2, generator=torch.Generator().manual_seed(5)))
    seed_everything(6)
    assert not torch.equal(torch.rand(3), want_torch)


@pytest.mark.parametrize("bad", ["1", 1.0, True, None])
def test_seeds_must_be_integers(bad):
    with pytest.raises(ValueError, match="seed must be an integer"):
        seed_everything(bad)
    with pytest.raises(ValueError, match="seed must be an integer"):
        make_generator(bad)
