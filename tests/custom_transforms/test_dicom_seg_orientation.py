# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The SEG's PatientOrientation comes from the detector the reader read (a two-detector file's posterior one)."""

from __future__ import annotations

import unittest

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from custom_transforms.dicom_seg import _patient_orientation


def _header() -> Dataset:
    ds = Dataset()
    anterior, posterior = Dataset(), Dataset()
    anterior.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # rows toward patient left, columns toward the feet
    posterior.ImageOrientationPatient = [-1, 0, 0, 0, 0, -1]  # seen from behind: rows toward patient right
    ds.DetectorInformationSequence = Sequence([anterior, posterior])
    ds.DetectorVector = [1] * 30 + [2] * 30
    return ds


class TestPatientOrientation(unittest.TestCase):
    def test_the_detector_read_gives_the_orientation(self):
        header = _header()
        self.assertEqual(_patient_orientation(header, list(range(31, 61))), ["R", "F"])  # posterior frames
        self.assertEqual(_patient_orientation(header, list(range(1, 31))), ["L", "F"])  # anterior frames
        self.assertEqual(_patient_orientation(header, None), ["L", "F"])  # unknown: the first detector

    def test_own_value_wins_and_none_gives_empty(self):
        header = _header()
        header.PatientOrientation = ["R", "F"]
        self.assertEqual(_patient_orientation(header, list(range(1, 31))), ["R", "F"])
        self.assertEqual(_patient_orientation(Dataset(), [1]), [])


if __name__ == "__main__":
    unittest.main()
