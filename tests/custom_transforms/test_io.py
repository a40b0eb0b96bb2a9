# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of the dynamic-study readers (NM DICOM, NIfTI 2D+t, frame folders) and the loading transforms."""

from __future__ import annotations

import json
import math
import tempfile
import unittest
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor
from parameterized import parameterized

from custom_transforms import LoadDynamicStudy, LoadDynamicStudyd, RenogramInputError, read_dynamic_study
from custom_transforms.io import parse_dicom_age, parse_view
from tests.custom_transforms.nm_dicom import Phase, ramp_frames, write_nm_dicom

REAL_STUDY = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "roim_renal_mag3_posterior_deid.dcm"


class TestRealStudy(unittest.TestCase):
    @unittest.skipUnless(REAL_STUDY.exists(), "../shared/realdata is not present")
    def test_real_mag3_study(self):
        img = LoadDynamicStudy()(REAL_STUDY)
        self.assertIsInstance(img, MetaTensor)
        self.assertEqual(tuple(img.shape), (58, 128, 128))
        self.assertEqual(img.dtype, torch.float32)
        np.testing.assert_allclose(img.meta["frame_duration_s"], [2.1] * 24 + [30.1] * 34, atol=1e-9)
        starts = np.asarray(img.meta["frame_start_s"])
        np.testing.assert_allclose(starts[24], 24 * 2.1, atol=1e-6)
        np.testing.assert_allclose(starts[-1] + 30.1, 24 * 2.1 + 34 * 30.1, atol=1e-6)
        np.testing.assert_allclose(img.meta["pixel_spacing_mm"], [4.28571, 4.28571], atol=1e-5)
        self.assertEqual(img.meta["view"], "posterior")  # from ImageID='PA' in the phase items
        self.assertEqual(img.meta["tracer"], "MAG3")
        self.assertAlmostEqual(img.meta["patient_age_years"], 30.0)
        self.assertAlmostEqual(img.meta["patient_size_m"], 1.61)  # the file says PatientSize 161 (cm, not metres)
        self.assertEqual(img.meta["reader_notes"], "PatientSize 161 read as cm (1.61 m)")
        self.assertEqual(float(img.max()), 341.0)  # hottest pixel, per the file's LargestPixelValueInSeries
        self.assertEqual(img.meta["original_channel_dim"], 0)
        np.testing.assert_allclose(img.affine.diagonal().numpy(), [4.28571, 4.28571, 1, 1], atol=1e-5)

    @unittest.skipUnless(REAL_STUDY.exists(), "../shared/realdata is not present")
    def test_real_study_pipeline_inverts_to_native_grid(self):
        from monai.transforms import Invertd

        from custom_transforms import fused_image_pipeline

        pre = fused_image_pipeline(fused_index=1)
        data = pre({"image": str(REAL_STUDY)})
        self.assertEqual(tuple(data["image"].shape), (3, 384, 384))
        # frames starting at >= 60 s: phase 2 from its 2nd frame (80.5 s); fused image 1 = frames 8..14 of those
        self.assertAlmostEqual(data["image"].meta["fused_start_s"][0], 24 * 2.1 + 8 * 30.1, places=6)
        data["pred"] = (data["image"][:1] > 0.5).float()
        out = Invertd(keys="pred", transform=pre, orig_keys="image", nearest_interp=True)(data)
        self.assertEqual(tuple(out["pred"].shape), (1, 128, 128))


class TestDicomTiming(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_phases_delay_and_pause(self):
        path = write_nm_dicom(
            self.dir / "s.dcm",
            ramp_frames(7),
            phases=[Phase(3, 2000, delay_ms=1000), Phase(4, 10000, delay_ms=5000, pause_ms=500)],
        )
        frames, meta = read_dynamic_study(path)
        # phase 1 starts after its 1 s delay; phase 2 starts 5 s after phase 1 ends (7 s), frames every 10.5 s
        np.testing.assert_allclose(meta["frame_start_s"], [1, 3, 5, 12, 22.5, 33, 43.5])
        np.testing.assert_allclose(meta["frame_duration_s"], [2, 2, 2, 10, 10, 10, 10])
        self.assertEqual(meta["frame_phase"], [0, 0, 0, 1, 1, 1, 1])
        np.testing.assert_array_equal(frames[:, 0, 0], np.arange(1, 8))

    def test_phase_vectors_reorder_frames(self):
        # frames stored with phase 2 first; the vectors say so, and the reader orders by time
        frames = ramp_frames(5)
        path = write_nm_dicom(self.dir / "s.dcm", frames, phases=[Phase(2, 1000), Phase(3, 3000)], vectors=False)
        import pydicom

        ds = pydicom.dcmread(path)
        ds.PhaseVector = [2, 2, 2, 1, 1]
        ds.TimeSliceVector = [1, 2, 3, 1, 2]
        ds.save_as(path)
        out, meta = read_dynamic_study(path)
        np.testing.assert_array_equal(out[:, 0, 0], [4, 5, 1, 2, 3])
        np.testing.assert_allclose(meta["frame_start_s"], [0, 1, 2, 5, 8])

    def test_frame_time_fallback(self):
        path = write_nm_dicom(self.dir / "s.dcm", ramp_frames(4), phases=None, frame_time_ms=1500)
        _, meta = read_dynamic_study(path)
        np.testing.assert_allclose(meta["frame_start_s"], [0, 1.5, 3.0, 4.5])
        np.testing.assert_allclose(meta["frame_duration_s"], [1.5] * 4)

    def test_signed_pixels_and_rescale(self):
        frames = ramp_frames(3).astype(np.int16)
        frames[0, 0, 0] = -5  # a signed stored value that the intercept brings to a non-negative count
        path = write_nm_dicom(self.dir / "s.dcm", frames, phases=[Phase(3, 1000)], slope=2.5, intercept=20.0)
        out, _ = read_dynamic_study(path)
        self.assertEqual(out.dtype, np.float32)
        self.assertEqual(out[0, 0, 0], -5 * 2.5 + 20.0)
        np.testing.assert_allclose(out[:, 1, 1], np.arange(1, 4) * 2.5 + 20.0)

    def test_cyrillic_charset_and_private_tags(self):
        path = write_nm_dicom(self.dir / "s.dcm", ramp_frames(3), phases=[Phase(3, 1000)], charset="ISO_IR 144")
        out, meta = read_dynamic_study(path)
        self.assertEqual(out.shape, (3, 8, 8))
        self.assertEqual(meta["tracer"], "MAG3")

    @parameterized.expand(
        [(None, 2, "posterior"), ("anterior", 1, "anterior"), (1, 1, "anterior"), (2, 2, "posterior")]
    )
    def test_two_detectors(self, view, detector, name):
        ant = ramp_frames(4)
        post = ramp_frames(4) + 100
        path = write_nm_dicom(
            self.dir / "s.dcm",
            np.concatenate([ant, post]),
            phases=[Phase(4, 1000)],
            detector_views=["ANTERIOR", "POSTERIOR"],
        )
        out, meta = read_dynamic_study(path, view=view)
        self.assertEqual(out.shape, (4, 8, 8))
        self.assertEqual(meta["detector"], detector)
        self.assertEqual(meta["view"], name)
        np.testing.assert_array_equal(out[:, 0, 0], np.arange(1, 5) + (100 if detector == 2 else 0))
        np.testing.assert_allclose(meta["frame_start_s"], [0, 1, 2, 3])

    def test_two_detectors_without_views_need_a_choice(self):
        path = write_nm_dicom(
            self.dir / "s.dcm", ramp_frames(8), phases=[Phase(4, 1000)], detector_views=["UNKN", "UNKN"]
        )
        with self.assertRaisesRegex(RenogramInputError, "cannot tell which"):
            read_dynamic_study(path)
        out, _ = read_dynamic_study(path, view=2)
        np.testing.assert_array_equal(out[:, 0, 0], np.arange(5, 9))

    def test_single_view_mismatch(self):
        path = write_nm_dicom(self.dir / "s.dcm", ramp_frames(3), phases=[Phase(3, 1000)], detector_views=["POSTERIOR"])
        with self.assertRaisesRegex(RenogramInputError, "anterior view asked for"):
            read_dynamic_study(path, view="anterior")


class TestBadDicom(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def assert_bad(self, path, pattern):
        with self.assertRaises(RenogramInputError) as ctx:
            read_dynamic_study(path)
        self.assertTrue(str(ctx.exception).startswith(str(path)), str(ctx.exception))
        self.assertRegex(str(ctx.exception), pattern)
        self.assertIsInstance(ctx.exception, ValueError)

    def test_not_dicom(self):
        path = self.dir / "notes.dcm"
        path.write_text("hello, not a DICOM file")
        self.assert_bad(path, "not a DICOM")

    def test_missing_file(self):
        self.assert_bad(self.dir / "absent.dcm", "no such file")

    def test_single_frame(self):
        path = write_nm_dicom(self.dir / "s.dcm", ramp_frames(1), phases=[Phase(1, 1000)])
        self.assert_bad(path, "single-frame")

    def test_not_nm(self):
        path = write_nm_dicom(
            self.dir / "s.dcm",
            ramp_frames(3),
            phases=[Phase(3, 1000)],
            modality="CT",
            sop_class="1.2.840.10008.5.1.4.1.1.2",
        )
        self.assert_bad(path, "not a nuclear-medicine")

    def test_missing_timing(self):
        path = write_nm_dicom(self.dir / "s.dcm", ramp_frames(3), phases=None)
        self.assert_bad(path, "no frame timing")

    def test_inconsistent_phase_counts(self):
        path = write_nm_dicom(
            self.dir / "s.dcm", ramp_frames(5), phases=[Phase(2, 1000), Phase(2, 2000)], vectors=False
        )
        self.assert_bad(path, r"sum to 4, but NumberOfFrames is 5")

    def test_phase_without_duration(self):
        path = write_nm_dicom(self.dir / "s.dcm", ramp_frames(3), phases=[Phase(3, 1000)])
        import pydicom

        ds = pydicom.dcmread(path)
        del ds.PhaseInformationSequence[0].ActualFrameDuration
        ds.save_as(path)
        self.assert_bad(path, "lacks NumberOfFramesInPhase or ActualFrameDuration")

    def test_truncated(self):
        path = write_nm_dicom(self.dir / "s.dcm", ramp_frames(6, (32, 32)), phases=[Phase(6, 1000)])
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 3000])
        self.assert_bad(path, "truncated")

    def test_truncated_header(self):
        path = write_nm_dicom(self.dir / "s.dcm", ramp_frames(6, (32, 32)), phases=[Phase(6, 1000)])
        path.write_bytes(path.read_bytes()[:300])
        with self.assertRaises(RenogramInputError) as ctx:
            read_dynamic_study(path)
        self.assertTrue(str(ctx.exception).startswith(str(path)))


class TestMetadataParsing(unittest.TestCase):
    @parameterized.expand([("006Y", 6.0), ("018M", 1.5), ("014D", 14 / 365.25), ("", math.nan)])
    def test_age(self, text, years):
        from pydicom.dataset import Dataset

        ds = Dataset()
        ds.PatientAge = text
        got = parse_dicom_age(ds)
        self.assertTrue(math.isnan(got) if math.isnan(years) else abs(got - years) < 1e-9, got)

    def test_age_from_dates(self):
        from pydicom.dataset import Dataset

        ds = Dataset()
        ds.PatientBirthDate, ds.StudyDate = "20200101", "20230101"
        self.assertAlmostEqual(parse_dicom_age(ds), 1096 / 365.25)

    @parameterized.expand(
        [
            ("PA", "posterior"),
            ("post function", "posterior"),
            ("Anterior", "anterior"),
            ("LEFT LATERAL", "unknown"),
            ("", "unknown"),
        ]
    )
    def test_view(self, text, expected):
        self.assertEqual(parse_view(text), expected)


class TestOtherFormats(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.frames = ramp_frames(5, (6, 9)).astype(np.float32)

    def tearDown(self):
        self.tmp.cleanup()

    def test_nifti_with_sidecar(self):
        path = self.dir / "study.nii.gz"
        affine = np.diag([3.0, 2.0, 1.0, 1.0])
        nib.save(nib.Nifti1Image(self.frames.transpose(2, 1, 0), affine), str(path))
        (self.dir / "study.json").write_text(
            json.dumps({"frame_durations_s": [1, 1, 2, 2, 2], "tracer": "DTPA", "age_years": 4})
        )
        img = LoadDynamicStudy()(path)
        self.assertEqual(tuple(img.shape), (5, 6, 9))
        np.testing.assert_array_equal(img.numpy(), self.frames)
        np.testing.assert_allclose(img.meta["frame_start_s"], [0, 1, 2, 4, 6])
        self.assertEqual(img.meta["pixel_spacing_mm"], [2.0, 3.0])
        self.assertEqual(img.meta["tracer"], "DTPA")
        self.assertEqual(img.meta["patient_age_years"], 4.0)

    def test_nifti_without_sidecar(self):
        path = self.dir / "study.nii"
        nib.save(nib.Nifti1Image(self.frames.transpose(2, 1, 0), np.eye(4)), str(path))
        with self.assertRaisesRegex(RenogramInputError, "timing file .* is missing"):
            read_dynamic_study(path)

    def test_frame_folder_png16(self):
        folder = self.dir / "frames"
        folder.mkdir()
        for t in range(5):  # f10 sorts after f2 (natural order)
            cv2.imwrite(str(folder / f"f{t * 4}.png"), self.frames[t].astype(np.uint16))
        (folder / "timing.json").write_text(json.dumps({"FrameDuration": [2] * 5, "FrameTimesStart": [0, 2, 4, 6, 8]}))
        frames, meta = read_dynamic_study(folder)
        np.testing.assert_array_equal(frames, self.frames)
        self.assertEqual(meta["format"], "frames")
        np.testing.assert_allclose(meta["frame_start_s"], [0, 2, 4, 6, 8])

    def test_frame_folder_csv_timing_mismatch(self):
        folder = self.dir / "frames"
        folder.mkdir()
        for t in range(3):
            cv2.imwrite(str(folder / f"{t}.tif"), self.frames[t].astype(np.uint16))
        (folder / "timing.csv").write_text("duration_s\n1\n1\n")
        with self.assertRaisesRegex(RenogramInputError, "lists 2 frame durations for 3 frames"):
            read_dynamic_study(folder)

    def test_empty_folder(self):
        with self.assertRaises(RenogramInputError) as ctx:
            read_dynamic_study(self.dir)
        self.assertTrue(str(ctx.exception).startswith(str(self.dir)))
        self.assertIn("no frame images", str(ctx.exception))


class TestLoadDynamicStudyd(unittest.TestCase):
    def test_dict(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_nm_dicom(Path(tmp) / "s.dcm", ramp_frames(3), phases=[Phase(3, 1000)])
            d = LoadDynamicStudyd(keys="image")({"image": str(path), "other": 1})
        self.assertEqual(tuple(d["image"].shape), (3, 8, 8))
        self.assertEqual(d["image"].meta["filename_or_obj"], str(path))
        self.assertEqual(d["other"], 1)
        np.testing.assert_array_equal(d["image"].meta["spatial_shape"], [8, 8])


if __name__ == "__main__":
    unittest.main()
