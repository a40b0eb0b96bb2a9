# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The DRF interval (:mod:`scripts.clinical.drf_interval`) against the simulator's true DRF.

:func:`interval_row` gives one study's columns of ``validate_renal_function``'s ``per_study.csv`` (per method ``m`` of
:data:`~scripts.clinical.drf_interval.INTERVAL_METHODS`: ``ci_<m>_low``, ``ci_<m>_high``, ``ci_<m>_width``,
``ci_<m>_covered`` (the true left DRF inside, 0/1) and the sources' standard deviations ``ci_<m>_noise``, ``_seg``,
``_seg_probability``, ``_bg``, ``_variants``, the columns :func:`~scripts.clinical.drf_interval.fit_calibration` fits
on) and ``ci_two_kidneys``; for the DRF of record (``drf_percent.combined``, :mod:`scripts.clinical.drf_combined`)
``ci_combined_low``, ``_high``, ``_width``, ``_covered``, its Patlak weight ``ci_combined_weight_patlak`` and the
methods' total standard deviations ``ci_integral_total``, ``ci_patlak_total`` (the columns
:func:`~scripts.clinical.drf_combined.fit_combined_calibration` fits on when the methods' calibration is the
committed one; with a new one it recomputes them from the components).
:func:`interval_summary` counts covered / studies and the median width per study pathology (the non-normal side's
pathology, ``normal`` when both kidneys are normal) and for the studies with two kidneys found (a one-kidney study's
interval is the mask's 100/0), per method and for ``combined`` where the rows hold it; :func:`interval_markdown_table`
prints it. Where the rows hold the method's error (``drf_error_<m>``, as ``validate_renal_function``'s do), each cell
also says how much the interval's adapting to the study buys: ``constant_width_95``, the width one interval of the
same width for every study of the group would need to hold 95 % of them (twice the 95th percentile of the |error|),
against which the median width compares; and ``width_error_spearman``, the rank correlation of the width with the
|error| (0: the width does not tell the studies with the larger errors from the others).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from scripts.clinical.drf_interval import INTERVAL_METHODS, SIGMA_COMPONENTS
from scripts.clinical.kidney_indices import finite_number

__all__ = ["COMPONENTS", "COMBINED", "interval_row", "study_pathology", "interval_summary", "interval_markdown_table"]

#: the sources of :mod:`scripts.clinical.drf_interval` stored per method (its one definition).
COMPONENTS = SIGMA_COMPONENTS
#: ``drf_percent``'s DRF of record (:mod:`scripts.clinical.drf_combined`), validated beside the methods.
COMBINED = "combined"


def _ci_columns(entry: dict[str, Any], name: str, truth_left: float | None) -> dict[str, Any]:
    """``ci_<name>_low``, ``_high``, ``_width``, ``_covered`` of one ``drf_percent`` entry."""
    ci = entry.get("left_ci95")
    lo, hi = (float("nan"), float("nan")) if ci is None else (float(ci[0]), float(ci[1]))
    ok = ci is not None and truth_left is not None
    # the bounds are stored to 0.01 point: a truth on a bound of a degenerate 100/0 interval is inside
    return {f"ci_{name}_low": lo, f"ci_{name}_high": hi, f"ci_{name}_width": hi - lo,
            f"ci_{name}_covered": int(lo - 0.01 <= float(truth_left) <= hi + 0.01) if ok else ""}


def interval_row(report: dict[str, Any], truth_left: float | None) -> dict[str, Any]:
    """The interval columns of one study (``report``: its ``report.json`` dictionary)."""
    row: dict[str, Any] = {}
    sigmas = report.get("drf_interval", {}).get("sigma_points", {})
    for m in INTERVAL_METHODS:
        row.update(_ci_columns(report["drf_percent"].get(m, {}), m, truth_left))
        for k in COMPONENTS:
            v = sigmas.get(m, {}).get(k)
            row[f"ci_{m}_{k}"] = float("nan") if v is None else float(v)
    row["ci_two_kidneys"] = int(sum(bool(report["kidneys"][s].get("found")) for s in ("left", "right")) == 2)
    combined = report["drf_percent"].get(COMBINED)
    if combined is not None:
        row.update(_ci_columns(combined, COMBINED, truth_left))
        row[f"ci_{COMBINED}_weight_patlak"] = float(combined.get("weights", {}).get("patlak", float("nan")))
        for m in INTERVAL_METHODS:
            v = sigmas.get(m, {}).get("total")
            row[f"ci_{m}_total"] = float("nan") if v is None else float(v)
    return row


def study_pathology(row: dict[str, Any]) -> str:
    """The study's pathology: the non-normal side's (the mix has at most one), ``normal`` when both are normal."""
    sides = [row.get("pathology_left"), row.get("pathology_right")]
    other = [p for p in sides if p and p != "normal"]
    return other[0] if other else "normal"


def _cell(rows: Sequence[dict[str, Any]], m: str) -> dict[str, Any]:
    rs = [r for r in rows if r.get(f"ci_{m}_covered") not in ("", None)]
    widths = [float(r[f"ci_{m}_width"]) for r in rs if math.isfinite(float(r[f"ci_{m}_width"]))]
    covered = int(sum(int(r[f"ci_{m}_covered"]) for r in rs))
    cell = {"covered": covered, "studies": len(rs), "coverage": round(covered / len(rs), 4) if rs else None,
            "median_width": round(float(np.median(widths)), 2) if widths else None}
    pairs = np.asarray([(float(r[f"ci_{m}_width"]), abs(float(r[f"drf_error_{m}"]))) for r in rs
                        if finite_number(r.get(f"drf_error_{m}")) and finite_number(r.get(f"ci_{m}_width"))],
                       float).reshape(-1, 2)
    if pairs.size:
        cell["constant_width_95"] = round(2.0 * float(np.percentile(pairs[:, 1], 95)), 2)
        varies = len(pairs) >= 3 and np.ptp(pairs[:, 0]) > 0 and np.ptp(pairs[:, 1]) > 0
        cell["width_error_spearman"] = round(float(spearmanr(pairs[:, 0], pairs[:, 1])[0]), 2) if varies else None
    return cell


def interval_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Coverage and median width per method (and ``combined`` when the rows have its columns): ``all``,
    ``two_kidneys`` and per study pathology (sorted)."""
    ok = [r for r in rows if not r.get("error")]
    groups: dict[str, list[dict[str, Any]]] = {"all": ok, "two_kidneys": [r for r in ok if r.get("ci_two_kidneys")]}
    for p in sorted({study_pathology(r) for r in ok}):
        groups[p] = [r for r in ok if study_pathology(r) == p]
    methods = (*INTERVAL_METHODS, *((COMBINED,) if any(f"ci_{COMBINED}_covered" in r for r in ok) else ()))
    return {m: {g: _cell(rs, m) for g, rs in groups.items()} for m in methods}


def interval_markdown_table(summaries: dict[str, dict[str, Any]]) -> str:
    """One row per mask source and study group: covered / studies (coverage) and median width, per method (and the
    combined DRF of record, last, where the summaries hold it, with its ``constant_width_95`` and
    ``width_error_spearman`` where the rows held its error)."""
    with_combined = any(COMBINED in s for s in summaries.values())
    methods = (*INTERVAL_METHODS, *((COMBINED,) if with_combined else ()))
    lines = ["| masks | studies | integral: covered / studies (coverage) | integral median width (pp) | "
             "Patlak: covered / studies (coverage) | Patlak median width (pp) |"
             + (" combined (of record): covered / studies (coverage) | combined median width (pp) | combined: one "
                "width for every study, to hold 95 % (pp) | combined: rank correlation of width and error |"
                if with_combined else ""), "|" + "---|" * (2 + 2 * len(methods) + 2 * with_combined)]
    for source, s in summaries.items():
        for group in s[INTERVAL_METHODS[0]]:
            cells = []
            for m in methods:
                if m not in s:  # a source analysed without the combined DRF
                    cells += ["-", "-"] * (1 + (m == COMBINED))
                    continue
                c = s[m][group]
                cov = "-" if c["coverage"] is None else f"{100 * c['coverage']:.0f} %"
                cells += [f"{c['covered']} / {c['studies']} ({cov})",
                          "-" if c["median_width"] is None else f"{c['median_width']:.1f}"]
                if m == COMBINED:
                    cw, rho = c.get("constant_width_95"), c.get("width_error_spearman")
                    cells += ["-" if cw is None else f"{cw:.1f}", "-" if rho is None else f"{rho:.2f}"]
            lines.append(f"| {source} | {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
