# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The paper's preprocessing as one MONAI compose, shared by the bundle and ``scripts.prepare_dataset``.

study path -> ``(T, H, W)`` frames -> drop the first ``min_start_s`` -> ``(N, H, W)`` fused images -> one fused image
``(1, H, W)`` -> ``(3, H, W)`` pseudocolor in [0, 1] -> ``(3, *spatial_size)`` by MONAI ``Resized`` (bilinear,
invertible with ``Invertd``). The dataset builder applies exactly these transforms before writing PNGs, so a PNG
read back (``/255``) equals the in-pipeline tensor within uint8 quantisation (half a level).
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.config import KeysCollection
from monai.transforms import Compose, MapTransform, Resized

from custom_transforms.dictionary import DropEarlyFramesd, FrameFusiond, Pseudocolord, SelectFusedImagesd
from custom_transforms.loading import LoadDynamicStudyd

__all__ = ["DEFAULT_SPATIAL_SIZE", "dynamic_study_transforms", "fused_image_transforms", "fused_image_pipeline"]

#: the network's input size (the paper's 384x384).
DEFAULT_SPATIAL_SIZE = (384, 384)


def dynamic_study_transforms(
    keys: KeysCollection = "image",
    load: bool = True,
    view: str | int | None = None,
    min_start_s: float = 60.0,
    group_size: int = 7,
    window_s: float | None = None,
    drop_partial: bool = True,
) -> list[MapTransform]:
    """Load (optional) -> drop early frames -> fuse: a study path (or ``(T, H, W)`` MetaTensor) to ``(N, H, W)``.

    Args:
        keys: keys holding study paths (or loaded studies when ``load`` is False). Defaults to ``"image"``.
        load: start with :class:`LoadDynamicStudyd`. Defaults to True.
        view: view/detector to load. Defaults to None (posterior).
        min_start_s: seconds dropped from the start. Defaults to 60.0.
        group_size: frames per fused image. Defaults to 7.
        window_s: fixed fusion windows (s) instead of groups. Defaults to None.
        drop_partial: drop a partial last group. Defaults to True.
    """
    out: list[MapTransform] = [LoadDynamicStudyd(keys, view=view)] if load else []
    out.append(DropEarlyFramesd(keys, min_start_s=min_start_s))
    out.append(FrameFusiond(keys, group_size=group_size, window_s=window_s, drop_partial=drop_partial))
    return out


def fused_image_transforms(
    keys: KeysCollection = "image",
    fused_index: int = 1,
    colormap: str | int | None = "jet",
    percentile: float = 99.5,
    spatial_size: Sequence[int] | None = DEFAULT_SPATIAL_SIZE,
) -> list[MapTransform]:
    """Select one fused image -> pseudocolor -> resize: ``(N, H, W)`` to ``(3, *spatial_size)`` (or ``(1, ...)``).

    Args:
        keys: keys holding fused image stacks. Defaults to ``"image"``.
        fused_index: 0-based fused image to use. Defaults to 1 (the paper's 2nd fused image).
        colormap: OpenCV colormap or None for grayscale. Defaults to ``"jet"``.
        percentile: normalisation percentile. Defaults to 99.5.
        spatial_size: output ``(H, W)``; None keeps the native matrix. Defaults to ``(384, 384)``.
    """
    out: list[MapTransform] = [
        SelectFusedImagesd(keys, indices=(int(fused_index),)),
        Pseudocolord(keys, colormap=colormap, percentile=percentile),
    ]
    if spatial_size is not None:
        out.append(
            Resized(keys, spatial_size=tuple(int(s) for s in spatial_size), mode="bilinear", anti_aliasing=False)
        )
    return out


def fused_image_pipeline(
    keys: KeysCollection = "image",
    load: bool = True,
    view: str | int | None = None,
    min_start_s: float = 60.0,
    group_size: int = 7,
    window_s: float | None = None,
    drop_partial: bool = True,
    fused_index: int = 1,
    colormap: str | int | None = "jet",
    percentile: float = 99.5,
    spatial_size: Sequence[int] | None = DEFAULT_SPATIAL_SIZE,
) -> Compose:
    """The whole preprocessing: study path -> network input ``(3, *spatial_size)`` float32 in [0, 1].

    Arguments as in :func:`dynamic_study_transforms` and :func:`fused_image_transforms`. The trailing ``Resized`` is
    recorded in the MetaTensor's ``applied_operations``, so ``Invertd(keys="pred", transform=<this compose>,
    orig_keys="image")`` brings a prediction back to the study's native ``(H, W)``.

    Examples::

        >>> pre = fused_image_pipeline(fused_index=2)
        >>> img = pre({"image": "study.dcm"})["image"]   # MetaTensor (3, 384, 384)
    """
    return Compose(
        dynamic_study_transforms(keys, load, view, min_start_s, group_size, window_s, drop_partial)
        + fused_image_transforms(keys, fused_index, colormap, percentile, spatial_size)
    )
