"""Deterministic DDIM sampling: the timesteps it queries, class labels and guidance."""

from __future__ import annotations

import pytest
import torch

from mialib.diffusion.models import build_scheduler
from mialib.diffusion.sampling import sample_ddim


class _Recorder(torch.nn.Module):
    """A 'UNet' that predicts zero noise (optionally a label-dependent constant) and records
    every timestep and label it is asked about."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.config = type("C", (), {"in_channels": 1, "sample_size": 4})()
        self.calls = []

    def forward(self, x, t, class_labels=None):
        self.calls.append((t.clone(), None if class_labels is None else class_labels.clone()))
        shift = 0.0 if class_labels is None else class_labels.float().view(-1, 1, 1, 1) * 0.01
        return type("Out", (), {"sample": torch.zeros_like(x) + shift + self.w})()


def test_sampling_walks_the_even_grid_down_to_step_zero():
    unet, abar = _Recorder(), build_scheduler().alphas_cumprod
    out = sample_ddim(unet, abar, 3, steps=5, generator=torch.Generator().manual_seed(0), progress=False)
    queried = [int(t[0]) for t, _ in unet.calls]
    assert queried == [999, 799, 599, 400, 200, 0]
    # with zero predicted noise every DDIM step rescales x by sqrt(abar_u / abar_s), and the clean
    # image predicted at step 0 is x_0 / sqrt(abar_0): the initial noise / sqrt(abar_999), clipped
    x_T = torch.randn((3, 1, 4, 4), generator=torch.Generator().manual_seed(0))
    want = (x_T.double() / abar.double()[999].sqrt()).clamp(-1, 1)
    torch.testing.assert_close(out.double(), want, rtol=1e-5, atol=1e-6)


def test_guidance_queries_the_null_label_and_mixes():
    unet, abar = _Recorder(), build_scheduler().alphas_cumprod
    sample_ddim(unet, abar, 2, steps=2, class_labels=[0, 1], guidance_scale=2.0, null_label=5, progress=False)
    labels = [None if y is None else y.tolist() for _, y in unet.calls]
    assert labels[:2] == [[0, 1], [5, 5]]  # the conditional, then the null-label query
    with pytest.raises(ValueError, match="null_label"):
        sample_ddim(unet, abar, 2, steps=2, class_labels=[0, 1], guidance_scale=1.0, progress=False)
    with pytest.raises(ValueError, match="3 class labels for 2 images"):
        sample_ddim(unet, abar, 2, steps=2, class_labels=[0, 1, 1], progress=False)


class _TextRecorder(torch.nn.Module):
    """A text-conditional 'UNet' (it has a cross_attention_dim) predicting the mean of its
    encoder hidden states as the noise everywhere, recording the states it is given."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.config = type("C", (), {"in_channels": 2, "sample_size": 4, "cross_attention_dim": 3})()
        self.states = []

    def forward(self, x, t, encoder_hidden_states=None):
        self.states.append(encoder_hidden_states.clone())
        return type("Out", (), {"sample": torch.zeros_like(x) + encoder_hidden_states.mean((1, 2)).view(-1, 1, 1, 1)})()


def test_text_conditioned_sampling_guides_against_the_null_embedding():
    abar = build_scheduler().alphas_cumprod
    cond, null = torch.full((2, 5, 3), 0.4), torch.full((5, 3), -0.2)
    unet = _TextRecorder()
    out = sample_ddim(unet, abar, 2, steps=1, cond=cond, null_cond=null, guidance_scale=2.0,
                      generator=torch.Generator().manual_seed(0), progress=False, clip=False)
    assert torch.equal(unet.states[0], cond) and torch.equal(unet.states[1], null.expand(2, 5, 3))
    e = (1 + 2.0) * 0.4 - 2.0 * -0.2   # the guided noise, the same at every query
    x = torch.randn((2, 2, 4, 4), generator=torch.Generator().manual_seed(0)).double()
    a = abar.double()
    x = a[0].sqrt() * (x - (1 - a[999]).sqrt() * e) / a[999].sqrt() + (1 - a[0]).sqrt() * e  # D(x, 999 -> 0)
    want = (x - (1 - a[0]).sqrt() * e) / a[0].sqrt()                                          # x0 at step 0
    assert want.abs().max() > 1  # unclipped (latents are not bounded)
    torch.testing.assert_close(out.double(), want, rtol=1e-4, atol=1e-5)  # float32 arithmetic
    with pytest.raises(ValueError, match="null_cond"):
        sample_ddim(unet, abar, 2, steps=1, cond=cond, guidance_scale=1.0, progress=False)
    with pytest.raises(ValueError, match="3 conditions for 2 samples"):
        sample_ddim(unet, abar, 2, steps=1, cond=torch.zeros(3, 5, 3), progress=False)


def test_the_grid_is_shared_and_even():
    from mialib.diffusion.sampling import timestep_grid
    assert timestep_grid(1000, 5) == [999, 799, 599, 400, 200, 0]
    assert timestep_grid(10, 20) == list(range(9, -1, -1))  # rounding merges repeats


def test_stochastic_sampling_is_seeded_differs_from_deterministic_and_checks_eta():
    unet, abar = _Recorder(), build_scheduler().alphas_cumprod
    draw = lambda eta, seed=0: sample_ddim(unet, abar, 3, steps=4, eta=eta, clip=False, progress=False,
                                           generator=torch.Generator().manual_seed(seed))
    assert torch.equal(draw(1.0), draw(1.0))
    assert not torch.equal(draw(1.0), draw(1.0, seed=1))
    assert not torch.allclose(draw(1.0), draw(0.0))
    assert torch.equal(draw(0.0), sample_ddim(unet, abar, 3, steps=4, clip=False, progress=False,
                                              generator=torch.Generator().manual_seed(0)))
    for bad in (-0.1, 1.5, "1"):
        with pytest.raises(ValueError, match="eta"):
            draw(bad)
