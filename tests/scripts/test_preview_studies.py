# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""``scripts.preview_studies`` reads studies through the project's one reader and its one timing reading."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
from parameterized import parameterized

from custom_transforms import RenogramInputError, read_dynamic_study
from scripts.preview_studies import read_nm_frames, window_images
from tests.custom_transforms.nm_dicom import Phase, ramp_frames, write_nm_dicom

# [name, write_nm_dicom kwargs, frames written]: variants the old own parser read wrongly or not at all
VARIANTS = [
    ["two_detectors", {"phases": [Phase(4, 1000), Phase(3, 15000)], "detector_views": ["ANTERIOR", "POSTERIOR"]}, 14],
    ["frame_time_only", {"frame_time_ms": 2000.0}, 7],
    ["cumulative_slices", {"phases": [Phase(4, 1000, delay_ms=500), Phase(3, 15000)], "time_slices": "cumulative"}, 7],
]


class TestReadNmFrames(unittest.TestCase):
    @parameterized.expand(VARIANTS)
    def test_same_as_the_reader(self, name, kwargs, n_written):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_nm_dicom(Path(tmp) / "s.dcm", ramp_frames(n_written), **kwargs)
            frames, starts, durs = read_nm_frames(path)
            expected, meta = read_dynamic_study(path)
        np.testing.assert_array_equal(frames, expected)
        np.testing.assert_array_equal(starts, meta["frame_start_s"])
        np.testing.assert_array_equal(durs, meta["frame_duration_s"])
        self.assertEqual(window_images(frames, starts, durs)[0][0], "0-50 s")

    def test_bad_file_names_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "x.dcm"
            path.write_text("not a dicom")
            with self.assertRaisesRegex(RenogramInputError, "x.dcm: not a DICOM"):
                read_nm_frames(path)


if __name__ == "__main__":
    unittest.main()
