# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""NM DICOM vendor variants the reader accepts, contradictions it refuses, and pixel values that are not counts.

Each variant is written by :func:`tests.custom_transforms.nm_dicom.write_nm_dicom`; frame ``t`` of detector block ``k``
holds ``t + 1 + 200 k`` (plus a bright last column), so the order and the detector read are checkable.
"""

from __future__ import annotations

import json
import math
import tempfile
import unittest
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
from parameterized import parameterized

from custom_transforms import RenogramInputError, read_dynamic_study
from custom_transforms.io import check_counts
from tests.custom_transforms.nm_dicom import Phase, ramp_frames, write_nm_dicom

#: two phases: 3 x 1 s, then 2 x 2 s; frames start at 0, 1, 2, 3, 5 s.
PHASES = [Phase(3, 1000), Phase(2, 2000)]
STARTS = [0, 1, 2, 3, 5]
TWO_VIEWS = ["ANTERIOR", "POSTERIOR"]


def _blocks(n_blocks: int, n_frames: int = 5) -> np.ndarray:
    """``n_blocks`` detector/energy-window blocks of ``n_frames`` ramp frames, block k offset by 200 k."""
    return np.concatenate([ramp_frames(n_frames) + 200 * k for k in range(n_blocks)])


# name, writer kwargs, expected starts (s), expected first-pixel values, fragment of reader_notes ("" = none)
VARIANTS = [
    ("per_phase_standard", {"phases": PHASES}, STARTS, [1, 2, 3, 4, 5], ""),
    ("cumulative", {"phases": PHASES, "time_slices": "cumulative"}, STARTS, [1, 2, 3, 4, 5], "cumulative"),
    (
        "cumulative_two_detectors",  # restarts at 1 for each detector: both record the same time slices
        {"frames": _blocks(2), "phases": PHASES, "time_slices": "cumulative", "detector_views": TWO_VIEWS},
        STARTS,
        [201, 202, 203, 204, 205],
        "cumulative",
    ),
    (
        "cumulative_two_windows_two_detectors",  # energy window 1 of the posterior detector: the 2nd of 4 blocks
        {"frames": _blocks(4), "phases": PHASES, "time_slices": "cumulative", "detector_views": TWO_VIEWS,
         "energy_windows": 2},
        STARTS,
        [201, 202, 203, 204, 205],
        "cumulative",
    ),
    (
        "per_phase_two_windows_two_detectors",
        {"frames": _blocks(4), "phases": PHASES, "detector_views": TWO_VIEWS, "energy_windows": 2},
        STARTS,
        [201, 202, 203, 204, 205],
        "",
    ),
    (
        "cumulative_phases_stored_out_of_order",  # phase 2 stored first; the vectors say so
        {"phases": PHASES, "phase_vector": [2, 2, 1, 1, 1], "time_slices": [4, 5, 1, 2, 3]},
        STARTS,
        [3, 4, 5, 1, 2],
        "cumulative",
    ),
    (
        "no_phase_delay",
        {"phases": [Phase(3, 1000, delay_ms=None), Phase(2, 2000, delay_ms=None)]},
        STARTS,
        [1, 2, 3, 4, 5],
        "no PhaseDelay in phase(s) 1, 2",
    ),
    (
        "no_phase_delay_in_phase_2_only",
        {"phases": [Phase(3, 1000, delay_ms=500), Phase(2, 2000, delay_ms=None)]},
        [0.5, 1.5, 2.5, 3.5, 5.5],
        [1, 2, 3, 4, 5],
        "no PhaseDelay in phase(s) 2",
    ),
    ("frame_time_only", {"phases": None, "frame_time_ms": 1500}, [0, 1.5, 3, 4.5, 6], [1, 2, 3, 4, 5], "FrameTime"),
    (
        "frame_time_only_two_detectors",
        {"frames": _blocks(2), "phases": None, "frame_time_ms": 1500, "detector_views": TWO_VIEWS},
        [0, 1.5, 3, 4.5, 6],
        [201, 202, 203, 204, 205],
        "FrameTime",
    ),
]

# name, writer kwargs, fragment of the error
CONTRADICTIONS = [
    ("neither_per_phase_nor_cumulative", {"phases": PHASES, "time_slices": [1, 2, 3, 5, 6]}, "neither per-phase"),
    (
        "per_phase_and_cumulative_mixed",
        {"frames": ramp_frames(6), "phases": [Phase(2, 1000), Phase(2, 2000), Phase(2, 3000)],
         "time_slices": [1, 2, 1, 2, 5, 6]},
        "neither per-phase",
    ),
    (
        "cumulative_across_detectors",  # 1..10 over both detectors: detector 2 would start after detector 1 ends
        {"frames": _blocks(2), "phases": PHASES, "time_slices": "global", "detector_views": TWO_VIEWS},
        "cumulative (1..N over the phases of each detector/energy window)",
    ),
    ("not_increasing_in_a_phase", {"phases": PHASES, "time_slices": [2, 1, 3, 1, 2]}, "not increase within phase 1"),
    ("duplicate_time_slice", {"phases": PHASES, "time_slices": [1, 1, 2, 1, 2]}, "repeats a time slice in phase 1"),
    ("cumulative_duplicate", {"phases": PHASES, "time_slices": [1, 2, 3, 4, 4]}, "repeats a time slice in phase 2"),
    (
        "phase_vector_disagrees_with_counts",
        {"phases": PHASES, "phase_vector": [1, 1, 2, 2, 2]},
        "PhaseVector gives phase 1 2 frame(s), but its NumberOfFramesInPhase is 3",
    ),
    (
        "phase_vector_disagrees_in_one_detector",
        {"frames": _blocks(2), "phases": PHASES, "detector_views": TWO_VIEWS,
         "phase_vector": [1, 1, 1, 2, 2, 1, 1, 2, 2, 2]},
        "phase 1 of detector 2, energy window 1 2 frame(s)",
    ),
    ("phase_vector_out_of_range", {"phases": PHASES, "phase_vector": [1, 1, 1, 3, 3]}, "must lie in 1..2"),
    ("time_slice_zero", {"phases": PHASES, "time_slices": [0, 1, 2, 1, 2]}, "holds 0; time slices count from 1"),
]


class TestVendorVariants(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    @parameterized.expand(VARIANTS)
    def test_variant_loads(self, _name, kwargs, starts, first_pixels, note):
        kwargs = dict(kwargs)
        frames = kwargs.pop("frames", ramp_frames(5))
        path = write_nm_dicom(self.dir / "s.dcm", frames, **kwargs)
        out, meta = read_dynamic_study(path)
        np.testing.assert_allclose(meta["frame_start_s"], starts)
        np.testing.assert_array_equal(out[:, 0, 0], first_pixels)
        if note:
            self.assertIn(note, meta["reader_notes"])
        else:
            self.assertEqual(meta["reader_notes"], "")

    def test_cumulative_equals_per_phase(self):
        a = write_nm_dicom(self.dir / "a.dcm", ramp_frames(5), phases=PHASES)
        b = write_nm_dicom(self.dir / "b.dcm", ramp_frames(5), phases=PHASES, time_slices="cumulative")
        (fa, ma), (fb, mb) = read_dynamic_study(a), read_dynamic_study(b)
        np.testing.assert_array_equal(fa, fb)
        for key in ("frame_start_s", "frame_duration_s", "frame_phase"):
            self.assertEqual(ma[key], mb[key])

    @parameterized.expand(
        [
            ("metres", "1.10", 1.10, ""),
            ("centimetres", "110", 1.10, "PatientSize 110 read as cm (1.10 m)"),
            ("absent", None, math.nan, ""),
            ("zero_placeholder", "0", math.nan, ""),
            ("implausible", "450", math.nan, "ignored"),
        ]
    )
    def test_patient_size(self, _name, text, metres, note):
        path = write_nm_dicom(self.dir / "s.dcm", ramp_frames(5), phases=PHASES, patient_size=text)
        _, meta = read_dynamic_study(path)
        if math.isnan(metres):
            self.assertTrue(math.isnan(meta["patient_size_m"]), meta["patient_size_m"])
        else:
            self.assertAlmostEqual(meta["patient_size_m"], metres)
        if note:
            self.assertIn(note, meta["reader_notes"])
        else:
            self.assertEqual(meta["reader_notes"], "")


class TestContradictions(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    @parameterized.expand(CONTRADICTIONS)
    def test_refused(self, _name, kwargs, fragment):
        kwargs = dict(kwargs)
        frames = kwargs.pop("frames", ramp_frames(5))
        path = write_nm_dicom(self.dir / "s.dcm", frames, **kwargs)
        with self.assertRaises(RenogramInputError) as ctx:
            read_dynamic_study(path)
        self.assertTrue(str(ctx.exception).startswith(f"{path}: "), str(ctx.exception))
        self.assertIn(fragment, str(ctx.exception))


def _nifti(folder: Path, frames: np.ndarray) -> Path:
    path = folder / "study.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(frames, np.float32).transpose(2, 1, 0), np.eye(4)), str(path))
    (folder / "study.json").write_text(json.dumps({"frame_durations_s": [1] * len(frames)}))
    return path


def _frame_folder(folder: Path, frames: np.ndarray) -> Path:
    path = folder / "frames"
    path.mkdir()
    for t, frame in enumerate(frames):
        cv2.imwrite(str(path / f"f{t}.png"), np.asarray(frame).astype(np.uint16))
    (path / "timing.json").write_text(json.dumps({"frame_durations_s": [1] * len(frames)}))
    return path


def _dicom(folder: Path, frames: np.ndarray, **kwargs) -> Path:
    return write_nm_dicom(folder / "study.dcm", np.asarray(frames).astype(np.uint16), phases=PHASES, **kwargs)


_NEAR_FULL = (65535 - np.random.default_rng(0).integers(0, 200, (5, 8, 8))).astype(np.uint16)
_WITH_NAN = ramp_frames(5).astype(np.float32)
_WITH_NAN[2, 3, 3] = np.nan
_WITH_INF = ramp_frames(5).astype(np.float32)
_WITH_INF[1, 0, 0] = np.inf
_WITH_NEGATIVE = ramp_frames(5).astype(np.float32)
_WITH_NEGATIVE[0, 0, 0] = -3

# name, writer, frames, writer kwargs, fragment
NOT_COUNTS = [
    ("zero_dicom", _dicom, np.zeros((5, 8, 8)), {}, "holds no counts (every pixel is 0)"),
    ("zero_nifti", _nifti, np.zeros((5, 8, 8)), {}, "holds no counts (every pixel is 0)"),
    ("zero_frames", _frame_folder, np.zeros((5, 8, 8)), {}, "holds no counts (every pixel is 0)"),
    ("near_full_scale_dicom", _dicom, _NEAR_FULL, {}, "pixel values are nearly constant (65336..65535"),
    ("constant_dicom", _dicom, np.full((5, 8, 8), 100), {}, "nearly constant"),
    ("full_scale_frames", _frame_folder, np.full((5, 8, 8), 65535), {}, "): not a count image"),
    ("negative_after_rescale_dicom", _dicom, ramp_frames(5), {"intercept": -10.0}, "negative counts after rescale"),
    ("negative_nifti", _nifti, _WITH_NEGATIVE, {}, "negative counts after rescale (minimum -3)"),
    ("nan_nifti", _nifti, _WITH_NAN, {}, "holds NaN or infinite pixel values (1 of 320)"),
    ("inf_nifti", _nifti, _WITH_INF, {}, "holds NaN or infinite pixel values"),
]


class TestNotCounts(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    @parameterized.expand(NOT_COUNTS)
    def test_refused_naming_the_file(self, _name, writer, frames, kwargs, fragment):
        path = writer(self.dir, frames, **kwargs)
        with self.assertRaises(RenogramInputError) as ctx:
            read_dynamic_study(path)
        self.assertTrue(str(ctx.exception).startswith(f"{path}: "), str(ctx.exception))
        self.assertIn(fragment, str(ctx.exception))

    @parameterized.expand(
        [
            ("one_count_in_the_study", np.pad(np.ones((1, 1, 1)), ((0, 4), (0, 7), (0, 7)))),
            ("empty_frames_then_counts", np.concatenate([np.zeros((3, 8, 8)), ramp_frames(2)])),
            ("one_flat_frame_among_count_frames", np.concatenate([np.full((1, 8, 8), 65535), ramp_frames(4)])),
            ("field_of_view_zeros_around_counts", np.pad(np.full((5, 4, 4), 300), ((0, 0), (2, 2), (2, 2)))),
        ]
    )
    def test_count_images_load(self, _name, frames):
        frames = np.asarray(frames, np.float32)
        check_counts(frames, None)
        for writer in (_dicom, _nifti, _frame_folder):
            with tempfile.TemporaryDirectory() as tmp:
                out, _ = read_dynamic_study(writer(Path(tmp), frames))
                np.testing.assert_array_equal(out, frames)

    @parameterized.expand([(64, "absent"), (128, "nonfunctioning"), (256, "normal")])
    def test_simulated_infant_studies_load(self, matrix, pathology):
        # low-count infants (2-4 months), each matrix, down to no kidney at all; the short quick39 protocol is fast
        from scripts.simulation import sample_study_config, simulate_study
        from scripts.simulation.dicom import write_nm_dicom as write_simulated

        config = sample_study_config(
            matrix, matrix=matrix, protocol="quick39", age_range=(0.15, 0.3), pathology=pathology
        )
        path = self.dir / "sim.dcm"
        write_simulated(simulate_study(config), path, "sim")
        frames, _ = read_dynamic_study(path)
        self.assertEqual(frames.shape[1:], (matrix, matrix))
        self.assertEqual(frames.min(), 0.0)  # zeros outside the body / field: a spread of 100 % in every frame


if __name__ == "__main__":
    unittest.main()
