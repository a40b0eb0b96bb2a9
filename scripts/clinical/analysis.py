# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Renogram analysis of one study: ROIs -> background-corrected curves -> DRF, Tmax, T1/2, 20-min/max, NORA, KTBR.

Input: ``(T, H, W)`` counts per frame with timing (seconds) as :class:`custom_transforms.LoadDynamicStudy` gives it,
and a kidney mask on the same ``(H, W)`` matrix. Output: :class:`RenalAnalysis`, whose ``report`` is the JSON-ready
dictionary written as ``report.json`` (schema in :data:`REPORT_SCHEMA_VERSION` / ``scripts/clinical/report.py``).

Choices (all recorded in ``report["settings"]``):

- curves are count rates (counts/s) at frame mid-times; ``K_c = K - N_K * B`` with B the mean rate per pixel of the
  kidney's own background ring;
- DRF by the integral of ``K_c`` over the DRF window (default 60-120 s) and by Rutland-Patlak over the Patlak window
  (default 60-150 s, frame mid-times), both with whole-kidney ROIs;
- timing indices (Tmax, T1/2, 20-min/max, NORA) are read from ``K_c`` smoothed with a 20 s Gaussian
  (:func:`scripts.clinical.indices.smooth_curve`) so that a single noisy frame cannot move them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from custom_transforms.errors import RenogramInputError
from scripts.clinical import indices as ix
from scripts.clinical.curves import background_corrected, roi_mean_rate, roi_rate
from scripts.clinical.rois import SIDES, KidneyROIs, build_rois

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "NORMAL_RANGES",
    "AnalysisSettings",
    "RenalAnalysis",
    "check_timing",
    "flag_value",
    "load_study",
    "analyse_frames",
    "analyse_study",
]

REPORT_SCHEMA_VERSION = "1.0"

#: Normal ranges (renography.md section 3), as written in ``report.json``; :func:`flag_value` applies them.
NORMAL_RANGES: dict[str, dict[str, Any]] = {
    "drf_percent": {"low": 45.0, "high": 55.0, "text": "45-55 %",
                    "source": "JNMT best-practice table: normal 45-55 %, abnormal < 40 %"},
    "tmax_min": {"high": 5.0, "text": "< 5 min (MAG3)", "source": "JNMT: Tmax < 5 min (MAG3)"},
    "t_half_min": {"high": 10.0, "text": "< 10 min (10-20 equivocal)",
                   "source": "JNMT: < 10-15 min; post-diuretic < 10 normal, 10-20 equivocal, > 20 obstructed"},
    "ratio_20min_max": {"high": 0.3, "text": "< 0.3", "source": "JNMT: 20-min/max < 0.3 (whole kidney)"},
    "nora_20min": {"high": 0.70, "text": "<= 0.70", "source": "Piepsz 2002: 90th percentile of normals 0.70 at 20 min"},
    "ktbr": {"low": 2.0, "text": "> 2 (QC)", "source": "PMC8279895: DRF unreliable when KTBR <= 2"},
}


@dataclass
class AnalysisSettings:
    """Options of the analysis (defaults follow the pediatric/EANM practice in renography.md section 3).

    Attributes:
        drf_window_s: integral-DRF window (s from acquisition start). Defaults to (60, 120).
        patlak_window_s: Patlak fit window (s, frame mid-times). Defaults to (60, 150).
        background: ``"perirenal"``, ``"crescent"`` or ``"none"``. Defaults to ``"perirenal"``.
        ring_gap_px, ring_width_px: background ring geometry. Defaults to 1 and 2.
        mask_kind: ``"parenchyma"`` (fill the hilum) or ``"kidney"``. Defaults to ``"parenchyma"``.
        label_mode: ``"auto"``, ``"labels"`` or ``"binary"`` (see :func:`scripts.clinical.rois.assign_kidneys`).
        smoothing_s: Gaussian sigma (s) for the timing indices. Defaults to 20.
        late_time_min: time of the late ratios (20-min/max, NORA). Defaults to 20.
    """

    drf_window_s: tuple[float, float] = (60.0, 120.0)
    patlak_window_s: tuple[float, float] = (60.0, 150.0)
    background: str = "perirenal"
    ring_gap_px: int = 1
    ring_width_px: int = 2
    mask_kind: str = "parenchyma"
    label_mode: str = "auto"
    smoothing_s: float = 20.0
    late_time_min: float = 20.0


@dataclass
class RenalAnalysis:
    """Result of :func:`analyse_frames`.

    Attributes:
        report: JSON-ready dictionary (``report.json``).
        curves: column name -> ``(T,)`` array (``curves.csv``), times in s/min, rates in counts/s.
        rois: the ROIs used.
        display_image: ``(H, W)`` image shown under the ROI outlines (a fused image, or the 1-3 min sum).
        display_title: what ``display_image`` is.
    """

    report: dict[str, Any]
    curves: dict[str, np.ndarray]
    rois: KidneyROIs
    display_image: np.ndarray
    display_title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _num(v: float, nd: int = 3) -> float | None:
    """JSON-safe rounded float (None for NaN/inf)."""
    return None if v is None or not math.isfinite(float(v)) else round(float(v), nd)


#: per index: (is normal, is borderline) predicates; anything else is abnormal.
_FLAG_RULES: dict[str, tuple[Any, Any]] = {
    "drf_percent": (lambda v: 45.0 <= v <= 55.0, lambda v: 40.0 <= v <= 60.0),
    "tmax_min": (lambda v: v < 5.0, lambda v: False),
    "t_half_min": (lambda v: v < 10.0, lambda v: v <= 20.0),
    "ratio_20min_max": (lambda v: v < 0.3, lambda v: False),
    "nora_20min": (lambda v: v <= 0.70, lambda v: False),
    "ktbr": (lambda v: v > 2.0, lambda v: False),
}


def flag_value(name: str, value: float | None) -> str:
    """``"normal"``, ``"borderline"``, ``"abnormal"`` or ``"n/a"`` for a value against :data:`NORMAL_RANGES`.

    DRF 45-55 % normal, 40-60 % borderline; Tmax < 5 min; T1/2 < 10 min normal, <= 20 min borderline (equivocal);
    20-min/max < 0.3; NORA20 <= 0.70; KTBR > 2.
    """
    if value is None or not math.isfinite(float(value)) or name not in _FLAG_RULES:
        return "n/a"
    normal, borderline = _FLAG_RULES[name]
    return "normal" if normal(float(value)) else ("borderline" if borderline(float(value)) else "abnormal")


def check_timing(
    meta: dict[str, Any], n_frames: int, source: str | os.PathLike | None
) -> tuple[np.ndarray, np.ndarray]:
    """Frame starts and durations (s) from loader metadata, validated.

    Raises:
        RenogramInputError: timing missing, of the wrong length, non-finite, non-positive durations, or decreasing
            starts; the message names the file.
    """
    starts, durs = meta.get("frame_start_s"), meta.get("frame_duration_s")
    if starts is None or durs is None:
        raise RenogramInputError(source, "frames have no timing (frame_start_s/frame_duration_s missing)")
    starts, durs = np.asarray(starts, float).ravel(), np.asarray(durs, float).ravel()
    if starts.size != n_frames or durs.size != n_frames:
        raise RenogramInputError(
            source, f"timing lists {starts.size} starts and {durs.size} durations for {n_frames} frames"
        )
    if not (np.all(np.isfinite(starts)) and np.all(np.isfinite(durs))):
        raise RenogramInputError(source, "frame timing contains NaN or infinite values")
    if np.any(durs <= 0):
        raise RenogramInputError(source, "frame durations must be positive")
    if np.any(np.diff(starts) < 0):
        raise RenogramInputError(source, "frame start times are not in increasing order")
    return starts, durs


def load_study(path: str | os.PathLike, fused_index: int = 1) -> tuple[np.ndarray, dict[str, Any], np.ndarray, str]:
    """Load a study with the project loader and make its display image.

    Returns:
        ``(frames (T, H, W) float counts, meta, display (H, W), display title)``. The display is fused image
        ``fused_index`` (first minute dropped, 7 frames summed: :class:`custom_transforms.FrameFusion`); if the study
        is too short for it, the 1-3 min sum.

    Raises:
        RenogramInputError: from the loader (file named).
    """
    from custom_transforms import DropEarlyFrames, FrameFusion, LoadDynamicStudy

    img = LoadDynamicStudy()(os.fspath(path))
    frames = np.asarray(img.detach().cpu().numpy(), dtype=np.float32)
    meta = {k: v for k, v in dict(img.meta).items() if not k.startswith("affine")}
    display, title = None, ""
    try:
        fused = FrameFusion(group_size=7)(DropEarlyFrames()(img))
        fused_np = np.asarray(fused.detach().cpu().numpy() if hasattr(fused, "detach") else fused)
        if fused_np.shape[0] > fused_index >= 0:
            display = fused_np[fused_index]
            fs = fused.meta.get("fused_start_s") if hasattr(fused, "meta") else None
            fe = fused.meta.get("fused_end_s") if hasattr(fused, "meta") else None
            title = f"fused image {fused_index}"
            if fs is not None and fe is not None:
                a = float(np.asarray(fs)[fused_index]) / 60.0
                b = float(np.asarray(fe)[fused_index]) / 60.0
                title += f" ({a:.1f}-{b:.1f} min)"
    except (ValueError, IndexError, KeyError):
        display = None
    if display is None:
        starts, durs = check_timing(meta, frames.shape[0], path)
        mid = starts + durs / 2
        sel = (mid >= 60) & (mid <= 180)
        display = frames[sel].sum(axis=0) if sel.any() else frames.sum(axis=0)
        title = "1-3 min sum" if sel.any() else "sum of all frames"
    return frames, meta, np.asarray(display, float), title


def _side_indices(
    side: str,
    rois: KidneyROIs,
    frames: np.ndarray,
    starts: np.ndarray,
    durs: np.ndarray,
    blood: np.ndarray,
    st: AnalysisSettings,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    kid, par, bg = rois.kidney[side], rois.parenchyma[side], rois.background[side]
    n_k, n_p = int(kid.sum()), int(par.sum())
    k_raw = roi_rate(frames, durs, kid)
    p_raw = roi_rate(frames, durs, par)
    b_mean = roi_mean_rate(frames, durs, bg) if bg is not None and bg.any() else np.zeros_like(k_raw)
    k_c = background_corrected(k_raw, n_k, b_mean)
    p_c = background_corrected(p_raw, n_p, b_mean)
    k_s = ix.smooth_curve(k_c, starts, durs, st.smoothing_s)
    p_s = ix.smooth_curve(p_c, starts, durs, st.smoothing_s)
    integral = ix.window_integral(k_c, starts, durs, st.drf_window_s)
    integral_par = ix.window_integral(p_c, starts, durs, st.drf_window_s)
    patlak_problem = ""
    try:
        fit = ix.patlak_rutland(k_c, blood, starts, durs, st.patlak_window_s)
    except ValueError as exc:
        fit, patlak_problem = ix.PatlakFit(float("nan"), float("nan"), float("nan"), 0), str(exc)
    win = st.drf_window_s[1] - st.drf_window_s[0]
    k_mean_px = ix.window_integral(k_raw, starts, durs, st.drf_window_s) / win / max(n_k, 1)
    b_mean_px = ix.window_integral(b_mean, starts, durs, st.drf_window_s) / win
    t_late = st.late_time_min
    out = {
        "found": True,
        "kidney_pixels": n_k,
        "parenchyma_pixels": n_p,
        "background_pixels": int(bg.sum()) if bg is not None else 0,
        "drf_window_integral_counts": _num(integral, 1),
        "parenchyma_drf_window_integral_counts": _num(integral_par, 1),
        "patlak_slope_per_s": _num(fit.slope_per_s, 8),
        "patlak_intercept": _num(fit.intercept, 6),
        "patlak_r2": _num(fit.r2, 4),
        "patlak_points": fit.n_points,
        "patlak_problem": patlak_problem,
        "tmax_min": _num(ix.tmax_min(k_s, starts, durs)),
        "t_half_min": _num(ix.t_half_min(k_s, starts, durs)),
        "t_half_fit_min": _num(ix.t_half_fit_min(k_s, starts, durs)),
        "parenchyma_tmax_min": _num(ix.tmax_min(p_s, starts, durs)),
        "parenchyma_t_half_min": _num(ix.t_half_min(p_s, starts, durs)),
        "ratio_20min_max": _num(ix.ratio_to_max(k_s, starts, durs, t_late), 4),
        "parenchyma_ratio_20min_max": _num(ix.ratio_to_max(p_s, starts, durs, t_late), 4),
        "nora_20min": _num(ix.nora(k_s, starts, durs, t_late, st.drf_window_s), 4),
        "ratio_last_max": _num(float(k_s[-1] / k_s.max()) if k_s.max() > 0 else float("nan"), 4),
        "nora_last": _num(ix.nora(k_s, starts, durs, (starts[-1] + durs[-1] / 2) / 60.0, st.drf_window_s), 4),
        "ktbr": _num(ix.ktbr(k_mean_px, b_mean_px), 3) if st.background != "none" else None,
    }
    curves = {
        f"{side}_kidney_cps": k_c,
        f"{side}_parenchyma_cps": p_c,
        f"{side}_kidney_raw_cps": k_raw,
        f"{side}_background_cps_per_px": b_mean,
        f"{side}_kidney_smoothed_cps": k_s,
    }
    return out, curves


def analyse_frames(
    frames: np.ndarray,
    meta: dict[str, Any],
    mask: np.ndarray,
    settings: AnalysisSettings | None = None,
    mask_source: str = "",
    display_image: np.ndarray | None = None,
    display_title: str = "",
) -> RenalAnalysis:
    """Analyse a loaded study with a kidney mask.

    Args:
        frames: ``(T, H, W)`` counts per frame.
        meta: loader metadata (``frame_start_s``, ``frame_duration_s``, ``pixel_spacing_mm``, ``view``, ``tracer``,
            ``patient_age_years``, ``filename_or_obj``).
        mask: ``(H, W)`` label map or binary mask.
        settings: analysis options. Defaults to :class:`AnalysisSettings`.
        mask_source: where the mask came from (file path or ``"model"``), recorded in the report and errors.
        display_image, display_title: image for the report figure (default: the 1-3 min sum).

    Raises:
        RenogramInputError: no timing, study shorter than the DRF window, mask shape mismatch or empty mask.
    """
    st = settings or AnalysisSettings()
    src = meta.get("filename_or_obj") or None
    frames = np.asarray(frames, float)
    if frames.ndim != 3 or frames.shape[0] < 2:
        raise RenogramInputError(src, f"expected (T, H, W) frames with T >= 2, got shape {frames.shape}")
    if not np.all(np.isfinite(frames)):
        raise RenogramInputError(src, "frames contain NaN or infinite counts")
    starts, durs = check_timing(meta, frames.shape[0], src)
    end_s = float(starts[-1] + durs[-1])
    for name, win in (("DRF", st.drf_window_s), ("Patlak", st.patlak_window_s)):
        if not win[1] > win[0] >= 0:
            raise ValueError(f"{name} window must satisfy 0 <= start < end, got {win}")
    if end_s < st.drf_window_s[1] - 1e-3:
        raise RenogramInputError(
            src,
            f"study ends at {end_s:.1f} s, shorter than the DRF window {st.drf_window_s[0]:g}-{st.drf_window_s[1]:g} s",
        )
    spacing = [float(v) for v in meta.get("pixel_spacing_mm", [float("nan")] * 2)]
    sp = spacing[0] if math.isfinite(spacing[0]) and spacing[0] > 0 else 4.0
    view = str(meta.get("view", "unknown") or "unknown")
    rois = build_rois(
        mask, frames, starts, durs, view=view, mask_kind=st.mask_kind, label_mode=st.label_mode,
        background=st.background, ring_gap=st.ring_gap_px, ring_width=st.ring_width_px, spacing_mm=sp,
        source=mask_source or None,
    )
    warnings = list(rois.warnings)
    if view not in ("posterior", "anterior") and not any("assumed posterior" in w for w in warnings):
        warnings.append(f"view is {view!r}; assumed posterior (patient left on image left)")

    # blood pool: heart ROI, else the mean of the background rings
    if rois.heart is not None:
        blood = roi_mean_rate(frames, durs, rois.heart)
        bp = {"method": "heart_roi", **rois.heart_info,
              "how": "hottest 1st-minute region above the kidneys on the patient's left of the midline, disc of "
                     "12 mm at >= 50 % of its peak"}
    else:
        rings = [r for r in rois.background.values() if r is not None and r.any()]
        if rings:
            blood = roi_mean_rate(frames, durs, np.logical_or.reduce(rings))
            bp = {"method": "background_ring_fallback", "reason": rois.heart_info.get("reason", "")}
        else:
            union = np.logical_or.reduce([k for k in rois.kidney.values() if k is not None])
            from scipy.ndimage import binary_dilation

            ring = binary_dilation(union, iterations=3) & ~union
            blood = roi_mean_rate(frames, durs, ring)
            bp = {"method": "perirenal_band_fallback", "reason": rois.heart_info.get("reason", "")}
        warnings.append(
            "no heart ROI found (" + bp["reason"] + "); Patlak used the perirenal background curve as blood-pool "
            "input: DRF by Patlak is approximate (tissue background lags plasma), absolute slopes are not meaningful"
        )

    mid = starts + durs / 2.0
    curves: dict[str, np.ndarray] = {
        "frame": np.arange(frames.shape[0]),
        "start_s": starts,
        "duration_s": durs,
        "mid_time_min": mid / 60.0,
        "blood_pool_cps_per_px": blood,
    }
    kidneys: dict[str, Any] = {}
    for side in SIDES:
        if rois.kidney[side] is None:
            kidneys[side] = {"found": False}
            continue
        kidneys[side], c = _side_indices(side, rois, frames, starts, durs, blood, st)
        curves.update(c)

    found = [s for s in SIDES if kidneys[s]["found"]]
    drf: dict[str, Any] = {}
    if len(found) == 1:
        only = found[0]
        other = "right" if only == "left" else "left"
        for key in ("integral", "patlak", "parenchyma_integral"):
            drf[key] = {only: 100.0, other: 0.0}
        warnings.append(
            f"only the patient's {only} kidney was found in the mask: DRF {only} 100 % / {other} 0 % "
            f"({other} kidney absent, non-functioning or not segmented)"
        )
    else:
        pairs = {
            "integral": ("drf_window_integral_counts", ix.integral_drf_percent),
            "patlak": ("patlak_slope_per_s", ix.patlak_drf_percent),
            "parenchyma_integral": ("parenchyma_drf_window_integral_counts", ix.integral_drf_percent),
        }
        for key, (field_name, fn) in pairs.items():
            a, b = kidneys["left"][field_name], kidneys["right"][field_name]
            val = float("nan") if a is None or b is None else fn(a, b)
            drf[key] = {"left": _num(val, 2), "right": _num(100.0 - val, 2)}
        for side in SIDES:
            if (kidneys[side]["drf_window_integral_counts"] or 0) <= 0:
                warnings.append(
                    f"the {side} kidney shows no uptake above background in the DRF window (non-functioning?): "
                    "its DRF is set to 0 %"
                )
        li, pa = drf["integral"]["left"], drf["patlak"]["left"]
        if li is not None and pa is not None and abs(li - pa) > 5:
            warnings.append(f"integral and Patlak DRF differ by {abs(li - pa):.1f} points; check ROIs and timing")
    # per-kidney quality warnings
    for side in found:
        k = kidneys[side]
        if k.get("ktbr") is not None and k["ktbr"] <= 2:
            warnings.append(
                f"{side} kidney-to-background ratio {k['ktbr']:.2f} <= 2: DRF is unreliable (PMC8279895)"
            )
        if k.get("patlak_points", 0) < 2:
            warnings.append(f"{side} Patlak fit not computed: {k.get('patlak_problem', '')}")
        elif k.get("patlak_r2") is not None and k["patlak_r2"] < 0.9:
            warnings.append(f"{side} Patlak fit is poor (R^2 {k['patlak_r2']:.2f})")
        if k.get("t_half_min") is None and k.get("tmax_min") is not None:
            warnings.append(f"{side} curve does not fall to half its peak within the study (T1/2 not reached)")
    if end_s / 60.0 < st.late_time_min - 1e-6:
        warnings.append(
            f"study ends at {end_s / 60:.1f} min, before {st.late_time_min:g} min: 20-min/max and NORA20 not "
            "available; last/max and NORA at the last frame are given instead"
        )
    for side in found:
        drf_side = drf["integral"][side]
        kidneys[side]["drf_integral_percent"] = drf_side
        kidneys[side]["drf_patlak_percent"] = drf["patlak"][side]
        kidneys[side]["drf_parenchyma_integral_percent"] = drf["parenchyma_integral"][side]
        kidneys[side]["flags"] = {
            "drf_percent": flag_value("drf_percent", drf_side),
            "tmax_min": flag_value("tmax_min", kidneys[side]["tmax_min"]),
            "t_half_min": flag_value("t_half_min", kidneys[side]["t_half_min"]),
            "ratio_20min_max": flag_value("ratio_20min_max", kidneys[side]["ratio_20min_max"]),
            "nora_20min": flag_value("nora_20min", kidneys[side]["nora_20min"]),
            "ktbr": flag_value("ktbr", kidneys[side]["ktbr"]),
        }
    for side in SIDES:
        if not kidneys[side]["found"]:
            kidneys[side]["drf_integral_percent"] = drf["integral"][side]
            kidneys[side]["drf_patlak_percent"] = drf["patlak"][side]

    report = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "study": {
            "file": str(src) if src else "",
            "view": view,
            "tracer": str(meta.get("tracer", "") or ""),
            "patient_age_years": _num(meta.get("patient_age_years", float("nan")), 2),
            "n_frames": int(frames.shape[0]),
            "matrix": [int(frames.shape[1]), int(frames.shape[2])],
            "pixel_spacing_mm": [_num(v, 4) for v in spacing],
            "duration_min": _num(end_s / 60.0, 3),
        },
        "settings": {
            "mask_source": mask_source,
            "mask_kind": st.mask_kind,
            "label_mode": st.label_mode,
            "drf_window_s": list(st.drf_window_s),
            "patlak_window_s": list(st.patlak_window_s),
            "background": st.background,
            "ring_gap_px": st.ring_gap_px,
            "ring_width_px": st.ring_width_px,
            "smoothing_sigma_s": st.smoothing_s,
            "late_time_min": st.late_time_min,
            "curve_units": "counts/s at frame mid-times, background-corrected: K - N_K * mean background per pixel",
        },
        "blood_pool": bp,
        "drf_percent": drf,
        "kidneys": kidneys,
        "normal_ranges": NORMAL_RANGES,
        "warnings": warnings,
    }
    if display_image is None:
        sel = (mid >= 60) & (mid <= 180)
        display_image = frames[sel].sum(axis=0) if sel.any() else frames.sum(axis=0)
        display_title = display_title or ("1-3 min sum" if sel.any() else "sum of all frames")
    report["display_image"] = display_title
    return RenalAnalysis(report, curves, rois, np.asarray(display_image, float), display_title)


def analyse_study(
    study_path: str | os.PathLike,
    mask: np.ndarray | str | os.PathLike,
    settings: AnalysisSettings | None = None,
    fused_index: int = 1,
) -> RenalAnalysis:
    """Load a study file and analyse it with a mask array or mask file (see :func:`analyse_frames`).

    Raises:
        RenogramInputError: bad study or mask file (named in the message).
    """
    from scripts.clinical.rois import read_mask

    frames, meta, display, title = load_study(study_path, fused_index)
    source = "array"
    if not isinstance(mask, np.ndarray):
        source = os.fspath(mask)
        mask = read_mask(mask)
    meta.setdefault("filename_or_obj", os.fspath(study_path))
    return analyse_frames(frames, meta, mask, settings, source, display, title)
