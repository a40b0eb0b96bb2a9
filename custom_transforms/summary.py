# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The evaluation summary of a bundle run: ``summary.json`` and ``metrics_per_image.csv`` from the evaluator.

``evaluate.json`` calls :func:`write_summary` after its evaluator ran; the metrics are those of
:mod:`custom_transforms.metrics` (whole mask on both grids, per kidney on the native grid), the subgroups those of
:mod:`custom_transforms.subgroups`; the files are written atomically through :mod:`custom_transforms.safe_files`.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine

from custom_transforms.metrics import KIDNEY_SIDES, METRIC_NAMES, MISSED_KIDNEY_DICE, metrics_from_confusion
from custom_transforms.safe_files import atomic_write_text
from custom_transforms.subgroups import (
    SUBGROUP_FACTS,
    image_subgroups,
    load_study_facts,
    subgroup_means,
    subgroup_table,
)

__all__ = ["SUBGROUP_TABLE_FILE", "write_summary"]

#: the Markdown subgroup table (:func:`custom_transforms.subgroups.subgroup_table`) written beside ``summary.json``.
SUBGROUP_TABLE_FILE = "subgroups.md"


def _confusion_rows(details: Any) -> np.ndarray:
    """``(N, 4)`` tp/fp/tn/fn from a MONAI ``ConfusionMatrix`` buffer ``(N, C, 4)`` (channel 0: the only class)."""
    arr = details.detach().cpu().numpy() if isinstance(details, torch.Tensor) else np.asarray(details)
    return arr.reshape(arr.shape[0], -1, 4)[:, 0, :].astype(np.float64)


def write_summary(
    evaluator: Engine,
    summary_file: str | os.PathLike,
    items: Sequence[dict],
    grids: dict[str, str] | None = None,
    study_facts: Mapping[str, Mapping[str, Any]] | str | os.PathLike | None = None,
    kidneys_key: str = "native_kidney_dice",
    **info: Any,
) -> dict[str, Any]:
    """Write ``summary.json``, ``metrics_per_image.csv`` and ``subgroups.md`` from a finished evaluator's details.

    The per-image values come from the ``ConfusionMatrix`` handlers' buffers (``engine.state.metric_details``), one
    per grid, and are recomputed with :func:`metrics_from_confusion` (nnU-Net conventions); means skip NaN. The
    evaluator must iterate ``items`` in order (no shuffling, one process).

    Each image's subgroups (:func:`custom_transforms.subgroups.image_subgroups`) come from ``study_facts`` of its
    ``study`` (or its own ``"meta"`` dict); ``"subgroups"`` holds the means per subgroup on both grids
    (:func:`~custom_transforms.subgroups.subgroup_means`). With a
    :class:`~custom_transforms.metrics.KidneyConfusionMetric` buffer under ``kidneys_key``, each image gets
    ``native_left_dice``/``native_right_dice`` (and ``_n_ref``) and ``missed_kidneys``, and ``"kidneys"`` holds the
    per-kidney means, the count of missed kidneys (a kidney in the reference label with Dice below
    :data:`~custom_transforms.metrics.MISSED_KIDNEY_DICE`) and their list.

    Args:
        evaluator: the evaluator after ``run()``.
        summary_file: JSON path; the CSV and the Markdown subgroup table (:data:`SUBGROUP_TABLE_FILE`) go next to it.
        items: the evaluated datalist items (for file names), in loader order.
        grids: grid name -> metric-details key of a ``ConfusionMatrix`` handler. Defaults to
            ``{"network": "val_precision", "native": "native_precision"}``.
        study_facts: ``{study_id: facts}``, or the ``datalist.json`` whose ``"study_facts"`` they are
            (:func:`~custom_transforms.subgroups.load_study_facts`). Defaults to None (only items' ``"meta"``).
        kidneys_key: metric-details key of the per-kidney buffer. Defaults to ``"native_kidney_dice"``.
        info: extra facts recorded under ``"info"`` (network, checkpoint, datalist, ...).

    Returns:
        The summary dict (``mean`` per grid and metric, ``n_images``, ``n_nan``, ``subgroups``, ``kidneys`` (when the
        per-kidney buffer is there), ``metric_per_image``, ``info``).
    """
    grids = grids or {"network": "val_precision", "native": "native_precision"}
    details = getattr(evaluator.state, "metric_details", {}) or {}
    per_image: list[dict[str, Any]] = [
        {"image": str(it.get("image", "")), "study": str(it.get("study", ""))} for it in items
    ]
    summary: dict[str, Any] = {"mean": {}, "n_nan": {}, "n_images": len(per_image)}
    for grid, key in grids.items():
        if key not in details:
            continue
        rows = _confusion_rows(details[key])
        if len(rows) != len(per_image):
            raise ValueError(f"{key}: {len(rows)} confusion rows for {len(per_image)} datalist items")
        values = [metrics_from_confusion(*r) for r in rows]
        for rec, val, r in zip(per_image, values, rows, strict=True):
            rec.update({f"{grid}_{m}": val[m] for m in METRIC_NAMES})
            rec.update({f"{grid}_n_ref": int(r[0] + r[3]), f"{grid}_n_pred": int(r[0] + r[1])})
        for m in METRIC_NAMES:
            col = np.array([v[m] for v in values], dtype=np.float64)
            finite = col[~np.isnan(col)]
            summary["mean"][f"{grid}_{m}"] = float(finite.mean()) if finite.size else math.nan
            summary["n_nan"][f"{grid}_{m}"] = int(np.isnan(col).sum())
    if isinstance(study_facts, (str, os.PathLike)):
        study_facts = load_study_facts(study_facts)
    if kidneys_key in details:
        summary["kidneys"] = _kidney_summary(details[kidneys_key], per_image, grid="native")
    for rec, it in zip(per_image, items, strict=True):
        facts = (study_facts or {}).get(str(it.get("study", ""))) or it.get("meta") or {}
        rec.update(image_subgroups(facts if isinstance(facts, Mapping) else {}))
    summary["subgroups"] = subgroup_means(per_image, grids=list(grids))
    summary["engine_metrics"] = {k: float(v) for k, v in evaluator.state.metrics.items() if _is_number(v)}
    summary["info"] = {k: str(v) for k, v in info.items()}
    summary["metric_per_image"] = per_image
    path = Path(summary_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=True, allow_nan=True) + "\n")
    columns = list(dict.fromkeys(k for rec in per_image for k in rec)) or ["image"]
    columns = [c for c in columns if c not in SUBGROUP_FACTS] + [f for f in SUBGROUP_FACTS if f in columns]
    lines: list[str] = []

    class _Sink:
        def write(self, text: str) -> None:
            lines.append(text)

    writer = csv.DictWriter(_Sink(), fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(per_image)
    atomic_write_text(path.with_name("metrics_per_image.csv"), "".join(lines))
    atomic_write_text(path.with_name(SUBGROUP_TABLE_FILE), subgroup_table(summary))
    return summary


def _kidney_summary(details: Any, per_image: list[dict[str, Any]], grid: str) -> dict[str, Any]:
    """Per-kidney Dice into ``per_image`` (in place) and the ``"kidneys"`` section from an ``(N, 2, 4)`` buffer."""
    arr = details.detach().cpu().numpy() if isinstance(details, torch.Tensor) else np.asarray(details)
    arr = arr.reshape(arr.shape[0], len(KIDNEY_SIDES), 4).astype(np.float64)
    if len(arr) != len(per_image):
        raise ValueError(f"per-kidney buffer: {len(arr)} rows for {len(per_image)} datalist items")
    section: dict[str, Any] = {"grid": grid, "missed_below_dice": MISSED_KIDNEY_DICE}
    missed: list[dict[str, Any]] = []
    dice: dict[str, list[float]] = {side: [] for side in KIDNEY_SIDES}
    for rec, rows in zip(per_image, arr, strict=True):
        rec["missed_kidneys"] = 0
        for side, row in zip(KIDNEY_SIDES, rows, strict=True):
            n_ref = int(row[0] + row[3])
            value = metrics_from_confusion(*row)["dice"]
            rec[f"{grid}_{side}_dice"], rec[f"{grid}_{side}_n_ref"] = value, n_ref
            if n_ref == 0:
                continue
            dice[side].append(value)
            if value < MISSED_KIDNEY_DICE:
                rec["missed_kidneys"] += 1
                missed.append({"image": rec["image"], "study": rec["study"], "side": side, "dice": value})
    for side in KIDNEY_SIDES:
        section[side] = {
            "dice": float(np.mean(dice[side])) if dice[side] else math.nan,
            "n_images": len(dice[side]),
        }
    section["missed_kidneys"] = len(missed)
    section["missed"] = missed
    return section


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
