# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""ROI tests on synthetic masks: C-shape fill, ring geometry, side assignment, single kidney, empty mask, heart."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import cv2
import numpy as np
from parameterized import parameterized
from scipy import ndimage as ndi

from custom_transforms.errors import RenogramInputError
from scripts.clinical.rois import assign_kidneys, background_ring, build_rois, find_heart_roi, read_mask, whole_kidney


def c_shape(h: int = 40, w: int = 40, centre=(20, 20), r_out: int = 12, r_in: int = 6, opening: str = "right"):
    """Annulus open on one side (the hilum), plus the pelvis disc it encloses."""
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - centre[0], xx - centre[1])
    ring = (d <= r_out) & (d > r_in)
    gap = np.abs(yy - centre[0]) <= 3
    gap &= (xx > centre[1]) if opening == "right" else (xx < centre[1])
    pelvis = d <= r_in
    return ring & ~gap, pelvis


def two_kidneys(h: int = 64, w: int = 64) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[20:40, 8:18] = 1  # image left
    m[22:42, 44:54] = 1  # image right
    return m


class TestWholeKidney(unittest.TestCase):
    @parameterized.expand([("right",), ("left",)])
    def test_c_shape_open_at_hilum_includes_pelvis(self, opening):
        par, pelvis = c_shape(opening=opening)
        self.assertFalse(ndi.binary_fill_holes(par)[pelvis].all())  # hole filling alone misses the open pelvis
        whole = whole_kidney(par)
        self.assertTrue(whole[pelvis].all())
        self.assertTrue(whole[par].all())
        # no growth beyond the kidney's convex outline (the outer disc)
        yy, xx = np.mgrid[:40, :40]
        self.assertFalse((whole & (np.hypot(yy - 20, xx - 20) > 12.5)).any())

    def test_closed_ring_is_hole_filled(self):
        yy, xx = np.mgrid[:30, :30]
        d = np.hypot(yy - 15, xx - 15)
        whole = whole_kidney((d <= 10) & (d > 5))
        self.assertTrue(whole[d <= 5].all())


class TestBackgroundRing(unittest.TestCase):
    def test_ring_geometry(self):
        k = np.zeros((40, 40), bool)
        k[15:25, 15:25] = True
        ring = background_ring(k, gap=1, width=2)
        dist = ndi.distance_transform_cdt(~k, metric="chessboard")  # pixels out from the kidney
        self.assertEqual(set(np.unique(dist[ring]).tolist()), {2, 3})  # 1 px gap, then 2 px wide
        self.assertEqual(int(ring.sum()), 16 * 16 - 12 * 12)  # 10x10 kidney: square of 3 px out minus 1 px out

    def test_ring_clear_of_other_kidney_and_clipped_to_image(self):
        k = np.zeros((20, 40), bool)
        k[0:8, 10:16] = True  # touches the top edge
        other = np.zeros_like(k)
        other[0:8, 19:25] = True
        excl = ndi.binary_dilation(k | other, iterations=1)
        ring = background_ring(k, exclude=excl)
        self.assertEqual(ring.shape, k.shape)
        self.assertFalse((ring & ndi.binary_dilation(other, iterations=1)).any())
        self.assertTrue(ring.any())

    def test_crescent_is_the_lateral_half(self):
        k = np.zeros((40, 40), bool)
        k[15:25, 15:25] = True
        full = background_ring(k)
        cres = background_ring(k, method="crescent", lateral="image_left")
        self.assertTrue(cres.any() and (cres <= full).all())
        self.assertTrue((np.nonzero(cres)[1] <= 20).all())
        self.assertFalse(background_ring(k, method="none").any())


class TestAssignKidneys(unittest.TestCase):
    def test_binary_posterior_left_is_image_left(self):
        sides, warnings = assign_kidneys(two_kidneys(), view="posterior", label_mode="binary")
        self.assertLess(np.nonzero(sides["left"])[1].mean(), 32)
        self.assertGreater(np.nonzero(sides["right"])[1].mean(), 32)
        self.assertEqual(warnings, [])

    def test_binary_anterior_is_flipped(self):
        sides, _ = assign_kidneys(two_kidneys() * 255, view="anterior")
        self.assertGreater(np.nonzero(sides["left"])[1].mean(), 32)

    def test_labels_are_trusted_even_if_swapped_in_position(self):
        m = two_kidneys()
        m[:, 32:][m[:, 32:] == 1] = 2
        m2 = np.where(m == 1, 2, np.where(m == 2, 1, 0))  # patient left drawn on the image right
        sides, _ = assign_kidneys(m2, view="posterior", label_mode="auto")
        self.assertGreater(np.nonzero(sides["left"])[1].mean(), 32)

    def test_fragmented_kidney_stays_one_kidney_and_specks_are_dropped(self):
        m = two_kidneys()
        m[29:31, 44:54] = 0  # cut the image-right kidney in two
        m[60, 30] = 1  # a one-pixel speck
        sides, _ = assign_kidneys(m, label_mode="binary")
        self.assertEqual(int(sides["right"].sum()), 20 * 10 - 20)
        self.assertFalse(sides["left"][60, 30] or sides["right"][60, 30])

    def test_rim_broken_into_small_fragments_stays_one_kidney(self):
        m = np.zeros((64, 64), np.uint8)
        m[18:42, 4:20] = 1  # a healthy kidney on the image left, 24 rows long
        rim, _ = c_shape(64, 64, centre=(30, 46), r_out=12, r_in=10, opening="left")
        rim &= (np.arange(64)[:, None] % 6) != 0  # thin rim cut every 6 rows into fragments
        m[rim] = 1
        m[58:62, 44:48] = 1  # a blob in the same columns far below (bladder-like): not part of the kidney
        sides, _ = assign_kidneys(m, label_mode="binary")
        self.assertIsNotNone(sides["right"])
        self.assertEqual(int(sides["right"].sum()), int(rim.sum()))

    def test_fragments_without_shared_columns_join_the_nearer_kidney(self):
        m = np.zeros((64, 64), np.uint8)
        m[18:42, 4:20] = 1  # image-left kidney
        m[20:26, 44:52] = 1  # upper and lower pieces of the image-right kidney's rim, in different columns
        m[36:42, 53:60] = 1
        sides, warnings = assign_kidneys(m, label_mode="binary")
        self.assertEqual(int(sides["right"].sum()), 6 * 8 + 6 * 7)
        self.assertEqual(int(sides["left"].sum()), 24 * 16)
        self.assertEqual(warnings, [])

    def test_single_kidney_side_from_position(self):
        m = two_kidneys()
        m[:, 32:] = 0
        sides, _ = assign_kidneys(m, view="posterior", label_mode="binary")
        self.assertIsNotNone(sides["left"])
        self.assertIsNone(sides["right"])

    def test_small_second_region_is_not_a_kidney(self):
        m = two_kidneys()
        m[:, 32:] = 0
        m[50:53, 50:53] = 1  # 9 px blob: 4.5 % of the kidney
        sides, warnings = assign_kidneys(m, label_mode="binary")
        self.assertIsNone(sides["right"])
        self.assertTrue(any("small mask region" in w for w in warnings))

    def test_empty_mask_names_the_file(self):
        with self.assertRaisesRegex(RenogramInputError, r"^/data/mask.png: no kidney found"):
            assign_kidneys(np.zeros((10, 10), np.uint8), source="/data/mask.png")

    def test_non_binary_values_rejected(self):
        with self.assertRaisesRegex(RenogramInputError, "binary mask expected"):
            assign_kidneys(np.array([[0, 3], [5, 0]]), source="m.png")


class TestReadMask(unittest.TestCase):
    def test_png_round_trip_and_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "m.png"
            cv2.imwrite(str(p), two_kidneys() * 255)
            np.testing.assert_array_equal(read_mask(p), two_kidneys() * 255)
            with self.assertRaisesRegex(RenogramInputError, "mask file not found"):
                read_mask(Path(tmp) / "missing.png")
            bad = Path(tmp) / "bad.png"
            bad.write_bytes(b"not a png")
            with self.assertRaisesRegex(RenogramInputError, "bad.png: cannot read"):
                read_mask(bad)


class TestHeartAndBuild(unittest.TestCase):
    def _study(self):
        t = 40
        starts, durs = 5.0 * np.arange(t), np.full(t, 5.0)
        frames = np.ones((t, 64, 64))
        frames[:12, 4:10, 14:22] += 50.0  # heart: hot in the first minute, above the patient-left (image-left) kidney
        frames[:12, 4:10, 50:58] += 30.0  # liver-ish on the patient right: not the heart
        frames[:, 20:40, 8:18] += 5.0
        frames[:, 22:42, 44:54] += 5.0
        return frames, starts, durs

    def test_heart_found_left_of_midline_above_kidneys(self):
        frames, starts, durs = self._study()
        sides, _ = assign_kidneys(two_kidneys(), label_mode="binary")
        roi, info = find_heart_roi(frames, starts, durs, sides, spacing_mm=4.0)
        self.assertIsNotNone(roi)
        r, c = np.nonzero(roi)
        self.assertTrue((r < 10).all() and (c < 32).all())

    def test_heart_missing_when_kidneys_at_top(self):
        frames, starts, durs = self._study()
        m = np.zeros((64, 64), np.uint8)
        m[1:20, 8:18] = 1
        m[1:20, 44:54] = 1
        sides, _ = assign_kidneys(m, label_mode="binary")
        roi, info = find_heart_roi(frames, starts, durs, sides)
        self.assertIsNone(roi)
        self.assertIn("rows above the kidneys", info["reason"])

    def test_build_rois_shape_mismatch_names_mask(self):
        frames, starts, durs = self._study()
        with self.assertRaisesRegex(RenogramInputError, "^m.png: mask shape"):
            build_rois(np.zeros((32, 32)), frames, starts, durs, source="m.png")

    def test_build_rois_rings_avoid_both_kidneys(self):
        frames, starts, durs = self._study()
        rois = build_rois(two_kidneys(), frames, starts, durs, label_mode="binary")
        both = rois.kidney["left"] | rois.kidney["right"]
        for side in ("left", "right"):
            self.assertFalse((rois.background[side] & ndi.binary_dilation(both)).any())
            self.assertGreater(int(rois.background[side].sum()), 0)


if __name__ == "__main__":
    unittest.main()
