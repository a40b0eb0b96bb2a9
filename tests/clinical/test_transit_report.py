# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Output efficiency and transit times in the report: their normal ranges and flags, simulated studies through
``analyse_frames`` against the simulator's truth."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
from parameterized import parameterized

from scripts.clinical.flags import kidney_flags
from scripts.clinical.normal_ranges import flag_value, normal_ranges_json
from tests.clinical.renal_fixtures import HAVE_SIMULATOR


def _kidney(**entries):
    base = {"drf_integral_percent": 50.0, "tmax_min": 3.0, "t_half_min": 6.0, "ratio_20min_max": 0.2,
            "nora_20min": 0.3, "ktbr": 4.0}
    return {**base, **entries}


class TestFlags(unittest.TestCase):
    @parameterized.expand([
        ("output_efficiency_20min_percent", 94.0, "normal"), ("output_efficiency_20min_percent", 73.0, "normal"),
        ("output_efficiency_20min_percent", 60.0, "abnormal"), ("mean_transit_time_min", 3.5, "normal"),
        ("mean_transit_time_min", 9.0, "abnormal"), ("parenchymal_transit_time_min", 2.0, "normal"),
        ("parenchymal_transit_time_min", 6.0, "borderline"), ("parenchymal_transit_time_min", 9.0, "abnormal"),
        ("mean_transit_time_min", None, "n/a"),
    ])
    def test_flag(self, name, value, expected):
        self.assertEqual(flag_value(name, value), expected)

    def test_ranges_are_in_the_report_table_with_sources(self):
        table = normal_ranges_json()
        for name in ("output_efficiency_20min_percent", "mean_transit_time_min", "parenchymal_transit_time_min"):
            self.assertIn(name, table)
            self.assertTrue(table[name]["source"])

    def test_kidney_flags_include_transit_and_a_lower_bound_past_the_range(self):
        flags = kidney_flags(_kidney(output_efficiency_20min_percent=50.0, mean_transit_time_min=3.0,
                                     parenchymal_transit_time_min=2.0))
        self.assertEqual((flags["output_efficiency_20min_percent"], flags["mean_transit_time_min"],
                          flags["parenchymal_transit_time_min"]), ("abnormal", "normal", "normal"))
        flags = kidney_flags(_kidney(mean_transit_time_min=None, mean_transit_time_min_lower_bound=15.0))
        self.assertEqual(flags["mean_transit_time_min"], "abnormal")
        flags = kidney_flags(_kidney(mean_transit_time_min=None, mean_transit_time_min_lower_bound=4.0))
        self.assertEqual(flags["mean_transit_time_min"], "n/a")
        # a kidney entry written before these indices existed is still flagged
        self.assertEqual(kidney_flags(_kidney())["output_efficiency_20min_percent"], "n/a")


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestSimulatedStudy(unittest.TestCase):
    """Simulated studies against the simulator's truth: the method on the noise-free compartment curves, and the
    report's flags through ``analyse_frames`` (noise-free frames, true masks)."""

    CASES = (
        ("normal", "normal", "eanm117"), ("obstructed", "obstructed", "paper136"), ("dilated", "dilated", "10s180"),
    )

    @classmethod
    def setUpClass(cls) -> None:
        from scripts.clinical.analysis import AnalysisSettings, analyse_frames
        from scripts.simulation import sample_study_config, simulate_study
        from scripts.simulation.measure import transit_truth

        cls.results, cls.analyses = {}, {}
        for name, pathology, protocol in cls.CASES:
            cfg = sample_study_config(np.random.default_rng(21), matrix=64, protocol=protocol, tracer="MAG3",
                                      pathology=pathology, injection_site=False, motion=False, seed=21, index=0)
            sim = simulate_study(cfg)
            meta = {"frame_start_s": sim.frame_starts_s, "frame_duration_s": sim.frame_durations_s,
                    "pixel_spacing_mm": list(sim.pixel_spacing_mm), "view": "posterior", "tracer": cfg.tracer}
            result = analyse_frames(sim.expected, meta, sim.parenchyma, AnalysisSettings(label_mode="labels"), "truth")
            rep = result.report
            end_s = float(sim.frame_starts_s[-1] + sim.frame_durations_s[-1])
            cls.results[name] = (sim, rep, transit_truth(cfg.kinetics, end_s))
            cls.analyses[name] = result

    @parameterized.expand([(name,) for name, _, _ in CASES])
    def test_compartment_curves_give_the_true_output_and_transit(self, name):
        # the kidney's and the blood pool's own noise-free curves (no ROI, no background): the method's error alone
        from scripts.clinical.curves import KidneyCurves
        from scripts.clinical.transit import transit_indices

        sim, _, truth = self.results[name]
        curves, durs = sim.truth["curves"], sim.frame_durations_s
        for side in ("left", "right"):
            k, par = np.asarray(curves[f"{side}_kidney"]) / durs, np.asarray(curves[f"{side}_parenchyma"]) / durs
            out = transit_indices(KidneyCurves(k, par, 0 * k, k, par, k, par, 1, 1, 0),
                                  np.asarray(curves["blood_pool"]) / durs, sim.frame_starts_s, durs)
            for key, delta in (("output_efficiency_20min_percent", 1.5), ("output_efficiency_30min_percent", 1.5),
                               ("mean_transit_time_min", 0.4), ("parenchymal_transit_time_min", 0.4)):
                with self.subTest(side=side, key=key):
                    bound_only = key.endswith("transit_time_min") and (truth[side][key] or 0) > 15  # slow pelvis
                    if truth[side][key] is None or bound_only:
                        self.assertIsNone(out[key])
                    else:
                        self.assertAlmostEqual(out[key], truth[side][key], delta=delta)

    def test_report_flags_normal_and_obstructed_kidneys(self):
        for name in ("normal", "obstructed"):
            sim, rep, truth = self.results[name]
            for side in ("left", "right"):
                k, pathology = rep["kidneys"][side], sim.truth["pathology"][side]
                with self.subTest(study=name, side=side):
                    if pathology == "normal":
                        self.assertEqual((k["flags"]["output_efficiency_20min_percent"],
                                          k["flags"]["mean_transit_time_min"]), ("normal", "normal"))
                        self.assertGreater(k["output_efficiency_20min_percent"], 80.0)
                    else:
                        self.assertLess(truth[side]["output_efficiency_20min_percent"], 20.0)
                        self.assertIsNone(k["mean_transit_time_min"])
                        self.assertEqual((k["flags"]["output_efficiency_20min_percent"],
                                          k["flags"]["mean_transit_time_min"]), ("abnormal", "abnormal"))
                    if name == "obstructed":  # a 20-min study
                        self.assertIsNone(k["output_efficiency_30min_percent"])

    def test_report_png_table_shows_output_efficiency_and_transit_times_with_their_flags(self):
        from matplotlib.axes import Axes

        from scripts.clinical.report import render_report_png

        marks = {"abnormal": "  !", "borderline": "  ?"}
        for name in ("normal", "obstructed"):
            tables = []
            real_table = Axes.table

            def capture(ax, *args, _tables=tables, _table=real_table, **kwargs):
                _tables.append(kwargs.get("cellText"))
                return _table(ax, *args, **kwargs)

            with tempfile.TemporaryDirectory() as tmp, mock.patch.object(Axes, "table", autospec=True,
                                                                          side_effect=capture):
                render_report_png(self.analyses[name], Path(tmp) / "report.png")
            rows = {r[0]: r for r in tables[0]}
            kid = self.results[name][1]["kidneys"]
            for label, key, normal in (("Output efficiency 20 min (%)", "output_efficiency_20min_percent", ">= 73 %"),
                                       ("Mean transit time, whole kidney (min)", "mean_transit_time_min", "< 8.23"),
                                       ("Parenchymal transit time (min)", "parenchymal_transit_time_min", "<= 5 min")):
                for col, side in ((1, "left"), (2, "right")):
                    with self.subTest(study=name, row=label, side=side):
                        k = kid[side]
                        text = (f"{k[key]:.1f}" if k[key] is not None
                                else f"> {k[f'{key}_lower_bound']:.1f}")
                        self.assertEqual(rows[label][col], text + marks.get(k["flags"][key], ""))
                        self.assertTrue(rows[label][3].startswith(normal))
            oe30 = rows["Output efficiency 30 min (%)"]
            if name == "obstructed":  # a 20-min study: the MTT past its range from the bound alone, no OE30
                self.assertEqual(oe30[1:3], ["study too short", "study too short"])
                self.assertTrue(any(rows["Mean transit time, whole kidney (min)"][c].startswith("> ") for c in (1, 2)))
            else:
                self.assertEqual(oe30[1], f"{kid['left']['output_efficiency_30min_percent']:.1f}")


if __name__ == "__main__":
    unittest.main()
