# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""MONAI transforms for dynamic renal scintigraphy: loading, dropping early frames, frame fusion, pseudocolor.

Axes: dynamic frames ``(T, H, W)`` (frames as channels), fused images ``(N, H, W)``, network input ``(3, H, W)`` RGB in
[0, 1]. Times in seconds from acquisition start, pixel spacing in mm. Modules, each importing only those above it:
``errors`` -> ``io`` (the study readers and the one reading of frame timing) -> ``loading`` (``LoadDynamicStudy``) ->
``array`` / ``dictionary`` (the steps) -> ``pipeline`` (the study -> network input chain, defined once) ->
``renogram_image`` (the bundle's loader: a fused image file or a study through the chain).
"""

from __future__ import annotations

import importlib
from typing import Any

# Public names and the submodule each lives in. They are imported on first use (PEP 562), so that importing a
# light submodule (e.g. ``custom_transforms.safe_files``, needed before any virtual environment with torch exists)
# does not import torch and MONAI.
_EXPORTS = {
    "FRAME_META_KEYS": "array",
    "FUSED_META_KEYS": "array",
    "DropEarlyFrames": "array",
    "FrameFusion": "array",
    "Pseudocolor": "array",
    "SelectFusedImages": "array",
    "colormap_lut": "array",
    "DropEarlyFramesD": "dictionary",
    "DropEarlyFramesd": "dictionary",
    "DropEarlyFramesDict": "dictionary",
    "FrameFusionD": "dictionary",
    "FrameFusiond": "dictionary",
    "FrameFusionDict": "dictionary",
    "PseudocolorD": "dictionary",
    "Pseudocolord": "dictionary",
    "PseudocolorDict": "dictionary",
    "SelectFusedImagesD": "dictionary",
    "SelectFusedImagesd": "dictionary",
    "SelectFusedImagesDict": "dictionary",
    "RenogramInputError": "errors",
    "read_dynamic_study": "io",
    "frame_timing": "io",
    "LoadDynamicStudy": "loading",
    "LoadDynamicStudyD": "loading",
    "LoadDynamicStudyd": "loading",
    "LoadDynamicStudyDict": "loading",
    "study_affine": "loading",
    "DEFAULT_SPATIAL_SIZE": "pipeline",
    "CHAIN_IDS": "pipeline",
    "CHAIN_DEFAULTS": "pipeline",
    "StudyFusion": "pipeline",
    "StudyFusiond": "pipeline",
    "StudyFusionD": "pipeline",
    "StudyFusionDict": "pipeline",
    "FusedImageInput": "pipeline",
    "FusedImageInputd": "pipeline",
    "FusedImageInputD": "pipeline",
    "FusedImageInputDict": "pipeline",
    "FusedImageChain": "pipeline",
    "bundle_overrides": "pipeline",
    "dynamic_study_transforms": "pipeline",
    "fused_image_pipeline": "pipeline",
    "fused_image_transforms": "pipeline",
    "LoadRenogramImage": "renogram_image",
    "LoadRenogramImaged": "renogram_image",
    "LoadRenogramImageD": "renogram_image",
    "LoadRenogramImageDict": "renogram_image",
}


__all__ = [
    "DEFAULT_SPATIAL_SIZE",
    "FRAME_META_KEYS",
    "FUSED_META_KEYS",
    "RenogramInputError",
    "read_dynamic_study",
    "frame_timing",
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
    "CHAIN_IDS",
    "CHAIN_DEFAULTS",
    "StudyFusion",
    "StudyFusiond",
    "StudyFusionD",
    "StudyFusionDict",
    "FusedImageInput",
    "FusedImageInputd",
    "FusedImageInputD",
    "FusedImageInputDict",
    "FusedImageChain",
    "LoadRenogramImage",
    "LoadRenogramImaged",
    "LoadRenogramImageD",
    "LoadRenogramImageDict",
    "dynamic_study_transforms",
    "fused_image_transforms",
    "fused_image_pipeline",
    "bundle_overrides",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"custom_transforms.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'custom_transforms' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
