# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The table's "worst subgroup Dice": the lowest subgroup mean Dice of a network among subgroups large enough to judge.

The subgroups are the bundle's own (:mod:`custom_transforms.subgroups`: matrix, protocol, tracer, pathology, age
band, furosemide, collimator of each test image's study), read from each run's ``summary.json["subgroups"]``
(:func:`run_subgroups`; written by the bundle's evaluation, :func:`custom_transforms.summary.write_summary`), or,
for a summary without them, computed by the same :func:`custom_transforms.subgroups.subgroup_means` from the
per-image CSV, which carries each image's subgroup facts. No second grouping is defined here.

For a table row (one network x augmentation, several seeds), each subgroup's Dice is the mean over the row's seeds
of the run's subgroup mean (the seeds share the test images, so this is the mean over the subgroup's images of all
seeds); only subgroups present in every seed's run with at least
:data:`custom_transforms.subgroups.MIN_SUBGROUP_IMAGES` test images are eligible (the bundle flags smaller ones
"reported, not judged"). The grid is the native label grid where every run has a native Dice for the subgroup, else
the network's input grid.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from custom_transforms.subgroups import MIN_SUBGROUP_IMAGES, SUBGROUP_FACTS, subgroup_means

__all__ = ["WorstSubgroup", "run_subgroups", "worst_subgroup"]


@dataclass(frozen=True)
class WorstSubgroup:
    """The lowest-Dice eligible subgroup of one table row.

    Attributes:
        dice: its mean Dice (over the row's seeds).
        fact: the subgroup fact, e.g. ``"pathology"``.
        value: the fact's value, e.g. ``"hydronephrosis"``.
        n_images: test images in the subgroup (per seed).
        grid: ``"native"`` or ``"network"``.
    """

    dice: float
    fact: str
    value: str
    n_images: int
    grid: str

    @property
    def label(self) -> str:
        """``"<fact>=<value>"``, the CSV form (e.g. ``pathology=hydronephrosis``)."""
        return f"{self.fact}={self.value}"


def run_subgroups(summary: Mapping[str, Any], per_image_csv: str | Path | None = None) -> dict[str, Any]:
    """The subgroup means of one run: ``summary["subgroups"]``, else computed from the per-image CSV.

    Args:
        summary: the run's ``summary.json`` (bundle evaluation).
        per_image_csv: its ``metrics_per_image.csv``, used only when the summary has no ``"subgroups"``.

    Returns:
        ``{fact: {value: {"n_images", "few_images", "network_dice", "native_dice", ...}}}`` (may be empty).
    """
    groups = summary.get("subgroups") if isinstance(summary, Mapping) else None
    if isinstance(groups, Mapping) and groups:
        return dict(groups)
    if per_image_csv is None or not Path(per_image_csv).is_file():
        return {}
    with Path(per_image_csv).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    records = []
    for row in rows:
        rec: dict[str, Any] = {k: v for k, v in row.items() if k in SUBGROUP_FACTS and v not in (None, "")}
        for key in ("network_dice", "native_dice"):
            if key in row:
                try:
                    rec[key] = float(row[key])
                except (TypeError, ValueError):
                    rec[key] = math.nan
        records.append(rec)
    return json.loads(json.dumps(subgroup_means(records)))  # plain dicts, as summary.json holds them


def _dice(entry: Mapping[str, Any], grid: str) -> float:
    try:
        value = float(entry.get(f"{grid}_dice"))
    except (TypeError, ValueError):
        return math.nan
    return value


def worst_subgroup(runs: Sequence[Mapping[str, Any]], min_images: int = MIN_SUBGROUP_IMAGES) -> WorstSubgroup | None:
    """The eligible subgroup with the lowest mean Dice over ``runs`` (the seeds of one table row).

    Args:
        runs: per seed, :func:`run_subgroups` of the run.
        min_images: smallest subgroup judged. Defaults to :data:`custom_transforms.subgroups.MIN_SUBGROUP_IMAGES`.

    Returns:
        the worst subgroup, or None when no subgroup is eligible (no facts, or all subgroups too small). Ties go to
        the first subgroup in the bundle's report order (:data:`custom_transforms.subgroups.SUBGROUP_FACTS`, values
        sorted).
    """
    runs = [r for r in runs if r]
    if not runs:
        return None
    facts = [f for f in SUBGROUP_FACTS if all(f in r for r in runs)]
    facts += sorted(f for f in runs[0] if f not in SUBGROUP_FACTS and all(f in r for r in runs))
    best: WorstSubgroup | None = None
    for fact in facts:
        values = sorted(set.intersection(*(set(r[fact]) for r in runs)))
        for value in values:
            entries = [r[fact][value] for r in runs]
            n_images = min(int(e.get("n_images", 0) or 0) for e in entries)
            if n_images < min_images:
                continue
            native = np.array([_dice(e, "native") for e in entries])
            grid = "native" if np.isfinite(native).all() else "network"
            dice = native if grid == "native" else np.array([_dice(e, "network") for e in entries])
            if not np.isfinite(dice).all():
                continue
            mean = float(dice.mean())
            if best is None or mean < best.dice:
                best = WorstSubgroup(mean, fact, str(value), n_images, grid)
    return best
