# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Per-study columns, summary and table of the output-efficiency and transit-time errors
(scripts.clinical.transit_validation)."""

from __future__ import annotations

import math
import unittest

from scripts.clinical.transit_validation import (
    TRANSIT_QUANTITIES,
    transit_markdown_table,
    transit_row,
    transit_summary,
)


def _report(**left):
    empty = {name: None for name in TRANSIT_QUANTITIES}
    return {"kidneys": {"left": {**empty, **left}, "right": {"found": False}}}


class TestTransitRows(unittest.TestCase):
    def test_row_errors_and_summary(self):
        truth = {"left": {"output_efficiency_20min_percent": 90.0, "output_efficiency_30min_percent": None,
                          "mean_transit_time_min": 3.0, "parenchymal_transit_time_min": 2.0},
                 "right": {name: None for name in TRANSIT_QUANTITIES}}
        rows = [
            transit_row(_report(output_efficiency_20min_percent=88.0, mean_transit_time_min=3.5,
                                parenchymal_transit_time_min=2.1), truth),
            transit_row(_report(output_efficiency_20min_percent=93.0, mean_transit_time_min=None,
                                mean_transit_time_min_lower_bound=2.5, parenchymal_transit_time_min=1.6), truth),
        ]
        self.assertAlmostEqual(rows[0]["oe20_error_left"], -2.0)
        self.assertAlmostEqual(rows[0]["mtt_error_left"], 0.5)
        self.assertTrue(math.isnan(rows[1]["mtt_error_left"]))
        self.assertEqual(rows[1]["mtt_lower_bound_left"], 2.5)
        self.assertIsNone(rows[0]["truth_oe30_right"])
        s = transit_summary(rows)
        self.assertEqual(set(s), set(TRANSIT_QUANTITIES))
        oe = s["output_efficiency_20min_percent"]
        self.assertEqual((oe["n"], oe["median"], oe["max"], oe["truth_defined_but_not_measured"]), (2, 2.5, 3.0, 0))
        self.assertAlmostEqual(oe["p90"], 2.9)
        mtt = s["mean_transit_time_min"]
        self.assertEqual((mtt["n"], mtt["median"], mtt["truth_defined_but_not_measured"],
                          mtt["lower_bound_not_above_truth"]), (1, 0.5, 1, 1))
        self.assertEqual(s["output_efficiency_30min_percent"], {"n": 0, "truth_defined_but_not_measured": 0})
        table = transit_markdown_table({"gt_parenchyma": s})
        self.assertIn("| gt_parenchyma | 2.50 / 2.90 (n=2) | - (n=0) | 0.50 / 0.50 (n=1, not measured 1) |", table)


if __name__ == "__main__":
    unittest.main()
