# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The evaluation's reference side map (:class:`custom_transforms.metrics.KidneySidesd`): a study with one labelled
kidney stays one kidney, a binary label without sides is split at its midline."""

from __future__ import annotations

import unittest

import numpy as np
import torch

from custom_transforms.metrics import KidneyConfusionMetric, KidneySidesd


def _one_left_kidney() -> torch.Tensor:
    sides = torch.zeros(1, 20, 20)
    sides[0, 5:15, 2:8] = 1  # the patient-left kidney only (e.g. the right one absent or non-functioning)
    return sides


class TestKidneySides(unittest.TestCase):
    def test_a_side_map_of_one_kidney_stays_one_kidney(self):
        out = KidneySidesd()({"label_kidneys": _one_left_kidney(), "native_label": (_one_left_kidney() > 0).float()})
        np.testing.assert_array_equal(out["kidney_sides"].numpy(), _one_left_kidney().numpy())
        metric = KidneyConfusionMetric(sides_known=True)
        metric(y_pred=[(_one_left_kidney() > 0).float()], y=[out["kidney_sides"]])
        (left, right), = metric.get_buffer().tolist()
        self.assertEqual((left[0] + left[3], right[0] + right[3]), (60, 0))  # reference pixels: all left, none right

    def test_without_a_side_map_the_binary_label_is_split(self):
        label = (_one_left_kidney() > 0).float()
        out = KidneySidesd()({"native_label": label})
        values, counts = np.unique(out["kidney_sides"].numpy(), return_counts=True)
        self.assertEqual(values.tolist(), [0, 1, 2])  # a binary label has no sides: split at its midline
        self.assertEqual(counts[1:].tolist(), [30, 30])

    def test_the_metric_without_sides_known_splits_a_map_of_ones(self):  # the old behaviour, kept as the default
        metric = KidneyConfusionMetric()
        metric(y_pred=[(_one_left_kidney() > 0).float()], y=[_one_left_kidney()])
        (left, right), = metric.get_buffer().tolist()
        self.assertEqual((left[0] + left[3], right[0] + right[3]), (30, 30))


if __name__ == "__main__":
    unittest.main()
