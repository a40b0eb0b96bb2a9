# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""A dynamic study loaded once for the report, and its fused image by the network input's rule.

:func:`load_study` reads the file with the chain's loader (:class:`custom_transforms.pipeline.FusedImageChain`, i.e.
:class:`custom_transforms.LoadDynamicStudy`; the frame timing is the reader's, validated by
:func:`custom_transforms.io.frame_timing`) and keeps the ``(T, H, W)`` MetaTensor, which the model's preprocessing and
the analysis both use. :func:`fused_display` makes the report's image with the **same** chain as the network input
(drop the first ``min_start_s``, fuse ``group_size`` frames or ``window_s`` windows, fused image ``fused_index``):
the bundle's chain (``FusedImageChain.from_config``) when the model segments, else one with the report's settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LoadedStudy", "load_study", "fused_display", "window_sum"]


@dataclass
class LoadedStudy:
    """One study as read by :class:`custom_transforms.LoadDynamicStudy`.

    Attributes:
        path: the user's path (named in every error about this study).
        image: ``(T, H, W)`` float32 MetaTensor of counts with the reader's metadata.
    """

    path: Path
    image: Any

    @property
    def frames(self) -> np.ndarray:
        """``(T, H, W)`` float32 counts (a view of :attr:`image`, not a copy)."""
        return np.asarray(self.image.detach().cpu().numpy(), dtype=np.float32)

    @property
    def meta(self) -> dict[str, Any]:
        """The reader's metadata (timing in ``frame_start_s``/``frame_duration_s``, ``view``, ``tracer``, ...)."""
        meta = {k: v for k, v in dict(self.image.meta).items() if not k.startswith("affine")}
        meta.setdefault("filename_or_obj", os.fspath(self.path))
        return meta


def load_study(path: str | os.PathLike, chain: Any = None) -> LoadedStudy:
    """Read a study file or frame folder once, with ``chain``'s loader (default: the paper's chain, posterior view).

    Raises:
        RenogramInputError: from the reader (the file is named).
    """
    from custom_transforms.pipeline import FusedImageChain

    chain = chain or FusedImageChain()
    return LoadedStudy(Path(path), chain.load(os.fspath(path)))


def fused_display(study: LoadedStudy, chain: Any = None) -> tuple[np.ndarray, str]:
    """The report's image: ``chain``'s fused image ``fused_index`` (default chain: the paper's), else the 1-3 min sum.

    Returns:
        ``(image (H, W) float, title)``; the title gives the fused image's time span, or says which sum it is when
        the study is too short for that fused image.
    """
    from custom_transforms.io import frame_timing
    from custom_transforms.pipeline import FusedImageChain

    chain = chain or FusedImageChain()
    index = chain.fused_index
    try:
        fused = chain.fuse(study.image)
    except (ValueError, IndexError, KeyError):  # too short for one fused image: the sum below
        fused = None
    if fused is not None and fused.shape[0] > index >= 0:
        title = f"fused image {index}"
        starts, ends = fused.meta.get("fused_start_s"), fused.meta.get("fused_end_s")
        if starts is not None and ends is not None:
            a, b = float(np.asarray(starts)[index]) / 60.0, float(np.asarray(ends)[index]) / 60.0
            title += f" ({a:.1f}-{b:.1f} min)"
        return np.asarray(fused[index].detach().cpu().numpy(), float), title
    frames = study.frames
    starts, durs = frame_timing(study.meta, frames.shape[0], study.path)
    return window_sum(frames, starts, durs)


def window_sum(frames: np.ndarray, starts: np.ndarray, durs: np.ndarray) -> tuple[np.ndarray, str]:
    """The 1-3 min sum of the frames (by frame mid-time), or of all frames when none lies there, and its title."""
    mid = starts + durs / 2
    sel = (mid >= 60) & (mid <= 180)
    image = frames[sel].sum(axis=0) if sel.any() else frames.sum(axis=0)
    return np.asarray(image, float), "1-3 min sum" if sel.any() else "sum of all frames"
