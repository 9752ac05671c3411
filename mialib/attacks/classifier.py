"""A ResNet-18-shaped image classifier (He et al. 2016) for small inputs, written here
because torchvision cannot be installed beside the CPU torch build. SecMI_NNs trains one on
per-pixel error maps; ``width`` scales every stage (64 = ResNet-18's widths)."""

from __future__ import annotations

import torch
from torch import nn


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
