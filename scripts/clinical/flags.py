# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Step 4 of the analysis (indices -> flags): each index against its normal range, and the report's quality warnings.

Flags come from the one table of :mod:`scripts.clinical.normal_ranges`; warnings say when an index should not be
trusted (low kidney-to-background ratio, a poor or missing Patlak fit, T1/2 not reached, a study shorter than the
late time).
"""

from __future__ import annotations

from typing import Any

from scripts.clinical.normal_ranges import flag_value

__all__ = ["FLAGGED_INDICES", "LOWER_BOUND_INDICES", "kidney_flags", "quality_warnings"]

#: kidney entries flagged against their normal range (the DRF by the integral method is flagged as ``drf_percent``).
FLAGGED_INDICES = (
    "tmax_min", "t_half_min", "ratio_20min_max", "nora_20min", "ktbr", "output_efficiency_20min_percent",
    "mean_transit_time_min", "parenchymal_transit_time_min",
)
#: indices that may be null with a lower bound in ``<name>_lower_bound`` (:mod:`scripts.clinical.transit`).
LOWER_BOUND_INDICES = ("mean_transit_time_min", "parenchymal_transit_time_min")


def kidney_flags(kidney: dict[str, Any]) -> dict[str, str]:
    """``{index: flag}`` of one found kidney whose entry holds its indices and ``drf_integral_percent`` (an index it
    lacks is ``"n/a"``; a transit time that is null with a lower bound already past its normal range is
    ``"abnormal"``)."""
    flags = {"drf_percent": flag_value("drf_percent", kidney["drf_integral_percent"]),
             **{name: flag_value(name, kidney.get(name)) for name in FLAGGED_INDICES}}
    for name in LOWER_BOUND_INDICES:
        bound = kidney.get(f"{name}_lower_bound")
        if kidney.get(name) is None and bound is not None and flag_value(name, bound) == "abnormal":
            flags[name] = "abnormal"  # the true value lies above the bound, so at least as far out of range
    return flags


def quality_warnings(
    kidneys: dict[str, dict[str, Any]], found: list[str], end_s: float, late_time_min: float
) -> list[str]:
    """Warnings about the indices of the found kidneys and the study length, in report order."""
    warnings: list[str] = []
    for side in found:
        k = kidneys[side]
        if k.get("ktbr") is not None and k["ktbr"] <= 2:
            warnings.append(f"{side} kidney-to-background ratio {k['ktbr']:.2f} <= 2: DRF is unreliable (PMC8279895)")
        if k.get("patlak_points", 0) < 2:
            warnings.append(f"{side} Patlak fit not computed: {k.get('patlak_problem', '')}")
        elif k.get("patlak_r2") is not None and k["patlak_r2"] < 0.9:
            warnings.append(f"{side} Patlak fit is poor (R^2 {k['patlak_r2']:.2f})")
        if k.get("t_half_min") is None and k.get("tmax_min") is not None:
            warnings.append(f"{side} curve does not fall to half its peak within the study (T1/2 not reached)")
    if end_s / 60.0 < late_time_min - 1e-6:
        warnings.append(
            f"study ends at {end_s / 60:.1f} min, before {late_time_min:g} min: 20-min/max and NORA20 not "
            "available; last/max and NORA at the last frame are given instead"
        )
    return warnings
