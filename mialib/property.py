"""``mialib.property``: property inference (the receiver's attack on a shared model), importable
under this name; the code lives in :mod:`mialib.attacks.property`."""

from .attacks.property import *  # noqa: F401,F403
from .attacks.property import __all__  # noqa: F401
