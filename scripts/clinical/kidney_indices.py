# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Step 3 of the analysis (curves -> indices): each kidney's indices from its curves, then the split function.

The formulas are in :mod:`scripts.clinical.indices`; this module applies them to one kidney's
:class:`~scripts.clinical.curves.KidneyCurves` (:func:`kidney_indices`, the ``report.json`` kidney entry) and to the
pair (:func:`split_function`, ``report.json``'s ``drf_percent``). Numbers are rounded as ``report.json`` stores them
(:func:`json_float`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scripts.clinical import indices as ix
from scripts.clinical.curves import KidneyCurves, kidney_curves
from scripts.clinical.rois import SIDES, KidneyROIs

__all__ = [
    "DRF_METHODS", "finite_number", "json_float", "kidney_indices", "indices_of_rois", "left_drf", "split_function",
]

#: ``report.json``'s ``drf_percent`` entries -> (kidney entry it is computed from, formula).
DRF_METHODS = {
    "integral": ("drf_window_integral_counts", ix.integral_drf_percent),
    "patlak": ("patlak_slope_per_s", ix.patlak_drf_percent),
    "parenchyma_integral": ("parenchyma_drf_window_integral_counts", ix.integral_drf_percent),
}


def finite_number(v: Any) -> bool:
    """Whether ``v`` is a finite number or its text (a ``report.json`` value or a ``per_study.csv`` cell): False for
    None, ``""``, NaN, infinity and anything ``float`` does not read."""
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def json_float(v: float | None, nd: int = 3) -> float | None:
    """``v`` rounded to ``nd`` decimals, None for a missing, NaN or infinite value (strict JSON)."""
    return None if v is None or not math.isfinite(float(v)) else round(float(v), nd)


def kidney_indices(
    curves: KidneyCurves,
    blood: np.ndarray,
    starts: np.ndarray,
    durs: np.ndarray,
    drf_window_s: tuple[float, float],
    patlak_window_s: tuple[float, float],
    late_time_min: float,
    with_background: bool = True,
) -> dict[str, Any]:
    """The indices of one found kidney: DRF-window integrals, Patlak fit, Tmax, T1/2, late ratios, NORA, KTBR.

    Args:
        curves: the kidney's curves. blood: the blood-pool curve (Patlak input).
        starts, durs: frame starts and durations (s).
        drf_window_s, patlak_window_s: windows (s). late_time_min: time of 20-min/max and NORA (min).
        with_background: a background ROI was used (else KTBR is None).
    """
    c = curves
    win = drf_window_s[1] - drf_window_s[0]
    patlak_problem = ""
    try:
        fit = ix.patlak_rutland(c.kidney, blood, starts, durs, patlak_window_s)
    except ValueError as exc:
        fit, patlak_problem = ix.PatlakFit(float("nan"), float("nan"), float("nan"), 0), str(exc)
    k_s, p_s = c.kidney_smoothed, c.parenchyma_smoothed
    k_mean_px = ix.window_integral(c.kidney_raw, starts, durs, drf_window_s) / win / max(c.kidney_pixels, 1)
    b_mean_px = ix.window_integral(c.background, starts, durs, drf_window_s) / win
    last_min = (starts[-1] + durs[-1] / 2) / 60.0
    return {
        "found": True,
        "kidney_pixels": c.kidney_pixels,
        "parenchyma_pixels": c.parenchyma_pixels,
        "background_pixels": c.background_pixels,
        "drf_window_integral_counts": json_float(ix.window_integral(c.kidney, starts, durs, drf_window_s), 1),
        "parenchyma_drf_window_integral_counts": json_float(
            ix.window_integral(c.parenchyma, starts, durs, drf_window_s), 1),
        "patlak_slope_per_s": json_float(fit.slope_per_s, 8),
        "patlak_intercept": json_float(fit.intercept, 6),
        "patlak_r2": json_float(fit.r2, 4),
        "patlak_points": fit.n_points,
        "patlak_problem": patlak_problem,
        "tmax_min": json_float(ix.tmax_min(k_s, starts, durs)),
        "t_half_min": json_float(ix.t_half_min(k_s, starts, durs)),
        "t_half_fit_min": json_float(ix.t_half_fit_min(k_s, starts, durs)),
        "parenchyma_tmax_min": json_float(ix.tmax_min(p_s, starts, durs)),
        "parenchyma_t_half_min": json_float(ix.t_half_min(p_s, starts, durs)),
        "ratio_20min_max": json_float(ix.ratio_to_max(k_s, starts, durs, late_time_min), 4),
        "parenchyma_ratio_20min_max": json_float(ix.ratio_to_max(p_s, starts, durs, late_time_min), 4),
        "nora_20min": json_float(ix.nora(k_s, starts, durs, late_time_min, drf_window_s), 4),
        "ratio_last_max": json_float(float(k_s[-1] / k_s.max()) if k_s.max() > 0 else float("nan"), 4),
        "nora_last": json_float(ix.nora(k_s, starts, durs, last_min, drf_window_s), 4),
        "ktbr": json_float(ix.ktbr(k_mean_px, b_mean_px), 3) if with_background else None,
    }


def indices_of_rois(
    frames: np.ndarray,
    starts: np.ndarray,
    durs: np.ndarray,
    rois: KidneyROIs,
    blood: np.ndarray,
    settings: Any,
) -> tuple[dict[str, dict[str, Any]], dict[str, KidneyCurves]]:
    """Each kidney's curves (:func:`scripts.clinical.curves.kidney_curves`) and :func:`kidney_indices` from its ROIs.

    Args:
        frames: ``(T, H, W)`` counts. starts, durs: frame timing (s). rois: the study's ROIs. blood: the blood-pool
            curve. settings: the :class:`~scripts.clinical.analysis.AnalysisSettings` (``smoothing_s``,
            ``drf_window_s``, ``patlak_window_s``, ``late_time_min``, ``background``).

    Returns:
        ``({side: kidney entry}, {side: curves})``: a side without an ROI is ``{"found": False}`` and has no curves.
    """
    kidneys: dict[str, dict[str, Any]] = {}
    curves: dict[str, KidneyCurves] = {}
    for side in SIDES:
        if rois.kidney[side] is None:
            kidneys[side] = {"found": False}
            continue
        kc = kidney_curves(frames, starts, durs, rois.kidney[side], rois.parenchyma[side], rois.background[side],
                           settings.smoothing_s)
        curves[side] = kc
        kidneys[side] = kidney_indices(kc, blood, starts, durs, settings.drf_window_s, settings.patlak_window_s,
                                       settings.late_time_min, with_background=settings.background != "none")
    return kidneys, curves


def left_drf(drf: dict[str, dict[str, Any]], method: str) -> float:
    """The left DRF (percent) of one method of :func:`split_function`'s ``drf_percent``; NaN when it has no value."""
    try:
        return float(drf.get(method, {}).get("left"))
    except (TypeError, ValueError):
        return math.nan


def split_function(kidneys: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, float | None]], list[str]]:
    """Differential renal function (%) per method of :data:`DRF_METHODS`, and what the report must say about it.

    One found kidney gets 100 % (the other 0 %). With two, each method's left share comes from its formula; a
    kidney without uptake in the DRF window and integral/Patlak results more than 5 points apart are warned about.

    Returns:
        ``({method: {"left": %, "right": %}}, warnings)``.
    """
    found = [s for s in SIDES if kidneys[s]["found"]]
    warnings: list[str] = []
    drf: dict[str, dict[str, float | None]] = {}
    if len(found) == 1:
        only = found[0]
        other = "right" if only == "left" else "left"
        for method in DRF_METHODS:
            drf[method] = {only: 100.0, other: 0.0}
        warnings.append(
            f"only the patient's {only} kidney was found in the mask: DRF {only} 100 % / {other} 0 % "
            f"({other} kidney absent, non-functioning or not segmented)"
        )
        return drf, warnings
    for method, (entry, formula) in DRF_METHODS.items():
        a, b = kidneys["left"][entry], kidneys["right"][entry]
        val = float("nan") if a is None or b is None else formula(a, b)
        drf[method] = {"left": json_float(val, 2), "right": json_float(100.0 - val, 2)}
    for side in SIDES:
        if (kidneys[side]["drf_window_integral_counts"] or 0) <= 0:
            warnings.append(
                f"the {side} kidney shows no uptake above background in the DRF window (non-functioning?): "
                "its DRF is set to 0 %"
            )
    li, pa = drf["integral"]["left"], drf["patlak"]["left"]
    if li is not None and pa is not None and abs(li - pa) > 5:
        warnings.append(f"integral and Patlak DRF differ by {abs(li - pa):.1f} points; check ROIs and timing")
    return drf, warnings
