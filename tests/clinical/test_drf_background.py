# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The split function's background ROI: the lateral crescent by default, so hot structures medial to a kidney (the
aorta and vena cava, the liver's medial lobe, the spine's tissue) are not subtracted as its background."""

from __future__ import annotations

import unittest

import numpy as np
from parameterized import parameterized

from scripts.clinical.analysis import AnalysisSettings, analyse_frames
from scripts.clinical.rois import BACKGROUND_METHODS, DEFAULT_BACKGROUND, background_ring, build_rois
from tests.clinical.renal_fixtures import HAVE_SIMULATOR

if HAVE_SIMULATOR:
    from scripts.simulation import sample_study_config, simulate_study

#: the built study's true left share of the uptake (%).
BUILT_DRF_LEFT = 40.0
#: simulated cases (64x64, real58, tissue x 2 and liver/spleen x 2.5 as in the clinical mix's upper range, no motion):
#: name -> (seed, pathology, tracer). "hydronephrosis": a hydronephrotic left kidney of low function whose full ring
#: holds more than the tissue behind it; "normal": two normal kidneys, either background gives the DRF.
SIM_CASES = {
    "hydronephrosis": (2, ("hydronephrosis", "normal"), "DTPA"),
    "normal": (3, "normal", "MAG3"),
}


def built_study(hot_band: bool) -> tuple[np.ndarray, dict, np.ndarray]:
    """Noise-free 64x64 frames (20 x 10 s): uniform tissue 1 count/px/s, two 20x10-px kidneys whose uptake rises
    linearly (left 40 %, right 60 % of it; kidney-to-background about 1.1 at 90 s, the range where the true-mask
    DRF errors were), and, with ``hot_band``, a vessel-like band 0.5 count/px/s hotter 2-3 px medial to the right
    kidney, inside its full perirenal ring but not its lateral crescent."""
    durs = np.full(20, 10.0)
    starts = np.arange(20) * 10.0
    mask = np.zeros((64, 64), np.uint8)
    mask[22:42, 10:20] = 1  # patient left = image left (posterior view)
    mask[22:42, 44:54] = 2
    tissue = np.ones((64, 64))
    if hot_band:
        tissue[18:46, 40:42] += 0.5
    mid = starts + durs / 2.0
    frames = []
    for t, d in zip(mid, durs, strict=True):
        rate = tissue.copy()
        for value, share in ((1, BUILT_DRF_LEFT / 100.0), (2, 1.0 - BUILT_DRF_LEFT / 100.0)):
            rate[mask == value] += share * 1e-3 * t * 2.0  # uptake per pixel rising with time
        frames.append(rate * d)
    meta = {"frame_start_s": starts, "frame_duration_s": durs, "pixel_spacing_mm": [4.0, 4.0], "view": "posterior",
            "tracer": "MAG3"}
    return np.stack(frames), meta, mask


def left_integral_drf(frames, meta, mask, background: str | None = None, mask_kind: str = "kidney") -> float:
    kw = {} if background is None else {"background": background}
    settings = AnalysisSettings(label_mode="labels", mask_kind=mask_kind, motion_correction=False, **kw)
    return analyse_frames(frames, meta, mask, settings, "built").report["drf_percent"]["integral"]["left"]


class TestDefaultBackground(unittest.TestCase):
    def test_default_is_the_lateral_crescent(self):
        self.assertEqual(DEFAULT_BACKGROUND, "crescent")
        self.assertIn(DEFAULT_BACKGROUND, BACKGROUND_METHODS)
        self.assertEqual(AnalysisSettings().background, "crescent")
        frames, meta, mask = built_study(hot_band=False)
        rep = analyse_frames(frames, meta, mask, AnalysisSettings(label_mode="labels"), "built").report
        self.assertEqual(rep["settings"]["background"], "crescent")


class TestBuiltStudy(unittest.TestCase):
    @parameterized.expand([
        ("hot_band_default", True, None),
        ("clean_default", False, None),
        ("clean_perirenal", False, "perirenal"),
        ("clean_crescent", False, "crescent"),
    ])
    def test_drf_right(self, _, hot_band, background):
        frames, meta, mask = built_study(hot_band)
        self.assertAlmostEqual(left_integral_drf(frames, meta, mask, background), BUILT_DRF_LEFT, delta=0.5)

    def test_full_ring_over_subtracts_the_hot_band(self):
        """The old default: the band in the right kidney's ring is subtracted from all of its pixels."""
        frames, meta, mask = built_study(hot_band=True)
        self.assertGreater(left_integral_drf(frames, meta, mask, "perirenal") - BUILT_DRF_LEFT, 10.0)


class TestCrescentAtTheEdge(unittest.TestCase):
    @parameterized.expand([("at_the_edge", 0, True), ("inside", 10, False)])
    def test_cut_crescent_falls_back_to_the_full_ring(self, _, col, falls_back):
        frames, meta, mask = built_study(hot_band=False)
        mask[mask == 1] = 0
        mask[22:42, col:col + 6] = 1  # the left kidney at the image's lateral edge, or well inside
        starts, durs = meta["frame_start_s"], meta["frame_duration_s"]
        rois = build_rois(mask, frames, starts, durs, mask_kind="kidney", label_mode="labels")
        full = background_ring(rois.kidney["left"], exclude=None)
        cut = [w for w in rois.warnings if "lateral background crescent" in w]
        self.assertEqual(len(cut), int(falls_back))
        if falls_back:
            self.assertIn("left kidney", cut[0])
            self.assertTrue((rois.background["left"] <= full).all())
            self.assertGreater(int(rois.background["left"].sum()), int((full & (np.arange(64) <= col + 2.5)).sum()))
        else:
            self.assertTrue((np.nonzero(rois.background["left"])[1] <= col + 2.5).all())
        self.assertTrue((np.nonzero(rois.background["right"])[1] >= 48.5).all())  # right: its lateral half


@unittest.skipUnless(HAVE_SIMULATOR, "needs the simulator")
class TestSimulatedStudies(unittest.TestCase):
    """Simulated 64x64 real58 studies with the clinical mix's hot liver/spleen and tissue, true masks, noisy frames."""

    @classmethod
    def setUpClass(cls):
        cls.sims = {}
        for name, (seed, pathology, tracer) in SIM_CASES.items():
            cfg = sample_study_config(np.random.default_rng(seed), matrix=64, protocol="real58", tracer=tracer,
                                      pathology=pathology, injection_site=False, motion=False, background_gain=2.0,
                                      liver_gain=2.5, seed=seed, index=0)
            cls.sims[name] = simulate_study(cfg)

    def error(self, name: str, background: str | None) -> float:
        sim = self.sims[name]
        meta = {"frame_start_s": sim.frame_starts_s, "frame_duration_s": sim.frame_durations_s,
                "pixel_spacing_mm": list(sim.pixel_spacing_mm), "view": "posterior", "tracer": sim.config.tracer}
        return left_integral_drf(sim.frames, meta, sim.parenchyma, background, "parenchyma") - sim.truth[
            "drf_left_percent"]

    def test_hydronephrosis_perirenal_errs_crescent_does_not(self):
        self.assertLess(self.error("hydronephrosis", "perirenal"), -8.0)
        self.assertLess(abs(self.error("hydronephrosis", None)), 3.0)

    def test_normal_both_right(self):
        self.assertLess(abs(self.error("normal", "perirenal")), 3.0)
        self.assertLess(abs(self.error("normal", None)), 3.0)


if __name__ == "__main__":
    unittest.main()
