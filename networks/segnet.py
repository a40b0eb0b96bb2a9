# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""SegNet, written here from the paper (no code copied; Apache-2.0 like this project).

Origin: "Badrinarayanan, Kendall and Cipolla, SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image
Segmentation <https://arxiv.org/abs/1511.00561>". Encoder: the 13 conv layers of VGG-16 with batch norm and ReLU, 2x2
max pooling that keeps the argmax indices. Decoder: a mirror of the encoder; each stage upsamples with the indices of
the matching pooling layer (max-unpooling, ``torch.nn.MaxUnpool2d`` / ``F.max_unpool2d``) and applies
convolutions with batch norm; a final 1x1 classifier gives the logits.

Differences from the paper: widths ``width * (1, 2, 4, 8, 8)`` with ``width=16`` by default (paper: 64) so the network
trains on a CPU; ``width=64`` is the paper's size (~29 M parameters, ~190 GFLOPs at 384^2). No pretrained weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from torch import nn

from .blocks import check_input_size, check_spatial_dims, to_2tuple
from .blocks.vgg import VGG16_DEPTHS, VGGEncoder

__all__ = ["SegNet"]


class SegNet(nn.Module):
    """SegNet encoder-decoder with max-pooling indices, 2D, logits out.

    Args:
        in_channels: input channels. Defaults to 3.
        out_channels: output channels (1 for BCE, 2+ for softmax). Defaults to 1.
        img_size: accepted for registry uniformity and ignored (fully convolutional). Defaults to 384.
        width: first-stage width; stages are ``width * (1, 2, 4, 8, 8)``. Defaults to 16 (paper: 64).
        depths: convolutions per encoder stage (mirrored in the decoder). Defaults to VGG-16's (2, 2, 3, 3, 3).
        norm: MONAI norm name. Defaults to ``"batch"``.
        act: MONAI activation. Defaults to ``("relu", {"inplace": True})``.
        spatial_dims: must be 2. Defaults to 2.

    Examples::

        >>> net = SegNet(in_channels=3, out_channels=1)
        >>> net(torch.rand(1, 3, 384, 384)).shape
        torch.Size([1, 1, 384, 384])

    See Also:
        :class:`networks.FCN8s`, :class:`networks.DeepLabV3Plus`.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        img_size: Sequence[int] | int = 384,
        width: int = 16,
        depths: Sequence[int] = VGG16_DEPTHS,
        norm: tuple | str = "batch",
        act: tuple | str = ("relu", {"inplace": True}),
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        check_spatial_dims(spatial_dims, "SegNet")
        to_2tuple(img_size)
        self.divisor = 32  # total downsampling: H and W must be multiples of it
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"in_channels and out_channels must be >= 1, got {in_channels} and {out_channels}.")
        self.encoder = VGGEncoder(in_channels, width, depths, norm, act)
        ch = self.encoder.out_channels  # (in, w, 2w, 4w, 8w, 8w)
        # decoder stage i (deep to shallow) mirrors encoder stage 4 - i: convs at ch[5-i], the last one maps to the
        # width of the next shallower stage (the paper's decoder mirrors the encoder the same way)
        self.decoder = nn.ModuleList()
        for i in range(5):
            stage = 4 - i
            c_in = ch[stage + 1]
            c_out = ch[stage] if stage > 0 else ch[1]
            layers = []
            for j in range(depths[stage]):
                last = j == depths[stage] - 1
                layers.append(Convolution(2, c_in, c_out if last else c_in, kernel_size=3, act=act, norm=norm))
            self.decoder.append(nn.Sequential(*layers))
        self.classifier = nn.Conv2d(ch[1], out_channels, 1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[list[int]]]:
        """Encoder: returns the 1/32 features, the pooling indices and the pre-pooling sizes (shallow to deep)."""
        indices: list[torch.Tensor] = []
        sizes: list[list[int]] = []
        for block in self.encoder.blocks:
            x = block(x)
            sizes.append([x.shape[2], x.shape[3]])
            x, idx = F.max_pool2d_with_indices(x, 2, 2)
            indices.append(idx)
        return x, indices, sizes

    def decode(self, x: torch.Tensor, indices: list[torch.Tensor], sizes: list[list[int]]) -> torch.Tensor:
        """Decoder: max-unpool with the stored indices, convolve; returns logits."""
        for i, stage in enumerate(self.decoder):
            k = len(indices) - 1 - i
            # functional form of nn.MaxUnpool2d(2, 2): the module form fails torch.jit.script in torch 2.13
            x = F.max_unpool2d(x, indices[k], 2, 2, output_size=sizes[k])
            x = stage(x)
        return self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, out_channels, H, W)`` for ``x`` ``(B, in_channels, H, W)``, H and W multiples of 32."""
        check_input_size(x, self.divisor, "SegNet")
        x, indices, sizes = self.encode(x)
        return self.decode(x, indices, sizes)
