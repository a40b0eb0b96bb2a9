# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Collimators of the simulated gamma camera: resolution and sensitivity (used by the sampler and the phantom)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["COLLIMATORS", "Collimator"]


class Collimator(NamedTuple):
    """Geometric resolution ``a + b z`` (mm, z in cm) and sensitivity relative to LEHR of a parallel-hole collimator."""

    offset_mm: float
    slope_mm_per_cm: float
    sensitivity: float


#: Low-energy collimators of renography cameras: high resolution, general purpose, all purpose. Typical vendor
#: figures (system FWHM at 10 cm about 8 / 10 / 12 mm; sensitivity about 1 : 1.35 : 1.7).
COLLIMATORS: dict[str, Collimator] = {
    "LEHR": Collimator(1.6, 0.55, 1.0),
    "GP": Collimator(1.8, 0.75, 1.35),
    "LEAP": Collimator(2.0, 0.95, 1.7),
}
