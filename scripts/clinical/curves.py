# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Time-activity curves of ROIs and their background correction (step 2 of the analysis: ROIs -> curves).

Units: every curve is a **count rate** (counts/s) per frame, i.e. the frame's counts divided by its duration, so
curves stay continuous where the protocol changes frame length (e.g. 1 s -> 15 s at 60 s). Frames ``(T, H, W)``;
ROIs ``(H, W)`` bool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scripts.clinical.indices import smooth_curve
from scripts.clinical.rois import KidneyROIs

__all__ = [
    "roi_rate",
    "roi_mean_rate",
    "background_corrected",
    "KidneyCurves",
    "kidney_curves",
    "BloodPool",
    "blood_pool",
]


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


@dataclass
class KidneyCurves:
    """The curves of one kidney, ``(T,)`` each, in counts/s.

    Attributes:
        kidney_raw: whole-kidney ROI rate. parenchyma_raw: parenchyma ROI rate.
        background: mean background rate per pixel (zeros without a background ROI).
        kidney, parenchyma: background-corrected rates ``K - N * B``.
        kidney_smoothed, parenchyma_smoothed: the corrected rates smoothed for the timing indices.
        kidney_pixels, parenchyma_pixels, background_pixels: ROI sizes.
    """

    kidney_raw: np.ndarray
    parenchyma_raw: np.ndarray
    background: np.ndarray
    kidney: np.ndarray
    parenchyma: np.ndarray
    kidney_smoothed: np.ndarray
    parenchyma_smoothed: np.ndarray
    kidney_pixels: int
    parenchyma_pixels: int
    background_pixels: int

    def columns(self, side: str) -> dict[str, np.ndarray]:
        """The ``curves.csv`` columns of this kidney (patient ``side``)."""
        return {
            f"{side}_kidney_cps": self.kidney,
            f"{side}_parenchyma_cps": self.parenchyma,
            f"{side}_kidney_raw_cps": self.kidney_raw,
            f"{side}_background_cps_per_px": self.background,
            f"{side}_kidney_smoothed_cps": self.kidney_smoothed,
        }


def kidney_curves(
    frames: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    kidney: np.ndarray,
    parenchyma: np.ndarray,
    background: np.ndarray | None,
    smoothing_s: float,
) -> KidneyCurves:
    """Raw, background-corrected and smoothed curves of one kidney's ROIs (smoothing: Gaussian, sigma in s)."""
    n_k, n_p = int(kidney.sum()), int(parenchyma.sum())
    k_raw = roi_rate(frames, durations_s, kidney)
    p_raw = roi_rate(frames, durations_s, parenchyma)
    b_mean = roi_mean_rate(frames, durations_s, background) if background is not None and background.any() \
        else np.zeros_like(k_raw)
    k_c = background_corrected(k_raw, n_k, b_mean)
    p_c = background_corrected(p_raw, n_p, b_mean)
    return KidneyCurves(
        kidney_raw=k_raw, parenchyma_raw=p_raw, background=b_mean, kidney=k_c, parenchyma=p_c,
        kidney_smoothed=smooth_curve(k_c, starts_s, durations_s, smoothing_s),
        parenchyma_smoothed=smooth_curve(p_c, starts_s, durations_s, smoothing_s),
        kidney_pixels=n_k, parenchyma_pixels=n_p,
        background_pixels=int(background.sum()) if background is not None else 0,
    )


@dataclass
class BloodPool:
    """The Patlak input curve.

    Attributes:
        curve: ``(T,)`` mean rate per pixel (counts/s/px).
        info: ``report.json``'s ``blood_pool`` entry (``method`` and how it was found).
        warnings: what the report must say about it (a fallback curve).
    """

    curve: np.ndarray
    info: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def blood_pool(frames: np.ndarray, durations_s: np.ndarray, rois: KidneyROIs) -> BloodPool:
    """The blood-pool curve: the heart ROI, else the background rings, else a band 3 px around the kidneys."""
    if rois.heart is not None:
        return BloodPool(roi_mean_rate(frames, durations_s, rois.heart), {
            "method": "heart_roi", **rois.heart_info,
            "how": "hottest 1st-minute region above the kidneys on the patient's left of the midline, disc of 12 mm "
                   "at >= 50 % of its peak"})
    rings = [r for r in rois.background.values() if r is not None and r.any()]
    if rings:
        curve = roi_mean_rate(frames, durations_s, np.logical_or.reduce(rings))
        info = {"method": "background_ring_fallback", "reason": rois.heart_info.get("reason", "")}
    else:
        from scipy.ndimage import binary_dilation

        union = np.logical_or.reduce([k for k in rois.kidney.values() if k is not None])
        curve = roi_mean_rate(frames, durations_s, binary_dilation(union, iterations=3) & ~union)
        info = {"method": "perirenal_band_fallback", "reason": rois.heart_info.get("reason", "")}
    warning = (
        "no heart ROI found (" + info["reason"] + "); Patlak used the perirenal background curve as blood-pool "
        "input: DRF by Patlak is approximate (tissue background lags plasma), absolute slopes are not meaningful"
    )
    return BloodPool(curve, info, [warning])
