# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The QC codes that must mean something: ``motion`` (left after the correction) and ``drf_method_disagreement``."""

from __future__ import annotations

import dataclasses
import unittest

import numpy as np
from parameterized import parameterized
from scipy import ndimage as ndi

from scripts.clinical.analysis import AnalysisSettings
from scripts.clinical.drf_agreement import DRF_DISAGREEMENT_LIMIT_PP, drf_agreement_qc, drf_disagreement_pp
from scripts.clinical.motion import MotionEstimate, correct_motion, estimate_motion
from scripts.clinical.motion_qc import (
    RESIDUAL_THRESHOLD_PX,
    MotionQC,
    motion_qc,
    outside_fov_frames,
    reference_window_frames,
)
from scripts.clinical.qc import QC_CODES
from tests.clinical.renal_fixtures import HAVE_SIMULATOR
from tests.clinical.test_motion import analyse, blobs, config

if HAVE_SIMULATOR:
    from scripts.simulation import simulate_study


def still_series(image: np.ndarray, moves: dict[int, tuple[float, float]] | None = None):
    """Noise-free frames of a still image: 60 x 1 s then 20 x 15 s (counts = image x duration); ``moves`` frame ->
    ``(dy, dx)`` shifts those frames (``frame(x) = image(x - shift)``)."""
    durs = np.concatenate([np.full(60, 1.0), np.full(20, 15.0)])
    starts = np.concatenate([[0.0], np.cumsum(durs)[:-1]])
    frames = np.stack([image * d for d in durs])
    for t, shift in (moves or {}).items():
        frames[t] = ndi.shift(image, shift, order=3, mode="constant") * durs[t]
    return np.clip(frames, 0, None), starts, durs


def drf(integral_left, patlak_left):
    def pair(v):
        return {"left": v, "right": None if v is None else 100.0 - v}

    return {"integral": pair(integral_left), "patlak": pair(patlak_left), "parenchyma_integral": pair(integral_left)}


class TestDrfAgreement(unittest.TestCase):
    @parameterized.expand([
        ("far_apart", 35.0, 48.0, True),
        ("just_above", 40.0, 40.0 + DRF_DISAGREEMENT_LIMIT_PP + 0.1, True),
        ("within_reproducibility", 45.0, 50.0, False),
        ("at_the_limit", 40.0, 40.0 + DRF_DISAGREEMENT_LIMIT_PP, False),
        ("one_kidney", 100.0, 100.0, False),
        ("patlak_missing", 40.0, None, False),
    ])
    def test_code_only_beyond_the_limit(self, _, integral, patlak, flagged):
        found = drf_agreement_qc(drf(integral, patlak))
        self.assertEqual([q.code for q in found], ["drf_method_disagreement"] if flagged else [])
        if flagged:
            self.assertIsNone(found[0].side)
            self.assertIn(f"{abs(integral - patlak):.1f} points apart", found[0].message)
            self.assertIn("do not report the DRF", found[0].message)

    def test_difference_and_the_code_table(self):
        self.assertAlmostEqual(drf_disagreement_pp(drf(30.0, 41.5)), 11.5)
        self.assertTrue(np.isnan(drf_disagreement_pp(drf(None, 41.5))))
        self.assertIn("drf_method_disagreement", QC_CODES)
        self.assertEqual(DRF_DISAGREEMENT_LIMIT_PP, 7.0)  # sqrt(2) x the 5-point reproducibility (module docstring)


class TestMotionQCParts(unittest.TestCase):
    def test_residual_above_the_threshold_only(self):
        residual = np.full((10, 2), np.nan)
        residual[5:] = 0.2
        residual[7] = (0.9, 0.9)  # 1.27 px
        qc = MotionQC(residual, frame_mid_s=np.arange(10) * 60.0 + 30.0)
        self.assertEqual(qc.frames_residual, [7])
        self.assertTrue(qc.warns)
        self.assertIn("frame 7 (0-based): still off by up to 1.3 px after the motion correction", qc.message())
        self.assertEqual(qc.qc_entries(), [{"code": "motion", "side": None, "message": qc.message()}])
        self.assertEqual(qc.info()["residual_shift_rc_px"][7], [0.9, 0.9])
        self.assertIsNone(qc.info()["residual_shift_rc_px"][0])
        residual[7] = (0.5, 0.5)
        self.assertFalse(MotionQC(residual).warns)
        self.assertEqual(MotionQC(residual).qc_entries(), [])
        self.assertEqual(RESIDUAL_THRESHOLD_PX, 1.0)

    def test_message_names_the_drf_when_a_frame_of_its_window_is_left(self):
        residual = np.zeros((4, 2))
        residual[1] = (2.0, 0.0)
        mids = np.array([30.0, 90.0, 150.0, 210.0])
        self.assertIn("the DRF and every curve index", MotionQC(residual, frame_mid_s=mids).message())
        residual[1], residual[3] = 0.0, (2.0, 0.0)
        self.assertIn("Tmax, T1/2", MotionQC(residual, frame_mid_s=mids).message())

    def test_counts_moved_out_of_the_field_of_view(self):
        image = blobs(centres=((56, 18), (32, 46)))  # the left blob near the bottom edge
        region = image > 20
        est = MotionEstimate(np.zeros((3, 2)), np.array([False, True, True]))
        est.shifts_px[1] = (4.0, 0.0)  # moved down: its lower rows left the matrix
        est.shifts_px[2] = (-4.0, 0.0)  # moved up: still inside
        self.assertEqual(outside_fov_frames(np.ones((3, 64, 64)), est, region), [1])
        window = np.ones((3, 64, 64))
        window[:, :, :12] = 0  # a detector window that ends at column 12: moving left takes its edge in
        est.shifts_px[2] = (0.0, -10.0)
        self.assertEqual(outside_fov_frames(window, est, region), [1, 2])
        est.moved[:] = False
        self.assertEqual(outside_fov_frames(window, est, region), [])

    def test_motion_in_the_frames_the_rois_were_drawn_on(self):
        # frames 62-63 (90-120 s) lie in the 60-180 s reference window: flagged even though they are shifted back
        image = blobs()
        frames, starts, durs = still_series(image, {62: (0.0, 2.5), 63: (0.0, 2.5)})
        est = estimate_motion(frames, starts, durs, image > 20, spacing_mm=4.0)
        qc = motion_qc(frames, correct_motion(frames, est), starts, durs, image > 20, image > 20, est, spacing_mm=4.0)
        self.assertEqual(qc.in_reference, [62, 63])
        self.assertTrue(qc.warns)
        self.assertIn("the frames the ROIs were drawn on (frames 62-63, 0-based, 60-180 s)", qc.message())
        self.assertEqual(qc.info()["frames_in_reference"], [62, 63])
        np.testing.assert_array_equal(reference_window_frames(est, starts, durs, threshold_px=5.0), [])

    def test_a_corrected_shift_is_not_flagged(self):
        image = blobs()
        frames, starts, durs = still_series(image, {70: (1.5, -1.0), 71: (1.5, -1.0)})  # 210-240 s: after the window
        est = estimate_motion(frames, starts, durs, image > 20, spacing_mm=4.0)
        self.assertTrue(est.warns)  # above the 1-px warning of the motion module ...
        used = correct_motion(frames, est)
        qc = motion_qc(frames, used, starts, durs, image > 20, image > 20, est, spacing_mm=4.0)
        self.assertLess(qc.max_residual_px, 0.5)  # ... but brought back
        self.assertFalse(qc.warns)
        self.assertEqual((qc.frames_residual, qc.in_reference, qc.outside_fov), ([], [], []))
        # the same frames left as they are: every measured shift is residual
        off = motion_qc(frames, frames, starts, durs, image > 20, image > 20, estimate_motion(
            frames, starts, durs, image > 20, spacing_mm=4.0), spacing_mm=4.0)
        self.assertEqual(off.frames_residual, [70, 71])
        self.assertIn("not corrected (motion correction off)", off.message())


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestQCOnSimulatedStudies(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.still = simulate_study(config("normal", seed=21))
        cls.moving = simulate_study(config("normal", seed=21, motion=[70, 72, -1.5, 1.0]))

    def codes(self, report) -> list[str]:
        return [q["code"] for q in report["qc"]]

    def test_corrected_motion_is_reported_but_not_a_qc_code(self):
        report = analyse(self.moving).report
        self.assertEqual(report["motion"]["frames_moved"], [70, 71, 72])
        self.assertTrue(report["motion"]["warning"])  # the measured shift is above 1 px: said in warnings ...
        self.assertTrue(any(w.startswith("patient motion: frames 70-72") for w in report["warnings"]))
        self.assertNotIn("motion", self.codes(report))  # ... but the correction undid it
        self.assertFalse(report["motion"]["qc_warning"])
        self.assertLess(report["motion"]["max_residual_shift_px"], RESIDUAL_THRESHOLD_PX)
        self.assertEqual(len(report["motion"]["residual_shift_rc_px"]), report["study"]["n_frames"])
        self.assertEqual(len(report["motion"]["shift_rc_px"]), report["study"]["n_frames"])  # kept per frame

    def test_motion_during_minutes_1_to_3_is_a_qc_code(self):
        # paper136: frames 60-67 are the 15-s frames of 60-180 s, where the mask was drawn (the simulator's own motion
        # starts at 3 min; set by hand here)
        moved = dataclasses.replace(self.moving.config, motion=[66, 67, 0.0, 2.0])
        report = analyse(simulate_study(moved)).report
        self.assertIn("motion", self.codes(report))
        self.assertEqual(report["motion"]["frames_in_reference"], [66, 67])
        message = next(q["message"] for q in report["qc"] if q["code"] == "motion")
        self.assertIn("the DRF and every curve index may be wrong", message)

    def test_motion_left_uncorrected_is_a_qc_code(self):
        report = analyse(self.moving, AnalysisSettings(label_mode="labels", motion_correction=False)).report
        self.assertIn("motion", self.codes(report))
        self.assertEqual(report["motion"]["frames_residual"], [70, 71, 72])
        self.assertTrue(report["motion"]["qc_warning"])

    def test_still_study_has_neither_code(self):
        report = analyse(self.still).report
        self.assertFalse({"motion", "drf_method_disagreement"} & set(self.codes(report)), report["qc"])
        self.assertEqual(report["motion"]["frames_residual"], [])
        self.assertLess(report["motion"]["max_residual_shift_px"], RESIDUAL_THRESHOLD_PX)

    def test_vascular_activity_in_one_kidney_splits_the_methods(self):
        # Blood-pool activity added to the left kidney ROI (a vascular fraction the 1-2 min integral counts as
        # uptake and Patlak-Rutland takes out as its intercept): the two methods part by more than the limit.
        base = analyse(self.still)
        left = base.rois.kidney["left"]
        blood = base.curves["blood_pool_cps_per_px"]
        durs = np.asarray(self.still.frame_durations_s, float)
        frames = self.still.frames.astype(float) + (3.0 * blood * durs)[:, None, None] * left[None]
        report = analyse(dataclasses.replace(self.still, frames=frames)).report
        li, pa = report["drf_percent"]["integral"]["left"], report["drf_percent"]["patlak"]["left"]
        self.assertGreater(abs(li - pa), DRF_DISAGREEMENT_LIMIT_PP, (li, pa))
        self.assertIn("drf_method_disagreement", self.codes(report))
        self.assertNotIn("drf_method_disagreement", self.codes(base.report))


if __name__ == "__main__":
    unittest.main()
