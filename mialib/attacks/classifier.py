"""A ResNet-18-shaped image classifier (He et al. 2016) for small inputs, written here
because torchvision cannot be installed beside the CPU torch build, and the one training
recipe that uses it: train on part of the members and non-members, score the held-out rest.
SecMI_NNs trains it on per-pixel error maps, the blind baseline on the images themselves;
``width`` scales every stage (64 = ResNet-18's widths)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..core.checks import check_float, check_int
from ..core.progress import progress_bar
from ..core.config import Config


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projected) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


class SmallResNet(nn.Module):
    """ResNet-18 layout (2-2-2-2 basic blocks, strides 1-2-2-2) with a 3x3 stem and no
    max-pool, as used for CIFAR-sized inputs; global average pooling makes it work on
    any image size >= 1 pixel. Outputs ``num_classes`` logits."""

    def __init__(self, in_channels: int, num_classes: int = 2, width: int = 64,
                 blocks=(2, 2, 2, 2)):
        super().__init__()
        layers = [nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                  nn.ReLU(inplace=True)]
        c = width
        for i, n in enumerate(blocks):
            c_out = width * 2 ** i
            for j in range(n):
                layers.append(BasicBlock(c, c_out, stride=2 if (i > 0 and j == 0) else 1))
                c = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


@dataclass
class HeldoutScores:
    """Scores of a binary classifier on the images it was NOT trained on, the positions of
    those images in the inputs, and its training loss per epoch."""

    member_scores: torch.Tensor
    nonmember_scores: torch.Tensor
    member_eval_idx: np.ndarray
    nonmember_eval_idx: np.ndarray
    train_loss: list = field(default_factory=list)


@dataclass(frozen=True)
class ClassifierConfig(Config):
    """The held-out classifier recipe: the fraction of each side it trains on, and its
    optimiser (SGD with momentum and weight decay), epochs, batch size and width. The
    defaults are SecMI_NNs's (the paper's); the blind baseline has its own
    (:data:`BLIND_CLASSIFIER`)."""

    train_frac: float = 0.2
    epochs: int = 15
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    width: int = 64

    def validate(self) -> None:
        check_float(self.train_frac, "train_frac", low=0.0, high=1.0, low_open=True, high_open=True)
        check_float(self.lr, "lr", low=0.0, low_open=True)
        check_float(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        check_float(self.weight_decay, "weight_decay", low=0.0)
        for name in ("epochs", "batch_size", "width"):
            check_int(getattr(self, name), name, low=1)


SECMI_NNS_CLASSIFIER = ClassifierConfig()
BLIND_CLASSIFIER = ClassifierConfig(train_frac=0.5, epochs=30, lr=1e-2, width=16)


def heldout_classifier_scores(members: torch.Tensor, nonmembers: torch.Tensor,
                              recipe: ClassifierConfig = SECMI_NNS_CLASSIFIER, *, seed: int = 0,
                              device: str | torch.device = "cpu", progress: bool = False,
                              desc: str = "classifier") -> HeldoutScores:
    """Train a :class:`SmallResNet` to tell ``members`` (label 1) from ``nonmembers`` (label 0),
    both Tensor[N, C, H, W], on a seeded random ``recipe.train_frac`` of each (inputs divided
    by their standard deviation on the training part), and score the rest:
    member-minus-non-member logits, higher = member."""
    for name, x in (("members", members), ("nonmembers", nonmembers)):
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or len(x) == 0:
            raise ValueError(f"{name} must be a non-empty Tensor[N, C, H, W]")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    if members.shape[1:] != nonmembers.shape[1:]:
        raise ValueError(f"members and non-members must be Tensor[N, C, H, W] of one shape, got "
                         f"{tuple(members.shape)} and {tuple(nonmembers.shape)}")
    train_frac, batch_size = recipe.train_frac, recipe.batch_size
    rng = np.random.default_rng(seed)
    m_perm, n_perm = rng.permutation(len(members)), rng.permutation(len(nonmembers))
    m_tr, n_tr = int(round(train_frac * len(members))), int(round(train_frac * len(nonmembers)))
    if min(m_tr, n_tr) < 1 or m_tr == len(members) or n_tr == len(nonmembers):
        raise ValueError(f"train_frac={train_frac} leaves no training or no held-out images "
                         f"({len(members)} members, {len(nonmembers)} non-members)")
    x_tr = torch.cat([members[m_perm[:m_tr]], nonmembers[n_perm[:n_tr]]]).float()
    y_tr = torch.cat([torch.ones(m_tr), torch.zeros(n_tr)]).long()
    scale = x_tr.std().clamp_min(1e-12)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SmallResNet(x_tr.shape[1], 2, width=recipe.width).to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          weight_decay=recipe.weight_decay)
    losses = []
    for _ in progress_bar(range(recipe.epochs), desc=desc, enabled=progress):
        net.train()
        order = torch.randperm(len(x_tr), generator=gen)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            logits = net((x_tr[idx] / scale).to(device))
            loss = torch.nn.functional.cross_entropy(logits, y_tr[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(order))

    @torch.no_grad()
    def score(x):
        net.eval()
        out = []
        for start in range(0, len(x), 512):
            logits = net((x[start:start + 512].float() / scale).to(device)).double().cpu()
            out.append(logits[:, 1] - logits[:, 0])
        return torch.cat(out)

    m_ev, n_ev = np.sort(m_perm[m_tr:]), np.sort(n_perm[n_tr:])
    return HeldoutScores(score(members[m_ev]), score(nonmembers[n_ev]), m_ev, n_ev, losses)
