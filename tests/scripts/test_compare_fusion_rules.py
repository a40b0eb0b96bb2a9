# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of the fusion-rule measurement (:mod:`scripts.comparison.fusion_rules`, ``scripts.compare_fusion_rules``)."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from scripts import compare_fusion_rules
from scripts.comparison.fusion_rules import fusion_window_min, measure_rules
from scripts.simulation import get_protocol, sample_study_config

PAPER = {"group_size": 7, "fused_index": 1}
WINDOW = {"window_s": 120.0, "fused_index": 0}


class TestFusionRules(unittest.TestCase):
    def test_the_paper_rule_moves_with_the_frame_duration_and_a_window_does_not(self):
        windows = {}
        for name in ("paper136", "10s120", "real58"):
            proto = get_protocol(name)
            starts, durs = proto.frame_starts_s(), proto.frame_durations_s()
            windows[name] = (fusion_window_min(PAPER, starts, durs), fusion_window_min(WINDOW, starts, durs))
        self.assertEqual(windows["paper136"][0], (2.75, 4.5))  # 60 s + 7 x 15 s .. + 14 x 15 s
        self.assertAlmostEqual(windows["10s120"][0][0], 130 / 60)
        self.assertGreater(windows["real58"][0][1], 8.0)  # 30-s frames: the 2nd group ends after 8 min
        for name in windows:
            start, end = windows[name][1]
            self.assertLess(abs(start - 1.0), 0.35)
            self.assertLess(abs(end - 3.0), 0.4)

    def test_measure_rules_on_one_patient(self):
        cfg = sample_study_config(3, matrix=64, protocol="paper136", pathology=("hydronephrosis", "normal"),
                                  motion=False)
        result = measure_rules([cfg], ["paper136", "10s120"], {"paper": PAPER, "window": WINDOW})
        self.assertEqual(result["patients"], 1)
        paper, window = result["rules"]["paper"], result["rules"]["window"]
        self.assertEqual(window["window_min"]["paper136"], window["window_min"]["10s120"])
        self.assertNotEqual(paper["window_min"]["paper136"], paper["window_min"]["10s120"])
        self.assertLess(window["inconsistency"], paper["inconsistency"])
        self.assertEqual(paper["parenchyma_to_pelvis"]["n"], 2)  # the hydronephrotic kidney under 2 protocols
        self.assertTrue(np.isfinite(window["parenchyma_to_background"]["median"]))

    def test_command_writes_the_json(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d, "rules.json")
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                self.assertEqual(compare_fusion_rules.main(["--patients", "1", "--json", str(out)]), 0)
            self.assertIn("| paper (7 frames, 2nd image) |", buf.getvalue())
            self.assertEqual(json.loads(out.read_text())["patients"], 1)


if __name__ == "__main__":
    unittest.main()
