# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Per-image segmentation metrics of a binary mask pair from its confusion counts (nnU-Net conventions), whole and per
kidney (left, right: :func:`kidney_confusion`, :class:`KidneyConfusionMetric`, a missed kidney below
:data:`MISSED_KIDNEY_DICE`)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import torch
from monai.metrics import CumulativeIterationMetric
from monai.transforms import MapTransform

__all__ = [
    "METRIC_NAMES",
    "KIDNEY_SIDES",
    "MISSED_KIDNEY_DICE",
    "metrics_from_confusion",
    "kidney_split_column",
    "kidney_sides",
    "kidney_confusion",
    "KidneyConfusionMetric",
    "KidneySidesd",
]

#: per-image metrics of :func:`custom_transforms.summary.write_summary`, in CSV column order.
METRIC_NAMES = ("dice", "jaccard", "precision", "recall", "accuracy")
#: the kidneys of a side label map, in order of their label values 1 and 2 (patient-left, patient-right).
KIDNEY_SIDES = ("left", "right")
#: a kidney present in the reference label whose per-kidney Dice is below this is *missed* (issue 13).
MISSED_KIDNEY_DICE = 0.5


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


def kidney_split_column(sides: np.ndarray) -> float:
    """The image column that separates the patient-left from the patient-right kidney of a side label map.

    Posterior view: the patient-left kidney (value 1) lies on the image left. With both kidneys in the map the column is
    halfway between the left kidney's last column and the right kidney's first; with one kidney or none, the image's
    centre column.

    Args:
        sides: ``(H, W)`` label map, 0 background, 1 patient-left, 2 patient-right kidney.

    Returns:
        the column (may be fractional); columns up to it belong to the left side, the others to the right.
    """
    cols_left = np.flatnonzero((sides == 1).any(axis=0))
    cols_right = np.flatnonzero((sides == 2).any(axis=0))
    if cols_left.size and cols_right.size:
        return (float(cols_left.max()) + float(cols_right.min())) / 2.0
    return (sides.shape[-1] - 1) / 2.0


def kidney_sides(label: np.ndarray, sides_known: bool | None = None) -> np.ndarray:
    """The ``(H, W)`` side label map (0 background, 1 patient-left, 2 patient-right kidney) of a reference label.

    A label with a value 2 (the simulator's ``parenchyma.png`` convention), or any label with ``sides_known``, is taken
    as it is (255 counts as 1). A binary label (0/1 or 0/255: a user's label without sides) is split at the vertical
    midline of its bounding box: pixels left of the middle column of the label's bounding box are the patient-left
    kidney (posterior view), the others the patient-right one. A binary label of one kidney only is therefore split
    in two; give such labels with values 1/2.

    Args:
        label: ``(H, W)`` (or ``(1, H, W)``) reference label, values 0/1, 0/1/2 or 0/255.
        sides_known: ``True``: the values are sides even without a value 2 (e.g. a study with one kidney); ``None``
            (default): sides when a value 2 occurs.

    Returns:
        uint8 ``(H, W)`` map with values 0/1/2.
    """
    arr = np.asarray(label)
    arr = arr.reshape(arr.shape[-2:])
    if sides_known or (sides_known is None and (arr == 2).any()):
        return np.where(arr == 2, 2, np.where(arr > 0, 1, 0)).astype(np.uint8)
    mask = arr > 0
    out = np.zeros(arr.shape, np.uint8)
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size:
        middle = (float(cols.min()) + float(cols.max())) / 2.0
        left = np.arange(arr.shape[1])[None, :] <= middle
        out[mask & left] = 1
        out[mask & ~left] = 2
    return out


def kidney_confusion(pred: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """Per-kidney confusion counts of a binary prediction against a side label map.

    The reference of each kidney is its value in ``sides``; the predicted pixels are given to a kidney by column, at
    :func:`kidney_split_column` of the reference (a prediction on the side of an absent kidney is that side's false
    positive).

    Args:
        pred: ``(H, W)`` (or ``(1, H, W)``) binary prediction.
        sides: ``(H, W)`` (or ``(1, H, W)``) reference map, 0 background, 1 patient-left, 2 patient-right kidney.

    Returns:
        float64 ``(2, 4)``: rows :data:`KIDNEY_SIDES` (left, right), columns tp, fp, tn, fn.
    """
    p = np.asarray(pred).reshape(np.asarray(pred).shape[-2:]) > 0.5
    s = np.asarray(sides).reshape(np.asarray(sides).shape[-2:])
    column = kidney_split_column(s)
    on_left = np.arange(s.shape[1])[None, :] <= column
    out = np.zeros((len(KIDNEY_SIDES), 4), np.float64)
    for row, (value, region) in enumerate(((1, on_left), (2, ~on_left))):
        ref, hit = s == value, p & region
        tp, fp, fn = (hit & ref).sum(), (hit & ~ref).sum(), (~hit & ref).sum()
        out[row] = (tp, fp, s.size - tp - fp - fn, fn)
    return out


class KidneyConfusionMetric(CumulativeIterationMetric):
    """Per-image, per-kidney confusion counts (left, right) of a binary prediction, for the evaluator's summary.

    ``y_pred``: binary ``(B, 1, H, W)`` (or a list of ``(1, H, W)``); ``y``: the reference on the same grid, a side
    label map (0/1/2, :func:`kidney_sides` rules: a binary map is split at its bounding box's vertical midline). Its
    buffer (``monai.handlers.IgniteMetricHandler(..., save_details=True)`` puts it in
    ``engine.state.metric_details``) is ``(N, 2, 4)``: image, side (:data:`KIDNEY_SIDES`), tp/fp/tn/fn;
    :meth:`aggregate` gives the mean Dice of both kidneys over the images where the kidney is in the reference
    (NaN-skipping, nnU-Net conventions).
    """

    def __init__(self, sides_known: bool | None = None) -> None:
        """Args: sides_known: passed to :func:`kidney_sides` (``True``: ``y`` already holds the sides, e.g. from
        :class:`KidneySidesd`, so a one-kidney map of 1s stays the left kidney). Defaults to None."""
        super().__init__()
        self.sides_known = sides_known

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        if y is None:
            raise ValueError("KidneyConfusionMetric needs the reference label y")
        preds = y_pred.detach().cpu().numpy()
        refs = y.detach().cpu().numpy()
        rows = [kidney_confusion(p, kidney_sides(r, self.sides_known)) for p, r in zip(preds, refs, strict=True)]
        return torch.as_tensor(np.stack(rows), dtype=torch.float64)

    def aggregate(self) -> torch.Tensor:
        """Mean per-kidney Dice over both kidneys and every image whose reference holds that kidney."""
        buf = self.get_buffer()
        if not isinstance(buf, torch.Tensor) or buf.numel() == 0:
            return torch.tensor(float("nan"))
        dice = [metrics_from_confusion(*r)["dice"] for r in buf.reshape(-1, 4).tolist() if r[0] + r[3] > 0]
        return torch.tensor(float(np.mean(dice)) if dice else float("nan"))


class KidneySidesd(MapTransform):
    """The reference side map of an evaluated item, under ``output_key``, whatever labels the dataset has.

    An item with its side map (``prepare_dataset``'s ``labels_kidneys``: 1 patient-left, 2 patient-right) keeps it as
    it is, so a study with only its left kidney labelled stays one left kidney; an item without one gets the side map
    of its binary label ``fallback_key`` (:func:`kidney_sides`: split at the bounding box's vertical midline). Feed
    the result to :class:`KidneyConfusionMetric` with ``sides_known=True``. Written here rather than as a generic
    transform because the rule is the metric's: which pixels are whose kidney.

    The result goes under a key of its own: in an evaluator's post-processing the keys that came with the batch (such
    as ``label_kidneys``) return to ``engine.state.batch`` (``monai.engines.utils.engine_apply_transform``), new keys
    reach ``engine.state.output``, which the metric handlers read.

    Args:
        keys: the side-map key (``label_kidneys``), optional in an item.
        fallback_key: the binary reference used when an item has no side map (``native_label``).
        output_key: where the side map is written. Defaults to ``"kidney_sides"``.
    """

    def __init__(
        self, keys: Any = "label_kidneys", fallback_key: Hashable = "native_label", output_key: Hashable = "kidney_sides"
    ) -> None:
        super().__init__(keys, allow_missing_keys=True)
        self.fallback_key = fallback_key
        self.output_key = output_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        key = self.keys[0]
        known = key in d and d[key] is not None and not isinstance(d[key], str)  # a loaded map, not its path
        source = d[key] if known else d[self.fallback_key]
        arr = source.detach().cpu().numpy() if isinstance(source, torch.Tensor) else np.asarray(source)
        sides = kidney_sides(arr, sides_known=True if known else None)
        d[self.output_key] = torch.as_tensor(sides.reshape(arr.shape))
        return d
