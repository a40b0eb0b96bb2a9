# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Renogram analysis of one study, in five steps: ROIs -> curves -> indices -> flags -> report.

Input: ``(T, H, W)`` counts per frame with the reader's timing (seconds), as :class:`custom_transforms.LoadDynamicStudy`
gives it (:class:`scripts.clinical.study.LoadedStudy`), and a kidney mask on the same ``(H, W)`` matrix. Output:
:class:`RenalAnalysis`, whose ``report`` is the JSON-ready dictionary written as ``report.json`` (schema in
:data:`REPORT_SCHEMA_VERSION` / ``scripts/clinical/report.py``).

1. ROIs (:func:`scripts.clinical.rois.build_rois`): kidneys assigned to patient sides, whole kidney, background
   ring, heart. Then patient motion (:mod:`scripts.clinical.motion`): frames registered to the ones the mask was
   drawn on, the moved ones shifted back (``settings.motion_correction``), ``report.json``'s ``motion``; what the
   correction left (:mod:`scripts.clinical.motion_qc`) is the ``motion`` QC code.
2. Curves (:mod:`scripts.clinical.curves`): count rates (counts/s) at frame mid-times; ``K_c = K - N_K * B`` with B
   the mean rate per pixel of the kidney's own background ring; the blood pool from the heart ROI.
3. Indices (:mod:`scripts.clinical.kidney_indices`): DRF by the integral of ``K_c`` over the DRF window (default
   60-120 s) and by Rutland-Patlak over the Patlak window (default 60-150 s, frame mid-times), both with whole-kidney
   ROIs; timing indices (Tmax, T1/2, 20-min/max, NORA) from ``K_c`` smoothed with a 20 s Gaussian so that a single
   noisy frame cannot move them; output efficiency at 20/30 min and whole-kidney and parenchymal mean transit times
   by deconvolution with the blood pool (:mod:`scripts.clinical.transit`). The DRF's 95 % interval per method
   (:mod:`scripts.clinical.drf_interval`) and the DRF of record, ``drf_percent.combined``: the two DRFs weighted by
   the inverse variance of their intervals (:mod:`scripts.clinical.drf_combined`).
4. Flags (:mod:`scripts.clinical.flags`): each index against :mod:`scripts.clinical.normal_ranges`; quality warnings;
   segmentation QC (:mod:`scripts.clinical.qc`): coded warnings, ``report.json``'s ``qc`` (with the integral/Patlak
   disagreement of :mod:`scripts.clinical.drf_agreement`).
5. Report (:func:`build_report`): the ``report.json`` dictionary, every choice recorded in ``settings``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from custom_transforms.errors import RenogramInputError
from custom_transforms.io import frame_timing
from scripts.clinical.curves import blood_pool
from scripts.clinical.drf_agreement import drf_agreement_qc
from scripts.clinical.drf_combined import add_combined, confidence_qc
from scripts.clinical.drf_interval import add_interval, drf_interval
from scripts.clinical.flags import kidney_flags, quality_warnings
from scripts.clinical.fossa import uptake_image
from scripts.clinical.kidney_indices import indices_of_rois, json_float, split_function
from scripts.clinical.motion import correct_motion, estimate_motion
from scripts.clinical.motion_qc import motion_qc
from scripts.clinical.normal_ranges import normal_ranges_json
from scripts.clinical.qc import QCWarning, segmentation_qc
from scripts.clinical.rois import DEFAULT_BACKGROUND, SIDES, KidneyROIs, build_rois
from scripts.clinical.study import LoadedStudy, fused_display, load_study, window_sum
from scripts.clinical.transit import transit_indices

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "AnalysisSettings",
    "RenalAnalysis",
    "analyse_frames",
    "analyse_loaded",
    "analyse_study",
    "build_report",
]

REPORT_SCHEMA_VERSION = "1.0"


@dataclass
class AnalysisSettings:
    """Options of the analysis (defaults follow the pediatric/EANM practice in renography.md section 3).

    Attributes:
        drf_window_s: integral-DRF window (s from acquisition start). Defaults to (60, 120).
        patlak_window_s: Patlak fit window (s, frame mid-times). Defaults to (60, 150).
        background: ``"perirenal"``, ``"crescent"``, ``"inferolateral"`` or ``"none"``
            (:data:`scripts.clinical.rois.BACKGROUND_METHODS`). Defaults to ``"crescent"``
            (:data:`scripts.clinical.rois.DEFAULT_BACKGROUND`, the lateral half of the ring; why there).
        ring_gap_px, ring_width_px: background ring geometry. Defaults to 1 and 2.
        mask_kind: ``"parenchyma"`` (fill the hilum) or ``"kidney"``. Defaults to ``"parenchyma"``.
        label_mode: ``"auto"``, ``"labels"`` or ``"binary"`` (see :func:`scripts.clinical.rois.assign_kidneys`).
        smoothing_s: Gaussian sigma (s) for the timing indices. Defaults to 20.
        late_time_min: time of the late ratios (20-min/max, NORA). Defaults to 20.
        motion_correction: shift frames found moved back before the curves (:mod:`scripts.clinical.motion`; off:
            the motion is still measured and reported). Defaults to True.
        motion_reference_s: the frames (unit mid-times, s) whose positions the others are registered to, those
            the mask was drawn on. Defaults to (60, 180), the bundle's fused image (minutes 1-3).
    """

    drf_window_s: tuple[float, float] = (60.0, 120.0)
    patlak_window_s: tuple[float, float] = (60.0, 150.0)
    background: str = DEFAULT_BACKGROUND
    ring_gap_px: int = 1
    ring_width_px: int = 2
    mask_kind: str = "parenchyma"
    label_mode: str = "auto"
    smoothing_s: float = 20.0
    late_time_min: float = 20.0
    motion_correction: bool = True
    motion_reference_s: tuple[float, float] = (60.0, 180.0)


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


def _checked(frames: np.ndarray, meta: dict[str, Any], st: AnalysisSettings, src: Any):
    """Frames as float, their timing, and the study's end (s); refuses what cannot be analysed."""
    frames = np.asarray(frames, float)
    if frames.ndim != 3 or frames.shape[0] < 2:
        raise RenogramInputError(src, f"expected (T, H, W) frames with T >= 2, got shape {frames.shape}")
    if not np.all(np.isfinite(frames)):
        raise RenogramInputError(src, "frames contain NaN or infinite counts")
    starts, durs = frame_timing(meta, frames.shape[0], src)
    end_s = float(starts[-1] + durs[-1])
    for name, win in (("DRF", st.drf_window_s), ("Patlak", st.patlak_window_s)):
        if not win[1] > win[0] >= 0:
            raise ValueError(f"{name} window must satisfy 0 <= start < end, got {win}")
    if end_s < st.drf_window_s[1] - 1e-3:
        raise RenogramInputError(
            src,
            f"study ends at {end_s:.1f} s, shorter than the DRF window {st.drf_window_s[0]:g}-{st.drf_window_s[1]:g} s",
        )
    return frames, starts, durs, end_s


def build_report(
    meta: dict[str, Any],
    frames_shape: tuple[int, int, int],
    end_s: float,
    st: AnalysisSettings,
    mask_source: str,
    blood: dict[str, Any],
    drf: dict[str, Any],
    kidneys: dict[str, Any],
    warnings: list[str],
    display_title: str,
    qc: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``report.json`` dictionary (schema :data:`REPORT_SCHEMA_VERSION`) from the steps' results (``qc``: the
    segmentation QC entries of :mod:`scripts.clinical.qc`, ``[]`` when None)."""
    src = meta.get("filename_or_obj") or None
    spacing = [float(v) for v in meta.get("pixel_spacing_mm", [float("nan")] * 2)]
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "study": {
            "file": str(src) if src else "",
            "view": str(meta.get("view", "unknown") or "unknown"),
            "tracer": str(meta.get("tracer", "") or ""),
            "patient_age_years": json_float(meta.get("patient_age_years", float("nan")), 2),
            "n_frames": int(frames_shape[0]),
            "matrix": [int(frames_shape[1]), int(frames_shape[2])],
            "pixel_spacing_mm": [json_float(v, 4) for v in spacing],
            "duration_min": json_float(end_s / 60.0, 3),
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
        "blood_pool": blood,
        "drf_percent": drf,
        "kidneys": kidneys,
        "normal_ranges": normal_ranges_json(),
        "warnings": warnings,
        "qc": list(qc or []),
        "display_image": display_title,
    }


def analyse_frames(
    frames: np.ndarray,
    meta: dict[str, Any],
    mask: np.ndarray,
    settings: AnalysisSettings | None = None,
    mask_source: str = "",
    display_image: np.ndarray | None = None,
    display_title: str = "",
    probability: np.ndarray | None = None,
) -> RenalAnalysis:
    """Analyse a loaded study with a kidney mask: ROIs -> curves -> indices -> flags -> report.

    Args:
        frames: ``(T, H, W)`` counts per frame.
        meta: the reader's metadata (``frame_start_s``, ``frame_duration_s``, ``pixel_spacing_mm``, ``view``,
            ``tracer``, ``patient_age_years``, ``filename_or_obj``).
        mask: ``(H, W)`` label map or binary mask.
        settings: analysis options. Defaults to :class:`AnalysisSettings`.
        mask_source: where the mask came from (file path or ``"model"``), recorded in the report and errors.
        display_image, display_title: image for the report figure (default: the 1-3 min sum).
        probability: ``(H, W)`` network probability behind ``mask`` (the DRF interval re-draws the mask from it,
            :mod:`scripts.clinical.drf_interval`); None: the mask's boundary is moved instead.

    Raises:
        RenogramInputError: no timing, study shorter than the DRF window, mask shape mismatch or empty mask.
    """
    st = settings or AnalysisSettings()
    src = meta.get("filename_or_obj") or None
    frames, starts, durs, end_s = _checked(frames, meta, st, src)
    spacing = [float(v) for v in meta.get("pixel_spacing_mm", [float("nan")] * 2)]
    view = str(meta.get("view", "unknown") or "unknown")
    # the ROIs' pixel size (build_rois' own default where the header has none); the DRF interval re-draws them with it
    roi_spacing_mm = spacing[0] if math.isfinite(spacing[0]) and spacing[0] > 0 else 4.0

    # 1. ROIs
    rois = build_rois(
        mask, frames, starts, durs, view=view, mask_kind=st.mask_kind, label_mode=st.label_mode,
        background=st.background, ring_gap=st.ring_gap_px, ring_width=st.ring_width_px,
        spacing_mm=roi_spacing_mm, source=mask_source or None,
    )
    warnings = list(rois.warnings)
    if view not in ("posterior", "anterior") and not any("assumed posterior" in w for w in warnings):
        warnings.append(f"view is {view!r}; assumed posterior (patient left on image left)")
    # 1b. motion: frames registered to the reference window (where the mask lies), the moved ones shifted back. The
    # ROIs stay; building them used only the first minute (heart), which is never shifted, and the field of view.
    kidney_region = np.logical_or.reduce([k for k in rois.kidney.values() if k is not None])
    motion = estimate_motion(
        frames, starts, durs, kidney_region, spacing_mm=spacing[0], reference_window_s=st.motion_reference_s,
    )
    acquired = frames
    if st.motion_correction:
        frames = correct_motion(frames, motion)
    if motion.warns:
        warnings.append(motion.message())
    # ... and what the correction could not undo (scripts.clinical.motion_qc): the ``motion`` QC code
    roi_region = np.logical_or.reduce([kidney_region, *(b for b in rois.background.values() if b is not None)])
    motion_check = motion_qc(acquired, frames, starts, durs, kidney_region, roi_region, motion,
                             spacing_mm=spacing[0], drf_window_s=st.drf_window_s)

    # 2. curves
    blood = blood_pool(frames, durs, rois)
    warnings += blood.warnings
    curves: dict[str, np.ndarray] = {
        "frame": np.arange(frames.shape[0]),
        "start_s": starts,
        "duration_s": durs,
        "mid_time_min": (starts + durs / 2.0) / 60.0,
        "blood_pool_cps_per_px": blood.curve,
    }
    # 3. indices
    kidneys, side_curves = indices_of_rois(frames, starts, durs, rois, blood.curve, st)
    for side, kc in side_curves.items():
        curves.update(kc.columns(side))
        # output efficiency and transit times (scripts.clinical.transit): deconvolution with the same blood pool
        kidneys[side].update(transit_indices(kc, blood.curve, starts, durs, st.patlak_window_s, st.smoothing_s))
    drf, drf_warnings = split_function(kidneys)
    # 3b. the DRF's 95 % interval (scripts.clinical.drf_interval): counting noise, segmentation, background variants
    interval = drf_interval(frames, starts, durs, rois, st, roi_spacing_mm, view, probability)
    add_interval(drf, interval)
    # 3c. the DRF of record: integral and Patlak weighted by their interval's variance (scripts.clinical.drf_combined)
    combined = add_combined(drf, interval)
    found = [s for s in SIDES if kidneys[s]["found"]]
    # 4. flags
    warnings += drf_warnings + quality_warnings(kidneys, found, end_s, st.late_time_min)
    for side in SIDES:
        kidneys[side]["drf_integral_percent"] = drf["integral"][side]
        kidneys[side]["drf_patlak_percent"] = drf["patlak"][side]
        if side in found:
            kidneys[side]["drf_parenchyma_integral_percent"] = drf["parenchyma_integral"][side]
            kidneys[side]["flags"] = kidney_flags(kidneys[side])
    # 4b. segmentation QC (scripts.clinical.qc): report.json's coded ``qc`` list, with the motion left after the
    # correction (scripts.clinical.motion_qc) and the integral/Patlak disagreement (scripts.clinical.drf_agreement);
    # a missing kidney's fossa judged on the Patlak uptake image of minutes 1-3 (scripts.clinical.fossa)
    qc = segmentation_qc(mask, rois, kidneys, window_sum(frames, starts, durs)[0], spacing,
                         meta.get("patient_age_years"),
                         extra=[*(QCWarning(**e) for e in motion_check.qc_entries()), *drf_agreement_qc(drf),
                                *(QCWarning(**e) for e in confidence_qc(combined))],
                         uptake=uptake_image(frames, starts, durs, blood.curve))
    # 5. report
    if display_image is None:
        display_image, default_title = window_sum(frames, starts, durs)
        display_title = display_title or default_title
    report = build_report(meta, frames.shape, end_s, st, mask_source, blood.info, drf, kidneys, warnings,
                          display_title, qc=[q.as_json() for q in qc])
    report["settings"]["motion_correction"] = bool(st.motion_correction)
    report["motion"] = {**motion.info(), **motion_check.info()}
    report["drf_interval"] = interval.info()
    result = RenalAnalysis(report, curves, rois, np.asarray(display_image, float), display_title)
    result.extra["motion"] = motion
    return result


def analyse_loaded(
    study: LoadedStudy,
    mask: np.ndarray,
    settings: AnalysisSettings | None = None,
    chain: Any = None,
    mask_source: str = "array",
    probability: np.ndarray | None = None,
) -> RenalAnalysis:
    """Analyse a study loaded once (:func:`scripts.clinical.study.load_study`) with a mask array; the report's image
    is ``chain``'s fused image (:class:`custom_transforms.pipeline.FusedImageChain`, the network input's rule; see
    :func:`scripts.clinical.study.fused_display`)."""
    display, title = fused_display(study, chain)
    return analyse_frames(study.frames, study.meta, mask, settings, mask_source, display, title, probability)


def analyse_study(
    study: str | os.PathLike | LoadedStudy,
    mask: np.ndarray | str | os.PathLike,
    settings: AnalysisSettings | None = None,
    chain: Any = None,
    probability: np.ndarray | None = None,
) -> RenalAnalysis:
    """Load a study file (unless already loaded) and analyse it with a mask array or mask file (see
    :func:`analyse_loaded`; ``chain`` defaults to the paper's; ``probability``: the network's map behind the mask).

    Raises:
        RenogramInputError: bad study or mask file (named in the message).
    """
    from scripts.clinical.rois import read_mask

    loaded = study if isinstance(study, LoadedStudy) else load_study(study, chain)
    source = "array"
    if not isinstance(mask, np.ndarray):
        source = os.fspath(mask)
        mask = read_mask(mask)
    return analyse_loaded(loaded, mask, settings, chain, source, probability)
