# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Formula tests of scripts.clinical.indices on curves with known answers."""

from __future__ import annotations

import math
import unittest

import numpy as np
from parameterized import parameterized

from scripts.clinical import indices as ix

# 60 x 1 s + 76 x 15 s (the paper's protocol) and a uniform 20 s protocol
PAPER = (
    np.concatenate([np.arange(60.0), 60.0 + 15.0 * np.arange(76)]),
    np.concatenate([np.ones(60), np.full(76, 15.0)]),
)
UNIFORM = (20.0 * np.arange(60), np.full(60, 20.0))


class TestIntegrals(unittest.TestCase):
    @parameterized.expand([("paper", *PAPER), ("uniform", *UNIFORM)])
    def test_window_integral_of_linear_rate_is_exact(self, _, starts, durs):
        a = 3.0
        # a rate that is constant within each frame and equal to a * mid-time
        rate = a * (starts + durs / 2)
        # integral over 60-120 s from the frame values: sum of rate * duration of the frames inside
        inside = (starts >= 60) & (starts + durs <= 120)
        expected = float(np.sum(rate[inside] * durs[inside]))
        self.assertAlmostEqual(ix.window_integral(rate, starts, durs, (60, 120)), expected)

    def test_straddling_frame_counts_pro_rata(self):
        starts, durs = np.array([0.0, 50.0, 100.0]), np.array([50.0, 50.0, 50.0])
        rate = np.array([1.0, 2.0, 4.0])
        # 60-120 s: 40 s of frame 1 at 2 cps + 20 s of frame 2 at 4 cps
        self.assertAlmostEqual(ix.window_integral(rate, starts, durs, (60, 120)), 40 * 2 + 20 * 4)

    def test_window_after_the_end_raises(self):
        with self.assertRaisesRegex(ValueError, "ends at 100.0 s"):
            ix.window_integral(np.ones(5), 20.0 * np.arange(5), np.full(5, 20.0), (60, 120))

    def test_cumulative_integral_of_constant(self):
        starts, durs = PAPER
        c = ix.cumulative_integral(np.full(starts.size, 2.0), starts, durs)
        np.testing.assert_allclose(c, 2.0 * (starts + durs / 2))

    def test_integral_drf(self):
        self.assertAlmostEqual(ix.integral_drf_percent(300.0, 100.0), 75.0)
        self.assertEqual(ix.integral_drf_percent(-5.0, 100.0), 0.0)
        self.assertTrue(math.isnan(ix.integral_drf_percent(0.0, -1.0)))


class TestPatlak(unittest.TestCase):
    @parameterized.expand([("paper", *PAPER), ("uniform", *UNIFORM)])
    def test_linear_uptake_with_constant_blood_gives_exact_slope(self, _, starts, durs):
        p0, a, b = 5.0, 0.7, 40.0
        mid = starts + durs / 2
        kidney = a * mid + b  # linear uptake plus a vascular term
        fit = ix.patlak_rutland(kidney, np.full(mid.size, p0), starts, durs, (60, 300))
        # K = U * int P + F * P with int P = p0 * t  ->  U = a / p0, F = b / p0
        self.assertAlmostEqual(fit.slope_per_s, a / p0, places=10)
        self.assertAlmostEqual(fit.intercept, b / p0, places=8)
        self.assertAlmostEqual(fit.r2, 1.0, places=10)

    def test_patlak_model_with_decaying_blood_gives_exact_slope_and_intercept(self):
        starts, durs = PAPER
        mid = starts + durs / 2
        blood = 100.0 * np.exp(-mid / 200.0) + 20.0
        u, f = 0.004, 0.3
        kidney = u * ix.cumulative_integral(blood, starts, durs) + f * blood
        fit = ix.patlak_rutland(kidney, blood, starts, durs, (60, 150))
        self.assertAlmostEqual(fit.slope_per_s, u, places=12)
        self.assertAlmostEqual(fit.intercept, f, places=10)
        # DRF from slopes is a plain ratio and independent of the blood-pool scale
        fit2 = ix.patlak_rutland(3 * kidney, 7 * blood, starts, durs, (60, 150))
        self.assertAlmostEqual(ix.patlak_drf_percent(fit.slope_per_s, fit2.slope_per_s / 3 * 7), 50.0)

    def test_too_few_points_and_bad_blood_raise(self):
        starts, durs = UNIFORM
        with self.assertRaisesRegex(ValueError, "at least 2"):
            ix.patlak_rutland(np.ones(60), np.ones(60), starts, durs, (61, 65))
        with self.assertRaisesRegex(ValueError, "not positive"):
            ix.patlak_rutland(np.ones(60), np.zeros(60), starts, durs, (60, 150))


class TestTiming(unittest.TestCase):
    def _exp_curve(self, t_half_min: float, peak_frame: int = 10):
        starts, durs = UNIFORM
        mid = (starts + durs / 2) / 60.0
        lam = math.log(2) / t_half_min
        t0 = mid[peak_frame]
        rate = np.where(mid <= t0, 1000.0 * (mid / t0), 1000.0 * np.exp(-lam * (mid - t0)))
        return rate, starts, durs, t0

    def test_tmax_is_the_peak_mid_time(self):
        rate, starts, durs, t0 = self._exp_curve(5.0)
        self.assertAlmostEqual(ix.tmax_min(rate, starts, durs), t0)

    @parameterized.expand([(4.0,), (6.0,), (8.0,)])
    def test_mono_exponential_washout_gives_exact_t_half(self, t_half):
        # T1/2 a multiple of the 20 s frame spacing: the half crossing falls on a frame mid-time
        rate, starts, durs, _ = self._exp_curve(t_half)
        self.assertAlmostEqual(ix.t_half_min(rate, starts, durs), t_half, places=6)
        self.assertAlmostEqual(ix.t_half_fit_min(rate, starts, durs), t_half, places=9)

    def test_fit_is_exact_for_any_t_half(self):
        rate, starts, durs, _ = self._exp_curve(5.3)
        self.assertAlmostEqual(ix.t_half_fit_min(rate, starts, durs), 5.3, places=9)
        # the interpolated crossing is within the error of linear interpolation over one 20 s step
        self.assertAlmostEqual(ix.t_half_min(rate, starts, durs), 5.3, delta=0.02)

    def test_rising_curve_has_no_t_half(self):
        starts, durs = UNIFORM
        rate = np.linspace(1, 100, 60)
        self.assertTrue(math.isnan(ix.t_half_min(rate, starts, durs)))
        self.assertTrue(math.isnan(ix.t_half_fit_min(rate, starts, durs)))
        self.assertAlmostEqual(ix.tmax_min(rate, starts, durs), (starts[-1] + 10) / 60)

    def test_ratio_and_nora(self):
        starts, durs = UNIFORM  # 0-20 min
        mid = starts + durs / 2
        rate = np.where(mid < 120, 10.0, 100.0 * np.exp(-(mid - 120) / 600))
        # 20 min lies inside the last frame (19:40-20:00) -> last value
        self.assertAlmostEqual(ix.ratio_to_max(rate, starts, durs, 20.0), rate[-1] / rate.max())
        # NORA: K(20) / mean over 60-120 s (= 10)
        self.assertAlmostEqual(ix.nora(rate, starts, durs, 20.0), rate[-1] / 10.0)
        self.assertTrue(math.isnan(ix.ratio_to_max(rate, starts, durs, 25.0)))

    def test_smoothing_keeps_constant_and_linear_curves(self):
        starts, durs = PAPER
        mid = starts + durs / 2
        np.testing.assert_allclose(ix.smooth_curve(np.full(mid.size, 7.0), starts, durs, 20.0), 7.0)
        # local-linear: a straight line (e.g. a steep early rise) is kept exactly, also at the first and last frame
        np.testing.assert_allclose(ix.smooth_curve(3.0 + 0.5 * mid, starts, durs, 20.0), 3.0 + 0.5 * mid, rtol=1e-9)
        # count-weighted smoothing reduces noise of 1 s frames
        rng = np.random.default_rng(0)
        noisy = 50.0 + rng.normal(0, 10, mid.size) / np.sqrt(durs)
        sm = ix.smooth_curve(noisy, starts, durs, 20.0)
        self.assertLess(np.std(sm[:60] - 50), 0.5 * np.std(noisy[:60] - 50))

    def test_ktbr(self):
        self.assertAlmostEqual(ix.ktbr(6.0, 2.0), 3.0)
        self.assertTrue(math.isnan(ix.ktbr(6.0, 0.0)))


if __name__ == "__main__":
    unittest.main()


class TestFlags(unittest.TestCase):
    @parameterized.expand([
        ("drf_percent", 50.0, "normal"), ("drf_percent", 42.0, "borderline"), ("drf_percent", 30.0, "abnormal"),
        ("drf_percent", 100.0, "abnormal"), ("tmax_min", 4.9, "normal"), ("tmax_min", 5.0, "abnormal"),
        ("t_half_min", 8.0, "normal"), ("t_half_min", 15.0, "borderline"), ("t_half_min", 25.0, "abnormal"),
        ("ratio_20min_max", 0.29, "normal"), ("ratio_20min_max", 0.5, "abnormal"), ("nora_20min", 0.7, "normal"),
        ("ktbr", 2.0, "abnormal"), ("ktbr", 2.5, "normal"), ("tmax_min", None, "n/a"), ("ktbr", float("nan"), "n/a"),
    ])
    def test_flag(self, name, value, expected):
        from scripts.clinical.normal_ranges import flag_value

        self.assertEqual(flag_value(name, value), expected)
