"""DP-SGD for the denoiser (Abadi et al., "Deep learning with differential privacy", CCS 2016,
Algorithm 1; for diffusion models, Dockhorn et al., "Differentially private diffusion models",
TMLR 2023) and its privacy accountant.

One step, with N training images, expected batch B, clipping norm C and noise multiplier σ:

    S ~ Poisson sampling: each image joins the batch independently with probability q = B / N
    g_i = grad of image i's denoising loss, clipped:  g_i * min(1, C / ||g_i||)      (Abadi eq. per-example clipping)
    g   = ( sum_{i in S} g_i + N(0, σ² C² I) ) / B                                    (Abadi Alg. 1, "add noise")

then AdamW takes the step with g. The optimizer and the EMA of the weights only post-process the
noisy gradients, so they keep the guarantee. No batch-level clipping is done on this path.

The per-sample gradients come from opacus (``GradSampleModule``) in its **hooks** mode, chosen by
speed: on the quick UNet, one thread of a 2-core AMD EPYC, a DP step took 3.11x a plain step at an
expected batch of 64 with hooks against 3.93x with functorch (vmap), and 2.78x against 4.05x at 16
(``benchmarks/dp_step.py``, interleaved rounds). The clipping, the sum and the noise are done here, with the training
loop's one generator, so a DP run is seeded, resumable and deterministic like every other run.

The accountant is opacus' Rényi-DP accountant of the Poisson-subsampled Gaussian mechanism
(Mironov, Talwar & Zhang 2019), converted to (ε, δ) with the conversion of Balle et al. 2020.
"""

from __future__ import annotations

import math
import warnings

import torch

# opacus names the mode "hooks": per-layer rules from each layer's activations and backprops.
GRAD_SAMPLE_MODE = "hooks"


def sample_rate(batch_size: int, n_images: int) -> float:
    """Poisson sampling rate q = B / N of an expected batch of ``batch_size`` from ``n_images``."""
    if n_images < 1 or batch_size < 1:
        raise ValueError(f"batch size and number of images must be >= 1, got {batch_size}, {n_images}")
    q = batch_size / n_images
    if q > 1:
        raise ValueError(f"the sampling rate batch_size / n_images = {batch_size} / {n_images} = {q:.3g} is above 1: "
                         "DP-SGD's Poisson sampling needs a batch no larger than the training set")
    return q


def check_privacy(epsilon: float | None, delta: float, n_images: int) -> None:
    """ε must be positive and finite, δ in (0, 1/N): a δ of 1/N or more allows a mechanism that
    publishes one training image outright."""
    if epsilon is not None and not (isinstance(epsilon, (int, float)) and 0 < epsilon < math.inf):
        raise ValueError(f"epsilon must be a positive finite number, got {epsilon!r}")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1.0 / n_images):
        raise ValueError(f"delta must lie in (0, 1/n) = (0, {1.0 / n_images:.3g}) for n = {n_images} training "
                         f"images, got {delta!r}")


def _accountant(noise_multiplier: float, q: float, steps: int):
    from opacus.accountants import RDPAccountant

    acc = RDPAccountant()
    acc.history = [(float(noise_multiplier), float(q), int(steps))]
    return acc


def epsilon(noise_multiplier: float, q: float, steps: int, delta: float) -> float:
    """The accountant's ε after ``steps`` steps of the subsampled Gaussian mechanism with noise
    multiplier σ and sampling rate q, at ``delta`` (inf for σ = 0)."""
    if noise_multiplier < 0 or not 0 < q <= 1 or steps < 1 or not 0 < delta < 1:
        raise ValueError(f"need sigma >= 0, 0 < q <= 1, steps >= 1, 0 < delta < 1; got {noise_multiplier}, {q}, "
                         f"{steps}, {delta}")
    if noise_multiplier == 0:
        return math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # opacus warns about the optimal order at the grid's edge
        return float(_accountant(noise_multiplier, q, steps).get_epsilon(delta=delta))


MAX_NOISE = 1e4  # a noise multiplier above this trains nothing; asking for it is a mistake


def noise_for_epsilon(target_epsilon: float, delta: float, q: float, steps: int, tolerance: float = 0.01) -> float:
    """The smallest noise multiplier σ (to ``tolerance`` in ε) whose accountant's ε after
    ``steps`` steps at sampling rate q is at most ``target_epsilon``: a bisection on
    :func:`epsilon`, which decreases in σ. A ValueError if even σ = MAX_NOISE does not reach it."""
    if not 0 < target_epsilon < math.inf:
        raise ValueError(f"epsilon must be a positive finite number, got {target_epsilon!r}")
    lo, hi = 0.0, 1.0
    while epsilon(hi, q, steps, delta) > target_epsilon:
        lo, hi = hi, 2 * hi
        if hi > MAX_NOISE:
            raise ValueError(f"no noise multiplier up to {MAX_NOISE:g} reaches epsilon = {target_epsilon:g} at "
                             f"delta = {delta:g} with {steps} steps at sampling rate {q:.3g}: take fewer steps, a "
                             "smaller batch or a larger epsilon")
    while True:
        mid = (lo + hi) / 2
        eps = epsilon(mid, q, steps, delta)
        if eps > target_epsilon:
            lo = mid
        else:
            hi = mid
            if target_epsilon - eps < tolerance * target_epsilon:
                return hi


def unsupported_layers(model: torch.nn.Module) -> list[str]:
    """The layers (``name (type)``) whose own trainable parameters opacus' hooks mode has no
    per-sample gradient rule for, and the layers opacus refuses outright (batch norm mixes the
    images of a batch); empty when the model can be trained with DP-SGD."""
    from opacus.grad_sample import GradSampleModule
    from opacus.validators import ModuleValidator

    bad = []
    for name, module in model.named_modules():
        own = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if own and type(module) not in GradSampleModule.GRAD_SAMPLERS:
            bad.append(f"{name or 'model'} ({type(module).__name__})")
    for err in ModuleValidator.validate(model, strict=False):
        bad.append(str(err))
    return sorted(set(bad))


def check_private_model(model: torch.nn.Module) -> None:
    """A ValueError naming every layer DP-SGD cannot train (:func:`unsupported_layers`)."""
    bad = unsupported_layers(model)
    if bad:
        raise ValueError("DP-SGD needs a per-sample gradient for every trainable layer; opacus cannot give one for: "
                         + "; ".join(bad))


class PerSampleGradients:
    """``model`` with opacus' per-sample gradient hooks: after a backward pass of a loss that is a
    MEAN over the batch, each trainable parameter carries ``grad_sample`` [B, *shape], the gradient
    of each image's own loss. Call :meth:`private_gradient` once per step."""

    def __init__(self, model: torch.nn.Module):
        from opacus.grad_sample import GradSampleModule

        check_private_model(model)
        self.module = GradSampleModule(model, batch_first=True, loss_reduction="mean", strict=True,
                                       force_functorch=GRAD_SAMPLE_MODE != "hooks")
        self.params = [p for p in model.parameters() if p.requires_grad]

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def per_sample(self) -> list[torch.Tensor]:
        """Each parameter's per-sample gradients [B, *shape] from the last backward pass."""
        out = []
        for p in self.params:
            gs = p.grad_sample
            out.append(torch.stack(gs).sum(0) if isinstance(gs, list) else gs)
        return out

    def close(self) -> None:
        """Remove the hooks and the per-sample gradients: the model is a plain module again."""
        for p in self.params:
            p.grad_sample = None
        self.module.to_standard_module()

    def private_gradient(self, clip: float, noise_multiplier: float, expected_batch: float,
                         generator: torch.Generator, batch_size: int) -> torch.Tensor:
        """Set every parameter's ``.grad`` to the DP-SGD gradient (module docstring) from the
        per-sample gradients of the last backward pass (``batch_size`` images; 0: an empty Poisson
        batch, noise only); the noise is drawn from ``generator`` (on the CPU) in parameter order.
        Returns the per-sample gradient norms before clipping."""
        if batch_size > 0:
            grads = self.per_sample()
            norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads]).norm(dim=0)
            factor = (clip / (norms + 1e-6)).clamp(max=1.0)
            summed = [torch.einsum("i,i...->...", factor, g) for g in grads]
        else:
            norms = torch.zeros(0)
            summed = [torch.zeros_like(p) for p in self.params]
        for p, s in zip(self.params, summed):
            noise = torch.randn(p.shape, generator=generator) * (noise_multiplier * clip)
            p.grad = (s + noise.to(s.device)) / expected_batch
            p.grad_sample = None
        return norms
