# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Patient motion (:mod:`scripts.clinical.motion`): registration of built shifts, the simulator's motion found and
corrected, motion-free studies left alone, ``report.json``'s ``motion`` entry and ``--no-motion-correction``."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
from parameterized import parameterized
from scipy import ndimage as ndi

from scripts.clinical.analysis import AnalysisSettings, analyse_frames
from scripts.clinical.motion import (
    NOISE_FLOOR_PX,
    WARNING_THRESHOLD_PX,
    MotionEstimate,
    correct_motion,
    estimate_motion,
    measure_shift,
    register_translation,
    registration_units,
    registration_window,
)
from tests.clinical.renal_fixtures import HAVE_SIMULATOR

if HAVE_SIMULATOR:
    from scripts.simulation import sample_study_config, simulate_study, write_study

#: paper136: frames 0-59 are 1 s, 60-135 are 15 s (frame 68 starts at 180 s, after the 60-180 s reference window).
MOTIONS = [
    ("three_frames", [68, 70, 1.2, -0.9]),
    ("one_late_frame", [100, 100, -1.6, 0.3]),
    ("four_frames_sideways", [75, 78, 0.0, 2.0]),
]


def blobs(shape=(64, 64), centres=((30, 18), (32, 46)), sigma=(5.0, 3.0)) -> np.ndarray:
    """Two smooth kidney-like blobs on a faint body."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    img = 5.0 * np.exp(-(((xx - 32) / 20.0) ** 2 + ((yy - 32) / 28.0) ** 2))
    for cy, cx in centres:
        img += 100.0 * np.exp(-(((yy - cy) / sigma[0]) ** 2 + ((xx - cx) / sigma[1]) ** 2) / 2.0)
    return img


def config(pathology: str = "reduced", tracer: str = "MAG3", seed: int = 14, motion=None, protocol="paper136"):
    """A 64x64 study without injection site; ``motion`` ``[first, last, dy, dx]`` set on the same config (same noise
    seed, same patient) when given."""
    cfg = sample_study_config(np.random.default_rng(seed), matrix=64, protocol=protocol, tracer=tracer,
                              pathology=pathology, injection_site=False, motion=False, seed=seed, index=0)
    return cfg if motion is None else dataclasses.replace(cfg, motion=list(motion))


def analyse(sim, settings: AnalysisSettings | None = None):
    meta = {"frame_start_s": sim.frame_starts_s, "frame_duration_s": sim.frame_durations_s,
            "pixel_spacing_mm": list(sim.pixel_spacing_mm), "view": "posterior", "tracer": sim.config.tracer}
    return analyse_frames(sim.frames, meta, sim.parenchyma, settings or AnalysisSettings(label_mode="labels"),
                          "truth")


class TestRegistration(unittest.TestCase):
    @parameterized.expand([((0.7, -1.3),), ((2.0, 0.0),), ((0.0, -0.8),), ((-1.45, 1.6),)])
    def test_built_shift_is_found_to_a_twentieth_of_a_pixel(self, shift):
        ref = blobs()
        moved = ndi.shift(ref, shift, order=3, mode="nearest")
        box, weight = registration_window(ref > 50, 4)
        found = measure_shift(moved, ref, box, weight, 5)
        np.testing.assert_allclose(found, shift, atol=0.05)

    def test_counting_noise_keeps_the_estimate_close(self):
        rng = np.random.default_rng(3)
        ref = blobs() * 0.3  # about 30 counts per kidney pixel, as in a 15-30 s frame
        found = []
        for _ in range(5):
            moved = rng.poisson(ndi.shift(ref, (1.0, -1.0), order=1)).astype(float)
            box, weight = registration_window(ref > 15, 4)
            found.append(measure_shift(moved, 4 * ref, box, weight, 5))
        np.testing.assert_allclose(np.mean(found, axis=0), (1.0, -1.0), atol=0.15)

    def test_no_shift_reads_as_zero(self):
        ref = blobs()
        box, weight = registration_window(ref > 50, 4)
        np.testing.assert_allclose(register_translation(ref[box], ref[box], weight, 5), (0.0, 0.0), atol=1e-6)


class TestUnits(unittest.TestCase):
    def test_first_minute_is_left_out_and_short_frames_are_summed(self):
        durs = np.concatenate([np.full(120, 1.0), np.full(10, 30.0)])
        starts = np.concatenate([[0.0], np.cumsum(durs)[:-1]])
        units = registration_units(starts, durs)
        self.assertEqual(units[0].tolist(), list(range(60, 70)))  # 1-s frames from 60 s: runs of 10 s
        self.assertEqual(len(units), 6 + 10)
        self.assertEqual(units[-1].tolist(), [129])

    def test_no_region_or_too_short_is_a_note_not_an_error(self):
        frames = np.ones((30, 16, 16))
        starts, durs = np.arange(30.0) * 2, np.full(30, 2.0)  # ends at 60 s: nothing registered
        region = np.zeros((16, 16), bool)
        region[4:8, 4:8] = True
        est = estimate_motion(frames, starts, durs, region)
        self.assertIn("fewer than two registration units", est.note)
        self.assertEqual(est.info()["frames_moved"], [])
        self.assertEqual(est.info()["shift_rc_px"], [None] * 30)
        self.assertIn("no kidney ROI", estimate_motion(frames, starts, durs, np.zeros((16, 16), bool)).note)

    def test_message_names_runs_of_frames(self):
        est = MotionEstimate(np.zeros((10, 2)), np.zeros(10, bool), corrected=True)
        est.shifts_px[[2, 3, 4, 7]] = (1.5, 0.0)
        est.moved[[2, 3, 4, 7]] = True
        self.assertTrue(est.warns)
        self.assertIn("frames 2-4, 7 (0-based) moved by up to 1.5 px", est.message())
        self.assertEqual(est.qc_entries(), [{"code": "motion", "side": None, "message": est.message()}])


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestSimulatedMotion(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.still = simulate_study(config())
        cls.still_report = analyse(cls.still).report

    @parameterized.expand(MOTIONS)
    def test_shift_is_found_frames_and_size(self, _, motion):
        report = analyse(simulate_study(config(motion=motion))).report["motion"]
        first, last, dy, dx = motion
        self.assertEqual(report["frames_moved"], list(range(first, last + 1)))
        for t in range(first, last + 1):
            np.testing.assert_allclose(report["shift_rc_px"][t], (dy, dx), atol=0.5)
        self.assertTrue(report["corrected"])
        self.assertEqual(report["warning"], bool(np.hypot(dy, dx) > WARNING_THRESHOLD_PX))
        self.assertTrue(all(s is None for s in report["shift_rc_px"][:60]))  # the first minute is not registered

    def test_warning_above_one_pixel_only(self):
        moved = analyse(simulate_study(config(motion=[80, 81, 0.0, 1.6]))).report
        self.assertTrue(any(w.startswith("patient motion: frames 80-81") for w in moved["warnings"]), moved["warnings"])
        small = analyse(simulate_study(config(motion=[80, 81, 0.0, 0.8]))).report
        self.assertEqual(small["motion"]["frames_moved"], [80, 81])  # above the noise floor: shifted back ...
        self.assertFalse(small["motion"]["warning"])  # ... but below the 1-px warning threshold
        self.assertFalse(any(w.startswith("patient motion") for w in small["warnings"]))
        self.assertGreater(0.8, NOISE_FLOOR_PX)

    def test_correction_restores_drf_and_tmax_of_the_study_without_motion(self):
        # The moved frames (180-240 s) inside the DRF window, so that an uncorrected shift shows in the DRF; compared
        # on the noise-free frames, because the simulator draws the counting noise of every frame after a moved one
        # anew: the noisy studies with and without motion differ by noise alone there (0.4 DRF points here).
        window = AnalysisSettings(label_mode="labels", drf_window_s=(180.0, 240.0))
        moving = simulate_study(config(motion=[68, 71, 0.0, 2.0]))
        still_free = dataclasses.replace(self.still, frames=self.still.expected)
        moving_free = dataclasses.replace(moving, frames=moving.expected)
        still = analyse(still_free, window).report
        fixed = analyse(moving_free, window).report
        raw = analyse(moving_free, dataclasses.replace(window, motion_correction=False)).report
        self.assertEqual(fixed["motion"]["frames_moved"], [68, 69, 70, 71])
        left = [r["drf_percent"]["integral"]["left"] for r in (still, fixed, raw)]
        self.assertLessEqual(abs(left[1] - left[0]), 0.5, left)
        self.assertGreater(abs(left[2] - left[0]), 0.5, left)  # the shift does move the DRF when left alone
        tmax = [[r["kidneys"][s]["tmax_min"] for s in ("left", "right")] for r in (still, fixed, raw)]
        np.testing.assert_allclose(tmax[1], tmax[0], atol=0.25, err_msg=str(tmax))
        self.assertGreater(np.max(np.abs(np.subtract(tmax[2], tmax[0]))), 0.25, tmax)  # and Tmax
        # the noisy study, default DRF window (60-120 s, before the motion): the correction changes nothing there
        noisy = [analyse(s).report["drf_percent"]["integral"]["left"] for s in (self.still, moving)]
        self.assertLessEqual(abs(noisy[1] - noisy[0]), 0.5, noisy)

    @parameterized.expand([
        ("normal", "normal", "MAG3", 21), ("hydronephrosis", "hydronephrosis", "MAG3", 22),
        ("obstructed_dtpa", "obstructed", "DTPA", 23), ("reduced", "reduced", "MAG3", 14),
    ])
    def test_motion_free_study_has_no_motion_and_unchanged_curves(self, _, pathology, tracer, seed):
        sim = self.still if seed == 14 else simulate_study(config(pathology, tracer, seed))
        result = analyse(sim)
        self.assertEqual(result.report["motion"]["frames_moved"], [])
        self.assertFalse(result.report["motion"]["warning"])
        self.assertFalse(any(w.startswith("patient motion") for w in result.report["warnings"]))
        self.assertLess(result.report["motion"]["max_shift_px"], NOISE_FLOOR_PX)
        off = analyse(sim, AnalysisSettings(label_mode="labels", motion_correction=False))
        for name, curve in result.curves.items():
            np.testing.assert_array_equal(curve, off.curves[name], err_msg=name)

    def test_correct_motion_leaves_a_still_study_as_is(self):
        est = estimate_motion(self.still.frames, self.still.frame_starts_s, self.still.frame_durations_s,
                              self.still.parenchyma > 0, self.still.pixel_spacing_mm[0])
        self.assertIs(correct_motion(self.still.frames, est), self.still.frames)
        self.assertFalse(est.corrected)


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestMotionReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        from scripts.renal_function import main

        cls.tmp = Path(tempfile.mkdtemp(prefix="motion_report_"))
        cls.study = write_study(simulate_study(config(motion=[70, 72, -1.5, 0.5])), cls.tmp, "moved")
        cls.runs = {}
        for name, extra in (("on", []), ("off", ["--no-motion-correction"])):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main([str(cls.study / "study.dcm"), "--out", str(cls.tmp / name), "--mask",
                           str(cls.study / "parenchyma.png"), *extra])
            cls.runs[name] = (rc, err.getvalue())

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def report(self, name: str) -> dict:
        rc, err = self.runs[name]
        self.assertEqual(rc, 0, err)
        return json.loads((self.tmp / name / "report.json").read_text(encoding="utf-8"))

    def test_report_json_motion_fields(self):
        rep = self.report("on")
        motion = rep["motion"]
        self.assertEqual(set(motion), {"shift_rc_px", "frames_moved", "max_shift_px", "corrected", "threshold_px",
                                       "noise_floor_px", "reference_window_s", "registered_from_s", "warning",
                                       "note", "residual_shift_rc_px", "max_residual_shift_px",
                                       "residual_threshold_px", "frames_residual", "frames_in_reference",
                                       "frames_outside_fov", "qc_warning"})
        self.assertEqual(len(motion["shift_rc_px"]), rep["study"]["n_frames"])
        self.assertEqual(motion["frames_moved"], [70, 71, 72])
        self.assertAlmostEqual(motion["max_shift_px"], float(np.hypot(1.5, 0.5)), delta=0.5)
        self.assertEqual((motion["corrected"], motion["warning"], motion["threshold_px"]), (True, True, 1.0))
        self.assertEqual(motion["reference_window_s"], [60.0, 180.0])
        self.assertTrue(rep["settings"]["motion_correction"])
        self.assertTrue(any(w.startswith("patient motion: frames 70-72") and "shifted back" in w
                            for w in rep["warnings"]))

    def test_no_motion_correction_reports_but_keeps_the_frames(self):
        on, off = self.report("on"), self.report("off")
        self.assertFalse(off["settings"]["motion_correction"])
        self.assertFalse(off["motion"]["corrected"])
        self.assertEqual(off["motion"]["frames_moved"], on["motion"]["frames_moved"])
        self.assertTrue(any("not corrected" in w for w in off["warnings"] if w.startswith("patient motion")))
        rows = {}
        for name in ("on", "off"):
            with open(self.tmp / name / "curves.csv", newline="") as fh:
                rows[name] = list(csv.DictReader(fh))
        key = "left_kidney_raw_cps"
        self.assertEqual(rows["on"][60][key], rows["off"][60][key])  # before the motion: the same frames
        self.assertNotEqual(rows["on"][71][key], rows["off"][71][key])  # a moved frame: shifted back only "on"


if __name__ == "__main__":
    unittest.main()
