# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Per-image segmentation metrics of a binary mask pair from its confusion counts (nnU-Net conventions)."""

from __future__ import annotations

import math

__all__ = ["METRIC_NAMES", "metrics_from_confusion"]

#: per-image metrics of :func:`custom_transforms.summary.write_summary`, in CSV column order.
METRIC_NAMES = ("dice", "jaccard", "precision", "recall", "accuracy")


def metrics_from_confusion(tp: float, fp: float, tn: float, fn: float) -> dict[str, float]:
    """Dice, Jaccard, precision, recall and accuracy of one binary mask pair from its pixel counts.

    nnU-Net conventions: a ratio whose denominator is 0 is NaN (empty reference and empty prediction give Dice NaN,
    excluded from means); an empty reference with a non-empty prediction gives Dice 0, never 1.
    """

    def ratio(num: float, den: float) -> float:
        return float(num) / float(den) if den > 0 else math.nan

    return {
        "dice": ratio(2 * tp, 2 * tp + fp + fn),
        "jaccard": ratio(tp, tp + fp + fn),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "accuracy": ratio(tp + tn, tp + fp + tn + fn),
    }
