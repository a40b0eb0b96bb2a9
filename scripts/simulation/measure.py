# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Curve timing and ROI measurements the simulator uses for its truth and its self-checks.

These are deliberately simple reference implementations (the project's clinical module is separate): Tmax and
T1/2 of a count curve, the perirenal background ring, the 1-2 min integral DRF, and the true output efficiency and
transit times of the compartment model (:func:`transit_truth`, what ``scripts.validate_renal_function`` measures the
report's against).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.ndimage import binary_dilation

from .kinetics import IMAGE_COMPARTMENTS, TC99M_HALF_LIFE_S, KineticParams, solve_kinetics

__all__ = ["curve_tmax_thalf", "perirenal_ring", "integral_drf_percent", "transit_truth"]


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


def transit_truth(
    kinetics: KineticParams | Mapping[str, Any],
    end_s: float,
    oe_times_min: tuple[float, ...] = (20.0, 30.0),
    dt_s: float = 0.25,
) -> dict[str, dict[str, Any]]:
    """The true output efficiency and transit times of each kidney, from the compartment model.

    Per side (``"left"``, ``"right"``), with the names of the report's entries:

    - ``parenchymal_transit_time_min`` = tau_c: the mean of the n-stage Erlang chain of the parenchyma (each stage
      has mean tau_c / n, and means add).
    - ``mean_transit_time_min`` = tau_c + tau_p: the whole kidney's ROI holds the parenchyma and then the pelvis,
      whose emptying is exponential with mean tau_p. tau_p is the one in effect over the whole study:
      ``tau_p_furo`` when the diuretic acts from injection or before (F-15), ``tau_p`` without a diuretic or when it
      acts only after the study. None when the diuretic starts during the study: the kidney is then not a
      time-invariant system and has no single mean transit time (``problem`` says so).
    - ``output_efficiency_<t>min_percent`` = ``100 * (1 - A(t) / (k int_0^t plasma))``: the share of the tracer taken
      up by t (min from acquisition start) that has left parenchyma and pelvis, with decay removed (``A`` = their
      activity); exact under any diuretic timing. None after ``end_s``.

    A kidney without uptake (k = 0) has every value None.

    Args:
        kinetics: the study's :class:`~scripts.simulation.kinetics.KineticParams` or ``truth.json``'s ``kinetics``.
        end_s: end of the acquisition (s from its start).
        oe_times_min: times of the output efficiency (min). Defaults to 20 and 30.
        dt_s: time step of the kinetic solution (s). Defaults to 0.25.

    Returns:
        ``{side: {"mean_transit_time_min", "parenchymal_transit_time_min", "output_efficiency_<t>min_percent" ...,
        "problem"}}``.
    """
    p = kinetics if isinstance(kinetics, KineticParams) else KineticParams(**dict(kinetics))
    t, act = solve_kinetics(p, float(end_s) + dt_s, dt_s)
    act = act * np.exp(np.log(2.0) / TC99M_HALF_LIFE_S * t)[:, None]  # decay removed: output is what left the ROI
    col = {name: i for i, name in enumerate(IMAGE_COMPARTMENTS)}
    plasma = act[:, col["plasma"]]
    cum_plasma = np.concatenate([[0.0], np.cumsum(0.5 * (plasma[1:] + plasma[:-1]) * np.diff(t))])  # MBq s
    furo_s = None if p.t_furo_min is None else p.t_inj_s + 60.0 * p.t_furo_min
    out: dict[str, dict[str, Any]] = {}
    for side in ("left", "right"):
        k_per_s = getattr(p, f"k_{side}") / 60.0
        tau_c, tau_p, tau_furo = (getattr(p, f"tau_c_{side}"), getattr(p, f"tau_p_{side}"),
                                  getattr(p, f"tau_p_furo_{side}"))
        entry: dict[str, Any] = {f"output_efficiency_{tm:g}min_percent": None for tm in oe_times_min}
        entry.update(mean_transit_time_min=None, parenchymal_transit_time_min=None, problem="")
        if not k_per_s > 0:
            entry["problem"] = "no uptake"
            out[side] = entry
            continue
        entry["parenchymal_transit_time_min"] = float(tau_c)
        if furo_s is None or furo_s >= float(end_s) or tau_furo is None:
            entry["mean_transit_time_min"] = float(tau_c + tau_p)
        elif furo_s <= p.t_inj_s:
            entry["mean_transit_time_min"] = float(tau_c + tau_furo)
        else:
            entry["problem"] = (f"the diuretic changes pelvic emptying at {furo_s / 60:.1f} min, during the study: "
                                "no single whole-kidney mean transit time")
        inside = act[:, col[f"parenchyma_{side}"]] + act[:, col[f"pelvis_{side}"]]
        for tm in oe_times_min:
            ts = 60.0 * tm
            if ts > float(end_s) + 1e-3:
                continue
            taken = k_per_s * float(np.interp(ts, t, cum_plasma))
            entry[f"output_efficiency_{tm:g}min_percent"] = 100.0 * (taken - float(np.interp(ts, t, inside))) / taken
        out[side] = entry
    return out
