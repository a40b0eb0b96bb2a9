# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Physically based simulator of pediatric dynamic renal scintigraphy (99mTc-MAG3/DTPA, posterior view).

>>> from scripts.simulation import sample_study_config, simulate_study, write_study
>>> study = simulate_study(sample_study_config(0, matrix=64, protocol="quick39"))
>>> study.frames.shape
(39, 64, 64)
"""

from __future__ import annotations

from .config import (
    DEFAULT_PATHOLOGY_MIX,
    MATRICES,
    PATHOLOGIES,
    TRACERS,
    KidneyConfig,
    StudyConfig,
    sample_study_config,
)
from .kinetics import IMAGE_COMPARTMENTS, KineticParams
from .protocols import DEFAULT_PROTOCOL, PROTOCOLS, Protocol, get_protocol
from .study import LABEL_CONVENTION, SIMULATOR_VERSION, SimulatedStudy, simulate_study
from .writer import study_id_for, write_studies_csv, write_study

__all__ = [
    "DEFAULT_PATHOLOGY_MIX",
    "DEFAULT_PROTOCOL",
    "IMAGE_COMPARTMENTS",
    "LABEL_CONVENTION",
    "MATRICES",
    "PATHOLOGIES",
    "PROTOCOLS",
    "SIMULATOR_VERSION",
    "TRACERS",
    "KidneyConfig",
    "KineticParams",
    "Protocol",
    "SimulatedStudy",
    "StudyConfig",
    "get_protocol",
    "sample_study_config",
    "simulate_study",
    "study_id_for",
    "write_studies_csv",
    "write_study",
]
