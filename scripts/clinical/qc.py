# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Segmentation quality control: named warnings that say when the kidney ROIs, and so the DRF, should not be trusted.

``report.json``'s ``qc`` is a list of ``{"code": ..., "side": "left" | "right" | null, "message": ...}``
(:meth:`QCWarning.as_json`), in the order below; ``report.png`` lists them in red. The codes are stable strings
(:data:`QC_CODES`, the one table):

============================ ======== ========================================================================
code                         side     when
============================ ======== ========================================================================
``kidney_too_small``         kidney   whole-kidney ROI length or area below :data:`SIZE_LIMITS` times what is
                                      expected for the patient's age (part of the kidney missed by the mask, or
                                      a very small kidney); only when the age and the pixel size are known
``kidney_too_large``         kidney   length or area above :data:`SIZE_LIMITS` times the expected (the ROI
                                      took in a neighbour, e.g. spleen, liver or bladder, or a very large kidney)
``missing_kidney_uptake``    missing  one side has no ROI while its renal fossa (the other kidney mirrored
                                      across the body midline, searched around) takes the tracer up: its
                                      Rutland-Patlak uptake over minutes 1-3 above its surround is at least
                                      :data:`FOSSA_UPTAKE_RATIO` of the present kidney's (a hot liver or spleen
                                      over the fossa is blood pool, not uptake; :mod:`scripts.clinical.fossa`)
``mask_fragment``            null or  a mask region far (> :data:`FRAGMENT_GAP_MM`) from both kidneys: left out
                             kidney   of the ROIs (side null), or joined to one kidney's ROI and more than
                                      :data:`FRAGMENT_JOINED_GAP_MM` from the rest of it (that side)
``low_kidney_background``    kidney   kidney-to-background ratio <= 2 (the ``ktbr`` range of
                                      :mod:`scripts.clinical.normal_ranges`; also in ``warnings``): mean counts per
                                      pixel of the whole-kidney ROI over those of its background ROI (the DRF's),
                                      both over the DRF window (1-2 min), before background subtraction
``drf_method_disagreement``  null     the integral and Patlak-Rutland left DRF more than 7 points apart (beyond
                                      both methods' reproducibility: one of them fails on the study;
                                      :mod:`scripts.clinical.drf_agreement`, passed in through ``extra``)
``motion``                   null     patient motion the correction cannot undo: a frame of minutes 1-3 (the ROIs
                                      were drawn on them) moved by more than 1 px, a frame still off by more than
                                      1 px after the correction (or not corrected), or counts moved out of the field
                                      of view (:mod:`scripts.clinical.motion_qc`, passed in through ``extra``); a
                                      corrected shift alone is reported in ``motion`` and ``warnings``, not here
``low_model_confidence``     null     the 95 % interval of the DRF of record (combined) wider than
                                      :data:`scripts.clinical.drf_combined.LOW_CONFIDENCE_WIDTH` points
                                      (:func:`scripts.clinical.drf_combined.confidence_qc`, passed in through
                                      ``extra``)
============================ ======== ========================================================================

Sizes: the kidney's length is the long side of the minimum-area rectangle around its whole-kidney ROI
(``cv2.minAreaRect`` on the pixel centres in mm, plus one pixel for the outer pixel edges); its area is the pixel
count times the pixel area. The expected length is the pediatric length-for-age regression of
:func:`scripts.clinical.normal_ranges.kidney_length_for_age`; the expected area is the ellipse of that length and
half its width (width about 0.45-0.55 of the length, ``/work/shared/docs/renography.md`` section 2.4).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from scipy import ndimage as ndi

from scripts.clinical.fossa import FOSSA_MIN_SNR, FOSSA_UPTAKE_RATIO, UptakeImage, body_midline, fossa_uptake
from scripts.clinical.normal_ranges import flag_value, kidney_length_for_age
from scripts.clinical.rois import SIDES, KidneyROIs, whole_kidney

__all__ = [
    "QC_CODES",
    "MASK_CODES",
    "STUDY_CODES",
    "SEGMENTATION_CODES",
    "SIZE_LIMITS",
    "FOSSA_UPTAKE_RATIO",
    "FRAGMENT_GAP_MM",
    "FRAGMENT_JOINED_GAP_MM",
    "QCWarning",
    "kidney_size",
    "body_midline",
    "size_qc",
    "missing_kidney_qc",
    "fragment_qc",
    "ktbr_qc",
    "segmentation_qc",
    "qc_codes_text",
]

#: code -> what it means (the table of the module docstring; the README's clinical-report section repeats it).
QC_CODES: dict[str, str] = {
    "kidney_too_small": "kidney ROI length or area implausibly small for the patient's age",
    "kidney_too_large": "kidney ROI length or area implausibly large for the patient's age",
    "missing_kidney_uptake": "no ROI on one side while that renal fossa shows uptake",
    "mask_fragment": "a mask region far from both kidneys",
    "low_kidney_background": "kidney-to-background ratio <= 2: DRF unreliable",
    "drf_method_disagreement": "integral and Patlak DRF more than 7 points apart (scripts.clinical.drf_agreement)",
    "motion": "patient motion left after the correction (scripts.clinical.motion_qc)",
    "low_model_confidence": "the DRF's 95 % interval wider than its limit (scripts.clinical.drf_interval)",
}

#: the codes about the mask itself (the others concern the study: its counts or the patient's motion).
MASK_CODES = ("kidney_too_small", "kidney_too_large", "missing_kidney_uptake", "mask_fragment", "low_model_confidence")
#: the codes about the study rather than its segmentation: the counts (kidney-to-background ratio) and the patient's
#: motion. They stay in ``qc``: they say the DRF may be unreliable whatever the ROIs.
STUDY_CODES = ("low_kidney_background", "motion")
#: the codes that say the segmentation, or the DRF drawn from it, failed: the mask codes and the two checks of the
#: result (the methods disagree, the interval is too wide); every code but :data:`STUDY_CODES`.
SEGMENTATION_CODES = tuple(code for code in QC_CODES if code not in STUDY_CODES)

#: ``(low, high)`` factors on the expected length and on the expected area beyond which a kidney ROI is implausible.
#: Wider than the normal range on purpose: a small scarred or a large hydronephrotic kidney is a finding, not a
#: failed segmentation. On 40 fresh simulated studies (seed 7100, clinical mix) the true masks' whole-kidney ROIs
#: measured 0.67-1.45x the expected length and 0.43-2.03x the expected area (scarred and hydronephrotic kidneys the
#: extremes), the model's 0.64-1.56x and 0.42-1.87x (1.56x: a blob joined to the kidney). The low limits were 0.6 and
#: 0.35 until the 200 seed-7000 studies showed true small scarred kidneys below them: true masks down to 0.58x the
#: length and 0.33x the area (3 scarred kidneys flagged, each with a DRF error <= 1 point), the model's masks of the
#: same kidneys 0.57x / 0.31x, while the one failed segmentation there (a 34 mm blob in a non-functioning kidney's
#: fossa, DRF error 4.7 points) measured 0.49x / 0.22x; so 0.53 and 0.27, between the two.
SIZE_LIMITS: dict[str, tuple[float, float]] = {"length": (0.53, 1.6), "area": (0.27, 2.6)}
#: a mask region is a fragment when its gap to every kidney ROI exceeds this (mm; at least 2 pixels).
FRAGMENT_GAP_MM = 15.0
#: ... and a piece joined to one kidney's ROI when it lies this far (mm) from the rest of it. The same 15 mm: on 40 fresh
#: simulated studies (seed 7100) it flagged the model's masks of 3 of the 14 studies with a DRF error above 5 points
#: (one a joined piece 22 mm off, DRF error 41 points) and 2 of 17 within 2 points, while 40 mm flagged none of the
#: first; it also flags the true labels of 2 hydronephrotic kidneys (thin rim broken into pieces 37-40 mm apart on
#: 6.3 mm pixels, both studies with a DRF error above 5 points from the analysis itself).
FRAGMENT_JOINED_GAP_MM = 15.0
#: regions smaller than this are ignored as specks (as :mod:`scripts.clinical.rois` drops them).
_MIN_FRAGMENT_PX = 3


@dataclass(frozen=True)
class QCWarning:
    """One quality-control warning.

    Attributes:
        code: one of :data:`QC_CODES`.
        side: the patient side it concerns (``"left"``/``"right"``) or None (the study, or a region of no side).
        message: one line for the physician.
    """

    code: str
    side: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        """``{"code", "side", "message"}`` as ``report.json`` stores it."""
        return {"code": self.code, "side": self.side, "message": self.message}


def _spacing(spacing_mm: Sequence[float] | None) -> tuple[float, float] | None:
    """``(row, column)`` pixel size in mm, or None when unknown."""
    try:
        sp = [float(v) for v in np.ravel(np.asarray(spacing_mm, dtype=float))]
    except (TypeError, ValueError):  # None, or a list holding None (report.json's unknown spacing)
        return None
    if len(sp) == 1:
        sp = sp * 2
    if len(sp) < 2 or not all(math.isfinite(v) and v > 0 for v in sp[:2]):
        return None
    return sp[0], sp[1]


def kidney_size(roi: np.ndarray, spacing_mm: Sequence[float]) -> tuple[float, float]:
    """``(length_mm, area_mm2)`` of one ROI (see the module docstring).

    Args:
        roi: ``(H, W)`` bool mask of one kidney (non-empty).
        spacing_mm: ``(row, column)`` pixel size in mm.
    """
    sy, sx = _spacing(spacing_mm) or (1.0, 1.0)
    r, c = np.nonzero(np.asarray(roi, bool))
    pts = np.stack([c * sx, r * sy], axis=1).astype(np.float32)
    _, (w, h), _ = cv2.minAreaRect(pts)
    return float(max(w, h) + math.sqrt(sx * sy)), float(r.size * sx * sy)


def size_qc(rois: KidneyROIs, spacing_mm: Sequence[float] | None, age_years: float | None) -> list[QCWarning]:
    """``kidney_too_small`` / ``kidney_too_large`` of each found kidney (nothing without an age or a pixel size)."""
    spacing = _spacing(spacing_mm)
    expected = None if age_years is None else kidney_length_for_age(age_years)
    if spacing is None or expected is None:
        return []
    exp_len = expected.mean_mm
    exp_area = math.pi / 4.0 * exp_len * 0.5 * exp_len
    (l_lo, l_hi), (a_lo, a_hi) = SIZE_LIMITS["length"], SIZE_LIMITS["area"]
    out: list[QCWarning] = []
    for side in SIDES:
        roi = rois.kidney[side]
        if roi is None or not roi.any():
            continue
        length, area = kidney_size(roi, spacing)
        what = (f"{side} kidney ROI {length:.0f} mm long, {area / 100.0:.1f} cm2 (expected about {exp_len:.0f} mm, "
                f"{exp_area / 100.0:.1f} cm2 at {float(age_years):.3g} y)")
        if length < l_lo * exp_len or area < a_lo * exp_area:
            out.append(QCWarning("kidney_too_small", side, f"{what}: too small for the age; the mask may miss part "
                                 "of the kidney (or the kidney is very small)"))
        elif length > l_hi * exp_len or area > a_hi * exp_area:
            out.append(QCWarning("kidney_too_large", side, f"{what}: too large for the age; the mask may take in a "
                                 "neighbouring organ (or the kidney is very large)"))
    return out


def missing_kidney_qc(rois: KidneyROIs, image: np.ndarray, uptake: UptakeImage | None) -> list[QCWarning]:
    """``missing_kidney_uptake`` when exactly one kidney has an ROI and the other fossa takes the tracer up.

    Args:
        rois: the study's ROIs.
        image: ``(H, W)`` counts of the uptake phase (the 1-3 min sum, the bundle's fused image rule): the midline.
        uptake: the study's Patlak uptake image (:func:`scripts.clinical.fossa.uptake_image`); None (too few frames
            in minutes 1-3): no check.
    """
    present = [s for s in SIDES if rois.kidney[s] is not None and rois.kidney[s].any()]
    if len(present) != 1 or uptake is None:
        return []
    side = present[0]
    missing = "right" if side == "left" else "left"
    found = fossa_uptake(rois, side, image, uptake)
    if found.ratio >= FOSSA_UPTAKE_RATIO and found.snr >= FOSSA_MIN_SNR:
        return [QCWarning("missing_kidney_uptake", missing,
                          f"no {missing} kidney in the mask, but its renal fossa takes the tracer up over minutes 1-3 "
                          f"(Patlak uptake {100 * found.ratio:.0f} % of the {side} kidney's per pixel): the mask may "
                          f"miss the {missing} kidney (DRF 100/0 is then wrong)")]
    return []


def fragment_qc(mask: np.ndarray, rois: KidneyROIs, spacing_mm: Sequence[float] | None) -> list[QCWarning]:
    """``mask_fragment`` for mask regions far from the kidneys (see the module docstring).

    Two kinds: a region of the mask that is in neither kidney ROI (the side assignment of
    :func:`scripts.clinical.rois.assign_kidneys` left it out; side None), and a piece of one kidney's parenchyma ROI
    more than :data:`FRAGMENT_JOINED_GAP_MM` from the rest of it (single linkage from its largest piece, so that a
    thin hydronephrotic rim broken into a chain of pieces, or a piece within the outline of the rest, is not a
    fragment; joined to the kidney: that side). Gaps are Euclidean distances between pixel centres; pieces under
    :data:`_MIN_FRAGMENT_PX` pixels are ignored.
    """
    sy, sx = _spacing(spacing_mm) or (4.0, 4.0)
    gap_px = max(FRAGMENT_GAP_MM / min(sy, sx), 2.0)
    joined_gap_px = max(FRAGMENT_JOINED_GAP_MM / min(sy, sx), 2.0)
    m = np.asarray(mask) != 0
    kidneys = [v for s in SIDES for v in (rois.parenchyma[s], rois.kidney[s]) if v is not None]
    in_roi = np.logical_or.reduce(kidneys) if kidneys else np.zeros_like(m)
    sampling = (sy / min(sy, sx), sx / min(sy, sx))  # distances in pixels of the smaller size
    structure = np.ones((3, 3), bool)
    out: list[QCWarning] = []

    outside = m & ~in_roi
    lab, n = ndi.label(outside, structure)
    if n and in_roi.any():
        dist = ndi.distance_transform_edt(~in_roi, sampling=sampling)
        sizes = ndi.sum_labels(np.ones_like(lab), lab, index=np.arange(1, n + 1))
        gaps = np.asarray(ndi.minimum(dist, lab, index=np.arange(1, n + 1)))
        far = [int(v) for v, g in zip(sizes, gaps, strict=True) if v >= _MIN_FRAGMENT_PX and g > gap_px]
        if far:
            out.append(QCWarning("mask_fragment", None,
                                 f"{len(far)} mask region(s) ({', '.join(str(v) for v in far)} px) more than "
                                 f"{FRAGMENT_GAP_MM:g} mm from both kidneys, left out of the ROIs: the segmentation "
                                 "may be unreliable"))
    for side in SIDES:
        par = rois.parenchyma[side]
        if par is None:
            continue
        lab, n = ndi.label(par, structure)
        if n < 2:
            continue
        sizes = ndi.sum_labels(np.ones_like(lab), lab, index=np.arange(1, n + 1))
        # single linkage from the largest piece: a thin rim broken into a chain of close pieces stays one kidney
        linked = np.zeros(n, bool)
        linked[int(np.argmax(sizes))] = True
        while True:
            dist = ndi.distance_transform_edt(~np.isin(lab, 1 + np.flatnonzero(linked)), sampling=sampling)
            near = ~linked & (np.asarray(ndi.minimum(dist, lab, index=np.arange(1, n + 1))) <= joined_gap_px)
            if not near.any():
                break
            linked |= near
        # ... and a piece inside the outline of the linked ones (a rim piece across the pelvis) is no fragment
        hull = whole_kidney(np.isin(lab, 1 + np.flatnonzero(linked)))
        inside = np.asarray(ndi.mean(hull, lab, index=np.arange(1, n + 1))) > 0.5
        pieces = [int(sizes[i]) for i in range(n)
                  if not linked[i] and not inside[i] and sizes[i] >= _MIN_FRAGMENT_PX]
        if pieces:
            out.append(QCWarning("mask_fragment", side,
                                 f"the {side} kidney ROI joins {len(pieces)} mask region(s) "
                                 f"({', '.join(str(v) for v in pieces)} px) more than {FRAGMENT_JOINED_GAP_MM:g} mm "
                                 "from the rest of it: its outline (and DRF) may include another organ"))
    return out


def ktbr_qc(kidneys: dict[str, dict[str, Any]]) -> list[QCWarning]:
    """``low_kidney_background`` for each found kidney whose KTBR is outside its range (``<= 2``)."""
    out: list[QCWarning] = []
    for side in SIDES:
        k = kidneys.get(side, {})
        if k.get("found") and k.get("ktbr") is not None and flag_value("ktbr", k["ktbr"]) == "abnormal":
            out.append(QCWarning("low_kidney_background", side,
                                 f"{side} kidney-to-background ratio {k['ktbr']:.2f} <= 2 in the DRF window: the "
                                 "kidney barely stands out from its background, so the background subtraction "
                                 "decides its share and the DRF is less reproducible than +/- 5 points "
                                 "(PMC8279895); check the background ROI on the image and read the DRF with "
                                 "caution"))
    return out


def segmentation_qc(
    mask: np.ndarray,
    rois: KidneyROIs,
    kidneys: dict[str, dict[str, Any]],
    uptake_image: np.ndarray,
    spacing_mm: Sequence[float] | None,
    age_years: float | None,
    extra: Iterable[QCWarning] = (),
    uptake: UptakeImage | None = None,
) -> list[QCWarning]:
    """Every QC warning of one study, in the order of :data:`QC_CODES`.

    Args:
        mask: the ``(H, W)`` mask the ROIs were built from.
        rois: the study's ROIs (:func:`scripts.clinical.rois.build_rois`).
        kidneys: ``report.json``'s kidney entries (``found``, ``ktbr``).
        uptake_image: ``(H, W)`` counts of the 1-3 min sum.
        spacing_mm: ``(row, column)`` pixel size (None or NaN: no size check; fragments with 4 mm pixels).
        age_years: the patient's age (None or NaN: no size check).
        extra: warnings from other modules (the ``motion`` code of :mod:`scripts.clinical.motion`, and the hook for
            ``low_model_confidence`` of the DRF interval), placed by their code's position in :data:`QC_CODES`.
        uptake: the study's Patlak uptake image (:func:`scripts.clinical.fossa.uptake_image`) for
            ``missing_kidney_uptake``; None: that code is not checked.

    Returns:
        The warnings (:meth:`QCWarning.as_json` gives ``report.json``'s entries).
    """
    age = None if age_years is None or not math.isfinite(float(age_years)) else float(age_years)
    found = (size_qc(rois, spacing_mm, age) + missing_kidney_qc(rois, uptake_image, uptake)
             + fragment_qc(mask, rois, spacing_mm) + ktbr_qc(kidneys) + list(extra))
    order = {code: i for i, code in enumerate(QC_CODES)}
    return sorted(found, key=lambda q: order.get(q.code, len(order)))


def qc_codes_text(qc: Iterable[dict[str, Any]]) -> str:
    """``report.json``'s ``qc`` entries as one CSV cell: ``code:side`` (or ``code``) joined by ``;``."""
    return ";".join(f"{q['code']}:{q['side']}" if q.get("side") else str(q["code"]) for q in qc)
