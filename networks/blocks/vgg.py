# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""VGG-style encoder (the backbone of FCN-8s and SegNet), written from the VGG paper.

"Simonyan and Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition
<https://arxiv.org/abs/1409.1556>". Configuration D (VGG-16): 5 stages of 2, 2, 3, 3, 3 3x3 convolutions with widths
64, 128, 256, 512, 512, each followed by 2x2 max pooling. Here the widths are ``width * (1, 2, 4, 8, 8)`` so that
``width=64`` is the paper's network and the default of the nets that use it is CPU-sized; norm and activation come
from MONAI's factories (batch norm as in SegNet; the original VGG has none).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution
from torch import nn

__all__ = ["VGG16_DEPTHS", "VGGEncoder"]

#: convolutions per stage in VGG-16 (configuration D)
VGG16_DEPTHS: tuple[int, ...] = (2, 2, 3, 3, 3)


class VGGEncoder(nn.Module):
    """VGG conv stacks + 2x2 max pooling; smp encoder contract.

    ``forward(x)`` returns ``[x, p1, p2, p3, p4, p5]``: the input and the pooled output of each stage, from full
    resolution down to 1/32, with channels ``self.out_channels``. ``blocks[i]`` is stage i's conv stack (before
    pooling), for decoders that pool themselves (SegNet keeps the pooling indices).

    Args:
        in_channels: input channels.
        width: channels of the first stage; stages are ``width * (1, 2, 4, 8, 8)``. Defaults to 16 (paper: 64).
        depths: convolutions per stage. Defaults to VGG-16's (2, 2, 3, 3, 3).
        norm: MONAI norm name. Defaults to ``"batch"``.
        act: MONAI activation. Defaults to ``("relu", {"inplace": True})``.
    """

    def __init__(
        self,
        in_channels: int,
        width: int = 16,
        depths: Sequence[int] = VGG16_DEPTHS,
        norm: tuple | str | None = "batch",
        act: tuple | str = ("relu", {"inplace": True}),
    ) -> None:
        super().__init__()
        if width < 1 or len(depths) != 5 or min(depths) < 1:
            raise ValueError(f"VGGEncoder needs width >= 1 and 5 positive stage depths, got {width} and {depths}.")
        widths = [width * m for m in (1, 2, 4, 8, 8)]
        self.out_channels: tuple[int, ...] = (in_channels, *widths)
        self.blocks = nn.ModuleList()
        prev = in_channels
        for w, n in zip(widths, depths, strict=True):
            layers = []
            for _ in range(n):
                layers.append(Convolution(2, prev, w, kernel_size=3, act=act, norm=norm))
                prev = w
            self.blocks.append(nn.Sequential(*layers))
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [x]
        for block in self.blocks:
            x = self.pool(block(x))
            feats.append(x)
        return feats
