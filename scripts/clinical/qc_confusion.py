# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The QC confusion table: do the studies whose DRF is wrong carry a segmentation QC warning, and the right ones not?

Issue 14's target, on fresh simulated studies segmented by the model: of the studies whose DRF error (left DRF by the
1-2 min integral, against the simulator's truth) exceeds 5 percentage points, at least 90 % carry a QC warning
(``report.json``'s ``qc``, :mod:`scripts.clinical.qc`); of those within 2 points, at most 15 %. ``scripts.
validate_renal_function`` prints the table per mask source and stores it in ``summary.json`` (``qc_confusion``).

Input rows are ``per_study.csv``'s (dictionaries, numbers or their text): ``mask`` (the mask source), ``error``
(non-empty: the analysis refused the study), ``drf_error_integral`` (measured - truth, pp), ``qc_any`` (0/1) and
``qc_codes`` (:func:`scripts.clinical.qc.qc_codes_text`). Per source (:func:`qc_confusion`):

- ``above_high``, ``between``, ``at_most_low``: ``{"studies", "with_qc", "share_with_qc"}`` of the studies with
  ``|error| > high``, ``low < |error| <= high`` and ``|error| <= low`` (``share_with_qc`` None without studies);
- ``failed``: studies the analysis refused (a visible failure, counted apart), ``unmeasured``: no DRF error;
- ``codes``: QC code -> studies carrying it; ``limits_pp``: ``[low, high]``; ``drf_error``: the column used.

With ``codes`` given (e.g. :data:`scripts.clinical.qc.MASK_CODES`, the warnings about the mask itself) only those
codes count: the kidney-to-background ratio and motion warnings concern the study, not the segmentation. With
``error_key="drf_error_combined"`` the bands are those of the combined DRF of record
(:mod:`scripts.clinical.drf_combined`; ``summary.json``'s ``qc_confusion_combined``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import Any

__all__ = ["BANDS", "TARGETS", "qc_confusion", "confusion_markdown"]

#: the error bands, in table order.
BANDS = ("above_high", "between", "at_most_low")
#: issue 14's targets for the share of studies with a QC warning: band -> (">=" or "<=", share).
TARGETS = {"above_high": (">=", 0.90), "at_most_low": ("<=", 0.15)}


def _number(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _codes(text: Any) -> list[str]:
    """The QC codes of a ``qc_codes`` cell (``code:side;code``), without sides, each once."""
    out: list[str] = []
    for item in str(text or "").split(";"):
        code = item.split(":")[0].strip()
        if code and code not in out:
            out.append(code)
    return out


def qc_confusion(
    rows: Iterable[dict[str, Any]],
    error_key: str = "drf_error_integral",
    low: float = 2.0,
    high: float = 5.0,
    codes: Collection[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The confusion table per mask source, in the rows' order of sources (see the module docstring).

    Args:
        rows: per-study rows. error_key: the DRF error column. Defaults to ``"drf_error_integral"``.
        low, high: the band limits (pp). Defaults to 2 and 5 (issue 14).
        codes: count only these QC codes (e.g. :data:`scripts.clinical.qc.MASK_CODES`). Defaults to None: any.
    """
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        source = str(row.get("mask", ""))
        entry = out.setdefault(source, {
            "drf_error": error_key, "limits_pp": [low, high],
            **{band: {"studies": 0, "with_qc": 0, "share_with_qc": None} for band in BANDS},
            "failed": 0, "unmeasured": 0, "codes": {},
        })
        if row.get("error"):
            entry["failed"] += 1
            continue
        err = abs(_number(row.get(error_key)))
        if not math.isfinite(err):
            entry["unmeasured"] += 1
            continue
        band = "above_high" if err > high else ("between" if err > low else "at_most_low")
        found = [c for c in _codes(row.get("qc_codes")) if codes is None or c in codes]
        flagged = bool(found) or (codes is None and _number(row.get("qc_any")) > 0)
        entry[band]["studies"] += 1
        entry[band]["with_qc"] += int(flagged)
        for code in found:
            entry["codes"][code] = entry["codes"].get(code, 0) + 1
    for entry in out.values():
        for band in BANDS:
            b = entry[band]
            b["share_with_qc"] = round(b["with_qc"] / b["studies"], 3) if b["studies"] else None
        entry["codes"] = dict(sorted(entry["codes"].items()))
    return out


def confusion_markdown(confusion: dict[str, dict[str, Any]]) -> str:
    """The table as markdown: one row per mask source, ``with QC / studies (share)`` per error band."""
    if not confusion:
        return ""
    low, high = next(iter(confusion.values()))["limits_pp"]
    head = (f"| masks | DRF \\|err\\| > {high:g} pp: with QC / studies (target >= 90 %) | {low:g}-{high:g} pp | "
            f"<= {low:g} pp: with QC / studies (target <= 15 %) | failed | QC codes (studies) |")
    lines = [head, "|" + "---|" * 6]
    for source, e in confusion.items():
        cells = []
        for band in BANDS:
            b = e[band]
            share = "-" if b["share_with_qc"] is None else f"{100 * b['share_with_qc']:.0f} %"
            cells.append(f"{b['with_qc']} / {b['studies']} ({share})")
        codes = ", ".join(f"{c} {n}" for c, n in e["codes"].items()) or "-"
        lines.append(f"| {source} | {' | '.join(cells)} | {e['failed']} | {codes} |")
    return "\n".join(lines)
