# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The ``inferolateral`` background ROI (an option, not the default): the lateral crescent's caudal half, so a hot
liver or spleen beside a kidney's upper pole is not subtracted as its background."""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
from parameterized import parameterized
from scipy import ndimage as ndi

from scripts.clinical.analysis import AnalysisSettings
from scripts.clinical.drf_interval import _settings_variant
from scripts.clinical.rois import BACKGROUND_METHODS, DEFAULT_BACKGROUND, background_ring, build_rois
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, simulate
from tests.clinical.test_drf_background import BUILT_DRF_LEFT, built_study, left_integral_drf
from tests.clinical.test_renal_function import run_cli


def liver_beside(frames: np.ndarray, meta: dict, extra_rate: float = 0.1) -> np.ndarray:
    """The built study with a liver-like region ``extra_rate`` count/px/s hotter lateral to the right (image-right)
    kidney's upper half (rows 10-30, columns 55-63; the kidney spans rows 22-41, columns 44-53): inside its lateral
    crescent, above its centre row, over none of its pixels."""
    hot = np.zeros(frames.shape[1:])
    hot[10:31, 55:64] = extra_rate
    return frames + hot[None] * np.asarray(meta["frame_duration_s"], float)[:, None, None]


class TestInferolateralRing(unittest.TestCase):
    def test_an_option_not_the_default(self):
        self.assertIn("inferolateral", BACKGROUND_METHODS)
        self.assertEqual(DEFAULT_BACKGROUND, "crescent")

    @parameterized.expand([("image_left", "image_left"), ("image_right", "image_right")])
    def test_the_crescents_caudal_half(self, _, lateral):
        k = np.zeros((40, 40), bool)
        k[10:30, 15:25] = True
        cres = background_ring(k, method="crescent", lateral=lateral)
        quad = background_ring(k, method="inferolateral", lateral=lateral)
        rows = np.nonzero(quad)[0]
        self.assertTrue(quad.any())
        self.assertTrue((quad <= cres).all())
        self.assertTrue((rows >= 19.5).all())  # at or below the kidney's centre row (rows 10-29)
        self.assertTrue((cres & ~quad)[:19].any())  # the crescent's upper half is left out
        self.assertTrue(np.array_equal(quad, cres & (np.arange(40)[:, None] >= 19.5)))

    def test_needs_the_lateral_side(self):
        k = np.zeros((20, 20), bool)
        k[5:15, 5:10] = True
        with self.assertRaises(ValueError):
            background_ring(k, method="inferolateral")


class TestLiverBeside(unittest.TestCase):
    @parameterized.expand([("liver_beside", True), ("clean", False)])
    def test_inferolateral_gives_the_drf(self, _, liver):
        frames, meta, mask = built_study(hot_band=False)
        if liver:
            frames = liver_beside(frames, meta)
        self.assertAlmostEqual(left_integral_drf(frames, meta, mask, "inferolateral"), BUILT_DRF_LEFT, delta=0.5)

    def test_crescent_over_subtracts_the_liver(self):
        """What the real study showed: the right kidney's crescent on the hot liver, its DRF too low."""
        frames, meta, mask = built_study(hot_band=False)
        self.assertGreater(left_integral_drf(liver_beside(frames, meta), meta, mask, "crescent") - BUILT_DRF_LEFT, 4.0)


class TestInferolateralAtTheEdge(unittest.TestCase):
    @parameterized.expand([("cut_by_the_field", True), ("inside", False)])
    def test_cut_quadrant_falls_back_to_the_crescent(self, _, cut):
        frames, meta, mask = built_study(hot_band=False)
        if cut:
            frames[:, 32:, :10] = 0.0  # outside the field of view: the left kidney's (columns 10-19) lower-lateral side
        starts, durs = meta["frame_start_s"], meta["frame_duration_s"]
        rois = build_rois(mask, frames, starts, durs, mask_kind="kidney", label_mode="labels",
                          background="inferolateral")
        exclude = ndi.binary_dilation(rois.kidney["left"] | rois.kidney["right"], np.ones((3, 3), bool))
        valid = frames.sum(axis=0) > 0
        expected = {s: background_ring(rois.kidney[s], exclude, valid=valid, method=m, lateral=lat)
                    for s, m, lat in (("left", "crescent" if cut else "inferolateral", "image_left"),
                                      ("right", "inferolateral", "image_right"))}
        warned = [w for w in rois.warnings if "infero-lateral background is cut" in w]
        self.assertEqual(len(warned), int(cut))
        if cut:
            self.assertIn("left kidney", warned[0])
        self.assertFalse(any("lateral background crescent" in w for w in rois.warnings))
        for s in ("left", "right"):
            self.assertTrue(np.array_equal(rois.background[s], expected[s]), s)


class TestIntervalVariant(unittest.TestCase):
    @parameterized.expand([("inferolateral", "crescent"), ("crescent", "perirenal"), ("perirenal", "crescent")])
    def test_other_background(self, background, other):
        st = _settings_variant(AnalysisSettings(background=background), {"background": "other"})
        self.assertEqual(st.background, other)

    def test_none_has_no_other(self):
        self.assertIsNone(_settings_variant(AnalysisSettings(background="none"), {"background": "other"}))


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestCommand(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="inferolateral_"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.study = simulate(self.tmp, "normal")

    def test_background_option(self):
        reps = {}
        for background in ("inferolateral", "crescent"):
            out = self.tmp / background
            rc, _, err = run_cli(self.study / "study.dcm", "--out", out, "--mask", self.study / "parenchyma.png",
                                 "--background", background)
            self.assertEqual(rc, 0, err)
            reps[background] = json.loads((out / "report.json").read_text())
        self.assertEqual(reps["inferolateral"]["settings"]["background"], "inferolateral")
        for side in ("left", "right"):
            n_quad = reps["inferolateral"]["kidneys"][side]["background_pixels"]
            self.assertGreater(n_quad, 0)
            self.assertLess(n_quad, reps["crescent"]["kidneys"][side]["background_pixels"])


if __name__ == "__main__":
    unittest.main()
