# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Simulate one dynamic renal study from a :class:`~scripts.simulation.config.StudyConfig`.

``expected = frame activity integrals (T, C) @ templates (C, H*W)`` (noise-free counts), a transient shift of a
few frames for patient motion, then Poisson counts. The truth dictionary (written as ``truth.json``) is described
in :data:`TRUTH_DOC`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import shift as nd_shift

from .config import StudyConfig
from .kinetics import IMAGE_COMPARTMENTS, integrate_frames, solve_kinetics
from .measure import curve_tmax_thalf
from .phantom import build_phantom
from .protocols import get_protocol

__all__ = ["SimulatedStudy", "simulate_study", "SIMULATOR_VERSION", "LABEL_CONVENTION", "TRUTH_DOC"]

SIMULATOR_VERSION = "1.2.0"  # 1.2.0: parenchyma_384.png (same studies and native labels as 1.1.0)

LABEL_CONVENTION = (
    "uint8 label maps on the native matrix, rows top (cranial) to bottom, columns as stored in the DICOM; posterior "
    "view, so the patient's left kidney is on the image left. 0 background, 1 patient-left kidney, 2 patient-right "
    "kidney. kidney.png = whole kidney (reniform outline incl. the collecting system), pelvis.png = pelvicalyceal "
    "system, parenchyma.png = kidney minus pelvis. A pixel is inside when >= 50 % of its area is (supersampled "
    "outline). parenchyma_384.png = the parenchyma drawn by the same rule on a 384x384 grid of the same field (the "
    "network's input grid; outer pixel edges on the native matrix's). Non-functioning kidneys (no uptake, "
    "invisible) and absent kidneys are NOT labelled; their anatomy is in truth['kidneys']. Labels are the kidney "
    "position of the unmoved frames (see truth['motion'])."
)

TRUTH_DOC = {
    "curves": "noise-free counts per frame that the camera records from each compartment over the whole image "
    "(primary + scatter, attenuated, inside the field of view, no background, no motion); left_kidney = "
    "left_parenchyma + left_pelvis; blood_pool = central (heart/lung first pass) + plasma compartments",
    "tmax_min": "frame mid-time (min after acquisition start) of the highest count rate (counts/frame duration) of "
    "the noise-free whole-kidney curve; null for a kidney without uptake",
    "t_half_min": "minutes from Tmax until that count rate first falls to half its peak (linear interpolation "
    "between frame mid-times); null if it does not within the acquisition or the kidney has no uptake",
    "drf_left_percent": "100 * k_left / (k_left + k_right) from the renal uptake constants (null if both are 0)",
    "time_s": "frame mid-times (s from acquisition start); the injection is at kinetics.t_inj_s",
}


@dataclass
class SimulatedStudy:
    """One simulated study.

    Attributes:
        config: the configuration it was made from.
        frames: ``(T, H, W)`` uint16 Poisson counts.
        expected: ``(T, H, W)`` float32 noise-free expected counts (motion included).
        frame_durations_s, frame_starts_s: ``(T,)`` frame timing in s.
        pixel_spacing_mm: ``(row, column)`` spacing in mm.
        parenchyma, kidney, pelvis: ``(H, W)`` uint8 label maps (0 background, 1 patient left, 2 patient right).
        truth: the ``truth.json`` dictionary.
        activities: ``(T, C)`` compartment activity integrals per frame (MBq s), columns in
            :data:`scripts.simulation.kinetics.IMAGE_COMPARTMENTS` order.
    """

    config: StudyConfig
    frames: np.ndarray
    expected: np.ndarray
    frame_durations_s: np.ndarray
    frame_starts_s: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    parenchyma: np.ndarray
    kidney: np.ndarray
    pelvis: np.ndarray
    truth: dict[str, Any]
    activities: np.ndarray


def _r(values: np.ndarray, nd: int = 4) -> list[float]:
    return [round(float(v), nd) for v in np.asarray(values).ravel()]


def _nan_to_none(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 4)


def simulate_study(config: StudyConfig, dt_s: float = 0.25) -> SimulatedStudy:
    """Simulate a study (deterministic: the noise comes from ``config.noise_seed``).

    Args:
        config: the study configuration (e.g. from :func:`scripts.simulation.sample_study_config`).
        dt_s: time step of the kinetic solution (s).

    Returns:
        The :class:`SimulatedStudy`.
    """
    proto = get_protocol(config.protocol)
    durs, starts = proto.frame_durations_s(), proto.frame_starts_s()
    t, act = solve_kinetics(config.kinetics, proto.total_s + dt_s, dt_s)
    a = integrate_frames(t, act, starts, durs)  # (T, C) MBq s
    ph = build_phantom(config)
    c, h, w = ph.templates.shape
    expected = (a.astype(np.float32) @ ph.templates.reshape(c, h * w)).reshape(-1, h, w)
    np.maximum(expected, 0.0, out=expected)
    if config.motion is not None:
        first, last, dy, dx = config.motion
        for i in range(int(first), int(last) + 1):
            expected[i] = nd_shift(expected[i], (dy, dx), order=1, mode="constant")
    rng = np.random.default_rng(config.noise_seed)
    counts = rng.poisson(expected)
    if counts.max(initial=0) > 65535:
        import warnings

        warnings.warn("simulated counts exceed 65535 and were clipped to fit uint16", RuntimeWarning, stacklevel=2)
    frames = np.minimum(counts, 65535).astype(np.uint16)

    sums = ph.templates.reshape(c, -1).sum(axis=1)
    curves_c = a * sums[None, :]  # counts per frame per compartment, whole image
    col = {name: i for i, name in enumerate(IMAGE_COMPARTMENTS)}
    mid = starts + durs / 2.0
    curves: dict[str, Any] = {"units": "counts per frame", "time_s": _r(mid, 3)}
    tmax, thalf, pathology = {}, {}, {}
    kin = config.kinetics
    for side in ("left", "right"):
        par, pel = curves_c[:, col[f"parenchyma_{side}"]], curves_c[:, col[f"pelvis_{side}"]]
        kid = par + pel
        curves[f"{side}_kidney"] = _r(kid, 3)
        curves[f"{side}_parenchyma"] = _r(par, 3)
        curves[f"{side}_pelvis"] = _r(pel, 3)
        k_side = getattr(kin, f"k_{side}")
        if k_side > 0 and kid.max() > 0:
            tm, th = curve_tmax_thalf(kid, durs, starts)
        else:
            tm, th = float("nan"), float("nan")
        tmax[side], thalf[side] = _nan_to_none(tm), _nan_to_none(th)
        pathology[side] = config.kidney(side).pathology
    curves["blood_pool"] = _r(curves_c[:, col["central"]] + curves_c[:, col["plasma"]], 3)
    curves["bladder"] = _r(curves_c[:, col["bladder"]], 3)
    k_sum = kin.k_left + kin.k_right
    kidneys = {}
    for side in ("left", "right"):
        k = config.kidney(side)
        kidneys[side] = {
            "present": k.present,
            "functioning": getattr(kin, f"k_{side}") > 0,
            "labelled": k.labelled,
            "pathology": k.pathology,
            "position": k.position,
            "centre_mm": [round(v, 2) for v in k.centre_mm],
            "length_mm": round(k.length_mm, 2),
            "width_mm": round(k.width_mm, 2),
            "depth_cm": round(k.depth_cm, 3),
            "tilt_deg": round(k.tilt_deg, 2),
            "parenchyma_thickness_mm": round(k.parenchyma_mm, 2),
            "uptake_constant_per_min": round(getattr(kin, f"k_{side}"), 6),
            "parenchymal_transit_min": round(getattr(kin, f"tau_c_{side}"), 4),
            "pelvic_emptying_min": round(getattr(kin, f"tau_p_{side}"), 4),
            "pelvic_emptying_after_furosemide_min": getattr(kin, f"tau_p_furo_{side}"),
            "label_pixels": {
                name: int((lab == (1 if side == "left" else 2)).sum())
                for name, lab in (("kidney", ph.kidney), ("parenchyma", ph.parenchyma), ("pelvis", ph.pelvis))
            },
            **ph.info.get(side, {}),
        }
    site = config.injection_site_mm
    truth = {
        "simulator_version": SIMULATOR_VERSION,
        "seed": config.seed,
        "index": config.index,
        "age_years": round(config.age_years, 4),
        "sex": config.sex,
        "weight_kg": config.weight_kg,
        "height_cm": config.height_cm,
        "tracer": config.tracer,
        "dose_mbq": round(kin.dose_mbq, 3),
        "protocol": config.protocol,
        "furosemide": config.furosemide,
        "matrix": config.matrix,
        "pixel_spacing_mm": [config.pixel_spacing_mm, config.pixel_spacing_mm],
        "zoom": config.zoom,
        "view": "posterior",
        "pathology": pathology,
        "drf_left_percent": None if k_sum <= 0 else round(100.0 * kin.k_left / k_sum, 4),
        "tmax_min": tmax,
        "t_half_min": thalf,
        "frame_durations_s": _r(durs, 6),
        "frame_starts_s": _r(starts, 6),
        "kidneys": kidneys,
        "curves": curves,
        "injection_site": {
            "in_field_of_view": config.injection_site_mm is not None,
            "position_mm": None if site is None else [round(v, 2) for v in site],
            "depot_fraction": round(kin.f_depot, 5),
        },
        "motion": None
        if config.motion is None
        else {"first_frame": int(config.motion[0]), "last_frame": int(config.motion[1]),
              "shift_rc_px": [round(config.motion[2], 3), round(config.motion[3], 3)]},
        "camera": {
            "collimator": config.collimator,
            "sensitivity_cps_per_mbq": round(config.sensitivity_cps_per_mbq, 3),
            "mu_per_cm": config.mu_per_cm,
            "table_gap_cm": round(config.table_gap_cm, 3),
        },
        "background": {"tissue_gain": round(config.background_gain, 4), "liver_gain": round(config.liver_gain, 4)},
        "kinetics": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in vars(kin).items()},
        "label_convention": LABEL_CONVENTION,
        "definitions": TRUTH_DOC,
    }
    return SimulatedStudy(
        config=config, frames=frames, expected=expected, frame_durations_s=durs, frame_starts_s=starts,
        pixel_spacing_mm=(config.pixel_spacing_mm, config.pixel_spacing_mm), parenchyma=ph.parenchyma,
        kidney=ph.kidney, pelvis=ph.pelvis, truth=truth, activities=a,
    )
