# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The evaluation summary of a bundle run: ``summary.json`` and ``metrics_per_image.csv`` from the evaluator.

``evaluate.json`` calls :func:`write_summary` after its evaluator ran; the metrics are those of
:mod:`custom_transforms.metrics`, the files are written atomically through :mod:`custom_transforms.safe_files`.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine

from custom_transforms.metrics import METRIC_NAMES, metrics_from_confusion
from custom_transforms.safe_files import atomic_write_text

__all__ = ["write_summary"]


def _confusion_rows(details: Any) -> np.ndarray:
    """``(N, 4)`` tp/fp/tn/fn from a MONAI ``ConfusionMatrix`` buffer ``(N, C, 4)`` (channel 0: the only class)."""
    arr = details.detach().cpu().numpy() if isinstance(details, torch.Tensor) else np.asarray(details)
    return arr.reshape(arr.shape[0], -1, 4)[:, 0, :].astype(np.float64)


def write_summary(
    evaluator: Engine,
    summary_file: str | os.PathLike,
    items: Sequence[dict],
    grids: dict[str, str] | None = None,
    **info: Any,
) -> dict[str, Any]:
    """Write ``summary.json`` and ``metrics_per_image.csv`` from a finished evaluator's confusion-matrix details.

    The per-image values come from the ``ConfusionMatrix`` handlers' buffers (``engine.state.metric_details``), one
    per grid, and are recomputed with :func:`metrics_from_confusion` (nnU-Net conventions); means skip NaN. The
    evaluator must iterate ``items`` in order (no shuffling, one process).

    Args:
        evaluator: the evaluator after ``run()``.
        summary_file: JSON path; the CSV goes next to it.
        items: the evaluated datalist items (for file names), in loader order.
        grids: grid name -> metric-details key of a ``ConfusionMatrix`` handler. Defaults to
            ``{"network": "val_precision", "native": "native_precision"}``.
        info: extra facts recorded under ``"info"`` (network, checkpoint, datalist, ...).

    Returns:
        The summary dict (``mean`` per grid and metric, ``n_images``, ``n_nan``, ``metric_per_image``, ``info``).
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
    summary["engine_metrics"] = {k: float(v) for k, v in evaluator.state.metrics.items() if _is_number(v)}
    summary["info"] = {k: str(v) for k, v in info.items()}
    summary["metric_per_image"] = per_image
    path = Path(summary_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(summary, indent=2, sort_keys=True, allow_nan=True) + "\n")
    columns = list(per_image[0].keys()) if per_image else ["image"]
    lines: list[str] = []

    class _Sink:
        def write(self, text: str) -> None:
            lines.append(text)

    writer = csv.DictWriter(_Sink(), fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(per_image)
    atomic_write_text(path.with_name("metrics_per_image.csv"), "".join(lines))
    return summary


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
