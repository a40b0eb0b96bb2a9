# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Bundle segmentation in process (tiny networks; masks equal to the bundle run's) and the validation command on two
simulated studies."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

from custom_transforms.errors import RenogramInputError
from scripts.clinical.segment import BundleSegmenter, MissingModelError, segment_studies, segment_study
from tests.clinical.renal_fixtures import THRESHOLD_NET, make_tiny_bundle, truncated_copy

REPO = Path(__file__).resolve().parents[2]
BUNDLE_CONFIGS = REPO / "bundle" / "configs"

try:
    from scripts.simulation import sample_study_config, simulate_study, write_study

    HAVE_SIMULATOR = True
except ImportError:  # pragma: no cover
    HAVE_SIMULATOR = False

#: a two-level MONAI UNet standing in for the trained network (same 3 -> 1 channel contract)
TINY_NET = {"_target_": "monai.networks.nets.UNet", "spatial_dims": 2, "in_channels": 3, "out_channels": 1,
            "channels": [4, 8], "strides": [2], "num_res_units": 0}


def _simulate(root: Path, index: int, pathology: str = "normal") -> Path:
    cfg = sample_study_config(np.random.default_rng(100 + index), matrix=64, protocol="paper136", tracer="MAG3",
                              pathology=pathology, injection_site=False, motion=False, seed=100, index=index)
    return write_study(simulate_study(cfg), root, f"sim_{index:03d}")


def _studies(root: Path, *pathologies: str) -> Path:
    """``root/studies`` holding one simulated study per pathology (``sim_000``, ``sim_001``, ...)."""
    studies = root / "studies"
    for i, pathology in enumerate(pathologies):
        _simulate(studies, i, pathology)
    return studies


@unittest.skipUnless(HAVE_SIMULATOR and (BUNDLE_CONFIGS / "inference.json").is_file(), "simulator or bundle missing")
class TestSegmentStudy(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        import torch
        from monai.networks.nets import UNet

        cls.tmp = Path(tempfile.mkdtemp(prefix="renal_seg_"))
        cls.study = _simulate(cls.tmp / "studies", 0) / "study.dcm"
        cls.bundle = cls.tmp / "bundle"
        shutil.copytree(BUNDLE_CONFIGS, cls.bundle / "configs")
        (cls.bundle / "models").mkdir()
        torch.manual_seed(0)
        kw = {k: v for k, v in TINY_NET.items() if k != "_target_"}
        torch.save(UNet(**kw).state_dict(), cls.bundle / "models" / "model.pt")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_mask_on_native_matrix(self):
        mask = segment_study(self.study, self.bundle, fused_index=1,
                             overrides={"network_def": TINY_NET, "image_size": [64, 64]})
        self.assertEqual(mask.shape, (64, 64))
        self.assertTrue(set(np.unique(mask).tolist()) <= {0, 1})

    def test_several_studies_in_one_run_keep_order(self):
        masks = segment_studies([self.study, self.study], self.bundle,
                                overrides={"network_def": TINY_NET, "image_size": [64, 64]})
        self.assertEqual(len(masks), 2)
        np.testing.assert_array_equal(masks[0], masks[1])

    def test_missing_weights_and_study(self):
        empty = self.tmp / "no_weights"
        shutil.copytree(BUNDLE_CONFIGS, empty / "configs", dirs_exist_ok=True)
        with self.assertRaisesRegex(MissingModelError, r"model.pt: no trained model.*--mask"):
            segment_study(self.study, empty)
        with self.assertRaisesRegex(RenogramInputError, "missing.dcm: no such file"):
            segment_study(self.tmp / "missing.dcm", self.bundle)


@unittest.skipUnless(HAVE_SIMULATOR and (BUNDLE_CONFIGS / "inference.json").is_file(), "simulator or bundle missing")
class TestInProcessSegmentation(unittest.TestCase):
    """The in-process masks equal the ``<name>_mask.png`` of ``python -m monai.bundle run`` on the same config."""

    #: the threshold network on a 96x96 grid: a 64x64 study is resized up and the mask inverted back (Invertd)
    OVERRIDES = {"network_def": THRESHOLD_NET, "image_size": [96, 96], "device": "cpu"}

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="renal_inproc_"))
        cls.inputs = cls.tmp / "inputs"
        cls.inputs.mkdir()
        for i, pathology in enumerate(("normal", "obstructed", "absent")):
            shutil.copy(_simulate(cls.tmp / "studies", i, pathology) / "study.dcm", cls.inputs / f"case{i}.dcm")
        cls.bundle = make_tiny_bundle(cls.tmp / "bundle")
        cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file",
               str(cls.bundle / "configs" / "inference.json"), "--bundle_root", str(cls.bundle), "--dataset_dir",
               str(cls.inputs), "--output_dir", str(cls.tmp / "bundle_run"), "--save_overlay", "false"]
        for key, value in cls.OVERRIDES.items():
            cmd += [f"--{key}", json.dumps(value) if not isinstance(value, str) else value]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        cls.bundle_run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_masks_equal_the_bundle_run_pixel_for_pixel(self):
        self.assertEqual(self.bundle_run.returncode, 0, self.bundle_run.stderr[-3000:])
        studies = sorted(self.inputs.glob("*.dcm"))
        masks = segment_studies(studies, self.bundle, overrides=self.OVERRIDES)
        for study, mask in zip(studies, masks, strict=True):
            expected = cv2.imread(str(self.tmp / "bundle_run" / f"{study.stem}_mask.png"), cv2.IMREAD_UNCHANGED)
            self.assertEqual((mask.shape, mask.dtype), (expected.shape, np.uint8))
            np.testing.assert_array_equal(mask, expected, err_msg=study.name)
        self.assertTrue(any(m.any() for m in masks) and not all(m.all() for m in masks), "trivial masks")

    def test_no_temporary_folder(self):
        with mock.patch("tempfile.mkdtemp", side_effect=AssertionError("no temporary folder expected")):
            mask = segment_study(self.inputs / "case0.dcm", self.bundle, overrides=self.OVERRIDES)
        self.assertEqual(mask.shape, (64, 64))

    def test_bad_study_is_named_by_the_users_path(self):
        bad = truncated_copy(self.inputs / "case0.dcm", self.tmp / "bad.dcm")
        segmenter = BundleSegmenter(self.bundle, overrides=self.OVERRIDES)
        with self.assertRaises(RenogramInputError) as ctx:
            segmenter(bad)
        self.assertTrue(str(ctx.exception).startswith(f"{bad}: pixel data cannot be decoded"), str(ctx.exception))
        # the segmenter is still usable after a bad study
        self.assertEqual(segmenter(self.inputs / "case1.dcm").shape, (64, 64))

    def test_weights_that_do_not_fit_are_named(self):
        with self.assertRaisesRegex(RenogramInputError, r"model.pt: weights do not fit network_def"):
            BundleSegmenter(self.bundle, overrides={"network_def": TINY_NET, "image_size": [64, 64]})


@unittest.skipUnless(HAVE_SIMULATOR, "simulator missing")
class TestValidateCommand(unittest.TestCase):
    def test_gt_and_prediction_rows_and_summary(self):
        from scripts.validate_renal_function import main

        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            studies = _studies(tmp, "normal", "absent")
            pred = tmp / "pred"
            pred.mkdir()
            for d in studies.iterdir():  # "predictions" = the true parenchyma as a binary 0/255 mask
                lab = cv2.imread(str(d / "parenchyma.png"), cv2.IMREAD_UNCHANGED)
                cv2.imwrite(str(pred / f"{d.name}.png"), ((lab > 0) * 255).astype(np.uint8))
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = main(["--studies", str(studies), "--predictions", str(pred), "--out", str(tmp / "res")])
            self.assertEqual(rc, 0)
            summary = json.loads((tmp / "res" / "summary.json").read_text())["summary"]
            self.assertEqual(set(summary), {"gt_parenchyma", "gt_kidney", "model"})
            for s in summary.values():
                self.assertEqual((s["studies"], s["failed"]), (2, 0))
            # a binary mask split by position reproduces the labelled analysis exactly
            self.assertEqual(summary["model"]["drf_integral_all"], summary["gt_parenchyma"]["drf_integral_all"])
            self.assertIn("| gt_parenchyma | 2 (0) |", out.getvalue())
            rows = (tmp / "res" / "per_study.csv").read_text().splitlines()
            self.assertEqual(len(rows), 1 + 3 * 2)

    def test_motion_against_the_truth(self):
        import dataclasses

        from scripts.validate_renal_function import main

        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            studies = tmp / "studies"
            _simulate(studies, 0)
            cfg = sample_study_config(np.random.default_rng(101), matrix=64, protocol="paper136", tracer="MAG3",
                                      pathology="normal", injection_site=False, motion=False, seed=100, index=1)
            write_study(simulate_study(dataclasses.replace(cfg, motion=[80, 82, 1.5, 0.0])), studies, "sim_001")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = main(["--studies", str(studies), "--out", str(tmp / "res")])
            self.assertEqual(rc, 0)
            motion = json.loads((tmp / "res" / "summary.json").read_text())["summary"]["gt_parenchyma"]["motion"]
            self.assertEqual((motion["with_motion"], motion["at_least_1px_found"], motion["exact_frames"]), (1, 1, 1))
            self.assertEqual((motion["without_motion"], motion["without_motion_moved_frames"]), (1, 0))
            self.assertIn("| gt_parenchyma | 1/1 | 1/1 | 1/1 |", out.getvalue())
            header = (tmp / "res" / "per_study.csv").read_text().splitlines()[0].split(",")
            self.assertIn("motion_found", header)

    def test_in_process_rows_hold_the_networks_doubt(self):
        from scripts.validate_renal_function import IN_PROCESS_SOURCE, main, probability_path

        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            studies = _studies(tmp, "normal", "reduced")
            bundle = make_tiny_bundle(tmp / "bundle", record_rule=True)
            argv = ["--studies", str(studies), "--use-model", "--in-process", "--bundle-dir", str(bundle), "--no-gt",
                    "--out", str(tmp / "res")]
            with contextlib.redirect_stdout(io.StringIO()):
                rc = main(argv)
            self.assertEqual(rc, 0)
            first = (tmp / "res" / "per_study.csv").read_text()
            with open(tmp / "res" / "per_study.csv", newline="") as f:
                rows = {(r["study_id"], r["mask"]): r for r in csv.DictReader(f)}
            self.assertEqual({m for _, m in rows}, {"model", IN_PROCESS_SOURCE})
            for sid in ("sim_000", "sim_001"):
                cached, live = rows[(sid, "model")], rows[(sid, IN_PROCESS_SOURCE)]
                # the same network's mask: the same method DRFs and mask codes
                self.assertEqual(cached["drf_left_integral"], live["drf_left_integral"])
                self.assertEqual(cached["found_left"], live["found_left"])
                self.assertEqual(cached["ci_integral_seg_probability"], "nan")
            # two kidneys found (the normal study): the interval also holds the probability map's term; the threshold
            # network misses the reduced kidney, whose study has the one-kidney interval either way
            cached, live = rows[("sim_000", "model")], rows[("sim_000", IN_PROCESS_SOURCE)]
            self.assertTrue(math.isfinite(float(live["ci_integral_seg_probability"])))
            self.assertGreaterEqual(float(live["ci_integral_width"]), float(cached["ci_integral_width"]))
            self.assertIn("missing_kidney_uptake", rows[("sim_001", IN_PROCESS_SOURCE)]["qc_codes"])
            summary = json.loads((tmp / "res" / "summary.json").read_text())
            self.assertIn(IN_PROCESS_SOURCE, summary["drf_interval"])
            self.assertIn(IN_PROCESS_SOURCE, summary["qc_confusion_segmentation_codes_combined"])
            # each study segmented once: the map is cached beside its mask, and a second run reads both
            for sid in ("sim_000", "sim_001"):
                prob = np.load(probability_path(tmp / "res" / "predictions", sid))
                self.assertEqual((prob.dtype, prob.shape), (np.float32, (64, 64)))
            with mock.patch("scripts.clinical.segment.BundleSegmenter", side_effect=AssertionError("segmented")), \
                    contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(main(argv), 0)
            self.assertEqual((tmp / "res" / "per_study.csv").read_text(), first)
            # a damaged cached map fails its own row, naming the file; every other row is measured as before
            for damage in (b"not an npy file", None):
                bad = probability_path(tmp / "res" / "predictions", "sim_000")
                if damage is None:
                    np.save(bad, np.full((32, 32), 0.5, np.float32))  # not the mask's shape
                else:
                    bad.write_bytes(damage)
                with mock.patch("scripts.clinical.segment.BundleSegmenter", side_effect=AssertionError("segmented")), \
                        contextlib.redirect_stdout(io.StringIO()):
                    self.assertEqual(main(argv), 0)
                with open(tmp / "res" / "per_study.csv", newline="") as f:
                    again = {(r["study_id"], r["mask"]): r for r in csv.DictReader(f)}
                self.assertIn(str(bad), again[("sim_000", IN_PROCESS_SOURCE)]["error"])
                self.assertIn("cached probability map", again[("sim_000", IN_PROCESS_SOURCE)]["error"])
                for key in (("sim_000", "model"), ("sim_001", "model"), ("sim_001", IN_PROCESS_SOURCE)):
                    self.assertEqual(again[key]["drf_left_integral"], rows[key]["drf_left_integral"])
                    self.assertEqual(again[key]["error"], "")

    def test_in_process_needs_the_model(self):
        from scripts.validate_renal_function import main

        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as ctx:
            main(["--studies", "s", "--out", "o", "--in-process"])
        self.assertEqual(ctx.exception.code, 2)
        self.assertIn("--in-process needs --use-model", err.getvalue())

    def test_missing_prediction_is_an_error(self):
        from scripts.validate_renal_function import main

        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            _simulate(tmp / "studies", 0)
            (tmp / "pred").mkdir()
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                rc = main(["--studies", str(tmp / "studies"), "--predictions", str(tmp / "pred"), "--out",
                           str(tmp / "res")])
            self.assertEqual(rc, 2)
            self.assertIn("no predicted mask for study sim_000", err.getvalue())


if __name__ == "__main__":
    unittest.main()
