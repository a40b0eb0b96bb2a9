# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Renal transit: output efficiency and mean transit times of one kidney, from its curves and the blood pool.

Part of step 3 of the analysis (curves -> indices), beside :mod:`scripts.clinical.kidney_indices`; formulas from
``/work/shared/docs/renography.md`` section 3. Curves are count rates at frame mid-times (see
:mod:`scripts.clinical.indices`): K = the background-corrected kidney (or parenchyma) curve, P = the blood-pool
curve (the Patlak input).

- **Decay**: every curve is first corrected for 99mTc decay to the acquisition start, ``K0(t) = K(t) exp(lambda t)``
  (:func:`decay_corrected`; MAG3, DTPA and EC are all 99mTc), so that decay is not counted as output. Without it a
  kidney that never drains shows an OE20 of 2-3 %.
- **Output efficiency** (renal output efficiency, Chaiwatanarat et al., J Nucl Med 1993;34:845; the IAEA renal
  package): the share of the tracer taken up by time t that has already left the kidney,
  ``OE(t) = 100 * [U int_0^t P - (K0(t) - F P(t))] / (U int_0^t P)``, U and F the Rutland-Patlak slope and intercept
  over the Patlak window (the input is the blood pool scaled to the early kidney curve, ``U int P + F P``, and the
  output is that fit minus the kidney curve, as the Fiji Scintigraphy plugin does; the vascular term ``F P`` is
  taken off the kidney content). K0 and P at t come from the curves smoothed as the timing indices are. Reported at
  20 and 30 min (:data:`OE_TIMES_MIN`) where the study lasts that long, else null with the reason.
- **Retention function and mean transit time** (ISCORN consensus on transit times, Durand et al., Semin Nucl Med
  2008): ``K0(t) = F P(t) + U int_0^t P(t - s) R(s) ds`` with R(0) = 1 the share of a unit of tracer taken up at
  time 0 still in the ROI s later; the mean transit time is ``MTT = int R ds`` (= int R / R(0)). Whole-kidney MTT
  from the whole-kidney curve, parenchymal transit time from the parenchyma ROI (whole kidney minus the filled
  hilum). :func:`fit_retention` finds R (see its comment for why it is a non-negative spectrum of transit times);
  where more than :data:`MAX_UNRESOLVED` of the tracer has transit times in the last fifth of the observable range
  (or beyond it), the MTT is not measurable in this study: null, with its lower bound
  (``..._lower_bound``) and the reason.

``report.json`` entries per kidney (:func:`transit_indices`): ``output_efficiency_20min_percent``,
``output_efficiency_30min_percent``, ``output_efficiency_problem`` (why an OE is null, ``""`` otherwise),
``mean_transit_time_min`` and ``parenchymal_transit_time_min`` (minutes, null when not measurable),
``mean_transit_time_min_lower_bound`` and ``parenchymal_transit_time_min_lower_bound`` (minutes, set only when the
MTT is null because the tracer had not left by the end of the study), ``transit_time_problem`` (``""`` when both
were measured). Normal ranges in :mod:`scripts.clinical.normal_ranges`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import nnls

from scripts.clinical import indices as ix
from scripts.clinical.curves import KidneyCurves

__all__ = [
    "TC99M_HALF_LIFE_S",
    "OE_TIMES_MIN",
    "MAX_UNRESOLVED",
    "LATE_FRACTION",
    "RetentionFit",
    "decay_corrected",
    "fit_retention",
    "mean_transit_time",
    "output_efficiency",
    "transit_indices",
]

#: physical half-life of 99mTc (s): 6.01 h (NNDC); every renal tracer of this report (MAG3, DTPA, EC) is 99mTc.
TC99M_HALF_LIFE_S = 6.01 * 3600.0
#: times (min from acquisition start) of the output efficiency.
OE_TIMES_MIN = (20.0, 30.0)
#: the bolus "arrives" when the cumulative blood-pool curve reaches this share of its end value; transit times up
#: to (end of study - arrival) are observable.
ARRIVAL_FRACTION = 0.01
#: transit-time step of the retention spectrum (s): at least this, and at most :data:`MAX_BOXES` steps.
MIN_STEP_S = 20.0
MAX_BOXES = 40
#: weight of the second-difference (Tikhonov) penalty on the spectrum, relative to the median column norm: on
#: noisy pediatric curves it halves the MTT scatter of plain NNLS at a bias of about 0.01-0.04 min (0.02: 0.05 min).
SMOOTHNESS = 0.005
#: transit times beyond this share of the observable range are "late": the study cannot tell them apart from
#: tracer that never leaves.
LATE_FRACTION = 0.8
#: the MTT is reported only when at most this share of the tracer is late (else null with a lower bound).
MAX_UNRESOLVED = 0.10


def _floats(*arrays: np.ndarray) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=float).ravel() for a in arrays]
    if any(a.size != out[0].size for a in out):
        raise ValueError(f"curve and timing arrays differ in length: {[a.size for a in out]}")
    return out


def decay_corrected(
    rate: np.ndarray, starts_s: np.ndarray, durations_s: np.ndarray, half_life_s: float = TC99M_HALF_LIFE_S
) -> np.ndarray:
    """A count-rate curve corrected for physical decay to the acquisition start: ``rate * exp(ln2 t_mid / T1/2)``.

    Args:
        rate: ``(T,)`` counts/s at frame mid-times.
        starts_s, durations_s: ``(T,)`` frame timing (s).
        half_life_s: physical half-life (s). Defaults to :data:`TC99M_HALF_LIFE_S`.
    """
    rate, starts, durs = _floats(rate, starts_s, durations_s)
    return rate * np.exp(math.log(2.0) / float(half_life_s) * (starts + durs / 2.0))


class _Cumulative:
    """``CP(t) = int_0^t P`` of a rate constant within each frame (frames back to back, as
    :func:`scripts.clinical.indices.cumulative_integral` assumes), and frame means of ``CP(t - lag)``."""

    def __init__(self, rate: np.ndarray, starts: np.ndarray, durs: np.ndarray) -> None:
        self.rate = rate
        self.x = np.concatenate([[starts[0]], starts[0] + np.cumsum(durs)])  # frame boundaries (s)
        self.cp = np.concatenate([[0.0], np.cumsum(rate * durs)])  # CP at the boundaries
        self.icp = np.concatenate([[0.0], np.cumsum(0.5 * (self.cp[1:] + self.cp[:-1]) * durs)])  # int CP

    def at(self, t: np.ndarray | float) -> np.ndarray:
        """CP(t): piecewise linear between frame boundaries (0 before the first frame)."""
        return np.interp(t, self.x, self.cp)

    def _icp(self, t: np.ndarray) -> np.ndarray:
        # int_0^t CP: piecewise quadratic (CP is linear within a frame); 0 before the first frame.
        j = np.clip(np.searchsorted(self.x, t, side="right") - 1, 0, self.rate.size - 1)
        u = np.clip(t - self.x[j], 0.0, None)
        return self.icp[j] + self.cp[j] * u + 0.5 * self.rate[j] * u**2

    def frame_mean(self, lag_s: float) -> np.ndarray:
        """``(T,)`` mean of ``CP(t - lag_s)`` over each frame (exact for the piecewise-constant rate)."""
        a, b = self.x[:-1] - lag_s, self.x[1:] - lag_s
        return (self._icp(b) - self._icp(a)) / (b - a)


@dataclass
class RetentionFit:
    """A kidney curve deconvolved with the blood pool: ``K0 = F P + sum_k w_k (CP(t) - CP(t - tau_k))``.

    Box ``k`` is the tracer that stays exactly ``tau_k`` in the ROI, so the weights are the spectrum of transit times
    (scaled by the uptake constant U = their sum) and ``R(s) = sum_{tau_k > s} w_k / U``.

    Attributes:
        transit_s: ``(K,)`` box lengths tau_k (s), increasing; the last is ``inf``: tracer still in the ROI at the end
            of the study.
        weights: ``(K,)`` non-negative weights w_k (the kidney curve's units per unit of ``int P``).
        vascular: F, the vascular term (same units, per unit of P).
        horizon_s: the longest transit time the study can show (end of study - bolus arrival, s).
        r2: coefficient of determination of the fit (duration-weighted).
    """

    transit_s: np.ndarray
    weights: np.ndarray
    vascular: float
    horizon_s: float
    r2: float

    @property
    def uptake(self) -> float:
        """U, the sum of the weights (the retention function's height at s = 0)."""
        return float(self.weights.sum())

    def retention(self, s: np.ndarray | float) -> np.ndarray:
        """R(s): share of the tracer taken up at time 0 still in the ROI ``s`` seconds later (NaN without uptake)."""
        s = np.atleast_1d(np.asarray(s, float))
        if not self.uptake > 0:
            return np.full(s.shape, np.nan)
        return (self.weights[None, :] * (self.transit_s[None, :] > s[:, None])).sum(axis=1) / self.uptake

    def late_fraction(self) -> float:
        """Share of the tracer with transit times of at least :data:`LATE_FRACTION` of the horizon (NaN without
        uptake)."""
        if not self.uptake > 0:
            return float("nan")
        return float(self.weights[self.transit_s >= LATE_FRACTION * self.horizon_s].sum() / self.uptake)

    def mean_transit_min(self) -> float:
        """``int R ds`` in minutes, tracer still in the ROI counted at the horizon (then a lower bound)."""
        if not self.uptake > 0:
            return float("nan")
        return float((self.weights * np.minimum(self.transit_s, self.horizon_s)).sum() / self.uptake / 60.0)


def fit_retention(
    kidney_rate: np.ndarray,
    blood_rate: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    smoothness: float = SMOOTHNESS,
) -> RetentionFit:
    """Deconvolve a (decay-corrected) kidney curve with the (decay-corrected) blood-pool curve.

    Args:
        kidney_rate: ``(T,)`` background-corrected kidney or parenchyma counts/s.
        blood_rate: ``(T,)`` blood-pool curve, any positive scale.
        starts_s, durations_s: ``(T,)`` frame timing (s).
        smoothness: Tikhonov weight of the spectrum's second differences. Defaults to :data:`SMOOTHNESS`.

    Raises:
        ValueError: fewer than 4 frames, a blood pool without counts, a study too short for 3 transit-time steps, or
            a fit that does not converge.
    """
    # Why a spectrum of transit times and not the textbook matrix deconvolution (ISCORN: lower-triangular matrix of
    # P, then smoothing) or truncated SVD: renograms change frame length mid-study (1-3 s, then 15-60 s), have only
    # 20-80 late frames and a noisy heart curve; the unconstrained inverse oscillates and goes negative, and the MTT
    # (area over the first value) inherits all of that noise. Writing R as a mixture of boxes with non-negative
    # weights makes every solution a possible retention function (non-negative, non-increasing, R(0) = U exactly
    # the weights' sum, the MTT a weighted mean of box lengths), the frames enter as exact frame means of the model
    # whatever their length, SciPy's NNLS solves it, and a light second-difference penalty keeps the spectrum
    # smooth where there are more boxes than frames. F P takes the vascular spike, which would otherwise sit in R(0).
    k, p, starts, durs = _floats(kidney_rate, blood_rate, starts_s, durations_s)
    if k.size < 4:
        raise ValueError(f"{k.size} frames; at least 4 needed to deconvolve")
    cum = _Cumulative(p, starts, durs)
    total = float(cum.cp[-1])
    if not total > 0:
        raise ValueError("the blood-pool curve has no counts")
    arrival = float(cum.x[min(int(np.searchsorted(cum.cp, ARRIVAL_FRACTION * total)), k.size)])
    horizon = float(cum.x[-1]) - arrival
    step = max(MIN_STEP_S, horizon / MAX_BOXES)
    n_boxes = int(horizon // step)
    if n_boxes < 3:
        raise ValueError(f"the study lasts {horizon:.0f} s after the bolus; too short to deconvolve")
    taus = step * np.arange(1, n_boxes + 1)
    base = cum.frame_mean(0.0)
    g = np.column_stack([p] + [base - cum.frame_mean(t) for t in taus] + [base])  # F | boxes | never leaves
    w = np.sqrt(durs / durs.mean())  # a frame's counts (and so its weight) grow with its duration
    a, b = g * w[:, None], k * w
    boxes = a[:, 1:1 + n_boxes]
    scale = float(np.median(np.linalg.norm(boxes, axis=0)))
    d2 = np.zeros((n_boxes - 2, g.shape[1]))
    for i in range(n_boxes - 2):
        d2[i, 1 + i:4 + i] = (1.0, -2.0, 1.0)
    m = np.vstack([a, float(smoothness) * scale * d2])
    rhs = np.concatenate([b, np.zeros(n_boxes - 2)])
    norms = np.linalg.norm(m, axis=0)
    norms[norms == 0] = 1.0
    try:
        y, _ = nnls(m / norms, rhs, maxiter=100 * m.shape[1])
    except RuntimeError as exc:  # SciPy: "Maximum number of iterations reached."
        raise ValueError(f"the deconvolution did not converge ({exc})") from None
    coef = y / norms
    fitted = g @ coef
    ss_tot = float(np.sum(w**2 * (k - np.average(k, weights=w**2)) ** 2))
    r2 = float("nan") if ss_tot == 0 else 1.0 - float(np.sum(w**2 * (k - fitted) ** 2)) / ss_tot
    return RetentionFit(np.append(taus, np.inf), coef[1:], float(coef[0]), horizon, r2)


def mean_transit_time(fit: RetentionFit, what: str) -> tuple[float | None, float | None, str]:
    """``(MTT, lower bound, problem)`` in minutes: the MTT when measurable, else None with the lower bound (tracer had
    not left) or without (no uptake), and the reason starting with ``what``."""
    if not fit.uptake > 0:
        return None, None, f"{what}: no uptake to deconvolve"
    mtt, late = fit.mean_transit_min(), fit.late_fraction()
    if late > MAX_UNRESOLVED:
        return None, round(mtt, 2), (
            f"{what}: {100 * late:.0f} % of the tracer stays longer than {LATE_FRACTION * fit.horizon_s / 60:.1f} "
            f"min of the {fit.horizon_s / 60:.1f} min the study shows: MTT > {mtt:.1f} min (lower bound)")
    return round(mtt, 2), None, ""


def output_efficiency(
    kidney0: np.ndarray,
    blood0: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    patlak_window_s: tuple[float, float] = (60.0, 150.0),
    smoothing_s: float = 20.0,
    times_min: tuple[float, ...] = OE_TIMES_MIN,
) -> dict[str, Any]:
    """Output efficiency (%) at each of ``times_min`` from decay-corrected curves (formula in the module docstring).

    Args:
        kidney0, blood0: ``(T,)`` decay-corrected kidney and blood-pool curves (:func:`decay_corrected`).
        starts_s, durations_s: ``(T,)`` frame timing (s).
        patlak_window_s: window of the Patlak fit giving U and F (s). Defaults to (60, 150).
        smoothing_s: Gaussian sigma (s) of the curves' values at t. Defaults to 20.
        times_min: times (min from acquisition start). Defaults to :data:`OE_TIMES_MIN`.

    Returns:
        ``{"output_efficiency_<t>min_percent": value or None, ..., "output_efficiency_problem": reasons or ""}``.
    """
    k, p, starts, durs = _floats(kidney0, blood0, starts_s, durations_s)
    end_s = float(starts[-1] + durs[-1])
    out: dict[str, Any] = {f"output_efficiency_{t:g}min_percent": None for t in times_min}
    problems: list[str] = []
    too_late = [t for t in times_min if end_s < 60.0 * t - 1e-3]
    if too_late:
        problems.append(f"OE at {', '.join(f'{t:g}' for t in too_late)} min not available: the study ends at "
                        f"{end_s / 60:.1f} min")
    fit = None
    try:
        fit = ix.patlak_rutland(k, p, starts, durs, patlak_window_s)
        if not fit.slope_per_s > 0:
            problems.append("no uptake (Patlak slope <= 0): OE not computed")
            fit = None
    except ValueError as exc:
        problems.append(f"OE not computed: {exc}")
    if fit is not None:
        k_s = ix.smooth_curve(k, starts, durs, smoothing_s)
        p_s = ix.smooth_curve(p, starts, durs, smoothing_s)
        cum = _Cumulative(p, starts, durs)
        for t in times_min:
            if t in too_late:
                continue
            taken = fit.slope_per_s * float(cum.at(60.0 * t))
            inside = ix.value_at_min(k_s, starts, durs, t) - fit.intercept * ix.value_at_min(p_s, starts, durs, t)
            if taken > 0:
                out[f"output_efficiency_{t:g}min_percent"] = round(100.0 * (taken - inside) / taken, 2)
    out["output_efficiency_problem"] = "; ".join(problems)
    return out


def transit_indices(
    curves: KidneyCurves,
    blood: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    patlak_window_s: tuple[float, float] = (60.0, 150.0),
    smoothing_s: float = 20.0,
) -> dict[str, Any]:
    """The ``report.json`` transit entries of one found kidney (listed in the module docstring).

    Args:
        curves: the kidney's curves (``kidney`` and ``parenchyma``, background-corrected).
        blood: ``(T,)`` blood-pool curve (the Patlak input).
        starts_s, durations_s: ``(T,)`` frame timing (s).
        patlak_window_s: Patlak window of the OE's U and F (s). Defaults to (60, 150).
        smoothing_s: Gaussian sigma (s) of the OE's curve values. Defaults to 20.
    """
    k0 = decay_corrected(curves.kidney, starts_s, durations_s)
    p0 = decay_corrected(blood, starts_s, durations_s)
    out = output_efficiency(k0, p0, starts_s, durations_s, patlak_window_s, smoothing_s)
    problems: list[str] = []
    for key, rate, what in (("mean_transit_time_min", curves.kidney, "whole kidney"),
                            ("parenchymal_transit_time_min", curves.parenchyma, "parenchyma")):
        try:
            fit = fit_retention(decay_corrected(rate, starts_s, durations_s), p0, starts_s, durations_s)
            value, bound, problem = mean_transit_time(fit, what)
        except ValueError as exc:
            value, bound, problem = None, None, f"{what}: {exc}"
        out[key], out[f"{key}_lower_bound"] = value, bound
        if problem:
            problems.append(problem)
    out["transit_time_problem"] = "; ".join(problems)
    return out
