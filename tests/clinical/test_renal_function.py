# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""End-to-end tests of ``python -m scripts.renal_function`` on small simulated studies and the real study."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import stat
import tempfile
import unittest
from pathlib import Path

import cv2
import numpy as np
import pydicom
from scipy import ndimage as ndi

from scripts.renal_function import main

REPO = Path(__file__).resolve().parents[2]
REAL_STUDY = REPO.parent / "shared" / "realdata" / "roim_renal_mag3_posterior_deid.dcm"

try:
    from scripts.simulation import sample_study_config, simulate_study, write_study

    HAVE_SIMULATOR = True
except ImportError:  # pragma: no cover - the simulator lives in another package of this repo
    HAVE_SIMULATOR = False


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the command in-process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:  # argparse errors
            rc = int(exc.code)
    return rc, out.getvalue(), err.getvalue()


def simulate(root: Path, name: str, pathology) -> Path:
    cfg = sample_study_config(np.random.default_rng(11), matrix=64, protocol="paper136", tracer="MAG3",
                              pathology=pathology, injection_site=False, motion=False, seed=11, index=0)
    return write_study(simulate_study(cfg), root, name)


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestRenalFunctionCLI(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="renal_cli_"))
        cls.study = simulate(cls.tmp, "normal", "normal")
        cls.truth = json.loads((cls.study / "truth.json").read_text())
        cls.out = cls.tmp / "report"
        cls.rc, cls.stdout, cls.stderr = run_cli(cls.study / "study.dcm", "--out", cls.out, "--mask",
                                                 cls.study / "parenchyma.png")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_writes_report_files_with_schema(self):
        self.assertEqual(self.rc, 0, self.stderr)
        rep = json.loads((self.out / "report.json").read_text())
        self.assertEqual(set(rep) >= {"schema_version", "study", "settings", "blood_pool", "drf_percent", "kidneys",
                                      "normal_ranges", "warnings", "files"}, True)
        for side in ("left", "right"):
            k = rep["kidneys"][side]
            self.assertTrue(k["found"])
            for key in ("tmax_min", "t_half_min", "ratio_20min_max", "nora_20min", "ktbr", "drf_integral_percent",
                        "drf_patlak_percent", "flags"):
                self.assertIn(key, k)
        self.assertAlmostEqual(rep["drf_percent"]["integral"]["left"] + rep["drf_percent"]["integral"]["right"], 100)
        self.assertEqual(rep["settings"]["drf_window_s"], [60.0, 120.0])
        img = cv2.imread(str(self.out / "report.png"))
        self.assertGreater(img.shape[0], 600)
        with open(self.out / "curves.csv") as fh:
            rows = list(csv.DictReader(fh))
        self.assertEqual(len(rows), len(self.truth["frame_durations_s"]))
        self.assertIn("left_kidney_cps", rows[0])
        self.assertEqual([p.name for p in self.out.iterdir() if p.name.startswith(".")], [])

    def test_values_match_simulator_truth(self):
        rep = json.loads((self.out / "report.json").read_text())
        self.assertLess(abs(rep["drf_percent"]["integral"]["left"] - self.truth["drf_left_percent"]), 5.0)
        # Patlak is less accurate than the integral on the simulator (see the validation figures): wider bound
        self.assertLess(abs(rep["drf_percent"]["patlak"]["left"] - self.truth["drf_left_percent"]), 7.0)
        for side in ("left", "right"):
            self.assertLess(abs(rep["kidneys"][side]["tmax_min"] - self.truth["tmax_min"][side]), 1.0)
            self.assertLess(abs(rep["kidneys"][side]["t_half_min"] - self.truth["t_half_min"][side]), 2.0)
        self.assertEqual(rep["blood_pool"]["method"], "heart_roi")

    def test_mask_with_one_kidney_gives_100_0_with_warning(self):
        mask = cv2.imread(str(self.study / "parenchyma.png"), cv2.IMREAD_UNCHANGED)
        mask[mask == 1] = 0  # only the patient-right kidney left (label 2)
        p = self.tmp / "right_only.png"
        cv2.imwrite(str(p), mask)
        out = self.tmp / "single"
        rc, _, err = run_cli(self.study / "study.dcm", "--out", out, "--mask", p)
        self.assertEqual(rc, 0, err)
        rep = json.loads((out / "report.json").read_text())
        self.assertEqual(rep["drf_percent"]["integral"], {"right": 100.0, "left": 0.0, "right_ci95": [100.0, 100.0],
                                                          "left_ci95": [0.0, 0.0]})
        self.assertFalse(rep["kidneys"]["left"]["found"])
        self.assertTrue(any("only the patient's right kidney" in w for w in rep["warnings"]))

    def test_empty_mask_is_an_error_naming_the_file_and_keeps_old_report(self):
        p = self.tmp / "empty.png"
        cv2.imwrite(str(p), np.zeros((64, 64), np.uint8))
        before = (self.out / "report.json").read_bytes()
        rc, _, err = run_cli(self.study / "study.dcm", "--out", self.out, "--mask", p)
        self.assertEqual(rc, 2)
        self.assertIn(f"{p}: no kidney found", err)
        self.assertEqual(err.count("\n"), 1)
        self.assertEqual((self.out / "report.json").read_bytes(), before)

    def test_study_shorter_than_drf_window_is_an_error(self):
        out = self.tmp / "short"
        rc, _, err = run_cli(self.study / "study.dcm", "--out", out, "--mask", self.study / "parenchyma.png",
                             "--drf-window", "60,1500")
        self.assertEqual(rc, 2)
        self.assertIn("study.dcm: study ends at 1200.0 s, shorter than the DRF window", err)
        self.assertFalse((out / "report.json").exists())

    def test_frames_without_timing_are_an_error(self):
        ds = pydicom.dcmread(self.study / "study.dcm")
        del ds.PhaseInformationSequence
        bad = self.tmp / "no_timing.dcm"
        ds.save_as(bad)
        rc, _, err = run_cli(bad, "--out", self.tmp / "nt", "--mask", self.study / "parenchyma.png")
        self.assertEqual(rc, 2)
        self.assertIn("no_timing.dcm", err)
        self.assertIn("timing", err)

    def test_missing_model_suggests_mask(self):
        rc, _, err = run_cli(self.study / "study.dcm", "--out", self.tmp / "nm", "--bundle-dir", self.tmp / "nobundle")
        self.assertEqual(rc, 2)
        self.assertIn("--mask", err)

    def test_options_change_the_analysis(self):
        out = self.tmp / "opts"
        rc, _, err = run_cli(self.study / "study.dcm", "--out", out, "--mask", self.study / "kidney.png",
                             "--mask-kind", "kidney", "--background", "perirenal", "--drf-window", "60,150")
        self.assertEqual(rc, 0, err)
        rep = json.loads((out / "report.json").read_text())
        self.assertEqual(rep["settings"]["background"], "perirenal")
        self.assertEqual(rep["settings"]["drf_window_s"], [60.0, 150.0])
        base = json.loads((self.out / "report.json").read_text())
        self.assertEqual(base["settings"]["background"], "crescent")  # the default: the full ring's lateral half
        self.assertGreater(rep["kidneys"]["left"]["background_pixels"], base["kidneys"]["left"]["background_pixels"])

    def test_bad_option_exits_2(self):
        rc, _, err = run_cli(self.study / "study.dcm", "--out", self.tmp / "x", "--drf-window", "120,60")
        self.assertEqual(rc, 2)
        self.assertIn("window", err)


def real_study_mask(path: Path, out: Path) -> Path:
    """Crude kidney mask of the real study: 1-3 min sum minus a 15 px median background, > 30 % of its maximum,
    the two largest regions (the injection site at the right image edge is excluded)."""
    from custom_transforms import LoadDynamicStudy

    img = LoadDynamicStudy()(str(path))
    frames = img.numpy()
    mid = np.asarray(img.meta["frame_start_s"]) + np.asarray(img.meta["frame_duration_s"]) / 2
    s = ndi.gaussian_filter(frames[(mid >= 60) & (mid <= 180)].sum(axis=0), 1.0)
    top = s - ndi.median_filter(s, size=15)
    top[:, 100:] = 0
    m = top > 0.3 * top.max()
    lab, n = ndi.label(m, np.ones((3, 3)))
    sizes = ndi.sum_labels(m, lab, range(1, n + 1))
    cv2.imwrite(str(out), (np.isin(lab, np.argsort(sizes)[-2:] + 1) * 255).astype(np.uint8))
    return out


@unittest.skipUnless(REAL_STUDY.is_file(), "real study not available (../shared/realdata)")
class TestRealStudy(unittest.TestCase):
    def test_real_study_gives_complete_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            mask = real_study_mask(REAL_STUDY, Path(tmp) / "mask.png")
            rc, _, err = run_cli(REAL_STUDY, "--out", Path(tmp) / "r", "--mask", mask)
            self.assertEqual(rc, 0, err)
            rep = json.loads((Path(tmp) / "r" / "report.json").read_text())
            self.assertTrue(rep["kidneys"]["left"]["found"] and rep["kidneys"]["right"]["found"])
            self.assertTrue(30 < rep["drf_percent"]["integral"]["left"] < 70)
            self.assertAlmostEqual(rep["study"]["duration_min"], 17.9, delta=0.1)
            # the study is 17.9 min long and has a low kidney-to-background ratio: both must be reported
            self.assertTrue(any("before 20 min" in w for w in rep["warnings"]))
            self.assertTrue(any("kidney-to-background" in w for w in rep["warnings"]))
            self.assertTrue((Path(tmp) / "r" / "report.png").stat().st_size > 10000)


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestModelPath(unittest.TestCase):
    def test_without_mask_the_bundle_segmentation_is_used(self):
        from unittest import mock

        with tempfile.TemporaryDirectory() as tmp:
            study = simulate(Path(tmp), "s", "normal")
            binary = (cv2.imread(str(study / "parenchyma.png"), cv2.IMREAD_UNCHANGED) > 0).astype(np.uint8)
            from custom_transforms.pipeline import FusedImageChain
            from scripts.clinical.study import LoadedStudy

            with mock.patch("scripts.clinical.segment.BundleSegmenter") as seg:
                # the command asks for the mask with the network's probability (for the DRF interval)
                seg.return_value.segment_with_probability.return_value = (binary, binary.astype(np.float32))
                seg.return_value.weights = Path("bundle/models/model.pt")
                seg.return_value.chain = FusedImageChain(fused_index=2)
                rc, _, err = run_cli(study / "study.dcm", "--out", Path(tmp) / "r", "--fused-index", "2")
            self.assertEqual(rc, 0, err)
            self.assertEqual(seg.call_args.kwargs["fused_index"], 2)
            called = seg.return_value.segment_with_probability
            called.assert_called_once()  # with the study loaded once, not its path
            (loaded,), _ = called.call_args
            self.assertIsInstance(loaded, LoadedStudy)
            self.assertEqual(loaded.path, study / "study.dcm")
            rep = json.loads((Path(tmp) / "r" / "report.json").read_text())
            self.assertTrue(rep["display_image"].startswith("fused image 2 "))
            self.assertTrue(rep["settings"]["mask_source"].startswith("model"))
            self.assertTrue(rep["kidneys"]["left"]["found"] and rep["kidneys"]["right"]["found"])

    def test_empty_model_mask_names_the_study(self):
        from unittest import mock

        with tempfile.TemporaryDirectory() as tmp:
            study = simulate(Path(tmp), "s", "normal")
            with mock.patch("scripts.clinical.segment.BundleSegmenter") as seg:
                empty = np.zeros((64, 64), np.uint8)
                seg.return_value.segment_with_probability.return_value = (empty, empty.astype(np.float32))
                rc, _, err = run_cli(study / "study.dcm", "--out", Path(tmp) / "r")
            self.assertEqual(rc, 2)
            self.assertEqual(err, f"renal_function: error: {study / 'study.dcm'}: the bundle's model found no kidney in "
                             "this study (empty mask); check the study or pass --mask\n")
            self.assertFalse((Path(tmp) / "r").exists())


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestSeveralStudies(unittest.TestCase):
    """Several studies or a folder: one process, one network, ``OUT/<study_id>/report.*`` and ``OUT/skipped.json``."""

    @classmethod
    def setUpClass(cls) -> None:
        from tests.clinical.renal_fixtures import make_tiny_bundle
        from tests.clinical.renal_fixtures import simulate as simulate_tiny

        cls.tmp = Path(tempfile.mkdtemp(prefix="renal_batch_"))
        cls.studies = cls.tmp / "studies"  # the simulator's layout: <id>/study.dcm
        for i, name in enumerate(("sim_a", "sim_b")):
            simulate_tiny(cls.studies, name, i)
        cls.bundle = make_tiny_bundle(cls.tmp / "bundle")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_folder_in_simulator_layout(self):
        out = self.tmp / "folder"
        rc, stdout, err = run_cli(self.studies, "--out", out, "--bundle-dir", self.bundle, "--quiet")
        self.assertEqual(rc, 0, err)
        # nothing per study; only the one line that the tiny bundle's weights record no training rule
        self.assertEqual([line for line in err.splitlines() if "record no training rule" not in line], [])
        self.assertEqual(sorted(p.name for p in out.iterdir()),
                         ["cohort.csv", "cohort.png", "sim_a", "sim_b", "skipped.json"])
        for sid in ("sim_a", "sim_b"):
            self.assertEqual(sorted(p.name for p in (out / sid).iterdir()), ["curves.csv", "report.json", "report.png"])
            rep = json.loads((out / sid / "report.json").read_text())
            self.assertEqual(rep["study"]["file"], str(self.studies / sid / "study.dcm"))
            self.assertIn(f"{sid}: DRF (combined, of record)", stdout)
        self.assertEqual(json.loads((out / "skipped.json").read_text()),
                         {"command": "renal_function", "inputs": 2, "done": 2, "skipped": []})

    def test_network_built_once_for_a_folder(self):
        from unittest import mock

        from scripts.clinical import segment

        with mock.patch.object(segment, "BundleSegmenter", wraps=segment.BundleSegmenter) as seg:
            rc, _, err = run_cli(self.studies, "--out", self.tmp / "once", "--bundle-dir", self.bundle, "--quiet")
        self.assertEqual(rc, 0, err)
        self.assertEqual(seg.call_count, 1)

    def test_reports_equal_the_single_study_report(self):
        single = self.tmp / "single"
        rc, _, err = run_cli(self.studies / "sim_a" / "study.dcm", "--out", single, "--bundle-dir", self.bundle)
        self.assertEqual(rc, 0, err)
        batch = self.tmp / "batch"
        rc, _, err = run_cli(self.studies / "sim_b" / "study.dcm", self.studies / "sim_a" / "study.dcm", "--out",
                             batch, "--bundle-dir", self.bundle, "--quiet")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads((batch / "sim_a" / "report.json").read_text()),
                         json.loads((single / "report.json").read_text()))
        self.assertEqual((batch / "sim_a" / "curves.csv").read_bytes(), (single / "curves.csv").read_bytes())

    def test_same_file_names_get_their_own_folders(self):
        src = self.tmp / "same_names"
        for sub in ("x", "y"):
            (src / sub).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.studies / "sim_a" / "study.dcm", src / sub / "scan.dcm")
        out = self.tmp / "same_out"
        rc, _, err = run_cli(src / "x" / "scan.dcm", src / "y" / "scan.dcm", "--out", out, "--bundle-dir",
                             self.bundle, "--quiet")
        self.assertEqual(rc, 0, err)
        self.assertTrue((out / "scan" / "report.json").is_file() and (out / "scan-2" / "report.json").is_file())

    def test_mask_takes_a_single_study(self):
        rc, _, err = run_cli(self.studies, "--out", self.tmp / "m", "--mask", self.studies / "sim_a" / "parenchyma.png")
        self.assertEqual(rc, 2)
        self.assertIn("--mask takes a single study", err)
        self.assertFalse((self.tmp / "m").exists())

    def test_report_files_get_umask_permissions(self):
        out = self.tmp / "perm"
        old = os.umask(0o022)
        try:
            for _ in ("new folder", "existing folder"):
                rc, _, err = run_cli(self.studies / "sim_a" / "study.dcm", "--out", out, "--bundle-dir", self.bundle)
                self.assertEqual(rc, 0, err)
                self.assertEqual(stat.S_IMODE(out.stat().st_mode), 0o755)
                for name in ("report.json", "curves.csv", "report.png"):
                    self.assertEqual(stat.S_IMODE((out / name).stat().st_mode), 0o644, name)
        finally:
            os.umask(old)


if __name__ == "__main__":
    unittest.main()
