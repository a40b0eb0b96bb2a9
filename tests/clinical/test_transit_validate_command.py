# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""``scripts.validate_renal_function``'s output-efficiency and transit-time errors: ``summary.json``, the printed table
and the ``per_study.csv`` columns, on two simulated studies."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from tests.clinical.renal_fixtures import HAVE_SIMULATOR


@unittest.skipUnless(HAVE_SIMULATOR, "simulator missing")
class TestValidateCommandTransit(unittest.TestCase):
    def test_summary_and_table_have_the_transit_errors(self):
        from scripts.simulation import sample_study_config, simulate_study, write_study
        from scripts.validate_renal_function import main

        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for i, pathology in enumerate(("normal", "obstructed")):
                cfg = sample_study_config(np.random.default_rng(40 + i), matrix=64, protocol="quick39",
                                          tracer="MAG3", pathology=pathology, injection_site=False, motion=False,
                                          seed=40, index=i)
                write_study(simulate_study(cfg), tmp / "studies", f"sim_{i:03d}")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = main(["--studies", str(tmp / "studies"), "--out", str(tmp / "res")])
            self.assertEqual(rc, 0)
            summary = json.loads((tmp / "res" / "summary.json").read_text())["summary"]
            for source in ("gt_parenchyma", "gt_kidney"):
                s = summary[source]
                self.assertEqual(s["output_efficiency_20min_percent"]["n"], 4)  # four functioning kidneys, 20 min
                self.assertEqual(s["output_efficiency_30min_percent"]["n"], 0)  # the studies end at 20 min
                self.assertIn("p90", s["parenchymal_transit_time_min"])
                # the obstructed kidney's whole-kidney MTT (hours) cannot be measured in 20 min
                self.assertGreaterEqual(s["mean_transit_time_min"]["truth_defined_but_not_measured"], 1)
            self.assertIn("| masks | OE 20 min", out.getvalue())
            header = (tmp / "res" / "per_study.csv").read_text().splitlines()[0].split(",")
            self.assertTrue({"oe20_left", "truth_mtt_right", "ptt_error_left", "mtt_lower_bound_right"} <= set(header))



if __name__ == "__main__":
    unittest.main()
