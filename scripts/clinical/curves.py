# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Time-activity curves of ROIs and their background correction.

Units: every curve is a **count rate** (counts/s) per frame, i.e. the frame's counts divided by its duration, so
curves stay continuous where the protocol changes frame length (e.g. 1 s -> 15 s at 60 s). Frames ``(T, H, W)``;
ROIs ``(H, W)`` bool.
"""

from __future__ import annotations

import numpy as np

__all__ = ["roi_rate", "roi_mean_rate", "background_corrected"]


def roi_rate(frames: np.ndarray, durations_s: np.ndarray, roi: np.ndarray) -> np.ndarray:
    """Total count rate (counts/s) inside ``roi`` per frame, shape ``(T,)``."""
    durs = np.asarray(durations_s, float)
    if not np.asarray(roi, bool).any():
        return np.zeros(durs.size)
    return np.asarray(frames, float)[:, np.asarray(roi, bool)].sum(axis=1) / durs


def roi_mean_rate(frames: np.ndarray, durations_s: np.ndarray, roi: np.ndarray) -> np.ndarray:
    """Mean count rate per pixel (counts/s/px) inside ``roi`` per frame; zeros for an empty ROI."""
    n = int(np.asarray(roi, bool).sum())
    return roi_rate(frames, durations_s, roi) / n if n else np.zeros(np.asarray(durations_s).size)


def background_corrected(kidney_rate: np.ndarray, n_pixels: int, background_mean_rate: np.ndarray) -> np.ndarray:
    """``K_c(t) = K(t) - N_K * B(t)``: kidney rate minus its pixel count times the mean background rate per pixel."""
    return np.asarray(kidney_rate, float) - float(n_pixels) * np.asarray(background_mean_rate, float)
