# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The simulator's NM files are valid DICOM: no error and no warning from ``dciodvfy`` (skipped with a reason where
dicom3tools is not installed, failed there under ``RENOGRAM_REQUIRE_DICOM_TOOLS=1``), and the attributes that made
the validator complain are in the dataset (checked without the validator)."""

from __future__ import annotations

import dataclasses
import tempfile
import unittest
from pathlib import Path

import numpy as np
import pydicom
from parameterized import parameterized

from scripts.dicom_validation.testing import assert_valid_dicom
from scripts.simulation import sample_study_config, simulate_study, write_study
from scripts.simulation.dicom import build_nm_dataset

# (seed, config keywords): both phase layouts (two phases, one phase), both tracers, two matrices, a diuretic study.
CASES = [
    ("quick39_mag3_64", 3, {"protocol": "quick39", "tracer": "MAG3", "matrix": 64}),
    ("10s120_dtpa_64", 4, {"protocol": "10s120", "tracer": "DTPA", "matrix": 64}),
    ("quick39_furosemide_128", 5, {"protocol": "quick39", "matrix": 128, "furosemide": "F+20"}),
]

#: Type 2 attributes dciodvfy reported missing before (they must be present, possibly empty).
TYPE2_TOP_LEVEL = (
    "ReferringPhysicianName",
    "PatientOrientationCodeSequence",
    "PatientGantryRelationshipCodeSequence",
    "PositionReferenceIndicator",
    "CountsAccumulated",
)

_STUDIES: dict = {}


def _study(seed: int, **kw):
    key = (seed, tuple(sorted(kw.items())))
    if key not in _STUDIES:
        _STUDIES[key] = simulate_study(sample_study_config(seed, **kw))
    return _STUDIES[key]


class TestNMValidity(unittest.TestCase):
    @parameterized.expand(CASES)
    def test_dciodvfy_reports_nothing(self, _name, seed, kw):
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_study(_study(seed, **kw), Path(tmp), "sim_valid")
            result = assert_valid_dicom(self, folder / "study.dcm")  # no warning allowed either
        self.assertEqual(result.iod, "NMImage")
        self.assertEqual(result.warnings, ())


class TestNMAttributes(unittest.TestCase):
    """What the validator checks, read back with pydicom (runs without dicom3tools)."""

    @classmethod
    def setUpClass(cls):
        cls.study = _study(3, protocol="quick39", tracer="MAG3", matrix=64)
        cls.tmp = tempfile.TemporaryDirectory()
        folder = write_study(cls.study, Path(cls.tmp.name), "sim_attrs")
        cls.ds = pydicom.dcmread(folder / "study.dcm")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_type2_attributes_present(self):
        for kw in TYPE2_TOP_LEVEL:
            self.assertIn(kw, self.ds, kw)
        self.assertIn("ImagePositionPatient", self.ds.DetectorInformationSequence[0])

    def test_counts_accumulated_is_the_sum_of_all_frames(self):
        self.assertEqual(int(self.ds.CountsAccumulated), int(self.study.frames.sum(dtype=np.int64)))

    def test_counts_accumulated_empty_when_over_the_is_range(self):
        loud = dataclasses.replace(self.study, frames=np.full_like(self.study.frames, 65535))
        ds = build_nm_dataset(loud, "sim_loud")
        self.assertIn("CountsAccumulated", ds)
        self.assertIsNone(ds.CountsAccumulated)

    def test_orientation_by_codes_not_patient_position(self):
        self.assertNotIn("PatientPosition", self.ds)  # forbidden with PatientOrientationCodeSequence
        orient = self.ds.PatientOrientationCodeSequence[0]
        self.assertEqual((orient.CodeValue, orient.CodeMeaning), ("102538003", "recumbent"))
        self.assertEqual(orient.PatientOrientationModifierCodeSequence[0].CodeMeaning, "supine")
        self.assertEqual(self.ds.PatientGantryRelationshipCodeSequence[0].CodeMeaning, "headfirst")

    def test_both_kidneys_laterality(self):
        self.assertEqual((self.ds.BodyPartExamined, self.ds.ImageLaterality), ("KIDNEY", "B"))
        self.assertNotIn("Laterality", self.ds)

    def test_codes_are_snomed_ct(self):
        codes = [self.ds.RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence[0],
                 self.ds.DetectorInformationSequence[0].ViewCodeSequence[0],
                 self.ds.PatientOrientationCodeSequence[0], self.ds.PatientGantryRelationshipCodeSequence[0]]
        self.assertEqual({c.CodingSchemeDesignator for c in codes}, {"SCT"})

    def test_image_position_centres_the_field_of_view(self):
        det = self.ds.DetectorInformationSequence[0]
        row_dir, col_dir = np.asarray(det.ImageOrientationPatient[:3], float), np.asarray(
            det.ImageOrientationPatient[3:], float)
        row_mm, col_mm = (float(v) for v in self.ds.PixelSpacing)
        centre = (np.asarray(det.ImagePositionPatient, float) + (self.ds.Columns - 1) / 2.0 * col_mm * row_dir
                  + (self.ds.Rows - 1) / 2.0 * row_mm * col_dir)
        np.testing.assert_allclose(centre, 0.0, atol=1e-3)

    def test_no_attributes_outside_the_nm_iod(self):
        self.assertNotIn("RadionuclideHalfLife", self.ds.RadiopharmaceuticalInformationSequence[0])
        self.assertFalse(any("ImageID" in item for item in self.ds.PhaseInformationSequence))


if __name__ == "__main__":
    unittest.main()
