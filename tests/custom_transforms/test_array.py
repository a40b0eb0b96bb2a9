# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of DropEarlyFrames, FrameFusion, SelectFusedImages and Pseudocolor on numpy, torch and MetaTensor input."""

from __future__ import annotations

import unittest

import cv2
import numpy as np
import torch
from monai.data import MetaTensor
from parameterized import parameterized

from custom_transforms import (
    DropEarlyFrames,
    FrameFusion,
    Pseudocolor,
    RenogramInputError,
    SelectFusedImages,
    colormap_lut,
)

TYPES = [("numpy", np.asarray), ("torch", torch.as_tensor), ("meta", None)]


def ramp_study(durations, shape=(4, 5)):
    """Frame t holds the value t + 1; back-to-back timing from the given durations (s)."""
    durations = np.asarray(durations, dtype=float)
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    data = np.arange(1, len(durations) + 1, dtype=np.float32)[:, None, None] * np.ones((1, *shape), np.float32)
    meta = {
        "frame_start_s": starts.tolist(),
        "frame_duration_s": durations.tolist(),
        "frame_phase": [0] * len(durations),
        "filename_or_obj": "ramp.dcm",
        "pixel_spacing_mm": [2.0, 2.0],
    }
    return data, meta


def as_type(kind, data, meta):
    if kind == "numpy":
        return np.asarray(data)
    if kind == "torch":
        return torch.as_tensor(data)
    return MetaTensor(torch.as_tensor(data), meta=dict(meta))


class TestDropEarlyFrames(unittest.TestCase):
    @parameterized.expand([(k,) for k, _ in TYPES])
    def test_phase_boundary_at_60s(self, kind):
        data, meta = ramp_study([2.0] * 30 + [20.0] * 5)  # phase 1 ends exactly at 60 s
        img = as_type(kind, data, meta)
        kwargs = (
            {}
            if kind == "meta"
            else {"frame_start_s": meta["frame_start_s"], "frame_duration_s": meta["frame_duration_s"]}
        )
        out = DropEarlyFrames(60.0)(img, **kwargs)
        self.assertIs(type(out), type(img))
        self.assertEqual(tuple(out.shape), (5, 4, 5))
        np.testing.assert_array_equal(np.asarray(out)[:, 0, 0], np.arange(31, 36))
        if kind == "meta":
            np.testing.assert_allclose(out.meta["frame_start_s"], [60, 80, 100, 120, 140])
            self.assertEqual(out.meta["frame_duration_s"], [20.0] * 5)
            self.assertEqual(out.meta["pixel_spacing_mm"], [2.0, 2.0])
            self.assertEqual(len(img.meta["frame_start_s"]), 35)  # input metadata untouched

    def test_float_rounding_at_boundary(self):
        # 0.1 s frames summed 600 times do not land exactly on 60.0 in floating point
        starts = np.cumsum(np.r_[0.0, [0.1] * 600])
        img = MetaTensor(
            torch.zeros(601, 2, 2), meta={"frame_start_s": starts.tolist(), "frame_duration_s": [0.1] * 601}
        )
        self.assertEqual(DropEarlyFrames(60.0)(img).shape[0], 1)

    def test_straddling_frame(self):
        data, meta = ramp_study([50.0, 30.0, 30.0])
        img = MetaTensor(torch.as_tensor(data), meta=meta)
        self.assertEqual(DropEarlyFrames(60.0)(img).shape[0], 1)
        self.assertEqual(DropEarlyFrames(60.0, keep_straddling=True)(img).shape[0], 2)

    def test_study_too_short(self):
        data, meta = ramp_study([10.0] * 5)
        with self.assertRaisesRegex(RenogramInputError, r"^ramp\.dcm: study ends at 50\.0 s"):
            DropEarlyFrames(60.0)(MetaTensor(torch.as_tensor(data), meta=meta))

    def test_no_timing(self):
        with self.assertRaisesRegex(RenogramInputError, "needs frame_start_s"):
            DropEarlyFrames()(np.zeros((3, 2, 2)))

    def test_bad_ndim(self):
        with self.assertRaises(ValueError):
            DropEarlyFrames()(np.zeros((2, 2)), frame_start_s=[0, 1], frame_duration_s=[1, 1])


class TestFrameFusion(unittest.TestCase):
    @parameterized.expand([(k, drop) for k, _ in TYPES for drop in (True, False)])
    def test_ramp_groups(self, kind, drop_partial):
        durations = [1.0] * 10 + [15.0] * 13  # 23 frames: 3 full groups of 7 and 2 left over
        data, meta = ramp_study(durations)
        img = as_type(kind, data, meta)
        kwargs = {} if kind == "meta" else {"frame_start_s": meta["frame_start_s"], "frame_duration_s": durations}
        out = FrameFusion(group_size=7, drop_partial=drop_partial)(img, **kwargs)
        self.assertIs(type(out), type(img))
        sums = [sum(range(1, 8)), sum(range(8, 15)), sum(range(15, 22))] + ([] if drop_partial else [22 + 23])
        self.assertEqual(tuple(out.shape), (len(sums), 4, 5))
        np.testing.assert_array_equal(np.asarray(out)[:, 2, 3], sums)
        self.assertEqual(np.asarray(out).dtype, np.float32)
        if kind == "meta":
            starts = np.asarray(meta["frame_start_s"])
            ends = starts + np.asarray(durations)
            self.assertEqual(out.meta["fused_start_s"], [starts[i] for i in (0, 7, 14, 21)][: len(sums)])
            self.assertEqual(out.meta["fused_end_s"], [ends[i] for i in (6, 13, 20, 22)][: len(sums)])
            self.assertEqual(out.meta["fused_frame_count"], [7, 7, 7, 2][: len(sums)])
            self.assertEqual(out.meta["fused_index"], list(range(len(sums))))
            self.assertNotIn("frame_start_s", out.meta)
            self.assertIn("frame_start_s", img.meta)

    def test_windows(self):
        durations = [10.0] * 6 + [30.0] * 4  # 0..60 in 10 s frames, then 60..180 in 30 s frames
        data, meta = ramp_study(durations)
        img = MetaTensor(torch.as_tensor(data), meta=meta)
        out = FrameFusion(window_s=60.0)(img)
        np.testing.assert_array_equal(out[:, 0, 0].numpy(), [21, 7 + 8, 9 + 10])
        self.assertEqual(out.meta["fused_start_s"], [0.0, 60.0, 120.0])
        self.assertEqual(out.meta["fused_end_s"], [60.0, 120.0, 180.0])
        self.assertEqual(out.meta["fused_frame_count"], [6, 2, 2])
        # windows 0-50-100-150-200 by frame start (0..40 | 50, 60, 90 | 120 | 150): the last ends at 180, partial
        partial = FrameFusion(window_s=50.0, drop_partial=False)(img)
        self.assertEqual(partial.meta["fused_frame_count"], [5, 3, 1, 1])
        self.assertEqual(FrameFusion(window_s=50.0)(img).shape[0], 3)

    def test_window_needs_timing(self):
        with self.assertRaisesRegex(RenogramInputError, "needs frame_start_s"):
            FrameFusion(window_s=30.0)(np.zeros((4, 2, 2)))

    def test_too_few_frames(self):
        with self.assertRaisesRegex(RenogramInputError, "fewer than one group of 7"):
            FrameFusion(7)(np.zeros((6, 2, 2)))

    def test_integer_input_does_not_overflow(self):
        out = FrameFusion(3)(np.full((3, 2, 2), 60000, dtype=np.uint16))
        self.assertEqual(out.dtype, np.float32)
        self.assertEqual(out[0, 0, 0], 180000)

    def test_bad_args(self):
        with self.assertRaises(ValueError):
            FrameFusion(group_size=0)
        with self.assertRaises(ValueError):
            FrameFusion(window_s=-1)


class TestSelectFusedImages(unittest.TestCase):
    @parameterized.expand([(k,) for k, _ in TYPES])
    def test_select(self, kind):
        data = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((1, 3, 3), np.float32)
        meta = {
            "fused_start_s": [0, 1, 2, 3, 4],
            "fused_end_s": [1, 2, 3, 4, 5],
            "fused_index": [0, 1, 2, 3, 4],
            "fused_frame_count": [7] * 5,
            "filename_or_obj": "f.dcm",
        }
        img = as_type(kind, data, meta)
        out = SelectFusedImages()(img)
        self.assertIs(type(out), type(img))
        np.testing.assert_array_equal(np.asarray(out)[:, 0, 0], [1, 2])
        out2 = SelectFusedImages(indices=-1)(img)
        np.testing.assert_array_equal(np.asarray(out2)[:, 0, 0], [4])
        if kind == "meta":
            self.assertEqual(out.meta["fused_index"], [1, 2])
            self.assertEqual(out.meta["fused_start_s"], [1, 2])
            self.assertEqual(out2.meta["fused_end_s"], [5])

    def test_out_of_range(self):
        img = MetaTensor(torch.zeros(2, 3, 3), meta={"filename_or_obj": "short.dcm"})
        with self.assertRaisesRegex(RenogramInputError, r"^short\.dcm: .*has 2 fused images"):
            SelectFusedImages((1, 2))(img)


class TestPseudocolor(unittest.TestCase):
    @parameterized.expand([(k,) for k, _ in TYPES])
    def test_constant_image_is_constant_colour(self, kind):
        img = as_type(kind, np.full((1, 6, 7), 42.0, np.float32), {"filename_or_obj": "c.dcm"})
        out = Pseudocolor("jet")(img)
        self.assertIs(type(out), type(img))
        arr = np.asarray(out)
        self.assertEqual(arr.shape, (3, 6, 7))
        self.assertEqual(arr.dtype, np.float32)
        # constant image -> full scale everywhere -> JET's top colour, dark red (RGB)
        bgr = cv2.applyColorMap(np.array([[255]], np.uint8), cv2.COLORMAP_JET)[0, 0]
        np.testing.assert_allclose(arr.reshape(3, -1).T, np.tile(bgr[::-1] / 255.0, (42, 1)), atol=1e-7)
        if kind == "meta":
            self.assertEqual(out.meta["colormap"], "jet")
            self.assertEqual(out.meta["filename_or_obj"], "c.dcm")

    def test_matches_opencv_rgb(self):
        rng = np.random.default_rng(0)
        x = rng.poisson(20, size=(1, 16, 16)).astype(np.float32)
        out = Pseudocolor("jet", percentile=100)(x)
        u8 = np.rint(np.clip(x[0] / x.max(), 0, 1) * 255).astype(np.uint8)
        expected = cv2.applyColorMap(u8, cv2.COLORMAP_JET)[..., ::-1].transpose(2, 0, 1) / 255.0
        np.testing.assert_allclose(out, expected, atol=1e-7)
        self.assertTrue(np.all((out >= 0) & (out <= 1)))

    def test_hot_spot_does_not_set_the_scale(self):
        x = np.full((1, 40, 40), 10.0, np.float32)
        x[0, :3, :3] = 10000.0  # 9 px injection site, 0.56 % of the matrix
        gray = Pseudocolor(None, percentile=99.0)(x)
        self.assertEqual(gray.shape, (1, 40, 40))
        self.assertAlmostEqual(float(gray[0, 20, 20]), 1.0)  # parenchyma-like level at full scale, not crushed to 0
        crushed = Pseudocolor(None, percentile=100)(x)
        self.assertLess(float(crushed[0, 20, 20]), 0.01)

    def test_grayscale_levels_are_uint8(self):
        x = np.linspace(0, 100, 64, dtype=np.float32).reshape(1, 8, 8)
        out = Pseudocolor(colormap="none", percentile=100)(torch.as_tensor(x))
        np.testing.assert_allclose(out.numpy() * 255, np.rint(out.numpy() * 255), atol=1e-4)
        self.assertEqual(float(out.max()), 1.0)

    def test_zero_image(self):
        out = Pseudocolor("jet")(np.zeros((1, 4, 4), np.float32))
        np.testing.assert_allclose(out[:, 0, 0], colormap_lut("jet")[0])

    def test_bad_input(self):
        with self.assertRaisesRegex(RenogramInputError, "expects one image"):
            Pseudocolor()(np.zeros((2, 4, 4)))
        with self.assertRaisesRegex(RenogramInputError, "NaN"):
            Pseudocolor()(np.full((1, 4, 4), np.nan))
        with self.assertRaises(ValueError):
            Pseudocolor("no_such_map")
        with self.assertRaises(ValueError):
            Pseudocolor(percentile=0)


if __name__ == "__main__":
    unittest.main()
