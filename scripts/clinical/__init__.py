# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Clinical renogram analysis: kidney ROIs, background-corrected curves, DRF/Patlak/Tmax/T1/2/NORA, reports.

>>> from scripts.clinical import analyse_study, write_report
>>> result = analyse_study("study.dcm", "parenchyma.png")      # doctest: +SKIP
>>> write_report(result, "out/")                                 # report.json, curves.csv, report.png
"""

from __future__ import annotations

from scripts.clinical.analysis import (
    NORMAL_RANGES,
    REPORT_SCHEMA_VERSION,
    AnalysisSettings,
    RenalAnalysis,
    analyse_frames,
    analyse_study,
    check_timing,
    flag_value,
    load_study,
)
from scripts.clinical.rois import (
    BACKGROUND_METHODS,
    KidneyROIs,
    assign_kidneys,
    background_ring,
    build_rois,
    find_heart_roi,
    read_mask,
    whole_kidney,
)

__all__ = [
    "NORMAL_RANGES",
    "REPORT_SCHEMA_VERSION",
    "BACKGROUND_METHODS",
    "AnalysisSettings",
    "RenalAnalysis",
    "KidneyROIs",
    "analyse_frames",
    "analyse_study",
    "check_timing",
    "flag_value",
    "load_study",
    "assign_kidneys",
    "background_ring",
    "build_rois",
    "find_heart_roi",
    "read_mask",
    "whole_kidney",
]
