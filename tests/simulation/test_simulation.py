# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of the renogram simulator library: determinism, kinetics truth, DRF, noise, labels, DICOM round trip."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import pydicom
import torch
from parameterized import parameterized
from PIL import Image

from custom_transforms.io import parse_view
from custom_transforms.pipeline import DEFAULT_SPATIAL_SIZE
from scripts.simulation import (
    IMAGE_COMPARTMENTS,
    PROTOCOLS,
    sample_study_config,
    simulate_study,
    write_studies_csv,
    write_study,
)
from scripts.simulation.dicom import dicom_age
from scripts.simulation.kinetics import integrate_frames, solve_kinetics
from scripts.simulation.measure import curve_tmax_thalf, integral_drf_percent
from scripts.simulation.phantom import LABEL_NAMES, label_maps
from scripts.simulation.writer import NETWORK_LABEL_FILE

_CACHE: dict = {}


def small_study(seed: int, **kw):
    """A 64x64 study on the 39-frame test protocol (cached per arguments)."""
    key = (seed, tuple(sorted(kw.items())))
    if key not in _CACHE:
        kw.setdefault("matrix", 64)
        kw.setdefault("protocol", "quick39")
        _CACHE[key] = simulate_study(sample_study_config(seed, **kw))
    return _CACHE[key]


class TestDeterminism(unittest.TestCase):
    def test_same_seed_same_study(self):
        a = simulate_study(sample_study_config(11, matrix=64, protocol="quick39"))
        b = simulate_study(sample_study_config(11, matrix=64, protocol="quick39"))
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.parenchyma, b.parenchyma)
        self.assertEqual(json.dumps(a.truth), json.dumps(b.truth))

    def test_different_seed_different_study(self):
        a, b = small_study(11), small_study(12)
        self.assertFalse(np.array_equal(a.frames, b.frames))
        self.assertNotEqual(a.truth["age_years"], b.truth["age_years"])

    def test_same_seed_byte_identical_files(self):
        with tempfile.TemporaryDirectory() as d:
            for name in ("a", "b"):
                write_study(simulate_study(sample_study_config(5, matrix=64, protocol="quick39")), Path(d) / name, "s")
            for f in ("study.dcm", "parenchyma.png", "kidney.png", "pelvis.png", "truth.json"):
                self.assertEqual((Path(d) / "a/s" / f).read_bytes(), (Path(d) / "b/s" / f).read_bytes(), f)


class TestKineticsTruth(unittest.TestCase):
    def test_normal_mag3_tmax_thalf_ranges(self):
        proto = PROTOCOLS["paper136"]
        starts, durs = proto.frame_starts_s(), proto.frame_durations_s()
        checked = 0
        for seed in range(60):  # normal kidneys of any study, also beside a diseased or missing one
            cfg = sample_study_config(seed, pathology="normal" if seed % 3 == 0 else None, tracer="MAG3")
            t, act = solve_kinetics(cfg.kinetics, proto.total_s + 1.0)
            a = integrate_frames(t, act, starts, durs)
            for side in ("left", "right"):
                if cfg.kidney(side).pathology != "normal":
                    continue
                checked += 1
                curve = a[:, IMAGE_COMPARTMENTS.index(f"parenchyma_{side}")]
                curve = curve + a[:, IMAGE_COMPARTMENTS.index(f"pelvis_{side}")]
                tmax, thalf = curve_tmax_thalf(curve, durs, starts)
                self.assertTrue(2.0 <= tmax <= 5.0, f"seed {seed} {side}: Tmax {tmax}")
                self.assertTrue(4.0 <= thalf <= 12.0, f"seed {seed} {side}: T1/2 {thalf}")
        self.assertGreater(checked, 80)

    def test_truth_tmax_matches_curves_and_study(self):
        st = simulate_study(sample_study_config(3, pathology="normal", tracer="MAG3", matrix=64))
        tr = st.truth
        for side in ("left", "right"):
            tm, th = curve_tmax_thalf(np.asarray(tr["curves"][f"{side}_kidney"]), st.frame_durations_s,
                                      st.frame_starts_s)
            self.assertAlmostEqual(tr["tmax_min"][side], tm, places=3)
            self.assertAlmostEqual(tr["t_half_min"][side], th, places=3)
            self.assertTrue(2.0 <= tm <= 5.0 and 4.0 <= th <= 12.0)

    def test_obstructed_kidney_never_halves(self):
        st = simulate_study(sample_study_config(8, pathology=("obstructed", "normal"), matrix=64, protocol="10s120"))
        self.assertIsNone(st.truth["t_half_min"]["left"])
        self.assertIsNotNone(st.truth["t_half_min"]["right"])
        left = np.asarray(st.truth["curves"]["left_kidney"]) / st.frame_durations_s
        self.assertGreater(left[-1], 0.9 * left.max())

    def test_drf_truth_from_uptake_constants(self):
        st = small_study(4, pathology="reduced")
        k = st.config.kinetics
        self.assertAlmostEqual(st.truth["drf_left_percent"], 100 * k.k_left / (k.k_left + k.k_right), places=3)
        affected = "left" if st.truth["pathology"]["left"] == "reduced" else "right"
        share = st.truth["drf_left_percent"] if affected == "left" else 100 - st.truth["drf_left_percent"]
        self.assertTrue(10.0 <= share <= 45.0)

    def test_frame_integration_is_exact_for_a_linear_ramp(self):
        t = np.arange(0, 100.25, 0.25)
        vals = np.stack([t, np.ones_like(t)], axis=1)
        got = integrate_frames(t, vals, np.array([0.0, 10.0]), np.array([10.0, 30.0]))
        np.testing.assert_allclose(got, [[50.0, 10.0], [(40**2 - 10**2) / 2, 30.0]])


class TestMeasuredDrf(unittest.TestCase):
    @parameterized.expand([(s,) for s in range(6)])
    def test_integral_drf_matches_truth_on_noise_free_frames(self, seed):
        st = small_study(100 + seed, tracer="MAG3", pathology=("normal", "reduced")[seed % 2], age_range=(1.0, 16.0),
                         protocol="10s120", matrix=128)
        drf = integral_drf_percent(st.expected, st.frame_starts_s, st.frame_durations_s, st.kidney == 1,
                                   st.kidney == 2)
        self.assertLessEqual(abs(drf - st.truth["drf_left_percent"]), 3.0)


class TestNoise(unittest.TestCase):
    def test_counts_are_poisson_around_expected(self):
        st = small_study(21)
        e, f = st.expected.astype(np.float64), st.frames.astype(np.float64)
        sel = e > 3.0
        z = (f[sel] - e[sel]) / np.sqrt(e[sel])
        self.assertGreater(sel.sum(), 5000)
        self.assertLess(abs(z.mean()), 0.05)
        self.assertLess(abs(z.var() - 1.0), 0.05)  # Poisson: variance = mean (Gaussian noise of another sd fails)
        low = (e > 0.05) & (e < 0.5)
        np.testing.assert_allclose(np.mean(f[low] == 0), np.mean(np.exp(-e[low])), atol=0.01)

    def test_pediatric_count_levels(self):
        st = simulate_study(sample_study_config(2, pathology="normal", tracer="MAG3", age_range=(3, 10)))
        kid = st.kidney > 0
        i3 = int(np.searchsorted(st.frame_starts_s, 180.0, side="right") - 1)
        late = st.expected[i3][kid].mean()
        self.assertTrue(10.0 <= late <= 60.0, late)  # per 15 s frame at 3 min
        early = st.expected[50:60][:, kid].mean()  # 1 s frames at 50-60 s
        self.assertTrue(0.3 <= early <= 4.0, early)


class TestLabels(unittest.TestCase):
    def test_label_consistency_and_sides(self):
        st = small_study(31, pathology="normal")
        np.testing.assert_array_equal(st.kidney, np.where(st.pelvis > 0, st.pelvis, st.parenchyma))
        self.assertFalse(np.any((st.parenchyma > 0) & (st.pelvis > 0)))
        # posterior view: the patient's left kidney (1) is on the image left
        self.assertLess(np.nonzero(st.kidney == 1)[1].mean(), np.nonzero(st.kidney == 2)[1].mean())
        self.assertGreater((st.parenchyma == 1).sum(), 20)
        self.assertGreater((st.pelvis == 2).sum(), 0)

    @parameterized.expand([("nonfunctioning",), ("absent",)])
    def test_invisible_kidney_is_not_labelled(self, pathology):
        st = small_study(41, pathology=(pathology, "normal"))
        self.assertEqual(int((st.kidney == 1).sum()), 0)
        self.assertGreater(int((st.kidney == 2).sum()), 0)
        self.assertEqual(st.truth["drf_left_percent"], 0.0)
        self.assertIsNone(st.truth["tmax_min"]["left"])
        self.assertFalse(st.truth["kidneys"]["left"]["labelled"])
        self.assertEqual(st.truth["kidneys"]["left"]["present"], pathology != "absent")

    def test_hydronephrosis_has_thin_parenchyma(self):
        st = small_study(51, pathology=("hydronephrosis", "normal"), matrix=128)
        hyd = (st.pelvis == 1).sum() / (st.kidney == 1).sum()
        nor = (st.pelvis == 2).sum() / (st.kidney == 2).sum()
        self.assertGreater(hyd, 0.5)
        self.assertLess(nor, 0.35)


class TestDistractors(unittest.TestCase):
    def test_motion_shifts_only_its_frames(self):
        cfg = sample_study_config(71, matrix=64, protocol="quick39", motion=True)
        moved = simulate_study(cfg)
        first, last, dy, dx = cfg.motion
        cfg.motion = None
        still = simulate_study(cfg)
        outside = [i for i in range(len(moved.frame_durations_s)) if not first <= i <= last]
        np.testing.assert_array_equal(moved.expected[outside], still.expected[outside])
        self.assertGreaterEqual(first, int(np.searchsorted(moved.frame_starts_s, 180.0)) - 1)

        def centroid(img):
            r, c = np.indices(img.shape)
            return np.array([(r * img).sum(), (c * img).sum()]) / img.sum()

        shift = centroid(moved.expected[first]) - centroid(still.expected[first])
        np.testing.assert_allclose(shift, [dy, dx], atol=0.35)

    def test_injection_site_hot_spot(self):
        st = small_study(72, injection_site=True, matrix=128)
        self.assertTrue(st.truth["injection_site"]["in_field_of_view"])
        x, y = st.config.injection_site_mm
        ps, (cx, cy), m = st.config.pixel_spacing_mm, st.config.fov_centre_mm, st.config.matrix
        col, row = int(round((x - cx) / ps + (m - 1) / 2)), int(round((y - cy) / ps + (m - 1) / 2))
        late = st.expected[-1]
        self.assertGreater(late[row, col], 3 * np.median(late[late > 0]))

    def test_counts_clipped_to_uint16_with_warning(self):
        cfg = sample_study_config(73, matrix=64, protocol="quick39")
        cfg.kinetics.dose_mbq = 5e6
        with self.assertWarns(RuntimeWarning):
            st = simulate_study(cfg)
        self.assertEqual(int(st.frames.max()), 65535)


class TestDicomRoundTrip(unittest.TestCase):
    @parameterized.expand([("paper136", 128), ("eanm117", 64), ("10s180", 64)])
    def test_round_trip(self, protocol, matrix):
        st = simulate_study(sample_study_config(7, protocol=protocol, matrix=matrix))
        with tempfile.TemporaryDirectory() as d:
            folder = write_study(st, d, "sim_x")
            ds = pydicom.dcmread(folder / "study.dcm")
            self.assertEqual(ds.SOPClassUID, "1.2.840.10008.5.1.4.1.1.20")
            self.assertEqual(list(ds.ImageType), ["ORIGINAL", "PRIMARY", "DYNAMIC", "EMISSION"])
            self.assertEqual(int(ds.NumberOfFrames), PROTOCOLS[protocol].n_frames)
            durs = np.concatenate([[float(p.ActualFrameDuration) / 1000.0] * int(p.NumberOfFramesInPhase)
                                   for p in ds.PhaseInformationSequence])
            np.testing.assert_allclose(durs, st.frame_durations_s)
            np.testing.assert_allclose([float(v) for v in ds.PixelSpacing], st.pixel_spacing_mm, atol=1e-4)
            np.testing.assert_array_equal(ds.pixel_array, st.frames)
            for kw in ("EnergyWindowVector", "DetectorVector", "PhaseVector", "TimeSliceVector"):
                self.assertEqual(len(ds[kw].value), int(ds.NumberOfFrames), kw)
            view = ds.DetectorInformationSequence[0].ViewCodeSequence[0]
            self.assertEqual((view.CodeValue, view.CodingSchemeDesignator), ("399001007", "SCT"))
            self.assertEqual(parse_view(view.CodeMeaning), "posterior")
            self.assertEqual(ds.RadiopharmaceuticalInformationSequence[0].Radiopharmaceutical, st.truth["tracer"])
            self.assertAlmostEqual(float(ds.PatientWeight), st.truth["weight_kg"], places=1)
            truth = json.loads((folder / "truth.json").read_text())
            for key in ("drf_left_percent", "tmax_min", "t_half_min", "frame_durations_s", "pixel_spacing_mm",
                        "age_years", "tracer", "pathology", "curves", "frame_starts_s", "label_convention"):
                self.assertIn(key, truth)
            self.assertEqual(len(truth["curves"]["left_kidney"]), int(ds.NumberOfFrames))
            lab = np.asarray(Image.open(folder / "parenchyma.png"))
            np.testing.assert_array_equal(lab, st.parenchyma)

    def test_project_loader_reads_timing(self):
        from custom_transforms.io import read_dicom_study

        st = small_study(9)
        with tempfile.TemporaryDirectory() as d:
            folder = write_study(st, d, "sim_y")
            frames, meta = read_dicom_study(folder / "study.dcm")
        np.testing.assert_allclose(meta["frame_duration_s"], st.frame_durations_s)
        np.testing.assert_allclose(meta["frame_start_s"], st.frame_starts_s)
        self.assertEqual(meta["view"], "posterior")
        np.testing.assert_array_equal(frames, st.frames.astype(np.float32))

    @parameterized.expand([(0.67, "008M"), (1.99, "023M"), (2.0, "002Y"), (6.5, "006Y"), (15.2, "015Y")])
    def test_patient_age(self, age, text):
        self.assertEqual(dicom_age(age), text)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


class TestNetworkGridLabels(unittest.TestCase):
    """``label_maps``: the analytic outline drawn on another grid of the field (the network's 384x384 label)."""

    @parameterized.expand([(64,), (128,), (256,)])
    def test_native_size_gives_the_study_labels(self, matrix):
        st = small_study(71, matrix=matrix)
        labels = label_maps(st.config)
        for name in LABEL_NAMES:
            np.testing.assert_array_equal(labels[name], getattr(st, name))

    def test_outline_at_384_follows_the_kidney_not_the_native_staircase(self):
        st = small_study(72, matrix=64, pathology="normal")
        big = label_maps(st.config, 384)["parenchyma"]
        self.assertEqual((big.shape, big.dtype), ((384, 384), np.uint8))
        self.assertEqual(set(np.unique(big).tolist()), {0, 1, 2})
        for side in (1, 2):  # same kidneys, same sides: each native pixel's 6x6 block agrees with the native label
            blocks = (big == side).reshape(64, 6, 64, 6).mean(axis=(1, 3)) >= 0.5
            self.assertGreater(_dice(blocks, st.parenchyma == side), 0.93)
        # against the outline drawn twice as fine, the 384 label is closer than the native label enlarged bilinear
        fine = label_maps(st.config, 768)["parenchyma"] > 0
        reference = fine.reshape(384, 2, 384, 2).mean(axis=(1, 3)) >= 0.5
        enlarged = torch.nn.functional.interpolate(
            torch.as_tensor(st.parenchyma > 0, dtype=torch.float32)[None, None], size=(384, 384), mode="bilinear",
            align_corners=False,
        )[0, 0].numpy() >= 0.5
        self.assertGreater(_dice(big, reference), 0.99)
        self.assertLess(_dice(enlarged, reference), _dice(big, reference) - 0.01)

    def test_invisible_kidney_is_not_labelled_on_any_grid(self):
        st = small_study(41, pathology=("nonfunctioning", "normal"))
        big = label_maps(st.config, 384)
        self.assertEqual(int((big["kidney"] == 1).sum()), 0)
        self.assertGreater(int((big["kidney"] == 2).sum()), 0)

    def test_bad_size(self):
        with self.assertRaisesRegex(ValueError, "positive"):
            label_maps(small_study(71).config, 0)

    def test_writer_writes_the_network_grid_label(self):
        st = small_study(73)
        with tempfile.TemporaryDirectory() as d:
            folder = write_study(st, d, "sim_n")
            saved = np.asarray(Image.open(folder / NETWORK_LABEL_FILE))
        self.assertEqual(NETWORK_LABEL_FILE, f"parenchyma_{DEFAULT_SPATIAL_SIZE[0]}.png")
        np.testing.assert_array_equal(saved, label_maps(st.config, DEFAULT_SPATIAL_SIZE[0])["parenchyma"])


class TestWriter(unittest.TestCase):
    def test_failed_write_leaves_nothing(self):
        st = small_study(61)
        with tempfile.TemporaryDirectory() as d:
            with mock.patch("scripts.simulation.writer._save_png", side_effect=OSError("disk full")):
                with self.assertRaises(OSError):
                    write_study(st, d, "sim_z")
            self.assertEqual(list(Path(d).iterdir()), [])

    def test_existing_study_is_not_replaced_without_overwrite(self):
        st = small_study(61)
        with tempfile.TemporaryDirectory() as d:
            write_study(st, d, "sim_z")
            with self.assertRaises(FileExistsError):
                write_study(st, d, "sim_z")
            write_study(small_study(62), d, "sim_z", overwrite=True)
            self.assertEqual(json.loads((Path(d) / "sim_z/truth.json").read_text())["age_years"],
                             small_study(62).truth["age_years"])
            self.assertEqual(sorted(p.name for p in Path(d).iterdir()), ["sim_z"])
            csv_path = write_studies_csv(d)
            self.assertEqual(len(csv_path.read_text().strip().splitlines()), 2)


class TestConfigArguments(unittest.TestCase):
    @parameterized.expand([({"pathology": "cyst"},), ({"protocol": "nope"},), ({"matrix": 100},),
                           ({"tracer": "FDG"},), ({"age_range": (5, 2)},)])
    def test_bad_constraint(self, kw):
        with self.assertRaises(ValueError):
            sample_study_config(0, **kw)

    @parameterized.expand([(64,), (128,), (256,)])
    def test_pixel_spacing_range(self, matrix):
        for seed in range(10):
            cfg = sample_study_config(seed, matrix=matrix)
            self.assertTrue(2.0 <= cfg.pixel_spacing_mm <= 8.5, cfg.pixel_spacing_mm)
            if matrix == 128 or (matrix == 64 and cfg.age_years < 8):
                self.assertLessEqual(cfg.pixel_spacing_mm, 4.8)


if __name__ == "__main__":
    unittest.main()
