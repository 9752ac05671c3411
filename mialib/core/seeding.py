"""One seed for every random number generator a notebook touches."""

from __future__ import annotations

import random

import numpy as np
import torch

from .checks import check_int


def seed_everything(seed: int) -> torch.Generator:
    """Seed python's ``random``, numpy's legacy global state and torch (CPU and CUDA), ask
    torch for deterministic algorithms where it has them, and return a fresh CPU
    ``torch.Generator`` seeded with ``seed`` for code that takes an explicit generator."""
    seed = check_int(seed, "seed")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded with ``seed``."""
    return torch.Generator(device=device).manual_seed(check_int(seed, "seed"))
