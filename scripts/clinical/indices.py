# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Renogram indices from background-corrected count-rate curves: DRF, Patlak-Rutland, Tmax, T1/2, 20-min/max, NORA.

Conventions shared by every function (see ``/work/shared/docs/renography.md`` section 3):

- A curve is a **count rate** in counts/s, one value per frame, located at the frame **mid-time**. Frames may have
  different durations; ``starts_s`` and ``durations_s`` (seconds from acquisition start) describe them.
- Integrals over a time window are ``sum(rate_i * overlap_i)`` where ``overlap_i`` is the part (s) of frame ``i``
  inside the window, i.e. exactly the counts recorded in the window when frames lie wholly inside it; a frame
  straddling a window edge contributes pro rata.
- Times returned are in **minutes** from acquisition start (Tmax) or minutes (durations such as T1/2).

All functions are pure NumPy; none reads files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PatlakFit",
    "frame_mid_times_s",
    "window_integral",
    "cumulative_integral",
    "smooth_curve",
    "integral_drf_percent",
    "patlak_rutland",
    "patlak_drf_percent",
    "tmax_min",
    "t_half_min",
    "t_half_fit_min",
    "value_at_min",
    "ratio_to_max",
    "nora",
    "ktbr",
]


def _as_float(*arrays: np.ndarray) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=float).ravel() for a in arrays]
    n = out[0].size
    if any(a.size != n for a in out):
        raise ValueError(f"curve and timing arrays differ in length: {[a.size for a in out]}")
    return out


def frame_mid_times_s(starts_s: np.ndarray, durations_s: np.ndarray) -> np.ndarray:
    """Frame mid-times ``start + duration / 2`` in seconds, shape ``(T,)``."""
    starts, durs = _as_float(starts_s, durations_s)
    return starts + durs / 2.0


def window_integral(
    rate: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray, window_s: tuple[float, float]
) -> float:
    """Integral (counts) of a count-rate curve over ``window_s = (t1, t2)`` seconds.

    Each frame contributes ``rate * (seconds of the frame inside the window)``.

    Raises:
        ValueError: empty window or the acquisition ends before ``t2`` (by more than 1 ms).
    """
    rate, starts, durs = _as_float(rate, starts_s, durations_s)
    t1, t2 = float(window_s[0]), float(window_s[1])
    if not t2 > t1:
        raise ValueError(f"window {window_s} s is empty")
    end = float((starts + durs).max())
    if end < t2 - 1e-3:
        raise ValueError(f"the acquisition ends at {end:.1f} s, before the end of the {t1:g}-{t2:g} s window")
    overlap = np.clip(np.minimum(starts + durs, t2) - np.maximum(starts, t1), 0.0, None)
    return float(np.sum(rate * overlap))


def cumulative_integral(rate: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray) -> np.ndarray:
    """Integral (counts) of a count-rate curve from acquisition start to each frame mid-time, shape ``(T,)``.

    ``C_i = sum_{j<i} rate_j * d_j + rate_i * d_i / 2`` (frames assumed back to back, the rate constant within a
    frame). Gaps between frames (pauses) are ignored.
    """
    rate, _, durs = _as_float(rate, starts_s, durations_s)
    counts = rate * durs
    return np.concatenate([[0.0], np.cumsum(counts)[:-1]]) + counts / 2.0


def smooth_curve(rate: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray, sigma_s: float) -> np.ndarray:
    """Gaussian local-linear smoothing in time that respects frame durations.

    At each mid-time ``t_i`` a line is fitted to the curve by weighted least squares with weights
    ``w_ij = d_j * exp(-(t_i - t_j)^2 / (2 sigma^2))`` (``d_j`` = frame duration, so a frame counts in proportion to
    its counts) and its value at ``t_i`` is returned. Unlike a plain moving average it has no bias at the start and
    end of the study or on a steep rise, and it reproduces straight lines exactly. Written here because SciPy's
    filters assume uniform sampling and renograms change frame duration mid-study.

    Args:
        rate: ``(T,)`` counts/s.
        starts_s, durations_s: ``(T,)`` frame timing (s).
        sigma_s: kernel standard deviation (s); ``<= 0`` returns the curve unchanged.
    """
    rate, starts, durs = _as_float(rate, starts_s, durations_s)
    if sigma_s <= 0 or rate.size < 3:
        return rate.copy()
    mid = starts + durs / 2.0
    dt = mid[None, :] - mid[:, None]  # (i, j): t_j - t_i
    w = np.exp(-0.5 * (dt / float(sigma_s)) ** 2) * durs[None, :]
    s0, s1, s2 = w.sum(axis=1), (w * dt).sum(axis=1), (w * dt**2).sum(axis=1)
    t0, t1 = w @ rate, (w * dt) @ rate
    det = s0 * s2 - s1**2
    flat = t0 / s0  # fallback where the local fit is degenerate (a single effective point)
    with np.errstate(divide="ignore", invalid="ignore"):
        local = (s2 * t0 - s1 * t1) / det
    return np.where(det > 1e-12 * s0 * np.maximum(s2, 1e-300), local, flat)


def integral_drf_percent(integral_left: float, integral_right: float) -> float:
    """Left DRF (%) from the two background-corrected window integrals; negative integrals count as 0.

    Returns:
        ``100 * I_L / (I_L + I_R)`` with ``I = max(I, 0)``; NaN when both are 0.
    """
    left, right = max(float(integral_left), 0.0), max(float(integral_right), 0.0)
    total = left + right
    return float("nan") if total <= 0 else 100.0 * left / total


@dataclass
class PatlakFit:
    """Rutland-Patlak line ``K(t)/P(t) = U * (int_0^t P / P(t)) + F`` fitted over the uptake window.

    Attributes:
        slope_per_s: U, the uptake constant (1/s) relative to the blood-pool curve's scale (only ratios of U between
            kidneys are meaningful unless P is calibrated).
        intercept: F, the vascular fraction (same scale caveat).
        r2: coefficient of determination of the fit (NaN with 2 points).
        n_points: frames used.
    """

    slope_per_s: float
    intercept: float
    r2: float
    n_points: int


def patlak_rutland(
    kidney_rate: np.ndarray,
    blood_rate: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    window_s: tuple[float, float] = (60.0, 150.0),
) -> PatlakFit:
    """Fit the Rutland-Patlak plot over the frames whose mid-time lies in ``window_s``.

    ``y = K(t)/P(t)`` against ``x = int_0^t P(tau) dtau / P(t)`` (:func:`cumulative_integral`); least-squares line.

    Args:
        kidney_rate: ``(T,)`` background-corrected kidney counts/s.
        blood_rate: ``(T,)`` blood-pool curve (any positive scale, e.g. mean counts/s per heart pixel).
        starts_s, durations_s: frame timing (s).
        window_s: uptake window (s, frame mid-times). Defaults to 60-150 s (1-2.5 min, after vascular mixing).

    Raises:
        ValueError: fewer than 2 frames in the window, or a non-positive blood-pool value inside it.
    """
    k, p, starts, durs = _as_float(kidney_rate, blood_rate, starts_s, durations_s)
    mid = starts + durs / 2.0
    sel = (mid >= window_s[0]) & (mid <= window_s[1])
    if sel.sum() < 2:
        raise ValueError(f"Patlak window {window_s} s holds {int(sel.sum())} frame mid-time(s); at least 2 needed")
    if np.any(p[sel] <= 0):
        raise ValueError("the blood-pool curve is not positive inside the Patlak window")
    x = cumulative_integral(p, starts, durs)[sel] / p[sel]
    y = k[sel] / p[sel]
    slope, intercept = np.polyfit(x, y, 1)
    pred = slope * x + intercept
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = float("nan") if sel.sum() < 3 or ss_tot == 0 else 1.0 - float(np.sum((y - pred) ** 2)) / ss_tot
    return PatlakFit(float(slope), float(intercept), r2, int(sel.sum()))


def patlak_drf_percent(slope_left: float, slope_right: float) -> float:
    """Left DRF (%) from the two Patlak slopes (negative slopes count as 0; NaN when both are 0)."""
    return integral_drf_percent(slope_left, slope_right)


def tmax_min(rate: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray) -> float:
    """Tmax (min): mid-time of the highest value of the curve (pass a smoothed curve to resist noise).

    Returns:
        Minutes from acquisition start; NaN for an empty curve or one that is nowhere positive.
    """
    rate, starts, durs = _as_float(rate, starts_s, durations_s)
    if rate.size == 0 or not np.any(rate > 0):
        return float("nan")
    return float((starts + durs / 2.0)[int(np.argmax(rate))] / 60.0)


def t_half_min(rate: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray) -> float:
    """Observed T1/2 (min): time from Tmax until the curve first falls to half its peak value.

    Linear interpolation between frame mid-times (the simulator's truth definition). NaN when the curve never falls
    to half within the acquisition or is nowhere positive.
    """
    rate, starts, durs = _as_float(rate, starts_s, durations_s)
    if rate.size == 0 or not np.any(rate > 0):
        return float("nan")
    mid = (starts + durs / 2.0) / 60.0
    i = int(np.argmax(rate))
    half = rate[i] / 2.0
    below = np.flatnonzero(rate[i:] <= half)
    if below.size == 0:
        return float("nan")
    j = i + int(below[0])
    t_cross = mid[j - 1] + (rate[j - 1] - half) / (rate[j - 1] - rate[j]) * (mid[j] - mid[j - 1])
    return float(t_cross - mid[i])


def t_half_fit_min(
    rate: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray, start_fraction: float = 0.9
) -> float:
    """T1/2 (min) = ln 2 / lambda of a mono-exponential fitted to the descending limb.

    The limb runs from the first frame after Tmax where the curve is at or below ``start_fraction`` of its peak to
    the end, stopping at the first non-positive value; ``log(rate)`` is fitted by least squares against time.

    Returns:
        Minutes; NaN with fewer than 3 points on the limb or a non-decreasing limb (no washout, reported as
        "not measurable" rather than a negative T1/2).
    """
    rate, starts, durs = _as_float(rate, starts_s, durations_s)
    if rate.size < 3 or not np.any(rate > 0):
        return float("nan")
    mid = (starts + durs / 2.0) / 60.0
    i = int(np.argmax(rate))
    after = np.flatnonzero(rate[i:] <= start_fraction * rate[i])
    if after.size == 0:
        return float("nan")
    first = i + int(after[0])
    stop = np.flatnonzero(rate[first:] <= 0)
    last = rate.size if stop.size == 0 else first + int(stop[0])
    if last - first < 3:
        return float("nan")
    slope = np.polyfit(mid[first:last], np.log(rate[first:last]), 1)[0]
    return float(math.log(2.0) / -slope) if slope < 0 else float("nan")


def value_at_min(rate: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray, t_min: float) -> float:
    """Curve value at ``t_min`` minutes: linear interpolation between mid-times.

    Between the last mid-time and the end of the last frame the last value is used; before the first mid-time the
    first value. NaN when ``t_min`` lies after the end of the acquisition (by more than 1 ms).
    """
    rate, starts, durs = _as_float(rate, starts_s, durations_s)
    t = float(t_min) * 60.0
    if rate.size == 0 or t > float((starts + durs).max()) + 1e-3:
        return float("nan")
    return float(np.interp(t, starts + durs / 2.0, rate))


def ratio_to_max(rate: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray, t_min: float) -> float:
    """``K(t_min) / K(Tmax)`` (e.g. the 20-min/max ratio); NaN if the study ends before ``t_min`` or no peak."""
    peak = float(np.max(rate)) if np.size(rate) else float("nan")
    if not peak > 0:
        return float("nan")
    return value_at_min(rate, starts_s, durations_s, t_min) / peak


def nora(
    rate: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    t_min: float,
    reference_window_s: tuple[float, float] = (60.0, 120.0),
) -> float:
    """Normalized residual activity ``K(t) / mean K over the 1-2 min window`` (Piepsz et al., JNM 2002;43:33).

    The mean is :func:`window_integral` divided by the window length. NaN when the study ends before ``t_min`` or
    the reference mean is not positive.
    """
    ref = window_integral(rate, starts_s, durations_s, reference_window_s) / (
        reference_window_s[1] - reference_window_s[0]
    )
    if not ref > 0:
        return float("nan")
    return value_at_min(rate, starts_s, durations_s, t_min) / ref


def ktbr(kidney_mean_per_px: float, background_mean_per_px: float) -> float:
    """Kidney-to-background ratio of mean counts per pixel (uncorrected kidney / background); NaN if bg <= 0."""
    bg = float(background_mean_per_px)
    return float("nan") if not bg > 0 else float(kidney_mean_per_px) / bg
