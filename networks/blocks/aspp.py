# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Atrous Spatial Pyramid Pooling as in DeepLab-v3, written from the paper.

"Chen et al., Rethinking Atrous Convolution for Semantic Image Segmentation <https://arxiv.org/abs/1706.05587>":
a 1x1 conv, three 3x3 atrous convs (rates 6, 12, 18 at output stride 16) and an image-level pooling branch, each with
batch norm and ReLU, concatenated and projected by a 1x1 conv. ``monai.networks.blocks.SimpleASPP`` has neither the
image-pooling branch nor per-branch normalisation, so this module composes MONAI ``Convolution`` layers instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from torch import nn

__all__ = ["ASPP"]


class ASPP(nn.Module):
    """ASPP, 2D: ``(B, in_channels, h, w)`` -> ``(B, out_channels, h, w)``.

    Args:
        in_channels: input channels.
        out_channels: channels of every branch and of the projection. Defaults to 256 (paper).
        rates: dilation rates of the 3x3 branches. Defaults to (6, 12, 18) (paper, output stride 16).
        dropout_rate: dropout after the projection. Defaults to 0.1 (DeepLab-v3+ reference setting).
        norm: MONAI norm name. Defaults to ``"batch"``.
        act: MONAI activation. Defaults to ``("relu", {"inplace": True})``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 256,
        rates: Sequence[int] = (6, 12, 18),
        dropout_rate: float = 0.1,
        norm: tuple | str = "batch",
        act: tuple | str = ("relu", {"inplace": True}),
    ) -> None:
        super().__init__()
        if min(rates) < 1:
            raise ValueError(f"ASPP rates must be positive, got {tuple(rates)}.")
        branches = [Convolution(2, in_channels, out_channels, kernel_size=1, act=act, norm=norm, bias=False)]
        for r in rates:
            branches.append(
                Convolution(2, in_channels, out_channels, kernel_size=3, dilation=r, act=act, norm=norm, bias=False)
            )
        self.branches = nn.ModuleList(branches)
        # image-level features; no norm here: batch norm on a 1x1 map fails at batch size 1
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), Convolution(2, in_channels, out_channels, kernel_size=1, act=act, norm=None)
        )
        self.project = Convolution(
            2,
            out_channels * (len(rates) + 2),
            out_channels,
            kernel_size=1,
            act=act,
            norm=norm,
            bias=False,
            dropout=dropout_rate,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]
        pooled = self.image_pool(x)
        outs.append(F.interpolate(pooled, size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, dim=1))
