# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Array transforms of the paper's renogram preprocessing: drop early frames, fuse frames, select, pseudocolor.

Axis convention: dynamic frames are ``(T, H, W)`` with the frame axis as MONAI's channel axis; fused images are
``(N, H, W)``; a pseudocolor image is ``(3, H, W)`` RGB (or ``(1, H, W)`` grayscale). ``H`` runs over image rows top to
bottom, ``W`` over columns left to right. Times are seconds from acquisition start.

Every transform accepts numpy arrays, torch tensors and :class:`monai.data.MetaTensor`, returns the same type, and
keeps (and updates) the MetaTensor metadata. Timing metadata lives in ``.meta``; for plain arrays it can be passed to
``__call__``. Method after: the paper's preprocessing (drop the first minute, sum 7 frames, OpenCV JET, 384x384).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import Transform
from monai.utils import TransformBackends
from monai.utils.type_conversion import convert_to_dst_type

from custom_transforms.errors import RenogramInputError
from custom_transforms.io import frame_timing

__all__ = [
    "FRAME_META_KEYS",
    "FUSED_META_KEYS",
    "DropEarlyFrames",
    "FrameFusion",
    "SelectFusedImages",
    "Pseudocolor",
    "colormap_lut",
]

#: per-frame metadata lists (length T), kept in step with the frame axis.
FRAME_META_KEYS = ("frame_start_s", "frame_duration_s", "frame_phase")
#: metadata of one value per frame read that fusion drops with the timing (the reader's ``source_frames`` names the
#: file's frames a DICOM SEG references; kept until fusion, it would stop studies of other lengths from batching).
_DROPPED_BY_FUSION = (*FRAME_META_KEYS, "source_frames")
#: per-fused-image metadata lists (length N), kept in step with the fused-image axis.
FUSED_META_KEYS = ("fused_start_s", "fused_end_s", "fused_frame_count", "fused_index")
#: tolerance, seconds, for comparing frame times (DICOM durations are whole milliseconds).
TIME_TOLERANCE_S = 1e-3


def _plain(img: NdarrayOrTensor) -> torch.Tensor:
    """The data as a plain torch tensor (no copy where possible)."""
    if isinstance(img, MetaTensor):
        return img.as_tensor()
    return torch.as_tensor(img)


def _meta(img: Any) -> dict[str, Any]:
    return img.meta if isinstance(img, MetaTensor) else {}


def _source(img: Any) -> str | None:
    src = _meta(img).get("filename_or_obj")
    return None if src is None or src == "" else str(src)


def _wrap(out: torch.Tensor, img: NdarrayOrTensor, updates: dict[str, Any], drop: Sequence[str] = (), dtype=None):
    """``out`` as ``img``'s type; a MetaTensor gets a fresh meta dict: img's, plus ``updates``, minus ``drop``."""
    res = convert_to_dst_type(out, dst=img, dtype=dtype if dtype is not None else out.dtype)[0]
    if isinstance(res, MetaTensor):
        meta = {k: v for k, v in dict(res.meta).items() if k not in drop}
        meta.update(updates)
        res.meta = meta
    return res


def _check_ndim(img: NdarrayOrTensor, name: str, what: str) -> None:
    if img.ndim != 3:
        raise RenogramInputError(_source(img), f"{name} expects {what} with 3 dims, got shape {tuple(img.shape)}")


def _timing(img: Any, starts: Sequence[float] | None, durations: Sequence[float] | None, name: str, need: bool):
    """The frames' timing (call arguments, else the reader's meta) through :func:`custom_transforms.io.frame_timing`."""
    meta = _meta(img)
    starts = meta.get("frame_start_s") if starts is None else starts
    durations = meta.get("frame_duration_s") if durations is None else durations
    if starts is None or durations is None:
        if need:
            raise RenogramInputError(
                _source(img), f"{name} needs frame_start_s and frame_duration_s (MetaTensor meta or call arguments)"
            )
        return None, None
    return frame_timing({"frame_start_s": starts, "frame_duration_s": durations}, int(img.shape[0]), _source(img))


class DropEarlyFrames(Transform):
    """Drop the frames of the first ``min_start_s`` seconds (the vascular phase), by time rather than frame count.

    Input ``(T, H, W)`` frames; output ``(T', H, W)`` with the kept frames, same dtype. A frame is kept when it starts
    at or after ``min_start_s`` (1 ms tolerance, so a phase boundary at exactly 60 s is respected); with
    ``keep_straddling`` a frame that starts earlier but ends after ``min_start_s`` is kept too. Per-frame metadata
    (``frame_start_s``, ``frame_duration_s``, ``frame_phase``) is subset in step.

    Args:
        min_start_s: seconds from acquisition start to drop. Defaults to 60.0 (the paper's first minute).
        keep_straddling: keep a frame that straddles ``min_start_s``. Defaults to False.

    Raises:
        RenogramInputError: no timing, or no frame left (study shorter than the dropped window).

    Examples::

        >>> study = LoadDynamicStudy()("study.dcm")        # (136, 128, 128): 60 x 1 s + 76 x 15 s
        >>> DropEarlyFrames(60.0)(study).shape             # torch.Size([76, 128, 128])
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, min_start_s: float = 60.0, keep_straddling: bool = False) -> None:
        if not min_start_s >= 0:
            raise ValueError(f"min_start_s must be >= 0, got {min_start_s}")
        self.min_start_s = float(min_start_s)
        self.keep_straddling = keep_straddling

    def __call__(
        self,
        img: NdarrayOrTensor,
        frame_start_s: Sequence[float] | None = None,
        frame_duration_s: Sequence[float] | None = None,
    ) -> NdarrayOrTensor:
        """Args: img ``(T, H, W)``; frame_start_s / frame_duration_s: timing for inputs without metadata (s)."""
        _check_ndim(img, "DropEarlyFrames", "(T, H, W) frames")
        starts, durs = _timing(img, frame_start_s, frame_duration_s, "DropEarlyFrames", need=True)
        if self.keep_straddling:
            keep = np.flatnonzero(starts + durs > self.min_start_s + TIME_TOLERANCE_S)
        else:
            keep = np.flatnonzero(starts >= self.min_start_s - TIME_TOLERANCE_S)
        if keep.size == 0:
            end = float(np.max(starts + durs))
            raise RenogramInputError(
                _source(img),
                f"study ends at {end:.1f} s; no frame is left after dropping the first {self.min_start_s:g} s",
            )
        out = _plain(img)[torch.as_tensor(keep)]
        meta = _meta(img)
        updates = {"frame_start_s": starts[keep].tolist(), "frame_duration_s": durs[keep].tolist()}
        if meta.get("frame_phase") is not None and len(meta["frame_phase"]) == img.shape[0]:
            updates["frame_phase"] = [meta["frame_phase"][i] for i in keep]
        updates["dropped_before_s"] = self.min_start_s
        return _wrap(out, img, updates)


class FrameFusion(Transform):
    """Sum consecutive frames into fused images, in groups of ``group_size`` frames or in fixed time windows.

    Input ``(T, H, W)`` frames (counts); output ``(N, H, W)`` float32 summed counts. With ``window_s`` the frames are
    binned by start time into windows ``[t0 + k*window_s, t0 + (k+1)*window_s)``, ``t0`` the first frame's start.
    The last group (or window) is partial when it has fewer than ``group_size`` frames (or its frames end before the
    window does); it is dropped or kept by ``drop_partial``. With timing known (MetaTensor meta or call arguments) the
    output meta gains ``fused_start_s`` / ``fused_end_s`` (first frame start, last frame end, seconds),
    ``fused_frame_count`` and ``fused_index`` (0-based, stays attached through :class:`SelectFusedImages`); the
    per-frame keys ``frame_start_s``, ``frame_duration_s`` and ``frame_phase`` are removed, since the channel axis no
    longer holds frames.

    Args:
        group_size: frames per fused image. Defaults to 7 (the paper). Ignored when ``window_s`` is set.
        window_s: fuse fixed time windows of this many seconds instead. Defaults to None.
        drop_partial: drop a partial last group/window. Defaults to True.

    Raises:
        RenogramInputError: too few frames for one fused image, timing missing in window mode, or an empty window.

    Examples::

        >>> fused = FrameFusion(group_size=7)(DropEarlyFrames()(study))   # (10, 128, 128); 11 with drop_partial=False
        >>> fused.meta["fused_start_s"][:2], fused.meta["fused_end_s"][:2]  # ([60.0, 165.0], [165.0, 270.0])
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, group_size: int = 7, window_s: float | None = None, drop_partial: bool = True) -> None:
        if int(group_size) < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        if window_s is not None and not float(window_s) > 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.group_size = int(group_size)
        self.window_s = None if window_s is None else float(window_s)
        self.drop_partial = drop_partial

    def groups(self, n_frames: int, starts: np.ndarray | None, durs: np.ndarray | None, source: str | None):
        """Frame index ranges ``[(first, last_exclusive), ...]`` of the fused images."""
        if self.window_s is None:
            g = self.group_size
            bounds = [(i, min(i + g, n_frames)) for i in range(0, n_frames, g)]
            if self.drop_partial and bounds and bounds[-1][1] - bounds[-1][0] < g:
                bounds.pop()
            if not bounds:
                raise RenogramInputError(source, f"{n_frames} frames are fewer than one group of {g}")
            return bounds
        assert starts is not None and durs is not None
        w = self.window_s
        k = np.floor((starts - starts[0] + TIME_TOLERANCE_S) / w).astype(np.int64)
        bounds = []
        for win in range(int(k[-1]) + 1):
            idx = np.flatnonzero(k == win)
            if idx.size == 0:
                raise RenogramInputError(
                    source,
                    f"fusion window {win} ({starts[0] + win * w:.1f}-{starts[0] + (win + 1) * w:.1f} s) is empty",
                )
            bounds.append((int(idx[0]), int(idx[-1]) + 1))
        last_end = starts[-1] + durs[-1]
        if self.drop_partial and last_end < starts[0] + (int(k[-1]) + 1) * w - TIME_TOLERANCE_S:
            bounds.pop()
        if not bounds:
            raise RenogramInputError(source, f"frames span {last_end - starts[0]:.1f} s, less than one {w:g} s window")
        return bounds

    def __call__(
        self,
        img: NdarrayOrTensor,
        frame_start_s: Sequence[float] | None = None,
        frame_duration_s: Sequence[float] | None = None,
    ) -> NdarrayOrTensor:
        """Args: img ``(T, H, W)``; frame_start_s / frame_duration_s: timing for inputs without metadata (s)."""
        _check_ndim(img, "FrameFusion", "(T, H, W) frames")
        starts, durs = _timing(img, frame_start_s, frame_duration_s, "FrameFusion", need=self.window_s is not None)
        bounds = self.groups(int(img.shape[0]), starts, durs, _source(img))
        x = _plain(img).to(torch.float32)
        first, last = bounds[0][0], bounds[-1][1]
        g = self.group_size
        if self.window_s is None and (last - first) == g * len(bounds):  # all groups full: one reshape-sum
            out = x[first:last].reshape(len(bounds), g, *x.shape[1:]).sum(dim=1)
        else:
            out = torch.stack([x[a:b].sum(dim=0) for a, b in bounds])
        updates: dict[str, Any] = {
            "fused_frame_count": [b - a for a, b in bounds],
            "fused_index": list(range(len(bounds))),
        }
        if starts is not None:
            updates["fused_start_s"] = [float(starts[a]) for a, _ in bounds]
            updates["fused_end_s"] = [round(float(starts[b - 1] + durs[b - 1]), 6) for _, b in bounds]
        return _wrap(out, img, updates, drop=_DROPPED_BY_FUSION, dtype=torch.float32)


class SelectFusedImages(Transform):
    """Keep some fused images: ``(N, H, W)`` in, ``(len(indices), H, W)`` out, in the order given.

    The per-fused-image metadata (``fused_start_s``, ``fused_end_s``, ``fused_frame_count``, ``fused_index``) is
    subset in step, so ``fused_index`` still names each image's position in the full fused series.

    Args:
        indices: 0-based indices into the fused images (negative counts from the end). Defaults to ``(1, 2)``, the
            paper's 2nd and 3rd fused images.

    Raises:
        RenogramInputError: an index beyond the number of fused images.

    Examples::

        >>> SelectFusedImages((1, 2))(fused).meta["fused_index"]   # [1, 2]
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, indices: Sequence[int] | int = (1, 2)) -> None:
        self.indices = [int(indices)] if isinstance(indices, (int, np.integer)) else [int(i) for i in indices]
        if not self.indices:
            raise ValueError("indices must name at least one fused image")

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Args: img ``(N, H, W)`` fused images."""
        _check_ndim(img, "SelectFusedImages", "(N, H, W) fused images")
        n = int(img.shape[0])
        bad = [i for i in self.indices if not -n <= i < n]
        if bad:
            raise RenogramInputError(
                _source(img), f"fused image index {bad} asked for, but the study has {n} fused images"
            )
        idx = [i % n for i in self.indices]
        out = _plain(img)[torch.as_tensor(idx)]
        meta = _meta(img)
        updates = {key: [meta[key][i] for i in idx] for key in FUSED_META_KEYS if _has_list(meta, key, n)}
        return _wrap(out, img, updates)


def _has_list(meta: dict[str, Any], key: str, n: int) -> bool:
    value = meta.get(key)
    return value is not None and not isinstance(value, (str, bytes)) and len(value) == n


def colormap_lut(colormap: str | int) -> np.ndarray:
    """``(256, 3)`` float32 RGB table in [0, 1] of an OpenCV colormap (``"jet"``, ``"hot"``, ``"viridis"``, ... or a
    ``cv2.COLORMAP_*`` int): entry ``v`` is the colour OpenCV's ``applyColorMap`` gives the uint8 value ``v``."""
    import cv2

    code = colormap if isinstance(colormap, int) else getattr(cv2, f"COLORMAP_{str(colormap).upper()}", None)
    if code is None:
        raise ValueError(f"unknown OpenCV colormap {colormap!r}")
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(1, 256), int(code))[0]
    return np.ascontiguousarray(bgr[:, ::-1], dtype=np.float32) / np.float32(255.0)


class Pseudocolor(Transform):
    """Normalise one fused image and colour it with an OpenCV colormap: ``(1, H, W)`` counts to ``(3, H, W)`` RGB.

    Normalisation: ``v = clip(x / P, 0, 1)`` with ``P`` the ``percentile``-th percentile of the image's pixels
    (99.5 by default), then ``v`` is quantised to uint8 (``round(255 v)``) as OpenCV's colormaps need. The lower end
    is 0 counts, not the image minimum, because counts are absolute and NM images are zero outside the field of view.
    Why a percentile and not the maximum: the injection site (and, late, the bladder) can be many times hotter than
    the kidneys yet covers only a few pixels; the maximum would squeeze the parenchyma into the colormap's bottom
    colours, while the 99.5th percentile ignores any hot spot under 0.5 % of the matrix (82 pixels at 128x128)
    and saturates only the hottest pixels. ``percentile=100`` gives plain max-normalisation. An image whose
    percentile is 0 falls back to its maximum; an all-zero (or negative) image maps to 0.

    Output: ``(3, H, W)`` float32 in [0, 1], RGB order (OpenCV's BGR is reversed), equal to ``LUT[u8] / 255``, so a
    PNG written from it round-trips exactly. With ``colormap=None``: ``(1, H, W)`` grayscale ``u8 / 255`` (the
    ablation path). Metadata gains ``colormap`` (name or ``"none"``) and ``normalisation_counts`` (``P``).

    Args:
        colormap: OpenCV colormap name (``"jet"``, ``"hot"``, ``"viridis"``, ...), ``cv2.COLORMAP_*`` int, or None
            for grayscale. Defaults to ``"jet"`` (the paper).
        percentile: percentile of the image taken as full scale, in (0, 100]. Defaults to 99.5.

    Raises:
        RenogramInputError: input is not ``(1, H, W)``.

    Examples::

        >>> rgb = Pseudocolor("jet")(SelectFusedImages(1)(fused))   # (3, 128, 128) float32 in [0, 1]
        >>> gray = Pseudocolor(None)(SelectFusedImages(1)(fused))   # (1, 128, 128)
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, colormap: str | int | None = "jet", percentile: float = 99.5) -> None:
        if not 0 < float(percentile) <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {percentile}")
        if isinstance(colormap, str) and colormap.lower() == "none":
            colormap = None
        self.colormap = colormap
        self.percentile = float(percentile)
        # (3, 256) channel-first table: indexing it with (H, W) levels gives (3, H, W) directly
        self.lut = None if colormap is None else np.ascontiguousarray(colormap_lut(colormap).T)

    def normalise(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """``(H, W)`` counts to ``(H, W)`` uint8 levels and the full-scale value ``P`` (counts)."""
        flat = x.reshape(-1)
        scale = float(np.percentile(flat, self.percentile)) if self.percentile < 100 else float(flat.max())
        if not scale > 0:
            scale = float(flat.max())
        if not (scale > 0 and math.isfinite(scale)):
            return np.zeros(x.shape, np.uint8), 0.0
        levels = np.rint(np.clip(x * np.float32(255.0 / scale), 0.0, 255.0)).astype(np.uint8)
        return levels, scale

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Args: img ``(1, H, W)`` one fused image (counts)."""
        if img.ndim != 3 or img.shape[0] != 1:
            raise RenogramInputError(
                _source(img),
                f"Pseudocolor expects one image (1, H, W), got shape {tuple(img.shape)}; "
                "select a single fused image first (SelectFusedImages(indices=k))",
            )
        x = _plain(img).detach().cpu().numpy()[0].astype(np.float32, copy=False)
        if not np.all(np.isfinite(x)):
            raise RenogramInputError(_source(img), "Pseudocolor input holds NaN or infinite values")
        levels, scale = self.normalise(x)
        if self.lut is None:
            out = torch.from_numpy(levels[None].astype(np.float32) / np.float32(255.0))
            name = "none"
        else:
            out = torch.from_numpy(np.take(self.lut, levels, axis=1))
            name = str(self.colormap).lower()
        return _wrap(out, img, {"colormap": name, "normalisation_counts": scale}, dtype=torch.float32)
