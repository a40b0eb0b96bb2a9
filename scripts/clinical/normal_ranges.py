# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Normal ranges of the renogram indices: the one table behind ``report.json``, the flags and ``report.png``.

Each :class:`NormalRange` states its bounds once (with whether a bound is itself normal) and the borderline band,
if any; :func:`flag_value` applies it and :func:`normal_ranges_json` writes it as ``report.json``'s
``normal_ranges`` (``low``/``high``/``text``/``source`` per index). Sources: ``/work/shared/docs/renography.md``
section 3. The normal kidney length for a child's age (:func:`kidney_length_for_age`, section 2.4) is what the
segmentation QC of :mod:`scripts.clinical.qc` judges an ROI's size against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NormalRange", "NORMAL_RANGES", "FLAGS", "flag_value", "normal_ranges_json", "KidneyLength",
    "KIDNEY_LENGTH_SD_MM", "KIDNEY_LENGTH_SOURCE", "KIDNEY_LENGTH_MAX_AGE_Y", "kidney_length_for_age",
]

#: the flag values, from best to worst; ``"n/a"`` when there is no value or no range.
FLAGS = ("normal", "borderline", "abnormal", "n/a")


@dataclass(frozen=True)
class NormalRange:
    """Normal range of one index.

    Attributes:
        text: the range as the report prints it.
        source: where the range comes from.
        low, high: normal bounds (None: unbounded on that side).
        low_inclusive, high_inclusive: whether a value equal to ``low`` / ``high`` is normal.
        borderline_low, borderline_high: inclusive bounds of the borderline band around the normal range (None: no
            band on that side, so anything outside the normal range is abnormal).
    """

    text: str
    source: str
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = False
    high_inclusive: bool = False
    borderline_low: float | None = None
    borderline_high: float | None = None

    def flag(self, value: float | None) -> str:
        """``"normal"``, ``"borderline"``, ``"abnormal"``, or ``"n/a"`` for a missing or non-finite value."""
        if value is None or not math.isfinite(float(value)):
            return "n/a"
        v = float(value)
        if _inside(v, self.low, self.high, self.low_inclusive, self.high_inclusive):
            return "normal"
        has_band = self.borderline_low is not None or self.borderline_high is not None
        low = self.low if self.borderline_low is None else self.borderline_low
        high = self.high if self.borderline_high is None else self.borderline_high
        if has_band and _inside(v, low, high, True, True):
            return "borderline"
        return "abnormal"

    def as_json(self) -> dict[str, Any]:
        """The range as ``report.json`` states it: ``low``/``high`` where bounded, ``text``, ``source``."""
        out: dict[str, Any] = {}
        if self.low is not None:
            out["low"] = self.low
        if self.high is not None:
            out["high"] = self.high
        return {**out, "text": self.text, "source": self.source}


def _inside(v: float, low: float | None, high: float | None, low_inc: bool, high_inc: bool) -> bool:
    above = low is None or (v >= low if low_inc else v > low)
    below = high is None or (v <= high if high_inc else v < high)
    return above and below


#: index name (as in ``report.json``'s kidney entries) -> its normal range.
NORMAL_RANGES: dict[str, NormalRange] = {
    "drf_percent": NormalRange(
        "45-55 %", "JNMT best-practice table: normal 45-55 %, abnormal < 40 %",
        low=45.0, high=55.0, low_inclusive=True, high_inclusive=True, borderline_low=40.0, borderline_high=60.0),
    "tmax_min": NormalRange("< 5 min (MAG3)", "JNMT: Tmax < 5 min (MAG3)", high=5.0),
    "t_half_min": NormalRange(
        "< 10 min (10-20 equivocal)",
        "JNMT: < 10-15 min; post-diuretic < 10 normal, 10-20 equivocal, > 20 obstructed", high=10.0,
        borderline_high=20.0),
    "ratio_20min_max": NormalRange("< 0.3", "JNMT: 20-min/max < 0.3 (whole kidney)", high=0.3),
    "nora_20min": NormalRange(
        "<= 0.70", "Piepsz 2002: 90th percentile of normals 0.70 at 20 min", high=0.70, high_inclusive=True),
    "ktbr": NormalRange("> 2 (QC)", "PMC8279895: DRF unreliable when KTBR <= 2", low=2.0),
    "output_efficiency_20min_percent": NormalRange(
        ">= 73 % (normal about 94 %)", "IAEA renal software validation in 50 children (Clin Nucl Med 2014;39:598): "
        "normal OE20 about 94 %, obstruction cut-off 73 %", low=73.0, low_inclusive=True),
    "mean_transit_time_min": NormalRange(
        "< 8.23 min (whole kidney)", "IAEA renal software validation (Clin Nucl Med 2014;39:598): whole-kidney MTT "
        "obstruction cut-off 8.23 min", high=8.23),
    "parenchymal_transit_time_min": NormalRange(
        "<= 5 min (5-8 borderline)", "JNMT best-practice table: visual parenchymal transit, tracer in the collecting "
        "system by 5 min, > 8 min delayed (the visual criterion, applied here to the parenchymal mean transit time)",
        high=5.0, high_inclusive=True, borderline_high=8.0),
}


def flag_value(name: str, value: float | None) -> str:
    """The flag of ``value`` against ``NORMAL_RANGES[name]`` (``"n/a"`` for an index without a range).

    DRF 45-55 % normal, 40-60 % borderline; Tmax < 5 min; T1/2 < 10 min normal, <= 20 min borderline (equivocal);
    20-min/max < 0.3; NORA20 <= 0.70; KTBR > 2; OE20 >= 73 %; whole-kidney MTT < 8.23 min; parenchymal MTT <= 5 min
    normal, <= 8 min borderline.
    """
    rng = NORMAL_RANGES.get(name)
    return "n/a" if rng is None else rng.flag(value)


def normal_ranges_json() -> dict[str, dict[str, Any]]:
    """:data:`NORMAL_RANGES` as written in ``report.json``."""
    return {name: rng.as_json() for name, rng in NORMAL_RANGES.items()}


@dataclass(frozen=True)
class KidneyLength:
    """Normal kidney length of a child of one age (:func:`kidney_length_for_age`).

    Attributes:
        mean_mm: the regression's mean length.
        sd_mm: the standard deviation of a child's length about it.
        low_mm, high_mm: the 95 % range, ``mean -/+ 1.96 SD``.
        source: where the numbers come from.
    """

    mean_mm: float
    sd_mm: float
    low_mm: float
    high_mm: float
    source: str


#: kidney length SD (mm): the 95 % range of the length-for-height regression is +-1.1 cm (Korean J Radiol,
#: PMC3725364), i.e. 1.1 cm / 1.96.
KIDNEY_LENGTH_SD_MM = 5.6
KIDNEY_LENGTH_SOURCE = (
    "Kim et al., J Korean Soc Ultrasound Med 2010;29:181 (550 children, 1 month-15 y): L = 45.95 + 1.064 x months "
    "(<= 24 months), else 62.17 + 0.203 x months [mm]; SD 5.6 mm from the +-1.1 cm 95 % range of PMC3725364"
)
#: the oldest age (years) the pediatric regression is applied at (its data reach 15 y; 18 y extrapolates 3 y).
KIDNEY_LENGTH_MAX_AGE_Y = 18.0


def kidney_length_for_age(age_years: float) -> KidneyLength | None:
    """Normal kidney length (mm) at an age (years), or None for an unknown age or one outside 0-18 y (adults are
    not covered by the pediatric regression). Source: :data:`KIDNEY_LENGTH_SOURCE` (renography.md section 2.4)."""
    if age_years is None or not math.isfinite(float(age_years)):
        return None
    age = float(age_years)
    if not 0.0 <= age <= KIDNEY_LENGTH_MAX_AGE_Y:
        return None
    months = 12.0 * age
    mean = 45.95 + 1.064 * months if months <= 24 else 62.17 + 0.203 * months
    half = 1.96 * KIDNEY_LENGTH_SD_MM
    return KidneyLength(mean, KIDNEY_LENGTH_SD_MM, mean - half, mean + half, KIDNEY_LENGTH_SOURCE)
