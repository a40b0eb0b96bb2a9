# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Load one network input from either a fused image file or a dynamic study: the bundle's single entry point.

The bundle's datalists (and MONAI Label's datastore) name either

- a **fused image** (``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff``, ``.bmp``): the paper's dataset form, as written
  by ``scripts.prepare_dataset``; it is read as stored, rows first, and scaled to [0, 1]; or
- a **dynamic study** (NM DICOM, ``.nii``/``.nii.gz`` 2D+t, a folder of frames, or the ``(T, H, W)`` MetaTensor
  :class:`~custom_transforms.LoadDynamicStudy` returns): the chain of :mod:`custom_transforms.pipeline` runs here
  (:class:`~custom_transforms.pipeline.FusedImageChain`: drop the first ``min_start_s`` seconds, fuse ``group_size``
  frames or ``window_s`` windows, keep fused image ``fused_index``, pseudocolor), with the same parameters.

Both give a ``(C, H, W)`` float32 :class:`~monai.data.MetaTensor` in [0, 1] on the file's **native** matrix, with
``H`` the image rows top to bottom and ``W`` the columns left to right (no transposition: MONAI's ``PILReader``
default ``reverse_indexing=True`` would give ``(C, W, H)``). For the same study, the DICOM branch and the PNG that the
dataset builder writes from it agree within uint8 quantisation once both are resized to the same grid.

Metadata (both branches, same keys, so items of either kind collate in one batch): ``filename_or_obj``,
``spatial_shape`` ``(H, W)``, ``original_channel_dim`` 0, ``affine``/``original_affine`` (4x4, pixel spacing on the
diagonal for studies, identity for image files), ``source_format`` (``"image"``, ``"dicom"``, ``"nifti"``,
``"frames"``), ``fused_index`` (-1 for image files), ``pixel_spacing_mm`` ``[row, col]`` (NaN when unknown). The
resize to the network grid is left to the bundle's ``Resized`` so that ``Invertd`` can undo it.

Why own code: MONAI's ``LoadImage`` reads image files (transposed by default, RGBA and palette images kept as they
are) but has no notion of a dynamic renogram; this module only dispatches and normalises channels, the study
transforms come from :mod:`custom_transforms.pipeline`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends

from custom_transforms.errors import RenogramInputError
from custom_transforms.loading import study_affine
from custom_transforms.pipeline import FusedImageChain

__all__ = [
    "IMAGE_SUFFIXES",
    "is_fused_image_file",
    "LoadRenogramImage",
    "LoadRenogramImaged",
    "LoadRenogramImageD",
    "LoadRenogramImageDict",
    "EnsureSameSpatialShaped",
    "EnsureSameSpatialShapeD",
    "EnsureSameSpatialShapeDict",
    "ResizeToMatchd",
    "ResizeToMatchD",
    "ResizeToMatchDict",
]

#: suffixes read as fused images (anything else is handed to the dynamic-study reader).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
#: ITU-R BT.601 luma weights, used only when an RGB file must become one channel (``channels=1``).
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def is_fused_image_file(path: str | os.PathLike) -> bool:
    """True when ``path`` names a 2D image file (by suffix), False for a study file or folder."""
    p = Path(path)
    return not p.is_dir() and p.suffix.lower() in IMAGE_SUFFIXES


def _read_image_file(path: Path) -> np.ndarray:
    """``(H, W, C)`` float32 in [0, 1], C in {1, 3} (alpha dropped, palette/CMYK/LA converted), rows first."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise RenogramInputError(path, "no such image file")
    try:
        with Image.open(path) as im:
            n_frames = int(getattr(im, "n_frames", 1))
            if n_frames > 1:
                raise RenogramInputError(
                    path, f"holds {n_frames} frames; a fused image is one 2D picture (a frame stack is a study: "
                    "give a folder of frames with timing.json instead)"
                )
            if im.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBA", "RGBX", "RGBa"):
                im = im.convert("RGB")
            elif im.mode in ("1", "LA", "La"):
                im = im.convert("L")
            arr = np.asarray(im)
    except RenogramInputError:
        raise
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise RenogramInputError(path, f"cannot be read as an image ({exc})") from None
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3) or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise RenogramInputError(path, f"image array has shape {arr.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
    if np.issubdtype(arr.dtype, np.integer):
        full = 65535.0 if arr.dtype.itemsize >= 2 and arr.max() > 255 else 255.0
        out = arr.astype(np.float32) / np.float32(full)
    else:
        out = arr.astype(np.float32)
        if not np.all(np.isfinite(out)):
            raise RenogramInputError(path, "image holds NaN or infinite values")
    return np.clip(out, 0.0, 1.0)


class LoadRenogramImage(Transform):
    """Load a fused image file or a dynamic study as the network input ``(C, H, W)`` float32 in [0, 1], native size.

    Dispatch (see the module docstring): a 2D image file (``IMAGE_SUFFIXES``) is read as stored; anything else (DICOM,
    NIfTI 2D+t, a folder of frames, or already-loaded ``(T, H, W)`` frames) runs the chain
    :class:`~custom_transforms.pipeline.FusedImageChain` with this transform's parameters: drop the first
    ``min_start_s`` s -> fuse ``group_size`` frames (or ``window_s`` windows; ``drop_partial``) -> select fused image
    ``fused_index`` -> pseudocolor ``colormap`` at ``percentile``. Loaded frames are not modified.

    Channels (``channels``):

    - ``3`` (the paper): image files give RGB (RGBA/palette converted, grayscale replicated to 3 identical
      channels); studies are pseudocolored with ``colormap`` (a grayscale study with ``colormap=None`` is
      replicated).
    - ``1`` (grayscale ablation): grayscale image files are kept, RGB files become BT.601 luma; studies skip the
      colormap (``Pseudocolor(colormap=None)``: ``round(255 * clip(x / P99.5, 0, 1)) / 255``).

    Args:
        channels: output channels, 1 or 3. Defaults to 3.
        fused_index: 0-based fused image taken from a study. Defaults to 1 (the paper's 2nd fused image).
        colormap: OpenCV colormap for studies when ``channels=3``, or None (``"none"``). Defaults to ``"jet"``.
        min_start_s: seconds dropped from the start of a study. Defaults to 60.0.
        group_size: frames summed per fused image. Defaults to 7.
        percentile: pseudocolor full-scale percentile. Defaults to 99.5.
        view: view/detector read from a multi-detector study (see :class:`custom_transforms.LoadDynamicStudy`).
            Defaults to None (posterior).
        window_s: fuse fixed time windows of this many seconds instead of ``group_size`` frames. Defaults to None.
        drop_partial: drop a partial last group/window. Defaults to True.

    Raises:
        RenogramInputError: missing, unreadable or unsuitable input; the message starts with the path.
        ValueError: ``channels`` not 1 or 3.
        TypeError: an array that is not a loaded study.

    Examples::

        >>> LoadRenogramImage()("images/s001_f1.png").shape        # (3, 384, 384) as written by prepare_dataset
        >>> LoadRenogramImage(fused_index=2)("s001/study.dcm").shape  # (3, 128, 128) on a 128x128 study
        >>> LoadRenogramImage()(LoadDynamicStudy()("s001/study.dcm")).shape  # the same from loaded frames
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        channels: int = 3,
        fused_index: int = 1,
        colormap: str | int | None = "jet",
        min_start_s: float = 60.0,
        group_size: int = 7,
        percentile: float = 99.5,
        view: str | int | None = None,
        window_s: float | None = None,
        drop_partial: bool = True,
    ) -> None:
        if int(channels) not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.channels = int(channels)
        self.fused_index = int(fused_index)
        self.chain = FusedImageChain(
            view=view,
            min_start_s=min_start_s,
            group_size=group_size,
            window_s=window_s,
            drop_partial=drop_partial,
            fused_index=fused_index,
            colormap=colormap if self.channels == 3 else None,
            percentile=percentile,
        )

    def __call__(self, path: str | os.PathLike | MetaTensor, fused_index: int | None = None) -> MetaTensor:
        """Args: path to an image file, a study file or a frame folder, or loaded ``(T, H, W)`` frames;
        fused_index: this call's fused image for a study instead of the configured one.
        Returns ``(C, H, W)`` MetaTensor."""
        if isinstance(path, MetaTensor | torch.Tensor | np.ndarray):
            img = self.chain(path, fused_index)  # a loaded study, or TypeError
            source = str(path.meta.get("filename_or_obj", ""))
        elif is_fused_image_file(path):
            hwc = _read_image_file(Path(path))
            chw = torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1)))
            return self._wrap(chw, str(Path(path)), [math.nan, math.nan], "image", -1)
        else:
            img = self.chain(os.fspath(path), fused_index)
            source = str(Path(path))
        chw = img.as_tensor().to(torch.float32)
        spacing = [float(v) for v in img.meta.get("pixel_spacing_mm", [math.nan, math.nan])]
        index = self.fused_index if fused_index is None else int(fused_index)
        return self._wrap(chw, source, spacing, str(img.meta.get("format", "dicom")), index)

    def _wrap(self, chw: torch.Tensor, source: str, spacing: list[float], fmt: str, index: int) -> MetaTensor:
        chw = self._to_channels(chw)
        affine = study_affine(spacing)
        meta = {
            "filename_or_obj": source,
            "spatial_shape": np.asarray(chw.shape[1:]),
            "original_channel_dim": 0,
            "original_affine": affine.clone(),
            "source_format": fmt,
            "fused_index": index,
            "pixel_spacing_mm": spacing,
        }
        return MetaTensor(chw.contiguous(), affine=affine, meta=meta)

    def _to_channels(self, chw: torch.Tensor) -> torch.Tensor:
        if chw.shape[0] == self.channels:
            return chw
        if self.channels == 3:  # (1, H, W) grayscale -> 3 identical channels
            return chw.expand(3, -1, -1).clone()
        weights = torch.from_numpy(_LUMA).to(chw.dtype).view(3, 1, 1)
        return (chw * weights).sum(0, keepdim=True)


class LoadRenogramImaged(MapTransform):
    """Dictionary-based wrapper of :py:class:`LoadRenogramImage`: replaces each key's input by ``(C, H, W)``.

    Args:
        keys: keys whose values are image-file or study paths, or loaded studies. Usually ``"image"``.
        channels: as in :py:class:`LoadRenogramImage`. Defaults to 3.
        fused_index: as in :py:class:`LoadRenogramImage`. Defaults to 1. A datalist item's own ``fused_index``
            (written by ``scripts.prepare_dataset``) overrides it for studies when ``use_item_fused_index`` is True.
        colormap: as in :py:class:`LoadRenogramImage`. Defaults to ``"jet"``.
        min_start_s: as in :py:class:`LoadRenogramImage`. Defaults to 60.0.
        group_size: as in :py:class:`LoadRenogramImage`. Defaults to 7.
        percentile: as in :py:class:`LoadRenogramImage`. Defaults to 99.5.
        view: as in :py:class:`LoadRenogramImage`. Defaults to None.
        use_item_fused_index: take ``data["fused_index"]`` when present. Defaults to True.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.
        window_s: as in :py:class:`LoadRenogramImage`. Defaults to None.
        drop_partial: as in :py:class:`LoadRenogramImage`. Defaults to True.
    """

    backend = LoadRenogramImage.backend

    def __init__(
        self,
        keys: KeysCollection,
        channels: int = 3,
        fused_index: int = 1,
        colormap: str | int | None = "jet",
        min_start_s: float = 60.0,
        group_size: int = 7,
        percentile: float = 99.5,
        view: str | int | None = None,
        use_item_fused_index: bool = True,
        allow_missing_keys: bool = False,
        window_s: float | None = None,
        drop_partial: bool = True,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.loader = LoadRenogramImage(
            channels, fused_index, colormap, min_start_s, group_size, percentile, view, window_s, drop_partial
        )
        self.use_item_fused_index = use_item_fused_index

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        index = d.get("fused_index") if self.use_item_fused_index else None
        if isinstance(index, str | bytes):
            index = None
        for key in self.key_iterator(d):
            d[key] = self.loader(d[key], None if index is None else int(index))
        return d


class EnsureSameSpatialShaped(MapTransform):
    """Stop with a clear message when a label's ``(H, W)`` differs from its image's (both ``(C, H, W)``).

    Without this check a size mismatch surfaces much later as a batch-collation or loss error that names no file.

    Args:
        keys: keys that must match ``ref_key`` (e.g. ``"label"``).
        ref_key: key of the reference image. Defaults to ``"image"``.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.

    Raises:
        RenogramInputError: shapes differ; the message names the label file and both shapes.
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, keys: KeysCollection, ref_key: str = "image", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ref_key = ref_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        ref = d[self.ref_key]
        for key in self.key_iterator(d):
            if tuple(d[key].shape[1:]) != tuple(ref.shape[1:]):
                meta = getattr(d[key], "meta", {})
                ref_name = getattr(ref, "meta", {}).get("filename_or_obj", self.ref_key)
                raise RenogramInputError(
                    meta.get("filename_or_obj"),
                    f"{key} is {tuple(d[key].shape[1:])} (H, W) but its {self.ref_key} {ref_name} is "
                    f"{tuple(ref.shape[1:])}",
                )
        return d


class ResizeToMatchd(MapTransform):
    """Resize ``(C, H, W)`` items to the ``(H, W)`` of a reference item (e.g. a prediction to the native label grid).

    Evaluation on the study's native matrix needs this when the input was a fused PNG already at the network size:
    ``Invertd`` then returns the PNG's grid, while the reference label lives on the study's native matrix. The
    dataset builder made the PNG with a bilinear ``Resize`` from that matrix, so resizing the prediction
    (probabilities) back bilinearly and thresholding afterwards mirrors it. A no-op when the shapes already match
    (DICOM input after ``Invertd``). MONAI's ``ResampleToMatchd`` resamples by affine, which a PNG does not carry.

    Args:
        keys: keys to resize.
        ref_key: key whose spatial shape is the target.
        mode: interpolation of :class:`monai.transforms.Resize`. Defaults to ``"bilinear"``.
        allow_missing_keys: do not raise when a key is absent. Defaults to False.
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self, keys: KeysCollection, ref_key: str, mode: str = "bilinear", allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.ref_key = ref_key
        self.mode = mode

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        from monai.transforms import Resize

        d = dict(data)
        target = tuple(int(s) for s in d[self.ref_key].shape[1:])
        for key in self.key_iterator(d):
            if tuple(d[key].shape[1:]) != target:
                d[key] = Resize(spatial_size=target, mode=self.mode)(d[key])
        return d


LoadRenogramImageD = LoadRenogramImageDict = LoadRenogramImaged
EnsureSameSpatialShapeD = EnsureSameSpatialShapeDict = EnsureSameSpatialShaped
ResizeToMatchD = ResizeToMatchDict = ResizeToMatchd
