# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of the named training mixes (:mod:`scripts.simulation.mixes`) and the acquisition features they draw:
every documented dimension of the ``clinical`` mix is drawn, the options replace it, the ``paper`` mix draws the old
stream, and the new camera/background/anatomy options change the images as documented."""

from __future__ import annotations

import collections
import unittest
from pathlib import Path

import numpy as np
from parameterized import parameterized

from scripts.simulation import PROTOCOLS, sample_study_config, simulate_study
from scripts.simulation.batch import SimulationOptions, study_config
from scripts.simulation.camera import COLLIMATORS
from scripts.simulation.mixes import MIXES, get_mix, mix_table
from scripts.simulation.phantom import build_phantom

N_DRAWS = 600


def _configs(n: int = N_DRAWS, **options):
    opts = SimulationOptions(out="", seed=11, **options)
    return [study_config(i, opts) for i in range(n)]


class TestClinicalMix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mix = get_mix("clinical")
        cls.cfgs = _configs(study_mix="clinical")

    def _share(self, values, key):
        return collections.Counter(values)[key] / len(values)

    @parameterized.expand([
        ("protocol", lambda c: c.protocol, "protocols"),
        ("matrix", lambda c: c.matrix, "matrices"),
        ("collimator", lambda c: c.collimator, "collimators"),
    ])
    def test_every_weighted_choice_is_drawn_at_its_rate(self, _name, get, field):
        weights = getattr(self.mix, field)
        total = sum(weights.values())
        values = [get(c) for c in self.cfgs]
        for key, w in weights.items():
            # 600 draws: the binomial standard deviation of a share is at most 0.02; 0.07 is > 3 sd
            self.assertAlmostEqual(self._share(values, key), w / total, delta=0.07, msg=f"{field} {key}")

    def test_furosemide_timings(self):
        values = [c.furosemide or "none" for c in self.cfgs]
        self.assertEqual(set(values), {"none", "F0", "F+20", "F-15"})
        for c in self.cfgs:
            if c.furosemide == "F+20":
                self.assertGreaterEqual(PROTOCOLS[c.protocol].total_s, 25 * 60)

    def test_tracers_and_ages(self):
        dtpa = [c for c in self.cfgs if c.tracer == "DTPA"]
        self.assertTrue(all(c.age_years >= 1.0 for c in dtpa))
        older = [c for c in self.cfgs if c.age_years >= 1.0]
        self.assertAlmostEqual(len(dtpa) / len(older), self.mix.dtpa_share, delta=0.07)
        ages = [c.age_years for c in self.cfgs]
        self.assertGreaterEqual(min(ages), self.mix.age_range[0])
        self.assertLessEqual(max(ages), self.mix.age_range[1])
        self.assertGreater(max(ages), 16.0)  # adult-like teenagers are in the mix

    def test_pathologies_positions_and_motion(self):
        study_level = [next((p for p in (c.left.pathology, c.right.pathology) if p != "normal"), "normal")
                       for c in self.cfgs]
        self.assertEqual(set(study_level), set(self.mix.pathologies))
        displaced = [c for c in self.cfgs if {c.left.position, c.right.position} != {"normal"}]
        self.assertAlmostEqual(len(displaced) / len(self.cfgs), self.mix.displaced_kidney, delta=0.05)
        self.assertEqual({c.left.position for c in displaced} | {c.right.position for c in displaced},
                         {"normal", "low", "medial"})
        moved = [c for c in self.cfgs if c.motion is not None]
        self.assertAlmostEqual(len(moved) / len(self.cfgs), self.mix.motion, delta=0.06)

    @parameterized.expand([
        ("background_gain", lambda c: c.background_gain),
        ("liver_gain", lambda c: c.liver_gain),
    ])
    def test_gains_span_their_range(self, field, get):
        lo, hi = getattr(self.mix, field)
        values = np.asarray([get(c) for c in self.cfgs])
        self.assertGreaterEqual(values.min(), lo)
        self.assertLessEqual(values.max(), hi)
        self.assertLess(values.min(), lo * 1.1)
        self.assertGreater(values.max(), hi * 0.9)

    def test_dose_factor_scales_the_weight_based_dose(self):
        base = [study_config(i, SimulationOptions(out="", seed=11, study_mix="paper")) for i in range(5)]
        for c in base:
            scaled = sample_study_config(np.random.default_rng(c.noise_seed % 1000), dose_factor=0.5,
                                         protocol="paper136", matrix=128)
            plain = sample_study_config(np.random.default_rng(c.noise_seed % 1000), protocol="paper136", matrix=128)
            self.assertAlmostEqual(scaled.kinetics.dose_mbq, 0.5 * plain.kinetics.dose_mbq, places=6)

    @parameterized.expand([
        ("matrix", {"matrices": (64,)}, lambda c: c.matrix == 64),
        ("protocol", {"protocols": ("eanm117",)}, lambda c: c.protocol == "eanm117"),
        ("tracer", {"tracers": ("DTPA",)}, lambda c: c.tracer == "DTPA"),
        ("furosemide", {"furosemide": "none"}, lambda c: c.furosemide is None),
        ("motion", {"motion": False}, lambda c: c.motion is None),
        ("pathology", {"pathology": "scarred"}, lambda c: "scarred" in (c.left.pathology, c.right.pathology)),
        ("ages", {"age_range": (2.0, 3.0)}, lambda c: 2.0 <= c.age_years <= 3.0),
    ])
    def test_an_option_replaces_its_dimension_only(self, _name, option, holds):
        cfgs = _configs(60, study_mix="clinical", **option)
        self.assertTrue(all(holds(c) for c in cfgs))
        # the other dimensions still vary
        self.assertGreater(len({c.collimator for c in cfgs}), 1)

    def test_the_table_shows_every_weight(self):
        table = mix_table("clinical")
        for name in list(self.mix.protocols) + list(self.mix.collimators) + list(self.mix.pathologies):
            self.assertIn(name, table)
        self.assertIn("| matrix | 64² 30 %, 128² 40 %, 256² 30 % |", table)

    def test_the_readme_shows_the_table(self):
        readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
        for row in mix_table("clinical").splitlines()[2:]:
            self.assertIn(row, readme)

    def test_unknown_mix(self):
        with self.assertRaisesRegex(ValueError, "unknown mix 'clinic'; choose one of clinical, paper"):
            get_mix("clinic")
        self.assertEqual(set(MIXES), {"clinical", "paper"})


class TestPaperMix(unittest.TestCase):
    def test_draws_the_stream_of_the_simulator_before_mixes(self):
        for i in range(5):
            rng = np.random.default_rng([11, i])
            rng.integers(1), rng.integers(1)  # the old code drew protocol and matrix from one-element lists
            old = sample_study_config(rng, protocol="paper136", matrix=128, furosemide=False, seed=11, index=i)
            new = study_config(i, SimulationOptions(out="", seed=11, study_mix="paper"))
            self.assertEqual(old.to_dict(), new.to_dict())


class TestAcquisitionFeatures(unittest.TestCase):
    def _cfg(self, pathology="normal", **kw):
        return sample_study_config(5, protocol="quick39", matrix=64, pathology=pathology, motion=False,
                                   injection_site=False, **kw)

    def test_collimators_blur_and_count_differently(self):
        fwhm, sens = {}, {}
        for name in COLLIMATORS:
            cfg = self._cfg(collimator=name)
            fwhm[name] = build_phantom(cfg).info["left"]["psf_fwhm_mm"]
            sens[name] = cfg.sensitivity_cps_per_mbq
        self.assertLess(fwhm["LEHR"], fwhm["GP"])
        self.assertLess(fwhm["GP"], fwhm["LEAP"])
        self.assertAlmostEqual(sens["LEAP"] / sens["LEHR"], COLLIMATORS["LEAP"].sensitivity, places=6)

    def test_background_gain_lowers_the_kidney_to_background_ratio(self):
        ratios = []
        for gain in (1.0, 3.0):
            st = simulate_study(self._cfg(background_gain=gain))
            img = st.expected[10:16].sum(axis=0)
            kidney = st.kidney > 0
            ring = (np.abs(np.arange(64)[None, :] - 32) < 28) & ~kidney  # body beside the kidneys
            ratios.append(img[kidney].mean() / img[ring].mean())
        self.assertGreater(ratios[0], 1.3 * ratios[1])

    def test_liver_gain_brightens_the_liver(self):
        a = build_phantom(self._cfg(liver_gain=1.0))
        b = build_phantom(self._cfg(liver_gain=3.0))
        from scripts.simulation.kinetics import IMAGE_COMPARTMENTS

        liver = IMAGE_COMPARTMENTS.index("liver")
        self.assertAlmostEqual(float(b.templates[liver].sum() / a.templates[liver].sum()), 3.0, places=3)

    def test_low_and_medial_kidneys(self):
        plain = self._cfg()
        low = self._cfg(positions=("low", "normal"))
        medial = self._cfg(positions=("normal", "medial"))
        self.assertGreater(low.left.centre_mm[1], plain.left.centre_mm[1] + 20.0)
        self.assertLess(abs(medial.right.centre_mm[0]), abs(plain.right.centre_mm[0]))
        self.assertGreater(abs(medial.right.centre_mm[0]), medial.right.width_mm / 2)  # not across the midline
        self.assertEqual((low.left.position, medial.right.position), ("low", "medial"))

    def test_scarred_kidney_is_small_with_notches(self):
        cfg = self._cfg(pathology=("scarred", "normal"))
        self.assertLess(cfg.left.length_mm, 0.9 * cfg.right.length_mm)
        self.assertLess(min(a for _, a, _ in cfg.left.harmonics), -0.045)  # deeper than any normal perturbation

    def test_extrarenal_pelvis_bulges_out_of_the_kidney(self):
        cfg = sample_study_config(5, protocol="quick39", matrix=128, pathology=("extrarenal_pelvis", "normal"),
                                  motion=False, injection_site=False)
        st = simulate_study(cfg)
        left_pelvis = st.pelvis == 1
        left_paren = st.parenchyma == 1
        cols = np.flatnonzero(left_paren.any(axis=0))
        # posterior view: the patient's left kidney is on the image left, its hilum (medial) towards larger columns
        self.assertGreater(np.flatnonzero(left_pelvis.any(axis=0)).max(), cols.max())

    def test_furosemide_before_the_tracer_empties_the_pelvis_from_the_start(self):
        curves = {}
        for furo in (None, "F-15"):
            cfg = sample_study_config(7, protocol="quick39", matrix=64, pathology=("dilated", "normal"),
                                      motion=False, furosemide=furo)
            curves[furo] = np.asarray(simulate_study(cfg).truth["curves"]["left_pelvis"])
        self.assertLess(curves["F-15"][-5:].sum(), 0.5 * curves[None][-5:].sum())

    def test_bad_values_are_refused(self):
        with self.assertRaisesRegex(ValueError, "collimator must be one of"):
            self._cfg(collimator="MEGP")
        with self.assertRaisesRegex(ValueError, "background_gain must be positive"):
            self._cfg(background_gain=0.0)
        with self.assertRaisesRegex(ValueError, "positions must be two of"):
            self._cfg(positions=("high", "normal"))
        with self.assertRaisesRegex(ValueError, "furosemide must be one of"):
            self._cfg(furosemide="F+5")


if __name__ == "__main__":
    unittest.main()
