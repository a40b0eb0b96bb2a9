# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The combined split function: the inverse-variance weighted mean of the integral and Patlak DRF, the report's DRF
of record, with its calibrated 95 % interval.

``report.json``'s ``drf_percent.combined`` = ``{"left", "right", "left_ci95", "right_ci95", "weights": {"integral",
"patlak"}}`` (percent; ``right = 100 - left``, the interval mirrored; weights sum to 1). ``report.png``'s table shows
it first, as the DRF of record; the integral (1-2 min) and Patlak-Rutland values and their own intervals are still
reported beside it (``drf_percent.integral`` / ``.patlak``, unchanged): clinicians compare with them, and a large gap
between the two is the ``drf_method_disagreement`` QC code (:mod:`scripts.clinical.drf_agreement`).

Why a combination: the two methods read the same kidneys through different errors (the integral: background and
the window's vascular phase; Patlak: the blood-pool curve and the fit), and on 200 fresh clinical-mix studies (seed
7000, the 0.5.1 model's masks and the true masks, ``bundle/docs/results/renal_function``) their left-DRF errors are
nearly uncorrelated (Pearson r = 0.08 with the model's masks, 0.09 with the true parenchyma, two-kidney studies).
For two unbiased estimators with independent errors of standard deviations ``s_i`` and ``s_p`` the inverse-variance
weights ``w_m = (1 / s_m^2) / (1 / s_i^2 + 1 / s_p^2)`` give the smallest-variance linear combination (the textbook
fixed-effect mean). Each method's ``s_m`` is its own interval's total standard deviation
(:mod:`scripts.clinical.drf_interval`, ``DRFInterval.sigmas[m]["total"]``: counting noise, segmentation and
background terms of this very study), so a study whose background makes the integral uncertain leans on Patlak and
the reverse. On 400 fresh seed-7000 studies (never used for a fit; model 0.6.0 and the 0.6.0 calibration) the
left-DRF |error| median / p90 / max is 1.09 / 3.94 / 15.3 points with the model's masks (integral 1.40 / 4.70 / 16.3,
Patlak 1.61 / 5.09 / 20.9) and 1.14 / 3.57 / 12.1 with the true parenchyma (integral 1.35 / 4.52 / 16.3).

The interval: ``left +- 1.96 * s_c``, clipped to 0-100, with ``s_c^2 = w_i^2 s_i^2 + w_p^2 s_p^2 + 2 rho w_i w_p s_i
s_p``. The errors are not independent in general (both methods share the mask and the background ring), so ``rho``
(:data:`COMBINED_CALIBRATION`) is not assumed 0 but fitted, like the methods' own constants, on the calibration set
(:func:`fit_combined_calibration`): the narrowest value whose intervals hold the true DRF in at least 95 % of its
studies. It is a calibration constant, an effective correlation, not a measured one. On those 400 studies the
interval (mask-only, as measured) holds the truth in 94.8 % of them with the model's masks (96.3 % true
parenchyma), median width 6.7 points, 6.1 for the 69 normal studies (issue 14 asks for 6; README, clinical report).
With ``rho > 0`` the combination can be wider than the better method alone (at ``rho = 0.35`` where one method's
sigma is more than 1.85 times the other's: ``2 rho k^3 > 1 + k^2``): the weights stay the independent-error ones.

Edge cases: one kidney found (both methods 100/0, their interval the degenerate one of
:func:`~scripts.clinical.drf_interval.drf_interval`): the integral's value and interval are copied, weights 1 / 0. A
method without a finite value or without a finite positive standard deviation gets weight 0 and the combination is
the other method (e.g. Patlak with no blood-pool fit: combined = integral, weight 1); neither usable: the integral's
value and interval (None without a value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scripts.clinical.drf_interval import INTERVAL_METHODS, SIGMA_COMPONENTS, Z95, DRFInterval, interval_sigmas
from scripts.clinical.kidney_indices import finite_number, left_drf

__all__ = [
    "COMBINED_METHODS",
    "COMBINED_CALIBRATION",
    "CombinedDRF",
    "inverse_variance_weights",
    "combined_sigma",
    "combine_drf",
    "add_combined",
    "fit_combined_calibration",
    "LOW_CONFIDENCE_WIDTH",
    "confidence_qc",
]

#: the methods combined, in ``weights`` order (both have an interval, :data:`~scripts.clinical.drf_interval.
#: INTERVAL_METHODS`).
COMBINED_METHODS = INTERVAL_METHODS
#: the effective correlation ``rho`` of the two methods' errors in the combined interval's variance. Fitted by
#: :func:`fit_combined_calibration` (``validate_renal_function --fit-interval``) on the calibration set of its own
#: (the 300 seed-9000 studies and 749 two-kidney rows of :data:`~scripts.clinical.drf_interval.INTERVAL_CALIBRATION`,
#: 2026-12-02, model 0.6.0), for the method constants fitted there in the same run (the rows' totals, weights and
#: combined error recomputed from their components): coverage 95.3 % at ``rho = 0.35``, median width 8.15 points.
#: It is a calibration constant, an effective correlation, not a measured one: it widens the combination where the
#: methods' sigmas fall short. (0.15 for model 0.5.1's method constants, 0.5 for model 0.4.0's.)
COMBINED_CALIBRATION: dict[str, float] = {"rho": 0.35}


#: ``low_model_confidence`` when the 95 % interval of the DRF of record (the combined one) is wider than this
#: (points). Chosen on the calibration set (the 300 seed-9000 studies of :data:`COMBINED_CALIBRATION`, model 0.6.0's
#: masks, never the coverage studies) for issue 14's reading of the QC, sensitivity first: of the studies whose
#: combined DRF is more than 5 points off, as many as possible carry a segmentation code (this one, the mask codes,
#: ``drf_method_disagreement``), of those within 2 points at most 15 %: the smallest whole-point limit whose share of
#: flagged studies within 2 points stays within 15 %. There, with the model's masks: 12 points 15 of 16 and 34 of 205
#: (16.6 %); **13 points 15 of 16 and 30 of 205 (14.6 %)**; 14: 15 / 28; 16: 14 / 25; 20: 12 / 21; the rule before,
#: the integral's own interval wider than 20 points, 14 / 25; without the code 10 / 17. A 13-point interval is
#: +-6.5 points: beyond the +-5 points of a pediatric DRF's reproducibility (PMC8279895).
LOW_CONFIDENCE_WIDTH = 13.0


@dataclass
class CombinedDRF:
    """The combined DRF of one study (percent).

    Attributes:
        left, right: the combined DRF (None without any value).
        left_ci95, right_ci95: ``[low, high]`` (None without an interval).
        weights: ``{"integral": w_i, "patlak": w_p}`` (sum 1).
        sigma: ``s_c`` (points; None where the interval was copied or is missing).
        note: why the combination is not the weighted mean of both methods, else ``""``.
    """

    left: float | None = None
    right: float | None = None
    left_ci95: list[float] | None = None
    right_ci95: list[float] | None = None
    weights: dict[str, float] = field(default_factory=lambda: {"integral": 1.0, "patlak": 0.0})
    sigma: float | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        """``report.json``'s ``drf_percent.combined``."""
        return {"left": self.left, "right": self.right, "left_ci95": self.left_ci95, "right_ci95": self.right_ci95,
                "weights": {m: round(float(w), 4) for m, w in self.weights.items()}}


def inverse_variance_weights(sigmas: dict[str, float | None]) -> dict[str, float]:
    """``{method: w}`` proportional to ``1 / s^2`` over :data:`COMBINED_METHODS`, summing to 1; a method whose ``s``
    is None, NaN, infinite or not above 0 gets 0 (no usable uncertainty: it cannot be weighed). All 0 when none is
    usable."""
    inv = {m: (1.0 / float(s) ** 2 if finite_number(s) and float(s) > 0 else 0.0) for m, s in
           ((m, sigmas.get(m)) for m in COMBINED_METHODS)}
    total = sum(inv.values())
    return {m: (v / total if total > 0 else 0.0) for m, v in inv.items()}


def combined_sigma(weights: dict[str, float], sigmas: dict[str, float | None], rho: float) -> float:
    """``s_c = sqrt(w_i^2 s_i^2 + w_p^2 s_p^2 + 2 rho w_i w_p s_i s_p)`` (a method of weight 0 contributes nothing,
    whatever its ``s``)."""
    w = [float(weights.get(m, 0.0)) for m in COMBINED_METHODS]
    s = [float(sigmas[m]) if wm > 0 else 0.0 for m, wm in zip(COMBINED_METHODS, w, strict=True)]
    var = w[0] ** 2 * s[0] ** 2 + w[1] ** 2 * s[1] ** 2 + 2.0 * rho * w[0] * w[1] * s[0] * s[1]
    return math.sqrt(max(var, 0.0))


def _mirrored(left: list[float] | None) -> list[float] | None:
    return None if left is None else [round(100.0 - left[1], 2), round(100.0 - left[0], 2)]


def combine_drf(
    drf: dict[str, dict[str, Any]], interval: DRFInterval, rho: float | None = None
) -> CombinedDRF:
    """The combined DRF of a study (see the module docstring).

    Args:
        drf: ``report.json``'s ``drf_percent`` (``integral`` and ``patlak`` with ``left`` / ``right``).
        interval: the study's :class:`~scripts.clinical.drf_interval.DRFInterval` (``sigmas[m]["total"]``; its
            ``ci95`` for the one-kidney case).
        rho: the effective correlation. Defaults to :data:`COMBINED_CALIBRATION`'s.
    """
    rho = COMBINED_CALIBRATION["rho"] if rho is None else float(rho)
    integral = drf.get("integral", {})
    if not interval.sigmas:  # one kidney found: 100/0 is the mask's statement; the methods' interval is copied
        ci = interval.ci95.get("integral", {})
        left, right = integral.get("left"), integral.get("right")
        return CombinedDRF(left, right, ci.get("left"), ci.get("right"),
                           note=interval.note or "no interval sigmas: the integral's value and interval")
    values = {m: left_drf(drf, m) for m in COMBINED_METHODS}
    sigmas = {m: (interval.sigmas.get(m) or {}).get("total") if math.isfinite(values[m]) else None
              for m in COMBINED_METHODS}
    weights = inverse_variance_weights(sigmas)
    if sum(weights.values()) <= 0:  # neither method can be weighed: the integral, as the report gave it before
        ci = interval.ci95.get("integral", {}).get("left") if math.isfinite(values["integral"]) else None
        return CombinedDRF(integral.get("left"), integral.get("right"), ci, _mirrored(ci),
                           note="no method with a usable standard deviation: the integral's value and interval")
    centre = min(max(sum(weights[m] * values[m] for m in COMBINED_METHODS if weights[m] > 0), 0.0), 100.0)
    s_c = combined_sigma(weights, sigmas, rho)
    lo, hi = max(centre - Z95 * s_c, 0.0), min(centre + Z95 * s_c, 100.0)
    left_ci = [round(lo, 2), round(hi, 2)]
    note = "" if all(w > 0 for w in weights.values()) else (
        "only " + next(m for m, w in weights.items() if w > 0) + " has a value and a standard deviation")
    return CombinedDRF(round(centre, 2), round(100.0 - centre, 2), left_ci, _mirrored(left_ci), weights, s_c, note)


def add_combined(drf: dict[str, Any], interval: DRFInterval, rho: float | None = None) -> CombinedDRF:
    """Write ``drf_percent.combined`` (:meth:`CombinedDRF.as_json`) into ``report.json``'s ``drf_percent``; returns
    the combination."""
    combined = combine_drf(drf, interval, rho)
    drf["combined"] = combined.as_json()
    return combined


def fit_combined_calibration(
    rows: Sequence[dict[str, Any]], target: float = 0.95, calibration: dict[str, dict[str, float]] | None = None
) -> dict[str, Any]:
    """Fit :data:`COMBINED_CALIBRATION` (``rho``) on calibration rows (``validate_renal_function --fit-interval``).

    Each row (:func:`scripts.clinical.interval_validation.interval_row`) holds ``drf_error_combined`` (combined -
    true left DRF), the methods' total standard deviations ``ci_integral_total``, ``ci_patlak_total`` and the weight
    ``ci_combined_weight_patlak``; rows with only one weighed method do not depend on ``rho`` and are left out. The
    interval widens monotonically with ``rho``, so the narrowest value reaching ``target`` is the smallest on a grid
    of 0.05 from -1 to 1 (written here: one constant on a grid, no library needed).

    Args:
        rows: the calibration rows. target: the coverage to reach. Defaults to 0.95.
        calibration: the methods' calibration the fit is for (``{method: {"c_seg", ...}}``, e.g. what
            :func:`~scripts.clinical.drf_interval.fit_calibration` just fitted on the same rows). The rows' totals,
            weights and combined error were made with the committed :data:`~scripts.clinical.drf_interval.
            INTERVAL_CALIBRATION`; with another one each row's totals are recomputed from its components
            (``ci_<m>_noise``, ... :func:`~scripts.clinical.drf_interval.interval_sigmas`), the weights from them
            (:func:`inverse_variance_weights`) and the combined error as ``w_i * drf_error_integral + w_p *
            drf_error_patlak`` (the combination before its clip to 0-100). Defaults to None: the rows' own columns.

    Returns:
        ``{"rho", "coverage", "median_width", "n"}``.

    Raises:
        ValueError: no usable row, or no ``rho`` in [-1, 1] reaches ``target``.
    """
    def num(r: dict[str, Any], k: str) -> float:
        v = r.get(k)
        return float(v) if finite_number(v) else math.nan

    if calibration is None:
        err, s_i, s_p, w_p = (np.asarray([num(r, k) for r in rows], float) for k in (
            "drf_error_combined", "ci_integral_total", "ci_patlak_total", "ci_combined_weight_patlak"))
    else:
        cols: dict[str, list[float]] = {"err": [], "s_i": [], "s_p": [], "w_p": []}
        for r in rows:
            errors = {m: num(r, f"drf_error_{m}") for m in COMBINED_METHODS}
            totals = {m: (interval_sigmas({k: num(r, f"ci_{m}_{k}") for k in SIGMA_COMPONENTS}, calibration[m])[1]
                          if math.isfinite(errors[m]) else None) for m in COMBINED_METHODS}
            w = inverse_variance_weights(totals)
            cols["err"].append(sum(w[m] * errors[m] for m in COMBINED_METHODS if w[m] > 0) if sum(w.values()) > 0
                               else math.nan)
            cols["s_i"].append(math.nan if totals["integral"] is None else totals["integral"])
            cols["s_p"].append(math.nan if totals["patlak"] is None else totals["patlak"])
            cols["w_p"].append(w["patlak"])
        err, s_i, s_p, w_p = (np.asarray(cols[k], float) for k in ("err", "s_i", "s_p", "w_p"))
    keep = np.isfinite(err) & np.isfinite(s_i) & np.isfinite(s_p) & np.isfinite(w_p) & (w_p > 0) & (w_p < 1)
    if not keep.any():
        raise ValueError("no row with a combined DRF error, both methods' standard deviations and both weights")
    err, s_i, s_p, w_p = np.abs(err[keep]), s_i[keep], s_p[keep], w_p[keep]
    w_i = 1.0 - w_p
    for rho in np.round(np.arange(-1.0, 1.0001, 0.05), 2):
        s_c = np.sqrt(np.clip(w_i**2 * s_i**2 + w_p**2 * s_p**2 + 2 * rho * w_i * w_p * s_i * s_p, 0, None))
        cov = float(np.mean(err <= Z95 * s_c))
        if cov >= target:
            width = float(np.median(2 * Z95 * s_c))
            return {"rho": float(rho), "coverage": round(cov, 4), "median_width": round(width, 3), "n": int(keep.sum())}
    raise ValueError(f"no rho in [-1, 1] reaches {target:.0%} coverage of the combined DRF")


def confidence_qc(combined: CombinedDRF) -> list[dict[str, Any]]:
    """``low_model_confidence`` (``{"code", "side", "message"}``) when the combined DRF's 95 % interval is wider than
    :data:`LOW_CONFIDENCE_WIDTH` points (none without an interval; a one-kidney study's degenerate 100/0 one is 0
    wide, but stretched by the network's probability map to a second kidney it half saw, it can fire)."""
    ci = combined.left_ci95
    if ci is None or ci[1] - ci[0] <= LOW_CONFIDENCE_WIDTH:
        return []
    width = ci[1] - ci[0]
    return [{"code": "low_model_confidence", "side": None,
             "message": f"the 95 % interval of the left DRF of record (combined) is {ci[0]:.0f}-{ci[1]:.0f} % "
                        f"({width:.0f} points wide, limit {LOW_CONFIDENCE_WIDTH:g}): the split function is "
                        "uncertain; check the ROIs and the background before using it"}]
