# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The cohort of a batch of reports: ``cohort.csv`` (one row per study, every index and flag) and ``cohort.png``.

``cohort.csv`` columns (:data:`COHORT_COLUMNS`): ``study_id``, ``source`` (the study's path as given), study facts
(tracer, age, frames, duration), the split function of record (``drf_combined_<side>``, %,
:mod:`scripts.clinical.drf_combined`) and by each method (``drf_<method>_<side>``, %), per patient side the
kidney's indices (``<side>_<index>``: Tmax, T1/2, its fit, 20-min/max, NORA20, last/max, NORA at the last frame,
KTBR, Patlak slope and R^2, ROI sizes, OE at 20 and 30 min, whole-kidney and parenchymal MTT; empty where not
computed or the kidney was not found) and their flags
(``<side>_flag_<index>``: ``normal``/``borderline``/``abnormal``/``n/a``), the blood-pool method, and the warnings
(``n_warnings``; ``warnings`` joined by `` | ``), and the segmentation QC codes (``qc``: ``code:side`` joined by
``;``, :func:`scripts.clinical.qc.qc_codes_text`). Values are the ``report.json`` numbers, as written there.

``cohort.png`` (one page): the distribution of the left kidney's split function (integral and Patlak) against the
normal band, the abnormal/borderline counts per flagged index, Tmax against T1/2 per kidney, and integral against
Patlak DRF. Both files are written atomically (:mod:`custom_transforms.safe_files`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from custom_transforms.safe_files import atomic_write_bytes, atomic_write_text
from scripts.clinical.kidney_indices import DRF_METHODS
from scripts.clinical.normal_ranges import NORMAL_RANGES
from scripts.clinical.qc import qc_codes_text
from scripts.clinical.rois import SIDES

__all__ = [
    "COHORT_FILES",
    "COHORT_COLUMNS",
    "KIDNEY_COLUMNS",
    "FLAG_COLUMNS",
    "WARNING_SEPARATOR",
    "cohort_row",
    "write_cohort",
    "render_cohort_png",
]

COHORT_FILES = ("cohort.csv", "cohort.png")
#: per-kidney ``report.json`` entries in the table (as ``<side>_<entry>``).
KIDNEY_COLUMNS = (
    "found", "tmax_min", "t_half_min", "t_half_fit_min", "ratio_20min_max", "nora_20min", "ratio_last_max",
    "nora_last", "ktbr", "patlak_slope_per_s", "patlak_r2", "kidney_pixels", "parenchyma_pixels",
    "output_efficiency_20min_percent", "output_efficiency_30min_percent", "mean_transit_time_min",
    "parenchymal_transit_time_min",
)
#: flagged indices (``<side>_flag_<index>``), the ones of the normal-range table.
FLAG_COLUMNS = tuple(NORMAL_RANGES)
WARNING_SEPARATOR = " | "
COHORT_COLUMNS: tuple[str, ...] = (
    "study_id", "source", "tracer", "patient_age_years", "n_frames", "duration_min",
    *(f"drf_{method}_{side}" for method in ("combined", *DRF_METHODS) for side in SIDES),
    *(f"{side}_{name}" for side in SIDES for name in KIDNEY_COLUMNS),
    *(f"{side}_flag_{name}" for side in SIDES for name in FLAG_COLUMNS),
    "blood_pool_method", "n_warnings", "warnings", "qc",
)


def cohort_row(study_id: str, source: str | os.PathLike, report: dict[str, Any]) -> dict[str, Any]:
    """One row of ``cohort.csv`` from a study's ``report.json`` dictionary (None where a value is absent)."""
    study = report["study"]
    row: dict[str, Any] = {
        "study_id": study_id, "source": os.fspath(source), "tracer": study.get("tracer"),
        "patient_age_years": study.get("patient_age_years"), "n_frames": study.get("n_frames"),
        "duration_min": study.get("duration_min"),
    }
    for method in ("combined", *DRF_METHODS):  # the DRF of record first (scripts.clinical.drf_combined)
        for side in SIDES:
            row[f"drf_{method}_{side}"] = report["drf_percent"].get(method, {}).get(side)
    for side in SIDES:
        kidney = report["kidneys"][side]
        for name in KIDNEY_COLUMNS:
            row[f"{side}_{name}"] = kidney.get(name)
        for name in FLAG_COLUMNS:
            row[f"{side}_flag_{name}"] = kidney.get("flags", {}).get(name, "n/a")
    row["blood_pool_method"] = report["blood_pool"].get("method")
    row["n_warnings"] = len(report["warnings"])
    row["warnings"] = WARNING_SEPARATOR.join(report["warnings"])
    row["qc"] = qc_codes_text(report.get("qc", []))
    return row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_text(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COHORT_COLUMNS)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in COHORT_COLUMNS])
    return buf.getvalue()


def _floats(rows: Sequence[dict[str, Any]], column: str) -> np.ndarray:
    return np.array([float(r[column]) if r.get(column) is not None else np.nan for r in rows], float)


def render_cohort_png(rows: Sequence[dict[str, Any]]) -> bytes:
    """The one-page cohort summary as PNG bytes (matplotlib, Agg canvas; no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 8), dpi=80)
    FigureCanvasAgg(fig)
    fig.suptitle(f"Renogram cohort: {len(rows)} studies", fontsize=14, fontweight="bold")
    axes = fig.subplots(2, 2, gridspec_kw={"hspace": 0.35, "wspace": 0.25})
    drf_range = NORMAL_RANGES["drf_percent"]

    ax = axes[0, 0]
    ax.axvspan(drf_range.low, drf_range.high, color="#d8f0d8", label=f"normal {drf_range.text}")
    bins = np.linspace(0, 100, 21)
    for method, colour in (("integral", "#1f5fd6"), ("patlak", "#ff7f0e")):
        vals = _floats(rows, f"drf_{method}_left")
        ax.hist(vals[np.isfinite(vals)], bins=bins, histtype="step", lw=2, color=colour, label=f"{method}")
    ax.set_xlabel("split function of the patient's left kidney (%)")
    ax.set_ylabel("studies")
    ax.set_title("DRF distribution", fontsize=11)
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    names = list(FLAG_COLUMNS)
    y = np.arange(len(names))
    counts = {f: [sum(r.get(f"{s}_flag_{n}") == f for r in rows for s in SIDES) for n in names]
              for f in ("abnormal", "borderline")}
    ax.barh(y - 0.2, counts["abnormal"], height=0.4, color="#d62728", label="abnormal")
    ax.barh(y + 0.2, counts["borderline"], height=0.4, color="#ff9f1c", label="borderline")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("kidneys")
    ax.set_title(f"Flags ({sum(r.get('n_warnings') or 0 for r in rows)} warnings in all)", fontsize=11)
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    for side, colour in (("left", "#1f5fd6"), ("right", "#d62728")):
        ax.scatter(_floats(rows, f"{side}_tmax_min"), _floats(rows, f"{side}_t_half_min"), s=14, color=colour,
                   label=f"{side} kidney")
    ax.axvline(NORMAL_RANGES["tmax_min"].high, color="grey", ls=":", lw=1)
    ax.axhline(NORMAL_RANGES["t_half_min"].high, color="grey", ls=":", lw=1)
    ax.set_xlabel("Tmax (min)")
    ax.set_ylabel("T1/2 (min; not reached: not shown)")
    ax.set_title("Tmax and T1/2", fontsize=11)
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    ax.plot([0, 100], [0, 100], color="grey", lw=1)
    ax.scatter(_floats(rows, "drf_integral_left"), _floats(rows, "drf_patlak_left"), s=14, color="#2ca02c")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("left DRF, integral (%)")
    ax.set_ylabel("left DRF, Patlak (%)")
    ax.set_title("Integral against Patlak", fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_cohort(rows: Sequence[dict[str, Any]], out_dir: str | os.PathLike) -> dict[str, str]:
    """Write ``cohort.csv`` and ``cohort.png`` into ``out_dir`` (existing), each atomically.

    Returns:
        ``{"cohort.csv": path, "cohort.png": path}``.
    """
    out = Path(out_dir)
    paths = {name: str(out / name) for name in COHORT_FILES}
    png = render_cohort_png(rows)
    atomic_write_text(paths["cohort.csv"], _csv_text(rows))
    atomic_write_bytes(paths["cohort.png"], png)
    return paths
