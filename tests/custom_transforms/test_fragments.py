# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.fragments` (removing mask fragments cranial or caudal of both kidneys)."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

import numpy as np
import torch
from monai.bundle import ConfigParser
from monai.data import MetaTensor
from monai.transforms import Identityd
from parameterized import parameterized

from custom_transforms.fragments import (
    RemoveExtrarenalFragments,
    RemoveExtrarenalFragmentsd,
    extrarenal_fragments,
    suppress_fragments,
)
from custom_transforms.loading import study_affine

__all__ = ["TestExtrarenalFragments", "TestRemoveExtrarenalFragments", "TestRemoveExtrarenalFragmentsd",
           "TestSuppressFragments", "TestConfigs"]

REPO = Path(__file__).resolve().parents[2]


def _box(mask: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    mask[rows[0]:rows[1] + 1, cols[0]:cols[1] + 1] = 1


def _kidneys() -> np.ndarray:
    """64x64: two kidney bodies, the left rows 24-40, the right rows 26-42 (the band: rows 24-42)."""
    m = np.zeros((64, 64), np.uint8)
    _box(m, (24, 40), (12, 20))
    _box(m, (26, 42), (42, 50))
    return m


#: name, extra box (rows, cols), spacing (mm), removed: the band is rows 24-42
CASES = [
    # the liver above the right kidney: 8 rows (32 mm) above the band, 40 mm from it
    ("liver_fragment_above", ((12, 16), (50, 54)), 4.0, True),
    # the bladder below: 14 rows (56 mm) below the band
    ("bladder_below", ((56, 60), (28, 34)), 4.0, True),
    # the same liver fragment on a 0.5 mm grid is 4 mm above the band: kept
    ("fine_grid_within_margin", ((12, 16), (50, 54)), 0.5, False),
    # a piece of a broken hydronephrotic rim beside the right kidney, 24 mm away but within the band's rows: kept
    ("rim_piece_in_band", ((30, 33), (56, 58)), 4.0, False),
    # a pole piece 8 mm above the band but 8 mm from the left kidney's upper pole: kept
    ("pole_piece_near_body", ((20, 22), (14, 16)), 4.0, False),
    # a piece sharing one row with the band, far lateral: kept
    ("shares_a_row", ((14, 24), (58, 60)), 4.0, False),
]


class TestExtrarenalFragments(unittest.TestCase):
    @parameterized.expand(CASES)
    def test_rule(self, _, box, spacing, removed):
        m = _kidneys()
        piece = np.zeros_like(m)
        _box(piece, *box)
        drop = extrarenal_fragments(m | piece, (spacing, spacing))
        np.testing.assert_array_equal(drop, piece.astype(bool) if removed else np.zeros_like(drop))

    def test_bodies_are_never_removed(self):
        """Two components only (or one): nothing is removed, however far apart."""
        m = np.zeros((64, 64), np.uint8)
        _box(m, (2, 8), (2, 8))
        _box(m, (50, 60), (50, 60))
        self.assertFalse(extrarenal_fragments(m, (4.0, 4.0)).any())
        self.assertFalse(extrarenal_fragments(np.zeros((8, 8)), (4.0, 4.0)).any())

    def test_every_fragment_outside_the_band_goes(self):
        m = _kidneys()
        _box(m, (2, 12), (30, 40))  # 121 px, the third largest: 12 rows (48 mm) above the band
        _box(m, (54, 55), (30, 31))  # 4 px below it
        drop = extrarenal_fragments(m, (4.0, 4.0))
        self.assertEqual(int(drop.sum()), 121 + 4)
        self.assertFalse(drop[_kidneys() > 0].any())

    def test_a_kidney_is_kept_when_a_bigger_blob_is_a_body(self):
        """A hot blob larger than a kidney is one of the two bodies; the band then spans it and the other kidney."""
        m = _kidneys()
        _box(m, (2, 15), (28, 41))  # 196 px > 153 px per kidney
        self.assertFalse(extrarenal_fragments(m, (4.0, 4.0)).any())

    def test_anisotropic_rows_use_the_row_spacing(self):
        m = _kidneys()
        _box(m, (12, 16), (50, 54))  # 8 rows above the band
        self.assertTrue(extrarenal_fragments(m, (4.0, 0.5)).any())  # 32 mm above, 32 mm (rows) away
        self.assertFalse(extrarenal_fragments(m, (0.5, 4.0)).any())  # 4 mm above


def _with_liver() -> np.ndarray:
    m = _kidneys()
    _box(m, (12, 16), (50, 54))
    return m


def _liver() -> np.ndarray:
    return _with_liver() - _kidneys()


TYPES = [
    ("numpy", np.asarray),
    ("torch", torch.as_tensor),
    ("metatensor", lambda a: MetaTensor(torch.as_tensor(a))),
]


class TestRemoveExtrarenalFragments(unittest.TestCase):
    @parameterized.expand([(n, f, c) for n, f in TYPES for c in (False, True)])
    def test_types_shapes_and_dtype(self, _, to_type, channel_first):
        m = _with_liver()[None] if channel_first else _with_liver()
        out = RemoveExtrarenalFragments()(to_type(m), spacing_mm=(4.0, 4.0))
        self.assertIs(type(out), type(to_type(m)))
        self.assertEqual(tuple(out.shape), m.shape)
        self.assertEqual(np.asarray(out).dtype, np.uint8)
        np.testing.assert_array_equal(np.asarray(out).reshape(64, 64), _kidneys())

    def test_metatensor_spacing_from_its_affine_and_meta_kept(self):
        spacing = [4.0, 4.0]
        img = MetaTensor(torch.as_tensor(_with_liver()[None]), affine=study_affine(spacing),
                         meta={"pixel_spacing_mm": spacing, "filename_or_obj": "s.dcm"})
        out = RemoveExtrarenalFragments()(img)
        np.testing.assert_array_equal(out[0].numpy(), _kidneys())
        self.assertEqual(out.meta["filename_or_obj"], "s.dcm")
        # the same mask on a grid of 0.5 mm (the affine): the fragment is 4 mm above the band and stays
        img = MetaTensor(torch.as_tensor(_with_liver()[None]), affine=study_affine([0.5, 0.5]),
                         meta={"pixel_spacing_mm": [0.25, 0.25]})
        np.testing.assert_array_equal(RemoveExtrarenalFragments()(img)[0].numpy(), _with_liver())

    @parameterized.expand([
        ("png_metatensor", lambda a: MetaTensor(torch.as_tensor(a), meta={"pixel_spacing_mm": [np.nan, np.nan]})),
        ("plain_tensor", torch.as_tensor),
        ("numpy", np.asarray),
    ])
    def test_unknown_spacing_leaves_the_mask(self, _, to_type):
        img = to_type(_with_liver()[None])
        out = RemoveExtrarenalFragments()(img)
        np.testing.assert_array_equal(np.asarray(out)[0], _with_liver())

    @parameterized.expand([(-1.0, 15.0), (6.0, float("nan")), (float("inf"), 1.0)])
    def test_bad_arguments(self, margin, gap):
        with self.assertRaisesRegex(ValueError, "band_margin_mm and gap_mm"):
            RemoveExtrarenalFragments(margin, gap)


class TestRemoveExtrarenalFragmentsd(unittest.TestCase):
    def test_spacing_key_scaled_by_shape_key_to_the_mask_grid(self):
        """A 128² mask of a 64² study of 4 mm pixels (a network-grid prediction of a PNG dataset): 2 mm per pixel."""
        big = np.kron(_with_liver(), np.ones((2, 2), np.uint8))[None]
        data = {"pred": torch.as_tensor(big), "pred_native": torch.as_tensor(_with_liver()[None]),
                "pixel_spacing_mm": [torch.tensor(4.0), torch.tensor(4.0)], "native_shape": [64, 64]}
        out = RemoveExtrarenalFragmentsd(["pred", "pred_native"], "pixel_spacing_mm", "native_shape")(data)
        np.testing.assert_array_equal(out["pred"][0].numpy(), np.kron(_kidneys(), np.ones((2, 2), np.uint8)))
        np.testing.assert_array_equal(out["pred_native"][0].numpy(), _kidneys())
        np.testing.assert_array_equal(data["pred_native"][0].numpy(), _with_liver())

    def test_without_keys_the_mask_spacing_is_used(self):
        img = MetaTensor(torch.as_tensor(_with_liver()[None]), affine=study_affine([4.0, 4.0]),
                         meta={"pixel_spacing_mm": [4.0, 4.0]})
        out = RemoveExtrarenalFragmentsd("pred", "pixel_spacing_mm", "native_shape")({"pred": img})
        np.testing.assert_array_equal(out["pred"][0].numpy(), _kidneys())
        # a NaN spacing key (an image without spacing) falls back to the mask's own: none here, unchanged
        out = RemoveExtrarenalFragmentsd("pred", "pixel_spacing_mm")(
            {"pred": torch.as_tensor(_with_liver()[None]), "pixel_spacing_mm": [float("nan")] * 2})
        np.testing.assert_array_equal(out["pred"][0].numpy(), _with_liver())


class TestSuppressFragments(unittest.TestCase):
    def test_fragments_of_every_threshold_are_zeroed_never_the_mask(self):
        prob = _kidneys().astype(np.float32) * 0.9
        prob[12:17, 50:55] = 0.3  # a liver fragment only in the 0.25 mask
        prob[20:23, 14:17] = 0.3  # a pole piece near the left kidney: not a fragment
        out = suppress_fragments(prob, (4.0, 4.0), (0.25, 0.5, 0.75), keep=_kidneys())
        self.assertEqual(float(out[12:17, 50:55].max()), 0.0)
        np.testing.assert_array_equal(out[20:23, 14:17], prob[20:23, 14:17])
        np.testing.assert_array_equal(out[_kidneys() > 0], prob[_kidneys() > 0])
        self.assertEqual(float(prob[12, 50]), np.float32(0.3))  # the input is not modified
        # keep protects pixels of the mask even inside a removed component
        keep = _kidneys().copy()
        keep[12, 50] = 1
        self.assertEqual(float(suppress_fragments(prob, (4.0, 4.0), (0.25,), keep=keep)[12, 50]), np.float32(0.3))


class TestConfigs(unittest.TestCase):
    """``inference.json``'s ``fragments`` and ``evaluate.json``'s ``validate#fragments`` follow ``remove_fragments``."""

    @parameterized.expand([(True, RemoveExtrarenalFragmentsd), (False, Identityd), ("false", Identityd)])
    def test_inference_switch(self, value, kind):
        parser = ConfigParser()
        parser.read_config(str(REPO / "bundle" / "configs" / "inference.json"))
        parser.update({"bundle_root": str(REPO / "bundle"), "remove_fragments": value})
        self.assertIsInstance(parser.get_parsed_content("fragments"), kind)
        names = json.dumps(parser.get("postprocessing")["transforms"])
        self.assertLess(names.index("@discretize"), names.index("@fragments"))
        self.assertLess(names.index("@fragments"), names.index("@cast"))

    @parameterized.expand([(True, RemoveExtrarenalFragmentsd), (False, Identityd)])
    def test_evaluate_switch(self, value, kind):
        parser = ConfigParser()
        parser.read_config([str(REPO / "bundle" / "configs" / n) for n in ("train.json", "evaluate.json")])
        parser.update({"bundle_root": str(REPO / "bundle"), "remove_fragments": value})
        rule = parser.get_parsed_content("validate#fragments")
        self.assertIsInstance(rule, kind)
        if kind is RemoveExtrarenalFragmentsd:
            self.assertEqual(list(rule.keys), ["pred", "pred_native"])
        last = parser.get("validate#postprocessing")["transforms"][-1]
        self.assertEqual(last.replace("::", "#"), "@validate#fragments")


if __name__ == "__main__":
    unittest.main()
