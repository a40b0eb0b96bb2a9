# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""ResNet-style atrous backbone (BasicBlock, output stride 16), written from the ResNet and DeepLab papers.

"He et al., Deep Residual Learning for Image Recognition <https://arxiv.org/abs/1512.03385>" (BasicBlock, ResNet-18/34
layouts) with the last stage's stride replaced by dilation 2 as in DeepLab-v3 ("Rethinking Atrous Convolution",
<https://arxiv.org/abs/1706.05587>), so the deepest features stay at 1/16. ``monai.networks.nets.ResNet`` has no
dilation option, hence this small module built from MONAI ``Convolution`` layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution
from torch import nn

__all__ = ["AtrousResNetEncoder", "BasicBlock"]


class BasicBlock(nn.Module):
    """Two 3x3 conv-norm layers with an identity (or 1x1 projection) shortcut, ReLU after the sum."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, dilation: int, norm: tuple | str, act: tuple | str
    ) -> None:
        super().__init__()
        self.conv1 = Convolution(
            2,
            in_channels,
            out_channels,
            strides=stride,
            kernel_size=3,
            dilation=dilation,
            act=act,
            norm=norm,
            bias=False,
        )
        self.conv2 = Convolution(
            2, out_channels, out_channels, kernel_size=3, dilation=dilation, act=None, norm=norm, bias=False
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = Convolution(
                2, in_channels, out_channels, strides=stride, kernel_size=1, act=None, norm=norm, bias=False
            )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))


class AtrousResNetEncoder(nn.Module):
    """ResNet stem (7x7/2 conv + 3x3/2 max pool) and 4 BasicBlock stages; stage 4 dilated (output stride 16).

    smp encoder contract: ``forward(x)`` returns ``[x, stem (1/2), layer1 (1/4), layer2 (1/8), layer3 (1/16),
    layer4 (1/16)]`` with channels ``self.out_channels``.

    Args:
        in_channels: input channels.
        width: stem and layer1 width; layers are ``width * (1, 2, 4, 8)``. Defaults to 16 (paper ResNets: 64).
        layers: BasicBlocks per stage. Defaults to (2, 2, 2, 2) (ResNet-18; (3, 4, 6, 3) is ResNet-34).
        norm: MONAI norm name. Defaults to ``"batch"``.
        act: MONAI activation. Defaults to ``("relu", {"inplace": True})``.
    """

    def __init__(
        self,
        in_channels: int,
        width: int = 16,
        layers: Sequence[int] = (2, 2, 2, 2),
        norm: tuple | str = "batch",
        act: tuple | str = ("relu", {"inplace": True}),
    ) -> None:
        super().__init__()
        if width < 1 or len(layers) != 4 or min(layers) < 1:
            raise ValueError(
                f"AtrousResNetEncoder needs width >= 1 and 4 positive layer counts, got {width}, {layers}."
            )
        widths = [width * m for m in (1, 2, 4, 8)]
        self.out_channels: tuple[int, ...] = (in_channels, width, *widths)
        self.stem = Convolution(2, in_channels, width, strides=2, kernel_size=7, act=act, norm=norm, bias=False)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        stages = []
        prev = width
        for i, (w, n) in enumerate(zip(widths, layers, strict=True)):
            stride = 1 if i in (0, 3) else 2  # stage 4 keeps 1/16 ...
            dilation = 2 if i == 3 else 1  # ... and dilates instead (DeepLab-v3, output stride 16)
            blocks = [BasicBlock(prev, w, stride, dilation, norm, act)]
            blocks += [BasicBlock(w, w, 1, dilation, norm, act) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            prev = w
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [x]
        x = self.stem(x)
        feats.append(x)
        x = self.pool(x)
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats
