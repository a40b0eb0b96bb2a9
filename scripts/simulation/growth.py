# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Pediatric body and kidney size from age: the formulas the simulator's anatomy is scaled with.

- Height and weight: piecewise-linear interpolation of rounded median values of the WHO (0-5 y) / CDC (2-20 y)
  growth charts, both sexes pooled (an approximation written here; the charts themselves are not shipped).
- Kidney length: Korean ultrasound regression (J Korean Soc Ultrasound Med 2010;29:181),
  L = 45.95 + 1.064 * months (<= 24 months), else 62.17 + 0.203 * months [mm].
- Kidney depth (skin of the back to kidney centre): Tønnesen, d_R = 13.3 W/H + 0.7, d_L = 13.2 W/H + 0.7 [cm].
- Parenchymal thickness: about 8-10 mm in neonates, 12-18 mm at school age, 15-20 mm in adults (interpolated).
- Trunk width and thickness: simple linear fits in height (~13 x 10 cm at 60 cm, ~28 x 20 cm at 161 cm).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "median_height_cm",
    "median_weight_kg",
    "kidney_length_mm",
    "kidney_depth_cm",
    "parenchymal_thickness_mm",
    "trunk_width_cm",
    "trunk_thickness_cm",
]

_AGE_Y = np.array([0.0, 0.25, 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18])
_HEIGHT_CM = np.array([50, 61, 67, 75, 87, 96, 103, 110, 116, 128, 139, 150, 162, 170, 172])
_WEIGHT_KG = np.array([3.4, 6.0, 7.8, 9.6, 12.2, 14.3, 16.3, 18.4, 20.7, 25.8, 32.0, 40.0, 50.0, 59.0, 63.0])


def median_height_cm(age_years: float) -> float:
    """Median height (cm) at an age (years), 0-18 y."""
    return float(np.interp(age_years, _AGE_Y, _HEIGHT_CM))


def median_weight_kg(age_years: float) -> float:
    """Median weight (kg) at an age (years), 0-18 y."""
    return float(np.interp(age_years, _AGE_Y, _WEIGHT_KG))


def kidney_length_mm(age_years: float) -> float:
    """Mean kidney length (mm) by age (Korean regression, see the module docstring)."""
    months = 12.0 * age_years
    return float(45.95 + 1.064 * months) if months <= 24 else float(62.17 + 0.203 * months)


def kidney_depth_cm(weight_kg: float, height_cm: float, side: str) -> float:
    """Kidney-centre depth from the skin of the back (cm), Tønnesen's formula; ``side`` is ``"left"``/``"right"``."""
    ratio = weight_kg / height_cm
    return float((13.2 if side == "left" else 13.3) * ratio + 0.7)


def parenchymal_thickness_mm(age_years: float) -> float:
    """Typical normal parenchymal thickness (mm) by age."""
    return float(np.interp(age_years, [0.0, 1.0, 6.0, 12.0, 18.0], [9.0, 10.5, 14.0, 16.0, 17.0]))


def trunk_width_cm(height_cm: float) -> float:
    """Trunk width (cm, left-right) of a child of that height, median build."""
    return float(0.15 * height_cm + 4.0)


def trunk_thickness_cm(height_cm: float) -> float:
    """Trunk thickness (cm, anterior-posterior) of a child of that height, median build."""
    return float(0.1 * height_cm + 4.0)
