# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""FCN-8s over a VGG-16-style backbone, written here from the paper (no code copied; Apache-2.0 like this project).

Origin: "Long, Shelhamer and Darrell, Fully Convolutional Networks for Semantic Segmentation
<https://arxiv.org/abs/1411.4038>". FCN-8s: VGG-16 conv stages, fc6/fc7 turned into convolutions, a 1x1 score layer
on fc7 (1/32), pool4 (1/16) and pool3 (1/8); the 1/32 scores are upsampled x2 by a transposed convolution
(bilinear-initialised) and summed with the pool4 scores, upsampled x2 again and summed with the pool3 scores, then
upsampled x8 to the input.

Differences from the paper, all for this task's small CPU-trained setting and stated here:
- widths: backbone ``width=16`` (paper 64) and ``fc_channels=256`` (paper 4096), fc6 as a 3x3 conv (paper 7x7);
  ``width=64, fc_channels=4096, fc_kernel_size=7`` restores the paper's sizes;
- batch norm after every conv (the paper has none; it fine-tuned from ImageNet weights, which are not used here);
- "same" padding instead of the paper's 100-pixel input padding and crops, so H and W must be multiples of 32;
- no pretrained weights (no downloads at run time).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.blocks import Convolution
from torch import nn

from .blocks import check_input_size, check_spatial_dims, to_2tuple
from .blocks.vgg import VGG16_DEPTHS, VGGEncoder

__all__ = ["FCN8s"]


def _bilinear_kernel(channels: int, factor: int) -> torch.Tensor:
    """Weights ``(C, C, 2f, 2f)`` that make a stride-f transposed conv a per-channel bilinear upsampler (FCN init)."""
    size = 2 * factor
    center = factor - 0.5
    og = torch.arange(size, dtype=torch.float32)
    filt = 1 - (og - center).abs() / factor
    kernel = filt[:, None] * filt[None, :]
    weight = torch.zeros(channels, channels, size, size)
    for c in range(channels):
        weight[c, c] = kernel
    return weight


class FCN8s(nn.Module):
    """FCN-8s (VGG-16 style backbone, skip fusion at 1/16 and 1/8), 2D, logits out.

    Args:
        in_channels: input channels. Defaults to 3.
        out_channels: output channels (1 for BCE, 2+ for softmax). Defaults to 1.
        img_size: accepted for registry uniformity and ignored (fully convolutional). Defaults to 384.
        width: backbone first-stage width; stages are ``width * (1, 2, 4, 8, 8)``. Defaults to 16 (paper: 64).
        fc_channels: width of fc6/fc7 as convolutions. Defaults to 256 (paper: 4096).
        fc_kernel_size: fc6 kernel size (odd). Defaults to 3 (paper: 7).
        depths: convolutions per backbone stage. Defaults to VGG-16's (2, 2, 3, 3, 3).
        dropout_rate: dropout after fc6 and fc7 (paper 0.5). Defaults to 0.5.
        norm: MONAI norm name. Defaults to ``"batch"``.
        act: MONAI activation. Defaults to ``("relu", {"inplace": True})``.
        spatial_dims: must be 2. Defaults to 2.

    Examples::

        >>> net = FCN8s(in_channels=3, out_channels=1)
        >>> net(torch.rand(1, 3, 384, 384)).shape
        torch.Size([1, 1, 384, 384])

    See Also:
        :class:`networks.SegNet`, :class:`networks.DeepLabV3Plus`.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        img_size: Sequence[int] | int = 384,
        width: int = 16,
        fc_channels: int = 256,
        fc_kernel_size: int = 3,
        depths: Sequence[int] = VGG16_DEPTHS,
        dropout_rate: float = 0.5,
        norm: tuple | str = "batch",
        act: tuple | str = ("relu", {"inplace": True}),
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims, "FCN8s")
        to_2tuple(img_size)
        self.divisor = 32  # total downsampling: H and W must be multiples of it
        if in_channels < 1 or out_channels < 1 or fc_channels < 1:
            raise ValueError(
                f"in_channels, out_channels and fc_channels must be >= 1, got {in_channels}, "
                f"{out_channels}, {fc_channels}."
            )
        if fc_kernel_size < 1 or fc_kernel_size % 2 == 0:
            raise ValueError(f"fc_kernel_size must be a positive odd number, got {fc_kernel_size}.")
        if not 0.0 <= dropout_rate <= 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1], got {dropout_rate}.")
        self.encoder = VGGEncoder(in_channels, width, depths, norm, act)
        ch = self.encoder.out_channels
        self.fc = nn.Sequential(
            Convolution(2, ch[5], fc_channels, kernel_size=fc_kernel_size, act=act, norm=norm),
            nn.Dropout2d(dropout_rate),
            Convolution(2, fc_channels, fc_channels, kernel_size=1, act=act, norm=norm),
            nn.Dropout2d(dropout_rate),
        )
        self.score_fc = nn.Conv2d(fc_channels, out_channels, 1)
        self.score_pool4 = nn.Conv2d(ch[4], out_channels, 1)
        self.score_pool3 = nn.Conv2d(ch[3], out_channels, 1)
        self.up2_fc = nn.ConvTranspose2d(out_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.up2_pool4 = nn.ConvTranspose2d(out_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.up8 = nn.ConvTranspose2d(out_channels, out_channels, 16, stride=8, padding=4, bias=False)
        with torch.no_grad():  # the paper initialises the upsamplers to bilinear interpolation and learns them
            self.up2_fc.weight.copy_(_bilinear_kernel(out_channels, 2))
            self.up2_pool4.weight.copy_(_bilinear_kernel(out_channels, 2))
            self.up8.weight.copy_(_bilinear_kernel(out_channels, 8))
        for score in (self.score_pool4, self.score_pool3):  # the paper zero-initialises the skip scores
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, out_channels, H, W)`` for ``x`` ``(B, in_channels, H, W)``, H and W multiples of 32."""
        check_input_size(x, self.divisor, "FCN8s")
        feats = self.encoder(x)
        score = self.up2_fc(self.score_fc(self.fc(feats[5])))  # 1/16
        score = self.up2_pool4(score + self.score_pool4(feats[4]))  # 1/8
        return self.up8(score + self.score_pool3(feats[3]))  # 1/1
