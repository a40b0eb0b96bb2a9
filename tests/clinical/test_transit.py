# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Output efficiency and transit times (scripts.clinical.transit) on curve pairs with a known retention function."""

from __future__ import annotations

import math
import unittest

import numpy as np
from parameterized import parameterized
from scipy.signal import fftconvolve

from scripts.clinical import transit as tr
from scripts.clinical.curves import KidneyCurves

DT = 0.1  # s, the fine grid the synthetic curves are made on
LAMBDA = math.log(2.0) / tr.TC99M_HALF_LIFE_S


def _protocol(*phases: tuple[int, float]) -> tuple[np.ndarray, np.ndarray]:
    durs = np.concatenate([np.full(n, d) for n, d in phases])
    return np.concatenate([[0.0], np.cumsum(durs)[:-1]]), durs


PAPER = _protocol((60, 1.0), (76, 15.0))  # 20 min
LONG = _protocol((30, 2.0), (87, 20.0))  # 30 min
SHORT = _protocol((24, 2.1), (34, 30.1))  # 17.9 min
PROTOCOLS = {"paper": PAPER, "long": LONG, "short": SHORT}


def _blood(t: np.ndarray) -> np.ndarray:
    """Blood pool (counts/s/px): a first pass peaking 8 s after arrival at 5 s, then a bi-exponential plasma curve."""
    u = np.clip(t - 5.0, 0.0, None)
    return 100.0 * (u / 8.0) ** 2 * np.exp(-u / 4.0) + 10.0 * (0.6 * np.exp(-u / 240.0) + 0.4 * np.exp(-u / 2400.0)) * (
        1.0 - np.exp(-u / 6.0))


def _retention(kind: str, s: np.ndarray) -> tuple[np.ndarray, float]:
    """R(s) (s in seconds) and its mean transit time (min)."""
    if kind == "box4":
        return (s < 240.0).astype(float), 4.0
    if kind == "box5":
        return (s < 300.0).astype(float), 5.0
    if kind == "box25":
        return (s < 1500.0).astype(float), 25.0
    if kind == "exp3":
        return np.exp(-s / 180.0), 3.0
    if kind == "delayed_exp3":  # 1 min minimal transit, then exponential: MTT 1 + 2 min
        return np.where(s < 60.0, 1.0, np.exp(-(s - 60.0) / 120.0)), 3.0
    if kind == "exp2":
        return np.exp(-s / 120.0), 2.0
    if kind == "never":
        return np.ones_like(s), math.inf
    if kind in ("erlang2", "erlang_exp"):  # 3-stage Erlang of mean 2 min (the simulator's parenchyma), then pelvis
        theta = 40.0
        dens = s**2 * np.exp(-s / theta) / (2.0 * theta**3)
        if kind == "erlang_exp":
            dens = fftconvolve(dens, np.exp(-s / 90.0) / 90.0)[: s.size] * DT
        return np.clip(1.0 - np.cumsum(dens) * DT, 0.0, 1.0), 2.0 if kind == "erlang2" else 3.5
    raise KeyError(kind)


def synthetic(kind: str, proto=PAPER, vascular: float = 0.3, uptake: float = 0.01, decay: bool = True):
    """Frame means of ``P`` and ``K = F P + U (P * R)`` for a known retention R, decayed as the camera sees them.

    Returns:
        ``(kidney, blood, starts, durs, mtt_min, fine)`` with ``fine = (t, undecayed P)`` on the fine grid.
    """
    starts, durs = proto
    n = int(round((starts[-1] + durs[-1]) / DT))
    t = (np.arange(n) + 0.5) * DT
    p = _blood(t)
    r, mtt = _retention(kind, t - 0.5 * DT)
    k = vascular * p + uptake * fftconvolve(p, r)[:n] * DT
    fac = np.exp(-LAMBDA * t) if decay else np.ones(n)
    edges = np.round(starts / DT).astype(int)
    counts = np.diff(np.append(edges, n))
    frame_mean = lambda v: np.add.reduceat(v * fac, edges) / counts  # noqa: E731
    return frame_mean(k), frame_mean(p), starts, durs, mtt, (t, p)


def curves_of(kidney: np.ndarray, parenchyma: np.ndarray | None = None) -> KidneyCurves:
    par = kidney if parenchyma is None else parenchyma
    zeros = np.zeros_like(kidney)
    return KidneyCurves(kidney_raw=kidney, parenchyma_raw=par, background=zeros, kidney=kidney, parenchyma=par,
                        kidney_smoothed=kidney, parenchyma_smoothed=par, kidney_pixels=100, parenchyma_pixels=60,
                        background_pixels=40)


class TestRetentionFit(unittest.TestCase):
    @parameterized.expand([
        ("box4_paper", "box4", "paper"), ("delayed_exp3_paper", "delayed_exp3", "paper"),
        ("erlang_exp_paper", "erlang_exp", "paper"), ("erlang2_paper", "erlang2", "paper"),
        ("box4_long", "box4", "long"),
        ("delayed_exp3_short", "delayed_exp3", "short"), ("erlang_exp_short", "erlang_exp", "short"),
        ("erlang_exp_long", "erlang_exp", "long"),
    ])
    def test_known_retention_gives_its_mean_transit_time(self, _, kind, proto):
        k, p, starts, durs, mtt, _ = synthetic(kind, PROTOCOLS[proto])
        value, bound, problem = tr.mean_transit_time(
            tr.fit_retention(tr.decay_corrected(k, starts, durs), tr.decay_corrected(p, starts, durs), starts, durs),
            "kidney")
        self.assertEqual((bound, problem), (None, ""))
        self.assertAlmostEqual(value, mtt, delta=0.15)

    @parameterized.expand([("paper", "paper"), ("long", "long")])
    def test_transit_shorter_than_one_step_goes_to_the_vascular_term(self, _, proto):
        # a pure exponential (no minimal transit time) has 15 % of its tracer leaving within the first step (30 s at
        # 20 min, 45 s at 30 min), which the data cannot tell from the vascular term: the MTT comes out high by
        # less than half a step
        k, p, starts, durs, mtt, _ = synthetic("exp3", PROTOCOLS[proto])
        fit = tr.fit_retention(k, p, starts, durs)
        value, _, _ = tr.mean_transit_time(fit, "kidney")
        step_min = float(fit.transit_s[0]) / 60.0
        self.assertGreaterEqual(value, mtt)
        self.assertLess(value, mtt + step_min / 2)

    def test_retention_starts_at_one_and_never_rises(self):
        k, p, starts, durs, _, _ = synthetic("erlang_exp")
        fit = tr.fit_retention(k, p, starts, durs)
        r = fit.retention(np.arange(0.0, 1200.0, 5.0))
        self.assertAlmostEqual(float(r[0]), 1.0)
        self.assertTrue(np.all(np.diff(r) <= 1e-12))
        self.assertTrue(np.all(fit.weights >= 0))
        self.assertGreater(fit.r2, 0.999)

    @parameterized.expand([(0.0,), (1.5,)])
    def test_vascular_term_is_not_counted_as_transit(self, vascular):
        k, p, starts, durs, mtt, _ = synthetic("delayed_exp3", vascular=vascular)
        value, _, _ = tr.mean_transit_time(tr.fit_retention(k, p, starts, durs), "kidney")
        self.assertAlmostEqual(value, mtt, delta=0.15)

    @parameterized.expand([(seed,) for seed in range(4)])
    def test_counting_noise_moves_the_mtt_little(self, seed):
        # a normal kidney (MTT 3.5 min) at pediatric count levels: about 300 counts/s at the peak, a 40-pixel heart ROI
        k, p, starts, durs, mtt, _ = synthetic("erlang_exp")
        k = k * 300.0 / k.max()
        rng = np.random.default_rng(seed)
        k_noisy = rng.poisson(np.clip(k, 0, None) * durs) / durs
        p_noisy = rng.poisson(p * durs * 40) / durs / 40
        value, _, _ = tr.mean_transit_time(tr.fit_retention(k_noisy, p_noisy, starts, durs), "kidney")
        self.assertAlmostEqual(value, mtt, delta=0.5)

    def test_tracer_that_stays_gives_a_lower_bound_not_a_value(self):
        k, p, starts, durs, _, _ = synthetic("box25")  # 25 min in the kidney, a 20-min study
        value, bound, problem = tr.mean_transit_time(tr.fit_retention(k, p, starts, durs), "whole kidney")
        self.assertIsNone(value)
        self.assertGreater(bound, 15.0)
        self.assertRegex(problem, r"^whole kidney: \d+ % of the tracer stays longer than .* \(lower bound\)$")

    def test_no_uptake(self):
        _, p, starts, durs, _, _ = synthetic("exp3")
        self.assertEqual(tr.mean_transit_time(tr.fit_retention(np.zeros_like(p), p, starts, durs), "parenchyma"),
                         (None, None, "parenchyma: no uptake to deconvolve"))

    def test_too_short_and_empty_blood_are_refused(self):
        starts, durs = _protocol((5, 10.0))  # 40 s after the bolus: two 20-s steps
        with self.assertRaisesRegex(ValueError, "too short to deconvolve"):
            tr.fit_retention(np.ones(5), np.ones(5), starts, durs)
        with self.assertRaisesRegex(ValueError, "no counts"):
            tr.fit_retention(np.ones(136), np.zeros(136), *PAPER)


class TestOutputEfficiency(unittest.TestCase):
    def _oe(self, kind, proto=PAPER):
        k, p, starts, durs, _, fine = synthetic(kind, proto)
        return tr.transit_indices(curves_of(k), p, starts, durs), fine

    def test_kidney_that_never_drains_has_no_output(self):
        out, _ = self._oe("never", LONG)
        self.assertAlmostEqual(out["output_efficiency_20min_percent"], 0.0, delta=0.3)
        self.assertAlmostEqual(out["output_efficiency_30min_percent"], 0.0, delta=0.3)
        self.assertEqual(out["output_efficiency_problem"], "")

    def test_decay_is_not_output(self):
        # the same never-draining kidney without the decay correction shows 2-3 % "output"
        k, p, starts, durs, _, _ = synthetic("never")
        raw = tr.output_efficiency(k, p, starts, durs)["output_efficiency_20min_percent"]
        self.assertGreater(raw, 1.0)
        self.assertLess(raw, 4.0)

    def test_fast_drainage_has_high_output(self):
        out, _ = self._oe("exp2")
        self.assertGreater(out["output_efficiency_20min_percent"], 85.0)

    @parameterized.expand([("paper", PAPER, (20.0,)), ("long", LONG, (20.0, 30.0))])
    def test_box_retention_gives_the_exact_share_that_left(self, _, proto, times):
        # every unit stays 5 min: at t the kidney holds what came in over (t - 5, t], so OE = CP(t - 5) / CP(t)
        out, (t, p) = self._oe("box5", proto)
        cp = np.cumsum(p) * DT
        for tm in times:
            expected = 100.0 * np.interp(60 * tm - 300, t, cp) / np.interp(60 * tm, t, cp)
            self.assertAlmostEqual(out[f"output_efficiency_{tm:g}min_percent"], expected, delta=0.5)
        self.assertGreater(out["output_efficiency_20min_percent"], 50.0)

    def test_too_short_study_gives_null_with_the_reason(self):
        out, _ = self._oe("exp3", SHORT)
        self.assertIsNone(out["output_efficiency_20min_percent"])
        self.assertIsNone(out["output_efficiency_30min_percent"])
        self.assertEqual(out["output_efficiency_problem"], "OE at 20, 30 min not available: the study ends at 17.9 min")
        out, _ = self._oe("exp3", PAPER)
        self.assertIsNotNone(out["output_efficiency_20min_percent"])
        self.assertIsNone(out["output_efficiency_30min_percent"])
        self.assertEqual(out["output_efficiency_problem"], "OE at 30 min not available: the study ends at 20.0 min")

    def test_no_uptake(self):
        _, p, starts, durs, _, _ = synthetic("exp3")
        out = tr.transit_indices(curves_of(np.zeros_like(p)), p, starts, durs)
        self.assertIsNone(out["output_efficiency_20min_percent"])
        self.assertIn("no uptake", out["output_efficiency_problem"])
        self.assertIsNone(out["mean_transit_time_min"])


class TestTransitIndices(unittest.TestCase):
    def test_whole_kidney_and_parenchyma(self):
        k, p, starts, durs, mtt, _ = synthetic("erlang_exp")
        par, _, _, _, ptt, _ = synthetic("erlang2", uptake=0.006)
        out = tr.transit_indices(curves_of(k, par), p, starts, durs)
        self.assertAlmostEqual(out["mean_transit_time_min"], mtt, delta=0.15)
        self.assertAlmostEqual(out["parenchymal_transit_time_min"], ptt, delta=0.15)
        self.assertEqual((out["mean_transit_time_min_lower_bound"], out["parenchymal_transit_time_min_lower_bound"],
                          out["transit_time_problem"]), (None, None, ""))
        self.assertEqual(set(out), {
            "output_efficiency_20min_percent", "output_efficiency_30min_percent", "output_efficiency_problem",
            "mean_transit_time_min", "mean_transit_time_min_lower_bound", "parenchymal_transit_time_min",
            "parenchymal_transit_time_min_lower_bound", "transit_time_problem"})

    def test_obstructed_kidney_keeps_its_parenchymal_transit(self):
        k, p, starts, durs, _, _ = synthetic("never")
        par, _, _, _, ptt, _ = synthetic("erlang2", uptake=0.006)
        out = tr.transit_indices(curves_of(k, par), p, starts, durs)
        self.assertIsNone(out["mean_transit_time_min"])
        self.assertGreater(out["mean_transit_time_min_lower_bound"], 8.23)
        self.assertTrue(out["transit_time_problem"].startswith("whole kidney: "))
        self.assertAlmostEqual(out["parenchymal_transit_time_min"], ptt, delta=0.15)


if __name__ == "__main__":
    unittest.main()
