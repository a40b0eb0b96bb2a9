# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of the dictionary transforms, their aliases, and the shared pipeline (resize and Invertd)."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd, Resized

import custom_transforms as ct
from tests.custom_transforms.nm_dicom import Phase, write_nm_dicom


def paper_like_study(folder: Path, shape=(32, 32), seed=0) -> Path:
    """60 x 1 s + 40 x 15 s, Poisson counts with a brighter blob; 100 frames."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    blob = 20.0 * np.exp(-((yy - shape[0] / 3) ** 2 + (xx - shape[1] / 4) ** 2) / 20.0) + 2.0
    durations = np.array([1.0] * 60 + [15.0] * 40)
    frames = rng.poisson(blob[None] * durations[:, None, None]).astype(np.uint16)
    return write_nm_dicom(
        folder / "study.dcm", frames, phases=[Phase(60, 1000), Phase(40, 15000)], pixel_spacing=(3.0, 3.0)
    )


class TestDictionaryTransforms(unittest.TestCase):
    def test_aliases(self):
        for name in ("LoadDynamicStudy", "DropEarlyFrames", "FrameFusion", "SelectFusedImages", "Pseudocolor"):
            d = getattr(ct, name + "d")
            self.assertIs(getattr(ct, name + "D"), d)
            self.assertIs(getattr(ct, name + "Dict"), d)
            self.assertIn(name + "d", ct.__all__)

    def test_chain_on_two_keys_and_missing_key(self):
        meta = {"frame_start_s": [float(t) for t in range(10)], "frame_duration_s": [1.0] * 10, "filename_or_obj": "x"}
        a = MetaTensor(torch.arange(10.0)[:, None, None].repeat(1, 4, 4), meta=dict(meta))
        b = MetaTensor(torch.ones(10, 4, 4), meta=dict(meta))
        chain = Compose(
            [
                ct.DropEarlyFramesd(["a", "b", "c"], min_start_s=2.0, allow_missing_keys=True),
                ct.FrameFusiond(["a", "b"], group_size=4),
                ct.SelectFusedImagesd(["a", "b"], indices=1),
                ct.Pseudocolord(["a"], colormap="jet"),
                ct.Pseudocolord(["b"], colormap=None),
            ]
        )
        out = chain({"a": a, "b": b, "label": 7})
        self.assertEqual(tuple(out["a"].shape), (3, 4, 4))
        self.assertEqual(tuple(out["b"].shape), (1, 4, 4))
        self.assertEqual(out["a"].meta["fused_start_s"], [6.0])  # frames 2..9 -> groups 2-5, 6-9; second one
        self.assertEqual(out["a"].meta["fused_index"], [1])
        self.assertEqual(out["label"], 7)
        with self.assertRaises(KeyError):
            ct.FrameFusiond(["a", "missing"])({"a": a})


class TestPipeline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = paper_like_study(Path(cls.tmp.name))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_pipeline_output(self):
        pre = ct.fused_image_pipeline(fused_index=2, spatial_size=(96, 96))
        img = pre({"image": str(self.path)})["image"]
        self.assertEqual(tuple(img.shape), (3, 96, 96))
        self.assertTrue(0.0 <= float(img.min()) and float(img.max()) <= 1.0)
        # 40 frames after 60 s -> 5 fused images of 7 (5 left over dropped); the third spans 14 x 15 s .. 21 x 15 s
        self.assertEqual(img.meta["fused_index"], [2])
        self.assertEqual(img.meta["fused_start_s"], [60.0 + 14 * 15.0])
        self.assertEqual(img.meta["fused_end_s"], [60.0 + 21 * 15.0])

    def test_resize_then_invert_returns_native_grid(self):
        pre = ct.fused_image_pipeline(fused_index=1, spatial_size=(96, 96))
        data = pre({"image": str(self.path)})
        # a "prediction" on the network grid: threshold of the red channel, as a one-channel label
        data["pred"] = (data["image"][:1] > 0.5).float()
        data["pred_soft"] = data["image"][:1].clone()
        inv = Invertd(keys=["pred", "pred_soft"], transform=pre, orig_keys="image", nearest_interp=[True, False])
        out = inv(data)
        self.assertEqual(tuple(out["pred"].shape), (1, 32, 32))
        self.assertEqual(set(torch.unique(out["pred"]).tolist()) <= {0.0, 1.0}, True)
        # the inverted soft channel matches the native-grid pseudocolor channel closely (bilinear there and back)
        native = ct.fused_image_pipeline(fused_index=1, spatial_size=None)({"image": str(self.path)})["image"][:1]
        self.assertEqual(tuple(out["pred_soft"].shape), tuple(native.shape))
        self.assertLess(float((out["pred_soft"] - native).abs().mean()), 0.05)
        np.testing.assert_allclose(out["pred"].affine.diagonal().numpy()[:2], [3.0, 3.0], atol=1e-6)

    def test_label_nearest_resize_inverts_exactly(self):
        study = ct.LoadDynamicStudy()(self.path)
        label = study[:1].clone()
        label[:] = 0
        label[0, 5:12, 3:9] = 1
        t = Compose([Resized(keys="label", spatial_size=(96, 96), mode="nearest")])
        data = t({"label": label})
        self.assertEqual(tuple(data["label"].shape), (1, 96, 96))
        back = t.inverse(data)["label"]
        self.assertEqual(tuple(back.shape), (1, 32, 32))
        torch.testing.assert_close(back.as_tensor(), label.as_tensor())


if __name__ == "__main__":
    unittest.main()


class TestBatchedInversion(unittest.TestCase):
    """The bundle's path: Dataset -> DataLoader batch -> decollate -> Invertd, on studies of different lengths."""

    def test_batch_collate_and_invert(self):
        from monai.data import DataLoader, Dataset, decollate_batch

        with tempfile.TemporaryDirectory() as tmp:
            a = Path(tmp) / "a"
            b = Path(tmp) / "b"
            a.mkdir()
            b.mkdir()
            paper_like_study(a, shape=(32, 32), seed=1)
            rng = np.random.default_rng(2)  # a second study with another protocol (more frames) and matrix
            frames = rng.poisson(5.0, size=(90, 24, 28)).astype(np.uint16)
            write_nm_dicom(b / "study.dcm", frames, phases=[Phase(30, 2000), Phase(60, 10000)])
            pre = ct.fused_image_pipeline(fused_index=1, spatial_size=(64, 64))
            ds = Dataset([{"image": str(a / "study.dcm")}, {"image": str(b / "study.dcm")}], transform=pre)
            batch = next(iter(DataLoader(ds, batch_size=2, num_workers=0)))
            self.assertEqual(tuple(batch["image"].shape), (2, 3, 64, 64))
            batch["pred"] = (batch["image"][:, :1] > 0.5).float()
            inv = Invertd(keys="pred", transform=pre, orig_keys="image", nearest_interp=True)
            shapes = [tuple(inv(item)["pred"].shape) for item in decollate_batch(batch)]
        self.assertEqual(shapes, [(1, 32, 32), (1, 24, 28)])
