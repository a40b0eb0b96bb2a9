# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Curve timing and ROI measurements the simulator uses for its truth and its self-checks.

These are deliberately simple reference implementations (the project's clinical module is separate): Tmax and
T1/2 of a count curve, the perirenal background ring, and the 1-2 min integral DRF.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation

__all__ = ["curve_tmax_thalf", "perirenal_ring", "integral_drf_percent"]


def curve_tmax_thalf(counts: np.ndarray, durations_s: np.ndarray, starts_s: np.ndarray) -> tuple[float, float]:
    """Tmax and T1/2 (min) of a count curve.

    The curve is turned into a count rate (counts / frame duration) at the frame mid-times. Tmax is the mid-time
    of the highest-rate frame; T1/2 is the time from Tmax until the rate first falls to half its peak, linearly
    interpolated between mid-times. NaN when the curve is empty or never falls to half within the acquisition.

    Args:
        counts: ``(T,)`` counts per frame.
        durations_s, starts_s: ``(T,)`` frame durations and starts (s).
    """
    rate = np.asarray(counts, float) / np.asarray(durations_s, float)
    mid = (np.asarray(starts_s, float) + np.asarray(durations_s, float) / 2.0) / 60.0
    if rate.size == 0 or not np.any(rate > 0):
        return float("nan"), float("nan")
    i = int(np.argmax(rate))
    half = rate[i] / 2.0
    below = np.flatnonzero(rate[i:] <= half)
    if below.size == 0:
        return float(mid[i]), float("nan")
    j = i + int(below[0])
    t_cross = mid[j - 1] + (rate[j - 1] - half) / (rate[j - 1] - rate[j]) * (mid[j] - mid[j - 1])
    return float(mid[i]), float(t_cross - mid[i])


def perirenal_ring(kidney: np.ndarray, exclude: np.ndarray | None = None, gap: int = 1, width: int = 2) -> np.ndarray:
    """Background ring around a kidney ROI: ``width`` pixels wide, starting ``gap`` pixels out (bool ``(H, W)``).

    Args:
        kidney: bool ROI.
        exclude: pixels never used as background (e.g. the other kidney, dilated).
        gap, width: ring geometry in pixels (guideline: about 1-2 px gap, 2 px wide).
    """
    inner = binary_dilation(kidney, iterations=gap) if gap > 0 else kidney.copy()
    outer = binary_dilation(kidney, iterations=gap + width)
    ring = outer & ~inner
    if exclude is not None:
        ring &= ~exclude
    return ring


def integral_drf_percent(
    frames: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    window_s: tuple[float, float] = (60.0, 120.0),
) -> float:
    """Left DRF (%) by the integral method with perirenal background subtraction.

    ``K_c = sum(K) - N_K * mean(ring)`` summed over the frames lying inside ``window_s``; DRF_L = K_c,L / (K_c,L +
    K_c,R) * 100.

    Args:
        frames: ``(T, H, W)`` counts.
        starts_s, durations_s: ``(T,)`` frame timing (s).
        left, right: bool kidney ROIs.
        window_s: integration window (s), frames wholly inside it are used.
    """
    ends = starts_s + durations_s
    sel = (starts_s >= window_s[0] - 1e-6) & (ends <= window_s[1] + 1e-6)
    if not sel.any():
        raise ValueError(f"no frame lies inside the DRF window {window_s} s")
    img = frames[sel].sum(axis=0).astype(float)
    corrected = []
    for roi, other in ((left, right), (right, left)):
        ring = perirenal_ring(roi, exclude=binary_dilation(other, iterations=2))
        corrected.append(img[roi].sum() - roi.sum() * img[ring].mean())
    total = corrected[0] + corrected[1]
    return float(100.0 * corrected[0] / total)
