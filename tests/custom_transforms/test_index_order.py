# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.index_order` (the hand-over of ``(H, W)`` masks to MONAI Label's writer)."""

from __future__ import annotations

import unittest

import numpy as np
import torch
from monai.data import MetaTensor
from parameterized import parameterized

from custom_transforms.errors import RenogramInputError
from custom_transforms.index_order import ToXYIndexOrder, ToXYIndexOrderd

__all__ = ["TestToXYIndexOrder", "TestToXYIndexOrderd"]

MASK = (np.arange(12).reshape(3, 4) % 2).astype(np.uint8)  # (H=3, W=4), not symmetric
TYPES = [("numpy", np.asarray), ("torch", torch.as_tensor), ("metatensor", lambda a: MetaTensor(torch.as_tensor(a)))]


class TestToXYIndexOrder(unittest.TestCase):
    @parameterized.expand(TYPES)
    def test_transposes_and_keeps_type_and_dtype(self, _, to_type):
        out = ToXYIndexOrder()(to_type(MASK))
        self.assertIs(type(out), type(to_type(MASK)))
        self.assertEqual(tuple(out.shape), (4, 3))
        np.testing.assert_array_equal(np.asarray(out), MASK.T)
        self.assertEqual(np.asarray(out).dtype, np.uint8)

    def test_metatensor_spatial_shape_follows(self):
        img = MetaTensor(torch.as_tensor(MASK), meta={"spatial_shape": np.array([3, 4]), "filename_or_obj": "a.png"})
        out = ToXYIndexOrder()(img)
        np.testing.assert_array_equal(out.meta["spatial_shape"], [4, 3])
        self.assertEqual(out.meta["filename_or_obj"], "a.png")

    @parameterized.expand([((1, 3, 4),), ((3,),), ((2, 3, 4, 5),)])
    def test_rejects_non_2d(self, shape):
        with self.assertRaisesRegex(RenogramInputError, "2D"):
            ToXYIndexOrder()(torch.zeros(shape))


class TestToXYIndexOrderd(unittest.TestCase):
    def _data(self, ref_shape=(3, 4)):
        meta = {"spatial_shape": np.array(ref_shape), "filename_or_obj": "x.png"}
        image = MetaTensor(torch.zeros(3, 8, 8), meta=meta)
        return {"image": image, "pred": MetaTensor(torch.as_tensor(MASK))}

    def test_pred_and_reference_shape_become_xy(self):
        data = self._data()
        out = ToXYIndexOrderd(keys="pred", ref_key="image")(data)
        np.testing.assert_array_equal(out["pred"].numpy(), MASK.T)
        np.testing.assert_array_equal(out["image"].meta["spatial_shape"], [4, 3])
        # the caller's reference image is not modified in place
        np.testing.assert_array_equal(data["image"].meta["spatial_shape"], [3, 4])

    def test_mismatched_reference_is_a_clear_error(self):
        with self.assertRaisesRegex(RenogramInputError, r"x\.png.*pred is \(3, 4\).*spatial_shape is \(4, 3\)"):
            ToXYIndexOrderd(keys="pred")(self._data(ref_shape=(4, 3)))

    def test_without_reference(self):
        out = ToXYIndexOrderd(keys="pred", ref_key=None)({"pred": np.asarray(MASK)})
        np.testing.assert_array_equal(out["pred"], MASK.T)


if __name__ == "__main__":
    unittest.main()
