# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""``renal_function --dicom``: ``seg.dcm`` and ``report.dcm`` beside ``report.json``.

The SEG read back with highdicom gives the report's ROIs pixel for pixel with left/right in the right segments; the
report object's pixels equal ``report.png``; both are in the source study (new series and instances, patient copied),
pass dciodvfy, and leave the source unchanged. Non-DICOM inputs: refused up front when no input is DICOM, reported
without DICOM objects (a warning) in a folder. The real vendor file is used when present.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import nibabel as nib
import numpy as np
import pydicom
from parameterized import parameterized
from PIL import Image

from custom_transforms.dicom_seg import EXPECTED_SEG_WARNINGS, read_segments
from custom_transforms.io import read_dynamic_study
from scripts.clinical.analysis import AnalysisSettings
from scripts.clinical.dicom_outputs import EXPECTED_REPORT_WARNINGS
from scripts.clinical.reporter import StudyReporter
from scripts.dicom_validation import validate_dicom
from scripts.dicom_validation.testing import assert_valid_dicom, require_dciodvfy
from scripts.renal_function import main
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, REPO, make_tiny_bundle, simulate
from tests.faults.harness import error_lines, run_main

REAL_STUDY = REPO.parent / "shared" / "realdata" / "roim_renal_mag3_posterior_deid.dcm"
SEGMENT_LABELS = ["Left kidney parenchyma", "Right kidney parenchyma", "Left kidney", "Right kidney"]


def _run(argv: list) -> tuple[int, str, str]:
    return run_main(main, [str(a) for a in argv])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _expected_rois(study: Path, mask: Path | None, bundle: Path) -> dict[str, np.ndarray]:
    """The report's ROIs, by segment label, computed in process as the command does."""
    reporter = StudyReporter(AnalysisSettings(), bundle)
    result = reporter.report(study, mask)
    rois = result.rois
    return {"Left kidney parenchyma": rois.parenchyma["left"], "Right kidney parenchyma": rois.parenchyma["right"],
            "Left kidney": rois.kidney["left"], "Right kidney": rois.kidney["right"]}


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestDicomOutputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="dicom_outputs_"))
        cls.bundle = make_tiny_bundle(cls.tmp / "bundle")
        cls.study_dir = simulate(cls.tmp / "studies", "s0")
        cls.study = cls.study_dir / "study.dcm"
        cls.sha = _sha(cls.study)
        cls.runs = {}
        for name, extra in (("model", []), ("mask", ["--mask", cls.study_dir / "parenchyma.png"])):
            out = cls.tmp / f"report_{name}"
            cls.runs[name] = (out, _run([cls.study, "--out", out, "--bundle-dir", cls.bundle, "--dicom",
                                                   *extra]))

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _out(self, name: str) -> Path:
        out, (code, _, err) = self.runs[name]
        self.assertEqual(code, 0, err)
        return out

    @parameterized.expand([["model"], ["mask"]])
    def test_files_beside_report_json(self, name):
        out = self._out(name)
        self.assertEqual(sorted(p.name for p in out.iterdir()),
                         ["curves.csv", "report.dcm", "report.json", "report.png", "seg.dcm"])

    @parameterized.expand([["model", None], ["mask", "parenchyma.png"]])
    def test_seg_reads_back_as_the_reports_rois(self, name, mask):
        out = self._out(name)
        expected = _expected_rois(self.study, None if mask is None else self.study_dir / mask, self.bundle)
        segments = read_segments(out / "seg.dcm")
        self.assertEqual(list(segments), SEGMENT_LABELS)
        for label in SEGMENT_LABELS:
            np.testing.assert_array_equal(segments[label], expected[label], err_msg=label)
        # left/right by the simulator's truth: label 1 is the patient's left kidney
        truth = np.asarray(Image.open(self.study_dir / "parenchyma.png"))
        if mask is not None:
            np.testing.assert_array_equal(segments["Left kidney parenchyma"], truth == 1)
            np.testing.assert_array_equal(segments["Right kidney parenchyma"], truth == 2)

    @parameterized.expand([["model", "AUTOMATIC", "AUTOMATIC"], ["mask", "MANUAL", "SEMIAUTOMATIC"]])
    def test_segment_codes_laterality_and_algorithm(self, name, parenchyma_type, kidney_type):
        seg = pydicom.dcmread(self._out(name) / "seg.dcm")
        self.assertEqual(seg.SegmentationType, "BINARY")
        for item in seg.SegmentSequence:
            side = "7771000" if item.SegmentLabel.startswith("Left") else "24028007"
            prop = item.SegmentedPropertyTypeCodeSequence[0]
            self.assertEqual(item.SegmentedPropertyCategoryCodeSequence[0].CodeValue, "91723000")
            self.assertEqual(prop.SegmentedPropertyTypeModifierCodeSequence[0].CodeValue, side)
            region = item.AnatomicRegionSequence[0]
            self.assertEqual(region.CodeValue, "64033007")
            self.assertEqual(region.AnatomicRegionModifierSequence[0].CodeValue, side)
            parenchyma = "parenchyma" in item.SegmentLabel
            self.assertEqual(prop.CodeValue, "91772007" if parenchyma else "64033007")
            self.assertEqual(item.SegmentAlgorithmType, parenchyma_type if parenchyma else kidney_type)

    @parameterized.expand([["model"], ["mask"]])
    def test_both_objects_in_the_source_study(self, name):
        out = self._out(name)
        src = pydicom.dcmread(self.study, stop_before_pixels=True)
        series = set()
        for file in ("seg.dcm", "report.dcm"):
            ds = pydicom.dcmread(out / file, stop_before_pixels=True)
            self.assertEqual(ds.StudyInstanceUID, src.StudyInstanceUID)
            for keyword in ("PatientName", "PatientID", "PatientSex", "PatientAge", "StudyDate", "StudyID"):
                self.assertEqual(ds.get(keyword), src.get(keyword), f"{file}: {keyword}")
            self.assertNotEqual(ds.SeriesInstanceUID, src.SeriesInstanceUID)
            self.assertNotEqual(ds.SOPInstanceUID, src.SOPInstanceUID)
            series.add(ds.SeriesInstanceUID)
        self.assertEqual(len(series), 2)
        seg = pydicom.dcmread(out / "seg.dcm", stop_before_pixels=True)
        refs = seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence
        self.assertEqual([r.ReferencedSOPInstanceUID for r in refs], [src.SOPInstanceUID])
        self.assertNotIn("ReferencedFrameNumber", refs[0])  # one detector: the ROIs apply to every frame
        self.assertEqual(_sha(self.study), self.sha)

    def test_report_object_pixels_equal_report_png(self):
        out = self._out("model")
        sc = pydicom.dcmread(out / "report.dcm")
        png = np.asarray(Image.open(out / "report.png").convert("RGB"))
        self.assertEqual(sc.Modality, "OT")
        np.testing.assert_array_equal(sc.pixel_array, png)

    @parameterized.expand([["seg.dcm", "Segmentation", EXPECTED_SEG_WARNINGS],
                           ["report.dcm", "SCImage", EXPECTED_REPORT_WARNINGS]])
    def test_passes_dciodvfy(self, file, iod, allowed):
        result = assert_valid_dicom(self, self._out("model") / file, allowed_warnings=allowed)
        self.assertEqual(result.iod, iod)

    def test_without_dicom_no_dicom_files(self):
        out = self.tmp / "plain"
        code, _, err = _run([self.study, "--out", out, "--bundle-dir", self.bundle])
        self.assertEqual(code, 0, err)
        self.assertFalse(list(out.glob("*.dcm")))

    def test_a_rerun_without_dicom_removes_the_earlier_dicom_objects(self):
        out = self.tmp / "rerun"
        code, _, err = _run([self.study, "--out", out, "--bundle-dir", self.bundle, "--dicom"])
        self.assertEqual(code, 0, err)
        self.assertEqual(sorted(p.name for p in out.glob("*.dcm")), ["report.dcm", "seg.dcm"])
        code, _, err = _run([self.study, "--out", out, "--bundle-dir", self.bundle, "--mask",
                             self.study_dir / "parenchyma.png"])
        self.assertEqual(code, 0, err)
        # a seg.dcm of the model's masks beside a report of other masks would contradict it
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["curves.csv", "report.json", "report.png"])

    def test_failed_dicom_write_leaves_no_report_folder(self):
        out = self.tmp / "failing"
        with mock.patch("scripts.clinical.dicom_outputs.build_report_capture", side_effect=OSError("disk full")):
            code, _, err = _run([self.study, "--out", out, "--bundle-dir", self.bundle, "--dicom"])
        self.assertEqual(code, 2)
        self.assertIn("disk full", err)
        self.assertFalse(out.exists())
        self.assertFalse([p for p in out.parent.iterdir() if p.name.startswith(".failing")])

    def test_non_dicom_single_study_is_refused_up_front(self):
        frames = self.tmp / "frames_study"
        frames.mkdir(exist_ok=True)
        (frames / "timing.json").write_text("{}")  # a frame folder (one study)
        out = self.tmp / "refused"
        code, _, err = _run([frames, "--out", out, "--bundle-dir", self.bundle, "--dicom"])
        self.assertEqual(code, 2)
        lines = error_lines(err)
        self.assertEqual(len(lines), 1, err)
        self.assertIn(str(frames), lines[0])
        self.assertIn("--dicom needs a DICOM study", lines[0])
        self.assertFalse(out.exists())

    def test_mixed_folder_reports_the_non_dicom_study_without_dicom_objects(self):
        folder = self.tmp / "mixed"
        folder.mkdir(exist_ok=True)
        shutil.copy(self.study, folder / "a.dcm")
        frames, meta = read_dynamic_study(self.study)
        nib.save(nib.Nifti1Image(frames.transpose(2, 1, 0), np.eye(4)), str(folder / "b.nii.gz"))
        (folder / "b.json").write_text(json.dumps({"frame_durations_s": meta["frame_duration_s"],
                                                   "pixel_spacing_mm": meta["pixel_spacing_mm"]}))
        out = self.tmp / "mixed_out"
        code, _, err = _run([folder, "--out", out, "--bundle-dir", self.bundle, "--dicom", "--quiet"])
        self.assertEqual(code, 0, err)
        self.assertTrue((out / "a" / "seg.dcm").is_file() and (out / "a" / "report.dcm").is_file())
        self.assertTrue((out / "b" / "report.json").is_file())
        self.assertFalse(list((out / "b").glob("*.dcm")))
        self.assertEqual([line for line in error_lines(err) if "not a DICOM study" in line],
                         [f"warning: b: {folder / 'b.nii.gz'} is not a DICOM study: no seg.dcm or report.dcm"])

    def test_all_non_dicom_folder_is_refused_up_front(self):
        folder = self.tmp / "nifti_only"
        folder.mkdir(exist_ok=True)
        for name in ("a.nii", "b.nii.gz"):
            (folder / name).write_bytes(b"")
        out = self.tmp / "refused_batch"
        code, _, err = _run([folder, "--out", out, "--bundle-dir", self.bundle, "--dicom"])
        self.assertEqual(code, 2)
        self.assertEqual(len(error_lines(err)), 1, err)
        self.assertIn("none of the 2 input(s)", err)
        self.assertFalse(out.exists())


@unittest.skipUnless(REAL_STUDY.is_file(), f"real vendor study not present ({REAL_STUDY})")
class TestDicomOutputsRealStudy(unittest.TestCase):
    """The vendor file: the objects are written and read back; dciodvfy's only error is the source's own Study
    Instance UID (``112233``, an illegal root), which the objects must copy to stay in the study."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="dicom_outputs_real_"))
        cls.bundle = make_tiny_bundle(cls.tmp / "bundle", image_size=64)
        cls.sha = _sha(REAL_STUDY)
        cls.out = cls.tmp / "report"
        cls.result = _run([REAL_STUDY, "--out", cls.out, "--bundle-dir", cls.bundle, "--dicom"])

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_objects_written_and_read_back(self):
        code, _, err = self.result
        self.assertEqual(code, 0, err)
        segments = read_segments(self.out / "seg.dcm")
        self.assertTrue(set(segments) <= set(SEGMENT_LABELS) and segments)
        src = pydicom.dcmread(REAL_STUDY, stop_before_pixels=True)
        for file in ("seg.dcm", "report.dcm"):
            self.assertEqual(pydicom.dcmread(self.out / file, stop_before_pixels=True).StudyInstanceUID,
                             src.StudyInstanceUID)
        self.assertEqual(_sha(REAL_STUDY), self.sha)

    def test_only_the_sources_own_uid_error(self):
        exe = require_dciodvfy(self)
        for file in ("seg.dcm", "report.dcm"):
            result = validate_dicom(self.out / file, executable=exe)
            self.assertEqual([e for e in result.errors if "112233" not in e], [], result.summary())


if __name__ == "__main__":
    unittest.main()
