"""Data: image sets in [-1, 1] (:mod:`.images`), where they come from (:mod:`.loaders`), the
coloured digits of the sharing experiments (:mod:`.coloured`) and their caption vocabulary
(:mod:`.captions`), member / non-member splits (:mod:`.splits`), deliberate distribution shifts
(:mod:`.shifts`) and externally produced score files (:mod:`.external`)."""

from .images import ImageSet, fingerprint, resize, subset, to_unit_range
from .loaders import (DataNotFoundError, load_cifar10, load_dataset, load_digits, load_image_folder)

__all__ = ["ImageSet", "fingerprint", "resize", "subset", "to_unit_range", "DataNotFoundError",
           "load_cifar10", "load_dataset", "load_digits", "load_image_folder"]
