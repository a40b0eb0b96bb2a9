# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""MONAI transforms for dynamic renal scintigraphy: loading, dropping early frames, frame fusion, pseudocolor.

Axes: dynamic frames ``(T, H, W)`` (frames as channels), fused images ``(N, H, W)``, network input ``(3, H, W)`` RGB in
[0, 1]. Times in seconds from acquisition start, pixel spacing in mm. See :mod:`custom_transforms.array`.
"""

from __future__ import annotations

from custom_transforms.array import (
    FRAME_META_KEYS,
    FUSED_META_KEYS,
    DropEarlyFrames,
    FrameFusion,
    Pseudocolor,
    SelectFusedImages,
    colormap_lut,
)
from custom_transforms.dictionary import (
    DropEarlyFramesD,
    DropEarlyFramesd,
    DropEarlyFramesDict,
    FrameFusionD,
    FrameFusiond,
    FrameFusionDict,
    PseudocolorD,
    Pseudocolord,
    PseudocolorDict,
    SelectFusedImagesD,
    SelectFusedImagesd,
    SelectFusedImagesDict,
)
from custom_transforms.errors import RenogramInputError
from custom_transforms.io import read_dynamic_study
from custom_transforms.loading import (
    LoadDynamicStudy,
    LoadDynamicStudyD,
    LoadDynamicStudyd,
    LoadDynamicStudyDict,
    study_affine,
)
from custom_transforms.pipeline import (
    DEFAULT_SPATIAL_SIZE,
    dynamic_study_transforms,
    fused_image_pipeline,
    fused_image_transforms,
)

__all__ = [
    "DEFAULT_SPATIAL_SIZE",
    "FRAME_META_KEYS",
    "FUSED_META_KEYS",
    "RenogramInputError",
    "read_dynamic_study",
    "study_affine",
    "colormap_lut",
    "LoadDynamicStudy",
    "DropEarlyFrames",
    "FrameFusion",
    "SelectFusedImages",
    "Pseudocolor",
    "LoadDynamicStudyd",
    "LoadDynamicStudyD",
    "LoadDynamicStudyDict",
    "DropEarlyFramesd",
    "DropEarlyFramesD",
    "DropEarlyFramesDict",
    "FrameFusiond",
    "FrameFusionD",
    "FrameFusionDict",
    "SelectFusedImagesd",
    "SelectFusedImagesD",
    "SelectFusedImagesDict",
    "Pseudocolord",
    "PseudocolorD",
    "PseudocolorDict",
    "dynamic_study_transforms",
    "fused_image_transforms",
    "fused_image_pipeline",
]
