# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Output efficiency and transit times of a report against a known truth: the per-study columns, the summary and
its Markdown table of ``scripts.validate_renal_function``.

The truth per kidney is a dictionary with the report's entry names (``output_efficiency_20min_percent``,
``output_efficiency_30min_percent``, ``mean_transit_time_min``, ``parenchymal_transit_time_min``; None where not
defined), as :func:`scripts.simulation.measure.transit_truth` gives it for a simulated study. Errors are measured -
truth, in percentage points (OE) and minutes (transit times).

Per-study columns (:func:`transit_row`), per side: ``truth_<q>_<side>``, ``<q>_<side>``, ``<q>_error_<side>`` and,
for the transit times, ``<q>_lower_bound_<side>``, with ``<q>`` the short names of :data:`TRANSIT_QUANTITIES`
(``oe20``, ``oe30``, ``mtt``, ``ptt``). Summary (:func:`transit_summary`), per quantity under its report entry name:
``n``, ``median``, ``p90``, ``max`` of ``|error|`` over the kidneys where truth and measurement are both defined,
``truth_defined_but_not_measured`` (the report gave null), and, for transit times, ``lower_bound_not_above_truth``:
of those, how many had a lower bound that does not exceed the truth (a consistent "MTT > bound").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scripts.clinical.rois import SIDES

__all__ = ["TRANSIT_QUANTITIES", "transit_row", "transit_summary", "transit_markdown_table"]

#: report entry -> short name in ``per_study.csv``.
TRANSIT_QUANTITIES = {
    "output_efficiency_20min_percent": "oe20",
    "output_efficiency_30min_percent": "oe30",
    "mean_transit_time_min": "mtt",
    "parenchymal_transit_time_min": "ptt",
}
_BOUNDED = ("mean_transit_time_min", "parenchymal_transit_time_min")


def _value(v: Any) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)


def transit_row(report: dict[str, Any], truth: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The per-study columns of one report against the truth of its kidneys (``{side: {entry: value}}``)."""
    row: dict[str, Any] = {}
    for side in SIDES:
        kidney = report["kidneys"][side]
        true = truth.get(side, {})
        for name, short in TRANSIT_QUANTITIES.items():
            t, m = _value(true.get(name)), _value(kidney.get(name))
            row[f"truth_{short}_{side}"] = t
            row[f"{short}_{side}"] = m
            row[f"{short}_error_{side}"] = float("nan") if t is None or m is None else m - t
            if name in _BOUNDED:
                row[f"{short}_lower_bound_{side}"] = _value(kidney.get(f"{name}_lower_bound"))
    return row


def _abs_stats(errors: list[float]) -> dict[str, Any]:
    v = np.abs(np.asarray(errors, float))
    if v.size == 0:
        return {"n": 0}
    return {"n": int(v.size), "median": round(float(np.median(v)), 3), "p90": round(float(np.percentile(v, 90)), 3),
            "max": round(float(v.max()), 3)}


def transit_summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """|error| statistics per quantity over the kidneys of ``rows`` (rows of one mask source, without failures)."""
    out: dict[str, dict[str, Any]] = {}
    for name, short in TRANSIT_QUANTITIES.items():
        errors: list[float] = []
        missed = consistent = 0
        for r in rows:
            for side in SIDES:
                truth = r.get(f"truth_{short}_{side}")
                if truth is None:
                    continue
                if r.get(f"{short}_{side}") is None:
                    missed += 1
                    bound = r.get(f"{short}_lower_bound_{side}")
                    consistent += int(bound is not None and bound <= truth)
                else:
                    errors.append(r[f"{short}_error_{side}"])
        entry = {**_abs_stats(errors), "truth_defined_but_not_measured": missed}
        if name in _BOUNDED:
            entry["lower_bound_not_above_truth"] = consistent
        out[name] = entry
    return out


def transit_markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    """One row per mask source of ``summary`` (``{source: {..., <entry>: stats}}``): median / p90 |error| (n, not
    measured) of each quantity."""
    head = ("| masks | OE 20 min \\|err\\| median / p90 (pp) | OE 30 min \\|err\\| median / p90 (pp) "
            "| whole-kidney MTT \\|err\\| median / p90 (min) | parenchymal transit \\|err\\| median / p90 (min) |")
    lines = [head, "|" + "---|" * 5]
    for source, s in summary.items():
        cells = []
        for name in TRANSIT_QUANTITIES:
            q = s.get(name, {"n": 0})
            value = "-" if q.get("n", 0) == 0 else f"{q['median']:.2f} / {q['p90']:.2f}"
            missed = q.get("truth_defined_but_not_measured", 0)
            cells.append(f"{value} (n={q.get('n', 0)}{f', not measured {missed}' if missed else ''})")
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
