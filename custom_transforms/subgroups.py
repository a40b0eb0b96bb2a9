# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Evaluation by subgroup: the study facts a dataset records, the subgroups they define, their means and table.

``scripts.prepare_dataset`` writes each study's facts (``truth.json`` of a simulated study, the DICOM header of a
user's) into ``datalist.json["study_facts"]`` (``{study_id: {"matrix": 128, "protocol": ..., ...}}``). The subgroups
of an evaluated image are the :data:`SUBGROUP_FACTS` of its study, plus its age band (:func:`age_band`: the one
definition of the bands); an unknown fact puts the image in no group of that fact.
:func:`custom_transforms.summary.write_summary` records :func:`subgroup_means` under ``"subgroups"`` of
``summary.json``, and :func:`subgroup_table` renders it as Markdown for the model card.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SUBGROUP_FACTS",
    "FACT_ALIASES",
    "AGE_BANDS",
    "MIN_SUBGROUP_IMAGES",
    "SUBGROUP_METRICS",
    "age_band",
    "image_subgroups",
    "load_study_facts",
    "subgroup_means",
    "subgroup_table",
]

#: the facts that define subgroups, in report order (``age_band`` is derived from ``age_years``).
SUBGROUP_FACTS = ("matrix", "protocol", "tracer", "pathology", "age_band", "furosemide", "collimator")
#: other fact names read for a subgroup fact when the fact itself is absent (e.g. a nested ``camera.collimator``,
#: flattened by ``prepare_dataset`` to ``camera_collimator``; ``patient_age_years`` of a DICOM header).
FACT_ALIASES = {"collimator": ("camera_collimator",), "age_years": ("patient_age_years",)}
#: age bands: (label, lower bound inclusive, upper bound exclusive), years.
AGE_BANDS = (("<1 y", 0.0, 1.0), ("1-5 y", 1.0, 5.0), ("5-10 y", 5.0, 10.0), (">=10 y", 10.0, math.inf))
#: a subgroup with fewer images is reported but flagged (``"few_images": true``).
MIN_SUBGROUP_IMAGES = 10
#: per-grid metrics averaged per subgroup.
SUBGROUP_METRICS = ("dice", "precision", "recall")


def age_band(age_years: Any) -> str | None:
    """The age band (:data:`AGE_BANDS`) of an age in years; ``None`` when unknown (missing, not a number, negative)."""
    try:
        age = float(age_years)
    except (TypeError, ValueError):
        return None
    for label, low, high in AGE_BANDS:
        if low <= age < high:
            return label
    return None


def _fact(facts: Mapping[str, Any], name: str) -> Any:
    for key in (name, *FACT_ALIASES.get(name, ())):
        value = facts.get(key)
        if value is not None and value != "":
            return value
    return None


def image_subgroups(facts: Mapping[str, Any] | None) -> dict[str, str]:
    """``{fact: value}`` of the :data:`SUBGROUP_FACTS` known for a study (values as strings; unknown ones left out)."""
    facts = facts or {}
    out: dict[str, str] = {}
    for name in SUBGROUP_FACTS:
        value = age_band(_fact(facts, "age_years")) if name == "age_band" else _fact(facts, name)
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out[name] = str(value)
    return out


def load_study_facts(datalist_file: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """``datalist.json["study_facts"]`` (``{}`` for a datalist without one, e.g. one written before facts existed)."""
    try:
        data = json.loads(Path(datalist_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    facts = data.get("study_facts") if isinstance(data, dict) else None
    return facts if isinstance(facts, dict) else {}


def _mean(values: Sequence[float]) -> float:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else math.nan


def subgroup_means(
    per_image: Sequence[Mapping[str, Any]], grids: Sequence[str] = ("network", "native")
) -> dict[str, dict[str, dict[str, Any]]]:
    """Mean metrics per subgroup from the per-image records of ``write_summary``.

    Args:
        per_image: records with ``<grid>_<metric>`` values, the subgroup facts under their :data:`SUBGROUP_FACTS`
            names, and optionally ``missed_kidneys`` (a count per image).
        grids: the grids averaged. Defaults to ``("network", "native")``.

    Returns:
        ``{fact: {value: {"n_images", "few_images", "<grid>_<metric>" (NaN-skipping means), "missed_kidneys"}}}``,
        facts in :data:`SUBGROUP_FACTS` order, values sorted; a fact no image knows is left out.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in SUBGROUP_FACTS:
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for rec in per_image:
            value = rec.get(name)
            if value not in (None, ""):
                groups.setdefault(str(value), []).append(rec)
        if not groups:
            continue
        table: dict[str, dict[str, Any]] = {}
        for value in sorted(groups, key=_sort_key):
            recs = groups[value]
            row: dict[str, Any] = {"n_images": len(recs), "few_images": len(recs) < MIN_SUBGROUP_IMAGES}
            for grid in grids:
                for m in SUBGROUP_METRICS:
                    key = f"{grid}_{m}"
                    if any(key in r for r in recs):
                        row[key] = _mean([r.get(key, math.nan) for r in recs])
            if any("missed_kidneys" in r for r in recs):
                row["missed_kidneys"] = int(sum(int(r.get("missed_kidneys", 0) or 0) for r in recs))
            table[value] = row
        out[name] = table
    return out


def _sort_key(value: str) -> tuple:
    """Numbers in numeric order (64 < 128 < 256), age bands in :data:`AGE_BANDS` order, then text."""
    bands = [b[0] for b in AGE_BANDS]
    if value in bands:
        return (0, bands.index(value), "")
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def _fmt(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(v) else f"{v:.3f}"


def subgroup_table(summary: Mapping[str, Any], grids: Sequence[str] = ("network", "native")) -> str:
    """The subgroup table of a ``summary.json`` as Markdown (model card, README).

    One row per subgroup (fact, value; facts in :data:`SUBGROUP_FACTS` order, numbers in numeric order): n images
    (``*`` when fewer than :data:`MIN_SUBGROUP_IMAGES`), then Dice, precision and recall on each grid, and the missed
    kidneys; an "all" row first from the summary's means.

    Args:
        summary: the dict ``write_summary`` returned or ``json.load`` of ``summary.json``.
        grids: grids shown. Defaults to ``("network", "native")``.

    Returns:
        the table, ending in a newline, with a footnote line for flagged subgroups.
    """
    names = {"network": "384²", "native": "native"}
    header = ["subgroup", "value", "n"]
    header += [f"{m.capitalize()} {names.get(g, g)}" for g in grids for m in SUBGROUP_METRICS]
    header += ["missed kidneys"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    means = summary.get("mean", {})
    kidneys = summary.get("kidneys", {})
    overall = ["all", "", str(summary.get("n_images", ""))]
    overall += [_fmt(means.get(f"{g}_{m}")) for g in grids for m in SUBGROUP_METRICS]
    overall += [str(kidneys.get("missed_kidneys", "–"))]
    lines.append("| " + " | ".join(overall) + " |")
    flagged = False
    subgroups = summary.get("subgroups", {})
    facts = [f for f in SUBGROUP_FACTS if f in subgroups] + [f for f in subgroups if f not in SUBGROUP_FACTS]
    for fact in facts:  # report order, values in _sort_key order (summary.json stores its keys sorted as text)
        table = subgroups[fact]
        for value in sorted(table, key=_sort_key):
            row = table[value]
            n = str(row.get("n_images", ""))
            if row.get("few_images"):
                n, flagged = n + " *", True
            cells = [fact.replace("_", " "), value, n]
            cells += [_fmt(row.get(f"{g}_{m}")) for g in grids for m in SUBGROUP_METRICS]
            cells += [str(row.get("missed_kidneys", "–"))]
            lines.append("| " + " | ".join(cells) + " |")
    if flagged:
        lines += ["", f"\\* fewer than {MIN_SUBGROUP_IMAGES} images: reported, not judged."]
    return "\n".join(lines) + "\n"
