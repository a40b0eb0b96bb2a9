# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The missing kidney's fossa (:mod:`scripts.clinical.fossa`): the Patlak uptake image, the symmetric midline, and
``missing_kidney_uptake`` silent on a hot liver or spleen over an empty fossa while it still fires on an erased
kidney."""

from __future__ import annotations

import unittest

import numpy as np
from parameterized import parameterized

from scripts.clinical.analysis import AnalysisSettings, analyse_frames
from scripts.clinical.fossa import body_midline, symmetric_midline, uptake_image
from scripts.clinical.indices import cumulative_integral
from tests.clinical.renal_fixtures import HAVE_SIMULATOR
from tests.clinical.test_qc import codes, meta_of

if HAVE_SIMULATOR:
    from scripts.simulation import sample_study_config, simulate_study


def hot_liver_study(pathology: tuple[str, str], seed: int):
    """A 64x64 quick39 DTPA study of a 10-year-old with the liver and spleen 3x as hot as usual (the clinical mix's
    hottest), no injection site, no motion."""
    cfg = sample_study_config(np.random.default_rng(seed), matrix=64, protocol="quick39", tracer="DTPA",
                              pathology=pathology, age_range=(9.9, 10.1), injection_site=False, motion=False,
                              seed=seed, index=0, liver_gain=3.0)
    return simulate_study(cfg)


class TestUptakeImage(unittest.TestCase):
    def setUp(self) -> None:
        self.starts = np.concatenate([np.arange(0, 60, 5.0), np.arange(60, 300, 20.0)])
        self.durs = np.diff(np.append(self.starts, 300.0))
        mid = self.starts + self.durs / 2
        self.blood = 5.0 * np.exp(-mid / 90.0) + 1.0  # counts/s per pixel, falling after the first pass
        self.cum = cumulative_integral(self.blood, self.starts, self.durs)

    def frames(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Counts of pixels whose rate is ``a * P(t) + b * int P`` (blood share a, uptake b per second)."""
        rate = a[None] * self.blood[:, None, None] + b[None] * self.cum[:, None, None]
        return rate * self.durs[:, None, None]

    def test_slope_is_the_uptake_and_blood_pool_has_none(self):
        a = np.array([[3.0, 3.0], [0.5, 0.0]])
        b = np.array([[0.0, 0.02], [0.01, 0.0]])
        up = uptake_image(self.frames(a, b), self.starts, self.durs, self.blood)
        self.assertEqual(up.n_frames, 6)  # mid-times 70-170 s
        np.testing.assert_allclose(up.slope, b, atol=1e-9)
        self.assertTrue(np.all(up.variance[a + b > 0] > 0))

    def test_variance_is_poisson_through_the_weights(self):
        a, b = np.full((1, 1), 2.0), np.full((1, 1), 0.01)
        frames = self.frames(a, b)
        up = uptake_image(frames, self.starts, self.durs, self.blood)
        rng = np.random.default_rng(0)
        slopes = [uptake_image(rng.poisson(frames).astype(float), self.starts, self.durs, self.blood).slope[0, 0]
                  for _ in range(400)]
        self.assertAlmostEqual(float(np.var(slopes)) / float(up.variance[0, 0]), 1.0, delta=0.2)

    def test_no_image_without_two_frames_in_minutes_1_to_3(self):
        starts, durs = np.array([0.0, 30.0, 200.0]), np.array([30.0, 170.0, 100.0])
        self.assertIsNone(uptake_image(np.ones((3, 2, 2)), starts, durs, np.ones(3)))


class TestSymmetricMidline(unittest.TestCase):
    def test_an_arm_against_the_trunk_moves_the_widest_run_not_the_symmetry(self):
        img = np.full((64, 64), 0.2)
        img[:, 16:44] = 30.0  # trunk, centre column 29.5
        img[:, 6:12] = 30.0  # left arm, an air gap beside the trunk
        img[:, 44:51] = 30.0  # right arm lying against the trunk
        img[20:40, 18:25] = 300.0  # a kidney
        rows = np.arange(20, 40)
        self.assertGreaterEqual(abs(body_midline(img, rows) - 29.5), 3.0)
        self.assertLessEqual(abs(symmetric_midline(img, rows) - 29.5), 1.5)

    def test_no_body_falls_back_to_the_image_centre(self):
        self.assertEqual(symmetric_midline(np.zeros((16, 16)), np.arange(4, 8)), 7.5)


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestHotOrganOverTheFossa(unittest.TestCase):
    """The 1-3 min counts contrast (the former rule, >= 0.3 of the kidney's) fired on each of these empty fossae: 0.55
    and 0.85 under the liver (seeds 5, 14), 0.33 under the spleen (seed 14)."""

    def analyse(self, sim, mask):
        return analyse_frames(sim.frames, meta_of(sim), mask, AnalysisSettings(label_mode="labels"), "mask")

    @parameterized.expand([("liver_seed5", ("normal", "absent"), 5), ("liver_seed14", ("normal", "absent"), 14),
                           ("spleen_seed14", ("absent", "normal"), 14)])
    def test_empty_fossa_under_a_hot_organ_is_not_flagged(self, _, pathology, seed):
        sim = hot_liver_study(pathology, seed)
        self.assertNotIn("missing_kidney_uptake", [c for c, _ in codes(self.analyse(sim, sim.parenchyma))])

    @parameterized.expand([("seed5", 5), ("seed14", 14)])
    def test_kidney_erased_beside_the_hot_organ_is_flagged(self, _, seed):
        sim = hot_liver_study(("normal", "normal"), seed)
        for side, label in (("left", 1), ("right", 2)):
            mask = np.where(sim.parenchyma == label, 0, sim.parenchyma)
            self.assertIn(("missing_kidney_uptake", side), codes(self.analyse(sim, mask)), side)


if __name__ == "__main__":
    unittest.main()
