# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""MONAI transforms that load a dynamic study into a ``(T, H, W)`` :class:`monai.data.MetaTensor`.

The readers live in :mod:`custom_transforms.io`; these wrappers add the MONAI metadata (``spatial_shape``,
``original_channel_dim`` = 0 because the frame axis is the channel axis, and a 4x4 affine scaled by the pixel spacing).
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from custom_transforms.io import read_dynamic_study

__all__ = [
    "study_affine",
    "LoadDynamicStudy",
    "LoadDynamicStudyd",
    "LoadDynamicStudyD",
    "LoadDynamicStudyDict",
]


def study_affine(pixel_spacing_mm: list[float] | tuple[float, float]) -> torch.Tensor:
    """4x4 affine ``diag(row_mm, col_mm, 1, 1)`` for a ``(C, H, W)`` image (identity where the spacing is unknown)."""
    row, col = (float(v) if math.isfinite(float(v)) and float(v) > 0 else 1.0 for v in pixel_spacing_mm)
    return torch.diag(torch.tensor([row, col, 1.0, 1.0], dtype=torch.float64))


class LoadDynamicStudy(Transform):
    """Load a dynamic renal study file or folder as a ``(T, H, W)`` float32 :class:`~monai.data.MetaTensor` of counts.

    Axes: ``T`` frames (MONAI's channel axis, ``original_channel_dim`` = 0), ``H`` image rows top to bottom, ``W``
    image columns left to right, as stored. Units: counts per frame after the file's rescale slope/intercept.
    ``.meta`` carries ``frame_start_s`` and ``frame_duration_s`` (seconds), ``frame_phase``, ``pixel_spacing_mm``
    (``[row, col]``), ``view``, ``detector``, ``tracer``, ``patient_age_years``, ``patient_id``, ``patient_size_m``,
    ``reader_notes``, ``filename_or_obj``, ``format``, ``spatial_shape`` (``(H, W)``) and ``original_channel_dim``. See
    :func:`custom_transforms.io.read_dynamic_study` for the formats and the vendor variants read, and
    :func:`custom_transforms.io.check_counts` for the pixel values refused (NaN, negative, all 0, nearly constant).

    Args:
        view: ``"posterior"``, ``"anterior"`` or a 1-based detector number for files holding several views;
            ``None`` picks the posterior (or only) view. Defaults to None.

    Raises:
        RenogramInputError: bad or unreadable input; the message starts with the path.

    Examples::

        >>> img = LoadDynamicStudy()("study.dcm")   # MetaTensor (T, H, W)
        >>> img.meta["frame_duration_s"][:2]
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, view: str | int | None = None) -> None:
        self.view = view

    def __call__(self, path: str | os.PathLike) -> MetaTensor:
        frames, meta = read_dynamic_study(path, view=self.view)
        meta = dict(meta)
        meta["spatial_shape"] = np.asarray(frames.shape[1:])
        meta["original_channel_dim"] = 0
        return MetaTensor(torch.from_numpy(frames), affine=study_affine(meta["pixel_spacing_mm"]), meta=meta)


class LoadDynamicStudyd(MapTransform):
    """Dictionary-based wrapper of :py:class:`LoadDynamicStudy`: replaces each key's path by the loaded study.

    Args:
        keys: keys whose values are study paths.
        view: as in :py:class:`LoadDynamicStudy`. Defaults to None.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.
    """

    backend = LoadDynamicStudy.backend

    def __init__(self, keys: KeysCollection, view: str | int | None = None, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.loader = LoadDynamicStudy(view=view)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.loader(d[key])
        return d


LoadDynamicStudyD = LoadDynamicStudyDict = LoadDynamicStudyd
