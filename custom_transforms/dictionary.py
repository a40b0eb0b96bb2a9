# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Dictionary-based wrappers of the renogram transforms in :mod:`custom_transforms.array`.

Each ``Food`` composes the array transform ``Foo``, takes ``keys`` and ``allow_missing_keys``, and applies the same
transform to every key. Aliases ``FooD = FooDict = Food`` follow MONAI. Axes and units are those of the array
transforms: ``(T, H, W)`` frames in, ``(N, H, W)`` fused images, ``(3, H, W)`` RGB in [0, 1]. The loader's own
dictionary form is :class:`custom_transforms.loading.LoadDynamicStudyd`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from monai.config import KeysCollection
from monai.transforms import MapTransform

from custom_transforms.array import DropEarlyFrames, FrameFusion, Pseudocolor, SelectFusedImages

__all__ = [
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
]


class _Wrapper(MapTransform):
    """Apply ``self.transform`` to each key (MONAI's ``ScaleIntensityd`` pattern)."""

    transform: Any

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


class DropEarlyFramesd(_Wrapper):
    """Dictionary-based wrapper of :py:class:`custom_transforms.DropEarlyFrames` (``(T, H, W)`` -> ``(T', H, W)``).

    Args:
        keys: keys of MetaTensors carrying ``frame_start_s``/``frame_duration_s`` in ``.meta``.
        min_start_s: seconds from acquisition start to drop. Defaults to 60.0.
        keep_straddling: keep a frame straddling ``min_start_s``. Defaults to False.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.
    """

    backend = DropEarlyFrames.backend

    def __init__(
        self,
        keys: KeysCollection,
        min_start_s: float = 60.0,
        keep_straddling: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = DropEarlyFrames(min_start_s=min_start_s, keep_straddling=keep_straddling)


class FrameFusiond(_Wrapper):
    """Dictionary-based wrapper of :py:class:`custom_transforms.FrameFusion` (``(T, H, W)`` -> ``(N, H, W)``).

    Args:
        keys: keys of ``(T, H, W)`` frame stacks.
        group_size: frames per fused image. Defaults to 7.
        window_s: fixed time windows (s) instead of groups. Defaults to None.
        drop_partial: drop a partial last group/window. Defaults to True.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.
    """

    backend = FrameFusion.backend

    def __init__(
        self,
        keys: KeysCollection,
        group_size: int = 7,
        window_s: float | None = None,
        drop_partial: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = FrameFusion(group_size=group_size, window_s=window_s, drop_partial=drop_partial)


class SelectFusedImagesd(_Wrapper):
    """Dictionary-based wrapper of :py:class:`custom_transforms.SelectFusedImages` (``(N, H, W)`` -> ``(K, H, W)``).

    Args:
        keys: keys of fused image stacks.
        indices: 0-based fused image indices. Defaults to ``(1, 2)``.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.
    """

    backend = SelectFusedImages.backend

    def __init__(
        self, keys: KeysCollection, indices: Sequence[int] | int = (1, 2), allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = SelectFusedImages(indices=indices)


class Pseudocolord(_Wrapper):
    """Dictionary-based wrapper of :py:class:`custom_transforms.Pseudocolor` (``(1, H, W)`` -> ``(3, H, W)``).

    Args:
        keys: keys of single fused images.
        colormap: OpenCV colormap name/int, or None for grayscale ``(1, H, W)``. Defaults to ``"jet"``.
        percentile: image percentile taken as full scale. Defaults to 99.5.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.
    """

    backend = Pseudocolor.backend

    def __init__(
        self,
        keys: KeysCollection,
        colormap: str | int | None = "jet",
        percentile: float = 99.5,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = Pseudocolor(colormap=colormap, percentile=percentile)


DropEarlyFramesD = DropEarlyFramesDict = DropEarlyFramesd
FrameFusionD = FrameFusionDict = FrameFusiond
SelectFusedImagesD = SelectFusedImagesDict = SelectFusedImagesd
PseudocolorD = PseudocolorDict = Pseudocolord
