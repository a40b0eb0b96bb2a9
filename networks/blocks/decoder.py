# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""One UNet decoder stage: x2 transposed-conv upsampling, optional skip concatenation, two conv-norm-act layers.

``monai.networks.blocks.UnetrUpBlock`` does the same but always needs a skip tensor; the transformer UNet's stages
may have none (e.g. the last stage of the default configuration), so this stage composes MONAI's
``get_conv_layer`` and ``UnetBasicBlock`` with an optional skip instead.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from monai.networks.blocks.dynunet_block import UnetBasicBlock, get_conv_layer
from torch import nn

__all__ = ["DecoderStage", "conv_stage"]


def conv_stage(
    in_channels: int, out_channels: int, stride: int, norm_name: tuple | str, act_name: tuple | str, num_convs: int
) -> nn.Module:
    """``num_convs`` (1 or 2) 3x3 conv-norm-act layers, the first with ``stride``; 2D.

    Two layers is MONAI's ``UnetBasicBlock``; one layer is a single MONAI ``Convolution`` (ADN order "NA").
    """
    if num_convs == 2:
        return UnetBasicBlock(2, in_channels, out_channels, 3, stride, norm_name=norm_name, act_name=act_name)
    if num_convs == 1:
        return Convolution(2, in_channels, out_channels, strides=stride, kernel_size=3, act=act_name, norm=norm_name)
    raise ValueError(f"num_convs must be 1 or 2, got {num_convs}.")


class DecoderStage(nn.Module):
    """x2 upsampling + optional skip + ``num_convs`` conv3x3-norm-act layers, 2D.

    Args:
        in_channels: channels of the low-resolution input ``(B, in_channels, h, w)``.
        skip_channels: channels of the skip tensor ``(B, skip_channels, 2h, 2w)``; 0 for a stage without skip.
        out_channels: output channels; output is ``(B, out_channels, 2h, 2w)``.
        norm_name: MONAI norm name or ``(name, kwargs)``. Defaults to ``"batch"``.
        act_name: MONAI activation name or ``(name, kwargs)``. Defaults to ``("relu", {"inplace": True})``.
        num_convs: 1 (one ``monai.networks.blocks.Convolution``) or 2 (``UnetBasicBlock``, the classic UNet stage).
            Defaults to 2.
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        norm_name: tuple | str = "batch",
        act_name: tuple | str = ("relu", {"inplace": True}),
        num_convs: int = 2,
    ) -> None:
        super().__init__()
        if num_convs not in (1, 2):
            raise ValueError(f"num_convs must be 1 or 2, got {num_convs}.")
        self.has_skip = skip_channels > 0
        self.up = get_conv_layer(
            2, in_channels, out_channels, kernel_size=2, stride=2, conv_only=True, is_transposed=True
        )
        self.conv = conv_stage(out_channels + skip_channels, out_channels, 1, norm_name, act_name, num_convs)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        x = self.up(x)
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv(x)
