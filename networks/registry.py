# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Name -> factory registry of every network in the package (smp ``create_model`` style).

Every factory takes ``in_channels``, ``out_channels``, ``img_size`` (int or ``(H, W)``; ignored by fully
convolutional nets) and ``spatial_dims`` (2 only), plus the network's own keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from .deeplabv3plus import DeepLabV3Plus
from .fcn import FCN8s
from .monai_nets import monai_segresnet, monai_unet, monai_unetr
from .segnet import SegNet
from .transformer_unet import TransformerUNet

__all__ = ["NETWORKS", "available_networks", "create_network"]


def _transformer_unet_paper(**kwargs: Any) -> TransformerUNet:
    """``TransformerUNet(preset="paper")``: the paper's literal 3x3 patch grid with transformer skips."""
    return TransformerUNet(preset="paper", **kwargs)


#: registry name -> factory; every factory returns an ``nn.Module`` that maps (B, C_in, H, W) to logits (B, C_out, H, W)
NETWORKS: dict[str, Callable[..., nn.Module]] = {
    "transformer_unet": TransformerUNet,
    "transformer_unet_paper": _transformer_unet_paper,
    "fcn8s": FCN8s,
    "segnet": SegNet,
    "deeplabv3plus": DeepLabV3Plus,
    "unet": monai_unet,
    "segresnet": monai_segresnet,
    "unetr": monai_unetr,
}


def available_networks() -> list[str]:
    """Registered network names, in registry order (the project's default first)."""
    return list(NETWORKS)


def create_network(
    name: str, *, in_channels: int = 3, out_channels: int = 1, img_size: Sequence[int] | int = 384, **kwargs: Any
) -> nn.Module:
    """Build a registered network by name.

    Args:
        name: one of :func:`available_networks`.
        in_channels: input channels (1 grey, 3 pseudocolor). Defaults to 3.
        out_channels: logit channels (1 for BCE, 2+ for softmax). Defaults to 1.
        img_size: training/inference size ``(H, W)`` or int; fixes transformer position tables. Defaults to 384.
        kwargs: network-specific arguments (e.g. ``hidden_size``, ``width``, ``spatial_dims``).

    Raises:
        ValueError: unknown name (the message lists the valid names) or invalid arguments.

    Example::

        >>> net = create_network("transformer_unet", in_channels=3, out_channels=1, img_size=[384, 384])
    """
    if name not in NETWORKS:
        raise ValueError(f"Unknown network {name!r}; valid names: {', '.join(available_networks())}.")
    if isinstance(img_size, Sequence) and not isinstance(img_size, str):
        img_size = tuple(img_size)  # JSON configs give lists
    return NETWORKS[name](in_channels=in_channels, out_channels=out_channels, img_size=img_size, **kwargs)
