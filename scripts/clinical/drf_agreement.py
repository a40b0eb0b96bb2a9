# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The ``drf_method_disagreement`` QC code: the integral and Patlak-Rutland DRF of one study too far apart.

The two split-function methods of the report (:mod:`scripts.clinical.kidney_indices`) measure the same thing from the
same frames and ROIs, and differ in how they treat what is not kidney uptake: the 1-2 min integral subtracts the
background ROI (the lateral crescent by default, :data:`scripts.clinical.rois.DEFAULT_BACKGROUND`) and counts
everything else in the ROI (vascular activity, tracer already in a dilated
pelvis), while Patlak-Rutland fits the uptake rate against the blood-pool curve and takes the vascular part out as
its intercept (renography.md section 3). When they disagree by much, at least one has failed on this study; which one
cannot be told from the study alone, so the DRF should not be reported until the ROIs, the background and the curves
are checked. On 200 fresh clinical-mix studies (seed 7000) most DRF errors above 5 points were errors of the
method, with the true masks as much as with the model's (with the full perirenal ring: 49 such studies with true
parenchyma masks, 45 with the 0.4.0 model's), and the two methods were far apart in most of them.

The limit, :data:`DRF_DISAGREEMENT_LIMIT_PP` = 7 points: the reproducibility of a pediatric DRF is about +/- 5 points
(PMC8279895, n = 127 and 227 children; renography.md section 3). Two estimates each within 5 points of the truth and
with independent errors differ by up to sqrt(2) * 5 = 7.1 points at the same confidence; a difference beyond 7 points
means that at least one of them is off by more than the reproducibility. Not fitted to the validation studies; what it
catches there is stated in the README's clinical-report section. (The free-text line of ``warnings`` from 5 points
on, "check ROIs and timing", stays as it was: a prompt to look, not a QC code.)

A study with one kidney found is never flagged (both methods give 100/0), nor one where a method gave no value.
``report.json``: the ``qc`` entry ``{"code": "drf_method_disagreement", "side": null, "message"}``; the two values it
compares are ``drf_percent.integral.left`` and ``drf_percent.patlak.left``.
"""

from __future__ import annotations

import math
from typing import Any

from scripts.clinical.kidney_indices import left_drf
from scripts.clinical.qc import QCWarning

__all__ = ["DRF_DISAGREEMENT_LIMIT_PP", "drf_disagreement_pp", "drf_agreement_qc"]

#: integral and Patlak left DRF further apart than this (percentage points) raise the code (see the module docstring).
DRF_DISAGREEMENT_LIMIT_PP = 7.0


def drf_disagreement_pp(drf: dict[str, dict[str, Any]]) -> float:
    """``|integral - Patlak|`` of the left DRF (points; 0 with one kidney found, both 100/0), NaN when either is
    missing.

    Args:
        drf: ``report.json``'s ``drf_percent`` (``{"integral": {"left", "right"}, "patlak": {...}, ...}``).
    """
    li, pa = left_drf(drf, "integral"), left_drf(drf, "patlak")
    if not (math.isfinite(li) and math.isfinite(pa)):
        return math.nan
    return abs(li - pa)


def drf_agreement_qc(drf: dict[str, dict[str, Any]], limit_pp: float = DRF_DISAGREEMENT_LIMIT_PP) -> list[QCWarning]:
    """The ``drf_method_disagreement`` warning when the two methods' left DRF differ by more than ``limit_pp``.

    Args:
        drf: ``report.json``'s ``drf_percent``.
        limit_pp: the limit (points). Defaults to :data:`DRF_DISAGREEMENT_LIMIT_PP`.
    """
    diff = drf_disagreement_pp(drf)
    if not (math.isfinite(diff) and diff > limit_pp):
        return []
    li, pa = float(drf["integral"]["left"]), float(drf["patlak"]["left"])
    return [QCWarning(
        "drf_method_disagreement", None,
        f"left DRF {li:.1f} % by the 1-2 min integral but {pa:.1f} % by Patlak-Rutland: {diff:.1f} points apart "
        f"(limit {limit_pp:g}, beyond both methods' reproducibility): one method fails on this study (high or uneven "
        "background, tracer already in a dilated pelvis, a poor blood-pool curve); do not report the DRF before "
        "checking the background ROIs and the curves")]
