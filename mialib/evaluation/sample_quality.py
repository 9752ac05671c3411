"""Are a generator's samples digits? A check of sample quality before anything is concluded from
a model's samples (notebooks 05 and 06).

The measure is *precision* in the sense of Kynkäänniemi et al. (NeurIPS 2019, "Improved precision
and recall metric for assessing generative models"): the real images are a manifold estimated by
a ball around each real image reaching its k-th nearest real neighbour (k = 3), and precision is
the share of samples that fall inside at least one ball. Colour static, blobs and half-formed
strokes fall outside every ball; blurred but recognisable digits fall inside. Held-out real digits
give the reference: most, not all, of them fall inside (:attr:`SampleQuality.real_precision`).
A model's samples are good enough when

    precision(samples) >= QUALITY_BAR * precision(held-out real digits),

with :data:`QUALITY_BAR` = 0.8: four out of five samples as realistic as real digits are.
Precision does not measure diversity (a model that copies its training set passes).

Images are compared by their grey intensity, so the ink (the property of notebooks 05 and 06)
neither helps nor hurts: coloured RGB images through (R + B) / 1.1, which undoes
:func:`mialib.data.coloured.colourise` exactly; grey images directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.checks import check_float, check_int
from ..data.coloured import grey_intensity

QUALITY_BAR = 0.8     # a model passes when its precision is at least this share of real digits' precision
NEIGHBOURS = 3        # k of the k-nearest-neighbour balls (Kynkäänniemi et al. 2019 use 3)


def intensity_features(images) -> np.ndarray:
    """[N, H*W] grey intensities in [0, 1] of grey ([N, 1, H, W]) or coloured ([N, 3, H, W]) images
    in [-1, 1]."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3) or not len(images):
        raise ValueError("sample quality needs a non-empty Tensor[N, 1 or 3, H, W] of images in [-1, 1], got "
                         + (f"shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__))
    grey = grey_intensity(images) if images.shape[1] == 3 else (images.detach().double().cpu()[:, 0] + 1) / 2
    return grey.reshape(len(grey), -1).clamp(0, 1).numpy()


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``a`` and of ``b`` (float64)."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(sq, 0.0, None))


@dataclass
class SampleQuality:
    """The real manifold (real features and each one's k-NN radius) and the precision of held-out
    real images against it, the reference of the bar."""

    real: np.ndarray
    radii: np.ndarray
    real_precision: float
    n_held_out: int
    k: int

    @classmethod
    def fit(cls, real_images, held_out_images, *, k: int = NEIGHBOURS) -> "SampleQuality":
        """The manifold of ``real_images`` (e.g. the sharer's pool) and the precision of
        ``held_out_images`` (real images not in it, e.g. the receiver's test digits)."""
        real = intensity_features(real_images)
        k = check_int(k, "k", low=1, high=len(real) - 1)
        d = _pairwise(real, real)
        radii = np.sort(d, axis=1)[:, k]  # column 0 is the image itself
        quality = cls(real, radii, 0.0, 0, k)
        held = intensity_features(held_out_images)
        quality.real_precision, quality.n_held_out = quality.precision_of_features(held), len(held)
        return quality

    @property
    def bar_precision(self) -> float:
        """The precision a model's samples need: :data:`QUALITY_BAR` times the real digits'."""
        return QUALITY_BAR * self.real_precision

    def precision_of_features(self, x: np.ndarray) -> float:
        """The share of rows of ``x`` inside at least one real image's ball."""
        inside = np.zeros(len(x), dtype=bool)
        for start in range(0, len(x), 512):
            inside[start:start + 512] = (_pairwise(x[start:start + 512], self.real) <= self.radii[None]).any(1)
        return float(inside.mean())

    def precision(self, images) -> float:
        """Precision (Kynkäänniemi et al. 2019) of ``images`` against the real manifold."""
        x = intensity_features(images)
        if x.shape[1] != self.real.shape[1]:
            raise ValueError(f"images of {x.shape[1]} pixels cannot be set against real ones of {self.real.shape[1]}")
        return self.precision_of_features(x)

    def check(self, images, *, bar: float = QUALITY_BAR) -> dict:
        """The precision of ``images``, its ratio to the held-out real digits' and whether it meets
        ``bar`` (module docstring); with the exact (Clopper-Pearson) 95% interval of the precision
        over these samples, and ``near_bar``: whether that interval holds the bar's precision, so
        that another draw of as many samples could land on the other side of the bar (the real
        digits' own precision is taken as exact)."""
        from scipy.stats import binomtest

        bar = check_float(bar, "bar", low=0.0, high=1.0)
        precision = self.precision(images)
        ratio = precision / self.real_precision if self.real_precision > 0 else float("nan")
        n = int(len(images))
        ci = binomtest(int(round(precision * n)), n).proportion_ci(confidence_level=0.95, method="exact")
        return {"n_samples": n, "precision": precision, "real_precision": self.real_precision,
                "ratio_to_real": ratio, "bar": bar, "passes": bool(ratio >= bar), "k": self.k,
                "precision_ci": [float(ci.low), float(ci.high)],
                "near_bar": bool(ci.low <= bar * self.real_precision <= ci.high)}
