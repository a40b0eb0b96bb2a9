# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Segmentation networks of the renogram bundle: the paper's TransformerUNet, ported FCN-8s / SegNet / DeepLab-v3+,
MONAI references, and a name registry (``create_network``). All are 2D and return logits ``(B, C_out, H, W)``."""

from __future__ import annotations

from .deeplabv3plus import DeepLabV3Plus
from .fcn import FCN8s
from .monai_nets import InputSizeGuard, monai_segresnet, monai_unet, monai_unetr
from .registry import NETWORKS, available_networks, create_network
from .segnet import SegNet
from .transformer_unet import PRESETS, TransformerUNet

__all__ = [
    "NETWORKS",
    "PRESETS",
    "DeepLabV3Plus",
    "FCN8s",
    "InputSizeGuard",
    "SegNet",
    "TransformerUNet",
    "available_networks",
    "create_network",
    "monai_segresnet",
    "monai_unet",
    "monai_unetr",
]
