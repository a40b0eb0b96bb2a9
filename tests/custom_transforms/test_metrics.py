# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.metrics`: Dice, Jaccard, precision, recall, accuracy with nnU-Net conventions."""

from __future__ import annotations

import math
import unittest

from parameterized import parameterized

from custom_transforms.metrics import METRIC_NAMES, metrics_from_confusion

# [tp, fp, tn, fn, expected dice, jaccard, precision, recall, accuracy]
METRIC_CASES = [
    ["perfect", 4, 0, 12, 0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ["half", 2, 2, 10, 2, 0.5, 1 / 3, 0.5, 0.5, 0.75],
    ["empty_both", 0, 0, 16, 0, math.nan, math.nan, math.nan, math.nan, 1.0],
    ["empty_ref_with_fp", 0, 3, 13, 0, 0.0, 0.0, 0.0, math.nan, 13 / 16],
    ["empty_pred", 0, 0, 12, 4, 0.0, 0.0, math.nan, 0.0, 0.75],
]



class TestMetrics(unittest.TestCase):
    @parameterized.expand(METRIC_CASES)
    def test_nnunet_conventions(self, _, tp, fp, tn, fn, *expected):
        got = metrics_from_confusion(tp, fp, tn, fn)
        for name, want in zip(METRIC_NAMES, expected, strict=True):
            if math.isnan(want):
                self.assertTrue(math.isnan(got[name]), (name, got[name]))
            else:
                self.assertAlmostEqual(got[name], want, places=6, msg=name)

if __name__ == "__main__":
    unittest.main()
