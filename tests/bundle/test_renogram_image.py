# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.renogram_image`: fused-image files and dynamic studies to ``(C, H, W)``."""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd, Resize, Resized
from parameterized import parameterized
from PIL import Image

from custom_transforms.errors import RenogramInputError
from custom_transforms.renogram_image import (
    EnsureSameSpatialShaped,
    LoadRenogramImage,
    LoadRenogramImaged,
    ResizeToMatchd,
    is_fused_image_file,
)
from tests.bundle.bundle_fixtures import simulated_dataset

RNG = np.random.default_rng(3)
#: 5x7 (rows x columns) RGB with distinct values, so any transposition or channel swap shows.
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)

# [image array written with PIL, LoadRenogramImage kwargs, expected (C, H, W) float array]
CASES = [
    ["rgb", RGB, {}, RGB.transpose(2, 0, 1) / 255.0],
    ["gray_to_3", RGB[..., 0], {}, np.repeat(RGB[None, ..., 0], 3, 0) / 255.0],
    ["gray_kept", RGB[..., 1], {"channels": 1}, RGB[None, ..., 1] / 255.0],
    ["rgba_drops_alpha", np.dstack([RGB, np.full((5, 7), 7, np.uint8)]), {}, RGB.transpose(2, 0, 1) / 255.0],
    [
        "rgb_to_luma",
        RGB,
        {"channels": 1},
        (RGB.astype(np.float64) / 255.0 @ np.array([0.299, 0.587, 0.114]))[None],
    ],
    ["gray16", (RGB[..., 2].astype(np.uint16) * 257), {}, np.repeat(RGB[None, ..., 2], 3, 0) / 255.0],
]


class TestLoadRenogramImageFiles(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="renogram_image_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    @parameterized.expand(CASES)
    def test_values_orientation_and_channels(self, name, array, kwargs, expected):
        path = self.tmp / f"{name}.png"
        Image.fromarray(array).save(path)
        out = LoadRenogramImage(**kwargs)(path)
        self.assertIsInstance(out, MetaTensor)
        self.assertEqual(out.dtype, torch.float32)
        self.assertEqual(tuple(out.shape), expected.shape)  # (C, 5, 7): rows first, not PILReader's (C, 7, 5)
        np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
        self.assertEqual(out.meta["filename_or_obj"], str(path))
        self.assertEqual(tuple(out.meta["spatial_shape"]), (5, 7))
        self.assertEqual(tuple(out.affine.shape), (4, 4))
        self.assertEqual(out.meta["source_format"], "image")

    def test_palette_png_is_converted_to_rgb(self):
        path = self.tmp / "palette.png"
        Image.fromarray(RGB).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(path)
        expected = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1) / 255.0
        np.testing.assert_allclose(LoadRenogramImage()(path).numpy(), expected, atol=1e-6)

    def test_dict_wrapper_and_aliases(self):
        path = self.tmp / "a.png"
        Image.fromarray(RGB).save(path)
        out = LoadRenogramImaged(keys="image")({"image": str(path), "label": "x"})
        self.assertEqual(tuple(out["image"].shape), (3, 5, 7))
        self.assertEqual(out["label"], "x")

    def test_not_an_image_names_the_file(self):
        path = self.tmp / "text.png"
        path.write_text("hello")
        with self.assertRaisesRegex(RenogramInputError, "text.png: cannot be read as an image"):
            LoadRenogramImage()(path)

    def test_missing_image_names_the_file(self):
        with self.assertRaisesRegex(RenogramInputError, "nothere.png: no such image file"):
            LoadRenogramImage()(self.tmp / "nothere.png")

    def test_multi_frame_tiff_is_refused(self):
        path = self.tmp / "stack.tif"
        frames = [Image.fromarray(RGB[..., i]) for i in range(3)]
        frames[0].save(path, save_all=True, append_images=frames[1:])
        with self.assertRaisesRegex(RenogramInputError, "stack.tif: holds 3 frames"):
            LoadRenogramImage()(path)

    def test_missing_study_names_the_path(self):
        with self.assertRaisesRegex(RenogramInputError, "study.dcm: no such study"):
            LoadRenogramImage()(self.tmp / "study.dcm")

    def test_bad_channels_argument(self):
        with self.assertRaises(ValueError):
            LoadRenogramImage(channels=2)

    def test_is_fused_image_file(self):
        self.assertTrue(is_fused_image_file("a/b.PNG"))
        self.assertFalse(is_fused_image_file("a/b.dcm"))
        self.assertFalse(is_fused_image_file(self.tmp))


class TestGridHelpers(unittest.TestCase):
    def test_label_size_mismatch_names_label_and_shapes(self):
        img = MetaTensor(torch.zeros(3, 8, 8), meta={"filename_or_obj": "img.png"})
        lab = MetaTensor(torch.zeros(1, 8, 6), meta={"filename_or_obj": "lab.png"})
        with self.assertRaisesRegex(RenogramInputError, r"lab.png: label is \(8, 6\).*img.png is \(8, 8\)"):
            EnsureSameSpatialShaped("label")({"image": img, "label": lab})
        same = MetaTensor(torch.zeros(1, 8, 8))
        self.assertIs(EnsureSameSpatialShaped("label")({"image": img, "label": same})["label"], same)

    def test_resize_to_match(self):
        d = ResizeToMatchd("pred", ref_key="ref")({"pred": torch.ones(1, 6, 4), "ref": torch.zeros(1, 3, 2)})
        self.assertEqual(tuple(d["pred"].shape), (1, 3, 2))
        same = torch.ones(1, 3, 2)
        self.assertIs(ResizeToMatchd("pred", ref_key="ref")({"pred": same, "ref": same})["pred"], same)

    def test_invertd_brings_a_prediction_back_to_the_native_grid(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp, True)
        Image.fromarray(RGB).save(tmp / "a.png")
        pre = Compose([LoadRenogramImaged("image"), Resized("image", spatial_size=(16, 16))])
        d = pre({"image": str(tmp / "a.png")})
        d["pred"] = MetaTensor(torch.rand(1, 16, 16))
        out = Invertd("pred", transform=pre, orig_keys="image", nearest_interp=False)(d)
        self.assertEqual(tuple(out["pred"].shape), (1, 5, 7))


@pytest.mark.slow  # simulates 4 studies and builds their dataset once per session (~10-25 s on 2 shared cores)
class TestStudyMatchesDatasetPng(unittest.TestCase):
    """The DICOM branch and the PNG the dataset builder writes from the same study agree within uint8 quantisation."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.dataset = simulated_dataset()
        cls.datalist = json.loads((cls.dataset / "datalist.json").read_text())

    def test_dicom_and_png_give_the_same_tensor(self):
        for entry in self.datalist["training"][:2]:
            png = LoadRenogramImage()(self.dataset / entry["image"])
            opts = self.datalist["options"]  # the chain the dataset was built with (prepare_dataset's defaults)
            chain = {k: opts[k] for k in ("min_start_s", "group_size", "window_s", "drop_partial")}
            study = LoadRenogramImage(fused_index=entry["fused_index"], **chain)(entry["study_path"])
            self.assertEqual(tuple(study.shape), (3, *entry["native_shape"]))
            self.assertEqual(study.meta["fused_index"], entry["fused_index"])
            self.assertEqual(study.meta["source_format"], "dicom")
            resized = Resize(tuple(png.shape[1:]), mode="bilinear")(study)
            self.assertLessEqual(float((resized - png).abs().max()), 0.5 / 255 + 1e-5, entry["image"])
            # a transposed read would fail here (the kidneys are not symmetric about the diagonal)
            self.assertGreater(float((resized.transpose(1, 2) - png).abs().max()), 2 / 255)

    def test_item_fused_index_selects_the_fused_image(self):
        entry = self.datalist["training"][0]
        loader = LoadRenogramImaged("image", fused_index=0)
        first = loader({"image": entry["study_path"], "fused_index": 0})["image"]
        second = loader({"image": entry["study_path"], "fused_index": 1})["image"]
        self.assertEqual(second.meta["fused_index"], 1)
        self.assertGreater(float((first - second).abs().max()), 0.0)

    def test_grayscale_study(self):
        entry = self.datalist["training"][0]
        gray = LoadRenogramImage(channels=1)(entry["study_path"])
        self.assertEqual(gray.shape[0], 1)
        self.assertTrue(0.0 <= float(gray.min()) and float(gray.max()) <= 1.0)


if __name__ == "__main__":
    unittest.main()
