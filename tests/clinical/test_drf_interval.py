# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The DRF's 95 % interval (:mod:`scripts.clinical.drf_interval`): the truth inside on a small fixed set of simulated
studies, perturbations that must widen it, ``report.json``'s fields and ``report.png``'s table, the
``low_model_confidence`` QC code, the probability map of the in-process segmenter, and the validation's columns."""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
from parameterized import parameterized
from scipy import ndimage as ndi

from scripts.clinical.analysis import AnalysisSettings, analyse_frames
from scripts.clinical.drf_combined import LOW_CONFIDENCE_WIDTH, CombinedDRF, confidence_qc
from scripts.clinical.drf_interval import (
    INTERVAL_METHODS,
    drf_of_mask,
    drf_text,
    fit_calibration,
)
from scripts.clinical.interval_validation import interval_markdown_table, interval_row, interval_summary
from scripts.clinical.kidney_indices import finite_number
from scripts.clinical.report import write_report
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, make_tiny_bundle, simulate

if HAVE_SIMULATOR:
    from scripts.simulation import sample_study_config, simulate_study


def simulated(pathology: str = "normal", seed: int = 5, protocol: str = "quick39"):
    """A 64x64 study of a child of about 10 years, no injection site, no motion."""
    cfg = sample_study_config(np.random.default_rng(seed), matrix=64, protocol=protocol, tracer="MAG3",
                              pathology=pathology, age_range=(9.9, 10.1), injection_site=False, motion=False,
                              seed=seed, index=0)
    return simulate_study(cfg)


def meta_of(sim) -> dict:
    return {"frame_start_s": sim.frame_starts_s, "frame_duration_s": sim.frame_durations_s,
            "pixel_spacing_mm": list(sim.pixel_spacing_mm), "view": "posterior", "tracer": sim.config.tracer,
            "patient_age_years": sim.config.age_years, "filename_or_obj": "sim"}


def analyse(sim, frames=None, mask=None, probability=None):
    return analyse_frames(sim.frames if frames is None else frames, meta_of(sim),
                          sim.parenchyma if mask is None else mask, AnalysisSettings(label_mode="labels"), "truth",
                          probability=probability)


def width(result, method: str = "integral") -> float:
    ci = result.report["drf_percent"][method]["left_ci95"]
    return ci[1] - ci[0]


#: the small fixed set: (pathology, seed, protocol), true masks.
FIXED_SET = [("normal", 5, "quick39"), ("normal", 11, "real58"), ("reduced", 7, "quick39"),
             ("scarred", 8, "real58"), ("hydronephrosis", 9, "quick39"), ("dilated", 12, "quick39"),
             ("obstructed", 13, "quick39"), ("extrarenal_pelvis", 14, "real58"), ("normal", 15, "quick39"),
             ("hydronephrosis", 16, "real58")]
#: of the fixed set's 10 studies, at least this many must hold the true DRF in each method's interval: a 95 %
#: interval misses more than 2 of 10 with probability 1.2 % (binomial); the coverage itself is measured by
#: ``scripts.validate_renal_function`` on hundreds of studies (README, clinical report).
FIXED_SET_MIN_COVERED = 8


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestIntervalOnSimulatedStudies(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="drf_interval_"))
        cls.normal = simulated("normal")
        cls.result = analyse(cls.normal)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_truth_inside_the_interval_on_the_fixed_set(self):
        covered = dict.fromkeys((*INTERVAL_METHODS, "combined"), 0)
        for pathology, seed, protocol in FIXED_SET:
            sim = simulated(pathology, seed, protocol)
            rep = analyse(sim).report
            truth = sim.truth["drf_left_percent"]
            for m in covered:
                lo, hi = rep["drf_percent"][m]["left_ci95"]
                self.assertLessEqual(lo, rep["drf_percent"][m]["left"], m)
                self.assertGreaterEqual(hi, rep["drf_percent"][m]["left"], m)
                covered[m] += int(lo <= truth <= hi)
        for m, n in covered.items():
            self.assertGreaterEqual(n, FIXED_SET_MIN_COVERED, f"{m}: {covered}")

    def test_interval_is_centred_on_the_reports_drf(self):
        # drf_of_mask repeats the analysis' steps 1-3: on the report's own ROIs it gives the report's DRF
        st = AnalysisSettings(label_mode="labels")
        sim = self.normal
        again = drf_of_mask(sim.frames.astype(float), sim.frame_starts_s, sim.frame_durations_s, sim.parenchyma, st,
                            float(sim.pixel_spacing_mm[0]), "posterior")
        for m in INTERVAL_METHODS:
            self.assertEqual(again.drf[m]["left"], self.result.report["drf_percent"][m]["left"])

    def test_fewer_counts_widen_the_noise_term(self):
        rng = np.random.default_rng(0)
        thinned = rng.binomial(self.normal.frames.astype(np.int64), 0.1).astype(float)  # a tenth of the dose
        low = analyse(self.normal, thinned).report["drf_interval"]["sigma_points"]
        high = self.result.report["drf_interval"]["sigma_points"]
        for m in INTERVAL_METHODS:
            self.assertGreater(low[m]["noise"], 2.0 * high[m]["noise"], m)

    def test_more_background_widens_the_interval(self):
        # a flat tissue background of 1.5 times the kidneys' own level: the DRF hangs on the background estimate
        sim = self.normal
        level = 1.5 * float(sim.frames[:, sim.parenchyma > 0].mean())
        rng = np.random.default_rng(1)
        body = sim.frames.sum(axis=0) > 0
        frames = sim.frames + rng.poisson(level, sim.frames.shape) * body
        hot = analyse(sim, frames)
        # (the integral: a flat background adds to every frame alike, which the Patlak line's intercept mostly takes)
        self.assertGreater(width(hot), width(self.result) + 1.0)
        self.assertGreater(hot.report["drf_interval"]["sigma_points"]["integral"]["bg"],
                           2.0 * self.result.report["drf_interval"]["sigma_points"]["integral"]["bg"])

    def test_an_uncertain_probability_map_widens_the_segmentation_term(self):
        sim = self.normal
        mask = sim.parenchyma
        sharp = np.where(mask > 0, 0.99, 0.01)
        # the same mask (> 0.5) where the network hesitated over a band 2 px around the kidneys
        dist_out = ndi.distance_transform_edt(mask == 0)
        unsure = np.where(mask > 0, 0.99, np.where(dist_out <= 2, 0.4 - 0.1 * dist_out, 0.01))
        unsure_left = np.where((np.arange(64)[None, :] < 32), unsure, sharp)  # only around the left kidney
        a = analyse(sim, mask=mask, probability=sharp).report["drf_interval"]
        b = analyse(sim, mask=mask, probability=unsure_left).report["drf_interval"]
        self.assertEqual(a["segmentation_source"], "probability")
        self.assertLess(a["sigma_points"]["integral"]["seg_probability"], 0.05)
        self.assertGreater(b["sigma_points"]["integral"]["seg_probability"], 0.5)
        # the calibrated boundary term stays: the in-process interval is never narrower than the mask-only one
        self.assertEqual(a["sigma_points"]["integral"]["seg"], self.result.report["drf_interval"]["sigma_points"][
            "integral"]["seg"])
        self.assertGreaterEqual(width(analyse(sim, mask=mask, probability=unsure_left)), width(self.result))

    def test_a_mask_alone_moves_its_boundary(self):
        info = self.result.report["drf_interval"]
        self.assertEqual(info["segmentation_source"], "mask_boundary")
        self.assertGreater(info["sigma_points"]["integral"]["seg"], 0.0)
        self.assertIsNone(info["sigma_points"]["integral"]["seg_probability"])

    def test_report_json_fields_and_png_table(self):
        from matplotlib.axes import Axes

        tables = []
        real_table = Axes.table

        def capture(ax, *args, **kwargs):
            tables.append(kwargs.get("cellText"))
            return real_table(ax, *args, **kwargs)

        with mock.patch.object(Axes, "table", autospec=True, side_effect=capture):
            write_report(self.result, self.tmp / "normal")
        rep = json.loads((self.tmp / "normal" / "report.json").read_text())
        for m in INTERVAL_METHODS:
            entry = rep["drf_percent"][m]
            for side in ("left", "right"):
                lo, hi = entry[f"{side}_ci95"]
                self.assertLessEqual(lo, entry[side])
                self.assertLessEqual(entry[side], hi)
            self.assertAlmostEqual(entry["left_ci95"][0], 100 - entry["right_ci95"][1], places=6)
        self.assertEqual(set(rep["drf_interval"]), {"level", "segmentation_source", "sigma_points", "calibration",
                                                    "note"})
        self.assertEqual(rep["drf_percent"]["parenchyma_integral"].keys(), {"left", "right"})
        row = next(r for r in tables[0] if r[0].startswith("Split function, integral"))
        self.assertEqual(row[1].rstrip(" !?"), drf_text(rep["drf_percent"]["integral"], "left"))
        self.assertRegex(row[1], r"^\d+\.\d \(\d+\.\d-\d+\.\d\)")

    def test_one_kidney_found_has_the_degenerate_interval(self):
        mask = np.where(self.normal.parenchyma == 2, 0, self.normal.parenchyma)
        rep = analyse(self.normal, mask=mask).report
        self.assertEqual(rep["drf_percent"]["integral"]["left_ci95"], [100.0, 100.0])
        self.assertEqual(rep["drf_percent"]["integral"]["right_ci95"], [0.0, 0.0])
        self.assertIn("one kidney", rep["drf_interval"]["note"])
        self.assertEqual(drf_text(rep["drf_percent"]["integral"], "left"), "100.0")

    def test_low_model_confidence_fired_and_not_fired(self):
        codes = [q["code"] for q in self.result.report["qc"]]
        self.assertNotIn("low_model_confidence", codes)
        self.assertLessEqual(width(self.result, "combined"), LOW_CONFIDENCE_WIDTH)
        # a tissue background forty times the kidneys' level (KTBR near 1): the DRF hangs on the background (at ten
        # times, Patlak's intercept takes most of a flat background and the DRF of record's interval is 11 points)
        sim = self.normal
        level = float(sim.frames[:, sim.parenchyma > 0].mean())
        rng = np.random.default_rng(2)
        body = sim.frames.sum(axis=0) > 0
        frames = sim.frames + rng.poisson(40.0 * level, sim.frames.shape) * body
        hot = analyse(sim, frames)
        self.assertGreater(width(hot, "combined"), LOW_CONFIDENCE_WIDTH)
        self.assertIn(("low_model_confidence", None), [(q["code"], q["side"]) for q in hot.report["qc"]])


class TestConfidenceQC(unittest.TestCase):
    @parameterized.expand([(10.0, False), (LOW_CONFIDENCE_WIDTH, False), (LOW_CONFIDENCE_WIDTH + 0.5, True)])
    def test_limit(self, w, fires):
        qc = confidence_qc(CombinedDRF(45.0, 55.0, [40.0, 40.0 + w], [60.0 - w, 60.0]))
        self.assertEqual(bool(qc), fires)
        if fires:
            self.assertEqual(qc[0]["code"], "low_model_confidence")
            self.assertIn(f"{LOW_CONFIDENCE_WIDTH:g}", qc[0]["message"])

    def test_one_kidney_and_no_interval(self):
        self.assertEqual(confidence_qc(CombinedDRF(100.0, 0.0, [100.0, 100.0], [0.0, 0.0])), [])
        self.assertEqual(confidence_qc(CombinedDRF(None, None, None, None)), [])
        # the network's map shows the other kidney at a lower threshold: the interval reaches that mask's DRF
        self.assertEqual(len(confidence_qc(CombinedDRF(100.0, 0.0, [70.0, 100.0], [0.0, 30.0]))), 1)


class TestIntervalValidation(unittest.TestCase):
    @staticmethod
    def report(ci, found=("left", "right")):
        return {"drf_percent": {m: {"left": 50.0, "left_ci95": ci} for m in INTERVAL_METHODS},
                "drf_interval": {"sigma_points": {m: {"noise": 0.5, "seg": 1.0, "bg": 2.0, "variants": 0.5}
                                                  for m in INTERVAL_METHODS}},
                "kidneys": {s: {"found": s in found} for s in ("left", "right")}}

    def test_row_summary_and_table(self):
        rows = []
        for truth, ci, path in ((48.0, [45.0, 55.0], "normal"), (30.0, [45.0, 55.0], "hydronephrosis"),
                                (52.0, [47.0, 53.0], "normal")):
            row = {"pathology_left": "normal", "pathology_right": path, "error": ""}
            row.update(interval_row(self.report(ci), truth))
            rows.append(row)
        self.assertEqual(rows[0]["ci_integral_covered"], 1)
        self.assertEqual(rows[1]["ci_integral_covered"], 0)
        self.assertEqual(rows[0]["ci_integral_bg"], 2.0)
        s = interval_summary(rows)
        self.assertEqual(s["integral"]["all"], {"covered": 2, "studies": 3, "coverage": 0.6667, "median_width": 10.0})
        self.assertEqual(s["integral"]["normal"]["median_width"], 8.0)
        table = interval_markdown_table({"model": s})
        self.assertIn("| model | hydronephrosis | 0 / 1 (0 %) | 10.0 |", table)

    def test_fit_reaches_the_target_with_the_narrowest_intervals(self):
        rng = np.random.default_rng(3)
        rows = []
        for _ in range(200):  # errors of sd 2 * bg: the fit must find intervals about as narrow as that law's
            bg = float(rng.uniform(0.5, 3.0))
            row = {}
            for m in INTERVAL_METHODS:
                row.update({f"drf_error_{m}": float(rng.normal(0, 2.0 * bg)), f"ci_{m}_bg": bg, f"ci_{m}_noise": 0.0,
                            f"ci_{m}_seg": 0.0, f"ci_{m}_variants": 0.0})
            rows.append(row)
        fit = fit_calibration(rows)
        oracle = 2 * 1.96 * 2.0 * float(np.median([r["ci_integral_bg"] for r in rows]))  # the true law's width
        for m in INTERVAL_METHODS:
            self.assertGreaterEqual(fit[m]["coverage"], 0.95)
            self.assertLess(fit[m]["median_width"], 1.15 * oracle, fit)
            self.assertGreater(fit[m]["c_bg"], 1.0, fit)


class TestFiniteNumber(unittest.TestCase):
    @parameterized.expand([(1.5, True), ("2.25", True), (0, True), (None, False), ("", False), ("nan", False),
                           (float("inf"), False), ("abc", False), ([1.0], False)])
    def test_csv_cells_and_json_values(self, value, expected):
        self.assertIs(finite_number(value), expected)

    def test_a_fit_skips_empty_cells(self):
        rows = [{f"drf_error_{m}": e, f"ci_{m}_bg": 1.0, f"ci_{m}_noise": "", f"ci_{m}_seg": "nan",
                 f"ci_{m}_variants": ""} for e in (0.5, -1.0, 1.5, "") for m in INTERVAL_METHODS]
        fit = fit_calibration(rows)
        self.assertEqual({fit[m]["n"] for m in INTERVAL_METHODS}, {3})


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestSegmenterProbability(unittest.TestCase):
    def test_probability_behind_the_same_mask(self):
        from scripts.clinical.segment import BundleSegmenter
        from scripts.clinical.study import load_study

        tmp = Path(tempfile.mkdtemp(prefix="drf_interval_seg_"))
        self.addCleanup(shutil.rmtree, tmp, True)
        seg = BundleSegmenter(make_tiny_bundle(tmp / "bundle"))
        study = load_study(simulate(tmp, "s") / "study.dcm", seg.chain)
        mask = seg(study)
        again, prob = seg.segment_with_probability(study)
        np.testing.assert_array_equal(again, mask)
        self.assertEqual(prob.shape, mask.shape)
        self.assertEqual(prob.dtype, np.float32)
        np.testing.assert_array_equal(prob >= 0.5, mask > 0)  # AsDiscreted: >= threshold
        self.assertTrue(0.0 <= prob.min() and prob.max() <= 1.0)
        # the command's in-process path hands the probability to the interval
        from scripts.clinical.reporter import StudyReporter

        report = StudyReporter(bundle_dir=tmp / "bundle").report(tmp / "s" / "study.dcm").report
        self.assertEqual(report["drf_interval"]["segmentation_source"], "probability")


if __name__ == "__main__":
    unittest.main()
