# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The simulator's true output efficiency and transit times (scripts.simulation.measure.transit_truth)."""

from __future__ import annotations

import dataclasses
import json
import unittest

import numpy as np
from parameterized import parameterized

from scripts.simulation.kinetics import IMAGE_COMPARTMENTS, TC99M_HALF_LIFE_S, KineticParams, solve_kinetics
from scripts.simulation.measure import transit_truth

END_S = 1800.0


def params(**kw) -> KineticParams:
    base = dict(dose_mbq=40.0, k_left=0.08, k_right=0.06, tau_c_left=2.0, tau_c_right=3.0, tau_p_left=1.5,
                tau_p_right=200.0)
    return KineticParams(**{**base, **kw})


class TestTransitTruth(unittest.TestCase):
    def test_transit_times_are_the_model_means(self):
        truth = transit_truth(params(), END_S)
        self.assertEqual((truth["left"]["parenchymal_transit_time_min"], truth["left"]["mean_transit_time_min"]),
                         (2.0, 3.5))
        self.assertEqual((truth["right"]["parenchymal_transit_time_min"], truth["right"]["mean_transit_time_min"]),
                         (3.0, 203.0))
        self.assertEqual(truth["left"]["problem"], "")

    def test_output_efficiency_is_what_reached_ureter_and_bladder(self):
        # only the left kidney takes up tracer: everything that left it is in its ureter or the bladder
        p = params(k_right=0.0)
        truth = transit_truth(p, END_S)
        t, act = solve_kinetics(p, END_S + 0.25)
        act = act * np.exp(np.log(2.0) / TC99M_HALF_LIFE_S * t)[:, None]
        col = {c: i for i, c in enumerate(IMAGE_COMPARTMENTS)}
        out = act[:, col["ureter_left"]] + act[:, col["bladder"]]
        inside = act[:, col["parenchyma_left"]] + act[:, col["pelvis_left"]]
        for tm in (20.0, 30.0):
            i = int(round(60 * tm / 0.25))
            expected = 100.0 * out[i] / (out[i] + inside[i])
            self.assertAlmostEqual(truth["left"][f"output_efficiency_{tm:g}min_percent"], expected, delta=0.05)
        self.assertGreater(truth["left"]["output_efficiency_20min_percent"], 80.0)
        self.assertTrue(all(v is None for k, v in truth["right"].items() if k != "problem"))
        self.assertEqual(truth["right"]["problem"], "no uptake")

    def test_a_kidney_that_barely_drains_has_low_output(self):
        truth = transit_truth(params(), END_S)
        self.assertLess(truth["right"]["output_efficiency_20min_percent"], 15.0)
        self.assertGreater(truth["right"]["output_efficiency_30min_percent"],
                           truth["right"]["output_efficiency_20min_percent"])

    def test_times_after_the_study_are_none(self):
        truth = transit_truth(params(), 1200.0)
        self.assertIsNotNone(truth["left"]["output_efficiency_20min_percent"])
        self.assertIsNone(truth["left"]["output_efficiency_30min_percent"])

    @parameterized.expand([
        ("none", None, 3.5), ("before_injection", -15.0, 2.0 + 0.9), ("after_the_study", 40.0, 3.5),
        ("during", 2.0, None),
    ])
    def test_diuretic_timing(self, _, t_furo, mtt):
        truth = transit_truth(params(t_furo_min=t_furo, tau_p_furo_left=0.9), END_S)
        self.assertEqual(truth["left"]["mean_transit_time_min"], mtt)
        self.assertEqual(truth["left"]["parenchymal_transit_time_min"], 2.0)
        if mtt is None:
            self.assertIn("during the study", truth["left"]["problem"])
        self.assertIsNotNone(truth["left"]["output_efficiency_20min_percent"])

    def test_diuretic_speeds_the_output(self):
        slow = dict(tau_p_left=20.0, tau_p_furo_left=1.0)
        without = transit_truth(params(**slow), END_S)["left"]["output_efficiency_30min_percent"]
        with_furo = transit_truth(params(t_furo_min=20.0, **slow), END_S)["left"]["output_efficiency_30min_percent"]
        self.assertGreater(with_furo, without + 10.0)

    def test_truth_json_kinetics_are_accepted(self):
        from scripts.simulation import sample_study_config, simulate_study

        cfg = sample_study_config(np.random.default_rng(3), matrix=64, protocol="quick39", pathology="normal",
                                  injection_site=False, motion=False, seed=3, index=0)
        sim = simulate_study(cfg)
        stored = json.loads(json.dumps(sim.truth))["kinetics"]
        end_s = float(sim.frame_starts_s[-1] + sim.frame_durations_s[-1])
        a, b = transit_truth(stored, end_s), transit_truth(dataclasses.replace(cfg.kinetics), end_s)
        for side in ("left", "right"):
            for key, value in b[side].items():
                if isinstance(value, float):
                    self.assertAlmostEqual(a[side][key], value, places=3)
                else:
                    self.assertEqual(a[side][key], value)


if __name__ == "__main__":
    unittest.main()
