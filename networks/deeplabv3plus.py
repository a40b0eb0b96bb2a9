# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""DeepLab-v3+, written here from the paper (no code copied; Apache-2.0 like this project).

Origin: "Chen et al., Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation
<https://arxiv.org/abs/1802.02611>". Encoder: an atrous backbone at output stride 16 and ASPP (rates 6, 12, 18 +
image pooling). Decoder: the ASPP output upsampled x4 (bilinear) and concatenated with the 1/4 low-level backbone
features projected to 48 channels by a 1x1 conv; two 3x3 convs; a 1x1 classifier; bilinear x4 to the input size.

Differences from the paper: the backbone is a ResNet-18-style atrous encoder (the paper uses Xception / ResNet-101)
of ``width=16`` (ResNet: 64), ASPP and decoder at ``aspp_channels=64`` (paper: 256), plain (not depthwise-separable)
3x3 convs, no pretrained weights. The paper's 48-channel low-level projection is kept. ``width=64,
layers=(3, 4, 6, 3), aspp_channels=256`` gives a ResNet-34 DeepLab-v3+ like the common reference implementations.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from torch import nn

from .blocks import check_input_size, check_spatial_dims, to_2tuple
from .blocks.aspp import ASPP
from .blocks.resnet import AtrousResNetEncoder

__all__ = ["DeepLabV3Plus"]


class DeepLabV3Plus(nn.Module):
    """DeepLab-v3+ (atrous ResNet backbone at output stride 16, ASPP, low-level decoder), 2D, logits out.

    Args:
        in_channels: input channels. Defaults to 3.
        out_channels: output channels (1 for BCE, 2+ for softmax). Defaults to 1.
        img_size: accepted for registry uniformity and ignored (fully convolutional). Defaults to 384.
        width: backbone width; layers are ``width * (1, 2, 4, 8)``. Defaults to 16 (paper backbones: 64).
        layers: BasicBlocks per backbone stage. Defaults to (2, 2, 2, 2).
        aspp_channels: ASPP and decoder width. Defaults to 64 (paper: 256).
        aspp_rates: atrous rates. Defaults to (6, 12, 18).
        low_level_channels: width of the 1x1 projection of the 1/4 features. Defaults to 48 (paper).
        dropout_rate: dropout after the ASPP projection. Defaults to 0.1.
        norm: MONAI norm name. Defaults to ``"batch"``.
        act: MONAI activation. Defaults to ``("relu", {"inplace": True})``.
        spatial_dims: must be 2. Defaults to 2.

    Examples::

        >>> net = DeepLabV3Plus(in_channels=3, out_channels=1)
        >>> net(torch.rand(1, 3, 384, 384)).shape
        torch.Size([1, 1, 384, 384])

    See Also:
        :class:`networks.FCN8s`, :class:`networks.SegNet`.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        img_size: Sequence[int] | int = 384,
        width: int = 16,
        layers: Sequence[int] = (2, 2, 2, 2),
        aspp_channels: int = 64,
        aspp_rates: Sequence[int] = (6, 12, 18),
        low_level_channels: int = 48,
        dropout_rate: float = 0.1,
        norm: tuple | str = "batch",
        act: tuple | str = ("relu", {"inplace": True}),
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims, "DeepLabV3Plus")
        to_2tuple(img_size)
        if min(in_channels, out_channels, aspp_channels, low_level_channels) < 1:
            raise ValueError("in_channels, out_channels, aspp_channels and low_level_channels must be >= 1.")
        if not 0.0 <= dropout_rate <= 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1], got {dropout_rate}.")
        self.divisor = 16  # output stride: H and W must be multiples of it
        self.encoder = AtrousResNetEncoder(in_channels, width, layers, norm, act)
        ch = self.encoder.out_channels
        self.aspp = ASPP(ch[5], aspp_channels, aspp_rates, dropout_rate, norm, act)
        self.low_level = Convolution(2, ch[2], low_level_channels, kernel_size=1, act=act, norm=norm, bias=False)
        self.decoder = nn.Sequential(
            Convolution(
                2, aspp_channels + low_level_channels, aspp_channels, kernel_size=3, act=act, norm=norm, bias=False
            ),
            Convolution(2, aspp_channels, aspp_channels, kernel_size=3, act=act, norm=norm, bias=False),
        )
        self.classifier = nn.Conv2d(aspp_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, out_channels, H, W)`` for ``x`` ``(B, in_channels, H, W)``, H and W multiples of 16."""
        check_input_size(x, self.divisor, "DeepLabV3Plus")
        feats = self.encoder(x)
        low = self.low_level(feats[2])
        high = F.interpolate(
            self.aspp(feats[5]), size=(low.shape[2], low.shape[3]), mode="bilinear", align_corners=False
        )
        y = self.classifier(self.decoder(torch.cat([high, low], dim=1)))
        return F.interpolate(y, size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=False)
