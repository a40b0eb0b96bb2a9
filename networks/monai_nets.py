# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""MONAI reference networks (UNet, SegResNet, UNETR) in 2D, with this package's argument and input-size checks.

The MONAI classes are used unchanged inside :class:`InputSizeGuard`, which only adds the ``ValueError`` on an input
size the network cannot take (MONAI's own nets fail deep inside with a shape error, or silently for UNet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.networks.nets import UNETR, SegResNet, UNet
from torch import nn

from .blocks import check_input_size, check_spatial_dims, nearest_valid_size, to_2tuple

__all__ = ["InputSizeGuard", "monai_segresnet", "monai_unet", "monai_unetr"]


class InputSizeGuard(nn.Module):
    """Run ``net`` after checking the input: H, W multiples of ``divisor``, and equal to ``exact_size`` if given.

    The wrapped network's parameters live under ``net.`` in the state dict.

    Args:
        net: the network.
        divisor: H and W must be multiples of it.
        name: network name used in messages.
        exact_size: ``(H, W)`` the network requires (e.g. UNETR's fixed position table), or None.
    """

    def __init__(self, net: nn.Module, divisor: int, name: str, exact_size: Sequence[int] | None = None) -> None:
        super().__init__()
        self.net = net
        self.divisor = divisor
        self.name = name
        # two ints (0 = any size): an empty list attribute would not script
        self.exact_h = int(exact_size[0]) if exact_size is not None else 0
        self.exact_w = int(exact_size[1]) if exact_size is not None else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, out_channels, H, W)`` from the wrapped network."""
        check_input_size(x, self.divisor, self.name)
        if self.exact_h > 0 and (x.shape[2] != self.exact_h or x.shape[3] != self.exact_w):
            raise ValueError(
                self.name
                + " was built for img_size "
                + str(self.exact_h)
                + "x"
                + str(self.exact_w)
                + " (fixed position embedding), got "
                + str(x.shape[2])
                + "x"
                + str(x.shape[3])
                + "; nearest valid size is "
                + str(self.exact_h)
                + "x"
                + str(self.exact_w)
                + " (resize the input)."
            )
        return self.net(x)


def monai_unet(
    in_channels: int = 3,
    out_channels: int = 1,
    img_size: Sequence[int] | int = 384,
    spatial_dims: int = 2,
    channels: Sequence[int] = (16, 32, 64, 128, 256),
    strides: Sequence[int] = (2, 2, 2, 2),
    num_res_units: int = 2,
    **kwargs: Any,
) -> InputSizeGuard:
    """MONAI ``UNet`` 2D; defaults are the spleen/ventricle bundle configuration (16..256, strides 2, 2 residual units).

    ``img_size`` is ignored (fully convolutional); H and W must be multiples of ``prod(strides)``.
    """
    check_spatial_dims(spatial_dims, "UNet")
    to_2tuple(img_size)
    if len(channels) != len(strides) + 1:
        raise ValueError(f"UNet needs len(channels) == len(strides) + 1, got {len(channels)} and {len(strides)}.")
    divisor = 1
    for s in strides:
        divisor *= int(s)
    net = UNet(2, in_channels, out_channels, channels, strides, num_res_units=num_res_units, **kwargs)
    return InputSizeGuard(net, divisor, "UNet")


def monai_segresnet(
    in_channels: int = 3,
    out_channels: int = 1,
    img_size: Sequence[int] | int = 384,
    spatial_dims: int = 2,
    init_filters: int = 8,
    blocks_down: Sequence[int] = (1, 2, 2, 4),
    **kwargs: Any,
) -> InputSizeGuard:
    """MONAI ``SegResNet`` 2D with ``init_filters=8`` (CPU-sane: ~0.4 M parameters, ~4.4 GFLOPs at 384^2).

    ``img_size`` is ignored; H and W must be multiples of ``2 ** (len(blocks_down) - 1)``.
    """
    check_spatial_dims(spatial_dims, "SegResNet")
    to_2tuple(img_size)
    if init_filters < 1:
        raise ValueError(f"init_filters must be >= 1, got {init_filters}.")
    net = SegResNet(2, init_filters, in_channels, out_channels, blocks_down=tuple(blocks_down), **kwargs)
    return InputSizeGuard(net, 2 ** (len(blocks_down) - 1), "SegResNet")


def monai_unetr(
    in_channels: int = 3,
    out_channels: int = 1,
    img_size: Sequence[int] | int = 384,
    spatial_dims: int = 2,
    **kwargs: Any,
) -> InputSizeGuard:
    """MONAI ``UNETR`` 2D at its defaults (patch 16, hidden 768, MLP 3072, 12 heads, 12 layers, feature 16).

    The input must be exactly ``img_size`` (MONAI's position table is fixed), a multiple of 16.
    """
    check_spatial_dims(spatial_dims, "UNETR")
    size = to_2tuple(img_size)
    if size[0] % 16 or size[1] % 16:
        near = tuple(nearest_valid_size(s, 16) for s in size)
        raise ValueError(f"UNETR img_size must be divisible by its patch size 16, got {size}; nearest valid is {near}.")
    net = UNETR(in_channels, out_channels, size, spatial_dims=2, **kwargs)
    return InputSizeGuard(net, 16, "UNETR", exact_size=size)
