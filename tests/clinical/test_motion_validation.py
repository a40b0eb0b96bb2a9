# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Per-study columns, summary and table of patient motion against the simulator's truth
(scripts.clinical.motion_validation)."""

from __future__ import annotations

import unittest

from scripts.clinical.motion_validation import motion_markdown_table, motion_row, motion_summary


def _report(moved, shifts, warning=False):
    n = 10
    rc = [None] * 3 + [[0.1, 0.0]] * (n - 3)
    for t, s in shifts.items():
        rc[t] = s
    return {"motion": {"frames_moved": moved, "shift_rc_px": rc, "warning": warning,
                       "max_shift_px": max((abs(s[0]) + abs(s[1]) for s in shifts.values()), default=0.1)}}


class TestMotionRows(unittest.TestCase):
    def test_rows_and_summary(self):
        truth = {"first_frame": 5, "last_frame": 6, "shift_rc_px": [1.2, 0.0]}
        exact = motion_row(_report([5, 6], {5: [1.1, 0.1], 6: [1.4, 0.0]}, True), truth)
        self.assertEqual((exact["motion_found"], exact["motion_exact"], exact["motion_false_frames"]), (1, 1, 0))
        self.assertAlmostEqual(exact["motion_shift_error_px"], 0.2)
        self.assertEqual(exact["motion_truth_px"], 1.2)
        extra = motion_row(_report([5, 6, 9], {5: [1.2, 0.0], 6: [1.2, 0.0], 9: [0.9, 0.0]}), truth)
        self.assertEqual((extra["motion_found"], extra["motion_exact"], extra["motion_false_frames"]), (1, 0, 1))
        missed = motion_row(_report([5], {5: [0.8, 0.0]}), {"first_frame": 5, "last_frame": 6,
                                                           "shift_rc_px": [0.8, 0.0]})
        self.assertEqual(missed["motion_found"], 0)
        still = motion_row(_report([], {}), None)
        self.assertEqual((still["motion_truth"], still["motion_found"], still["motion_false_frames"]), (0, None, 0))
        false = motion_row(_report([7], {7: [0.8, 0.0]}), None)
        self.assertEqual(false["motion_false_frames"], 1)
        s = motion_summary([exact, extra, missed, still, false])
        self.assertEqual((s["with_motion"], s["found"], s["at_least_1px"], s["at_least_1px_found"], s["exact_frames"]),
                         (3, 2, 2, 2, 1))
        self.assertEqual((s["without_motion"], s["without_motion_moved_frames"], s["without_motion_warning"]),
                         (2, 1, 0))
        self.assertEqual(s["shift_error_px"]["n"], 3)
        table = motion_markdown_table({"gt_parenchyma": s})
        self.assertIn("| gt_parenchyma | 2/2 | 2/3 | 1/3 |", table)
        self.assertIn("| 1 / 0 of 2 |", table)


if __name__ == "__main__":
    unittest.main()
