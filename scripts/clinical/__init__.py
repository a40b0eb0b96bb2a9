# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Clinical renogram analysis: study -> ROIs -> curves -> indices -> flags -> report, and the cohort of a batch.

Modules, in the order a study goes through them: :mod:`~scripts.clinical.study` (load once, fused image),
:mod:`~scripts.clinical.segment` (the bundle's model, in process), :mod:`~scripts.clinical.rois`,
:mod:`~scripts.clinical.motion` (patient motion found and undone), :mod:`~scripts.clinical.curves`,
:mod:`~scripts.clinical.kidney_indices` (formulas in :mod:`~scripts.clinical.indices`; output efficiency and transit
times in :mod:`~scripts.clinical.transit`),
:mod:`~scripts.clinical.flags` (ranges in :mod:`~scripts.clinical.normal_ranges`),
:mod:`~scripts.clinical.analysis` (the five steps), :mod:`~scripts.clinical.report` (files),
:mod:`~scripts.clinical.reporter` (load, segment, analyse, write), :mod:`~scripts.clinical.cohort` (batch table);
:mod:`~scripts.clinical.studies` finds the studies of a folder.

>>> from scripts.clinical import analyse_study, write_report
>>> result = analyse_study("study.dcm", "parenchyma.png")      # doctest: +SKIP
>>> write_report(result, "out/")                                 # report.json, curves.csv, report.png
"""

from __future__ import annotations

from scripts.clinical.analysis import (
    REPORT_SCHEMA_VERSION,
    AnalysisSettings,
    RenalAnalysis,
    analyse_frames,
    analyse_loaded,
    analyse_study,
)
from scripts.clinical.normal_ranges import NORMAL_RANGES, flag_value
from scripts.clinical.report import write_report
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
from scripts.clinical.study import LoadedStudy, load_study

__all__ = [
    "NORMAL_RANGES",
    "REPORT_SCHEMA_VERSION",
    "BACKGROUND_METHODS",
    "AnalysisSettings",
    "RenalAnalysis",
    "KidneyROIs",
    "LoadedStudy",
    "analyse_frames",
    "analyse_loaded",
    "analyse_study",
    "flag_value",
    "load_study",
    "write_report",
    "assign_kidneys",
    "background_ring",
    "build_rois",
    "find_heart_roi",
    "read_mask",
    "whole_kidney",
]
