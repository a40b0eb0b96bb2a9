# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Bundle inference with ``save_dicom_seg``: ``<stem>_seg.dcm`` beside ``<stem>_mask.png`` for DICOM inputs.

A simulated 64x64 study, a two-detector NM file and a fused PNG go through ``inference.json`` (ConfigWorkflow, the
threshold network of ``tests.bundle.bundle_fixtures``); the SEG read back with highdicom equals the mask PNG, names
the bundle, references the source (all frames, or the posterior detector's frames), and passes dciodvfy. The option is
off by default, and the config imports no highdicom when it is parsed.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pydicom
from monai.bundle import ConfigWorkflow
from PIL import Image

from custom_transforms import dicom_seg
from custom_transforms.dicom_seg import EXPECTED_SEG_WARNINGS, read_segments
from scripts.dicom_validation.testing import assert_valid_dicom
from tests.bundle.bundle_fixtures import CONFIGS
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, REPO, make_tiny_bundle, simulate
from tests.custom_transforms.nm_dicom import Phase, write_nm_dicom


def _two_detector_study(path: Path) -> Path:
    """A 64x64 file with an anterior detector (1) and a posterior one (2), 30 frames x 10 s each."""
    rng = np.random.default_rng(3)
    frames = rng.poisson(5, size=(60, 64, 64)).astype(np.uint16)
    frames[:, 20:40, 8:20] += 60  # a bright "kidney" on both detectors
    return write_nm_dicom(path, frames, phases=[Phase(30, 10000)], detector_views=["ANTERIOR", "POSTERIOR"])


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestInferenceDicomSeg(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="infer_seg_"))
        cls.bundle = make_tiny_bundle(cls.tmp / "bundle")
        cls.inputs = cls.tmp / "in"
        cls.inputs.mkdir()
        shutil.copy(simulate(cls.tmp / "sim", "s0") / "study.dcm", cls.inputs / "sim.dcm")
        _two_detector_study(cls.inputs / "two.dcm")
        Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(cls.inputs / "fused.png")
        cls.sums = {p.name: p.read_bytes() for p in cls.inputs.iterdir()}
        cls.out = cls.tmp / "out"
        cls.code, cls.log = cls.infer(cls.out, save_dicom_seg=True)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def infer(cls, out: Path, **overrides) -> tuple[int, str]:
        err = io.StringIO()
        code = 0
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            warnings.simplefilter("ignore")
            try:
                configs = cls.bundle / "configs"
                wf = ConfigWorkflow(config_file=str(configs / "inference.json"),
                                    meta_file=str(configs / "metadata.json"),
                                    logging_file=str(configs / "logging.conf"), workflow_type="infer",
                                    bundle_root=str(cls.bundle), dataset_dir=str(cls.inputs), output_dir=str(out),
                                    save_overlay=False, **overrides)
                wf.initialize()
                wf.run()
                wf.finalize()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        return code, err.getvalue()

    def test_seg_beside_each_dicom_mask_and_not_for_the_png(self):
        self.assertEqual(self.code, 0, self.log)
        names = sorted(p.name for p in self.out.iterdir())
        self.assertIn("sim_seg.dcm", names)
        self.assertIn("two_seg.dcm", names)
        self.assertIn("fused_mask.png", names)
        self.assertNotIn("fused_seg.dcm", names)

    def test_seg_equals_the_mask_png_pixel_for_pixel(self):
        for stem in ("sim", "two"):
            mask = np.asarray(Image.open(self.out / f"{stem}_mask.png")) > 0
            segments = read_segments(self.out / f"{stem}_seg.dcm")
            self.assertEqual(list(segments), ["Renal parenchyma"])
            np.testing.assert_array_equal(segments["Renal parenchyma"], mask)

    def test_seg_names_the_bundle_and_references_the_source(self):
        meta = json.loads((CONFIGS / "metadata.json").read_text())
        for stem, frames in (("sim", None), ("two", list(range(31, 61)))):
            seg = pydicom.dcmread(self.out / f"{stem}_seg.dcm")
            src = pydicom.dcmread(self.inputs / f"{stem}.dcm", stop_before_pixels=True)
            self.assertEqual(seg.StudyInstanceUID, src.StudyInstanceUID)
            self.assertNotEqual(seg.SeriesInstanceUID, src.SeriesInstanceUID)
            desc = seg.SegmentSequence[0]
            self.assertEqual(desc.SegmentAlgorithmType, "AUTOMATIC")
            self.assertEqual(desc.SegmentAlgorithmName, meta["name"][:64])
            self.assertEqual(desc.SegmentationAlgorithmIdentificationSequence[0].AlgorithmVersion, meta["version"])
            refs = seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence
            self.assertEqual({r.ReferencedSOPInstanceUID for r in refs}, {src.SOPInstanceUID})
            if frames is None:  # one detector: every frame, so no frame numbers (the standard's "all frames")
                self.assertEqual(len(refs), 1)
                self.assertNotIn("ReferencedFrameNumber", refs[0])
            else:  # the posterior detector's frames, the ones the bundle read
                self.assertEqual([int(r.ReferencedFrameNumber) for r in refs], frames)

    def test_seg_passes_dciodvfy(self):
        result = assert_valid_dicom(self, self.out / "sim_seg.dcm", allowed_warnings=EXPECTED_SEG_WARNINGS)
        self.assertEqual(result.iod, "Segmentation")

    def test_inputs_unchanged(self):
        self.assertEqual({p.name: p.read_bytes() for p in self.inputs.iterdir()}, self.sums)

    def test_a_study_whose_seg_fails_keeps_its_mask_and_the_others_their_seg(self):
        out = self.tmp / "out_one_fails"
        real = dicom_seg.build_segmentation

        def fail_for_two(header, *args, **kwargs):
            if int(header.get("NumberOfDetectors", 1) or 1) == 2:
                raise ValueError("highdicom refused this header")
            return real(header, *args, **kwargs)

        with mock.patch.object(dicom_seg, "build_segmentation", side_effect=fail_for_two):
            code, log = self.infer(out, save_dicom_seg=True)
        self.assertEqual(code, 0, log)
        names = {p.name for p in out.iterdir()}
        self.assertTrue({"sim_seg.dcm", "sim_mask.png", "two_mask.png", "fused_mask.png"} <= names, names)
        self.assertNotIn("two_seg.dcm", names)
        self.assertIn("two.dcm: no two_seg.dcm written, its mask is (ValueError: highdicom refused", log)

    def test_without_highdicom_the_run_is_refused_before_any_mask(self):
        out = self.tmp / "out_no_highdicom"
        with mock.patch.dict(sys.modules, {"highdicom": None}):  # import highdicom -> ImportError
            code, log = self.infer(out, save_dicom_seg=True)
        self.assertEqual(code, 2, log)
        self.assertIn("save_dicom_seg: needs highdicom", log)
        self.assertFalse(out.exists() and list(out.glob("*_mask.png")))

    def test_off_by_default(self):
        out = self.tmp / "out_default"
        code, log = self.infer(out)
        self.assertEqual(code, 0, log)
        self.assertTrue((out / "sim_mask.png").is_file())
        self.assertFalse(list(out.glob("*_seg.dcm")))


class TestConfigParsesWithoutHighdicom(unittest.TestCase):
    def test_inference_config_parses_and_builds_postprocessing_without_importing_highdicom(self):
        code = (
            "import sys; from monai.bundle import ConfigParser\n"
            "p = ConfigParser(); p.read_config('bundle/configs/inference.json')\n"
            "p['save_dicom_seg'] = True; p['bundle_root'] = 'bundle'\n"
            "post = p.get_parsed_content('postprocessing')\n"
            "assert any(type(t).__name__ == 'SaveDicomSegd' for t in post.transforms)\n"
            "assert 'highdicom' not in sys.modules, 'highdicom imported at parse time'\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])


if __name__ == "__main__":
    unittest.main()
