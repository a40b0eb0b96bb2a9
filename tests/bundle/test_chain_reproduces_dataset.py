# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""A dataset built with any option is reproduced exactly by the bundle from the DICOM (one test per option).

Each case builds a dataset from one tiny study with ``scripts.prepare_dataset`` and the option, then loads the same
DICOM through the bundle's preprocessing (``ConfigParser`` on ``inference.json`` and on ``train.json``, with the
dataset's ``bundle_args.json`` as overrides) and compares with the PNG: equal within uint8 quantisation. The bundle's
default config must *not* reproduce a non-default option, so each case shows that its option travels.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from monai.bundle import ConfigParser, update_kwargs
from parameterized import parameterized
from PIL import Image

from custom_transforms.pipeline import bundle_overrides
from scripts.prepare_dataset import BUNDLE_ARGS_FILE, main
from tests.custom_transforms.nm_dicom import Phase, write_nm_dicom

CONFIGS = Path(__file__).resolve().parents[2] / "bundle" / "configs"
SHAPE = (24, 28)
#: a PNG (uint8) and the float tensor it was written from differ by at most half a level.
QUANTISATION = 0.5 / 255 + 1e-6

# [case name, prepare_dataset options]
CASES = [
    ["defaults", []],
    ["min_start_s", ["--min-start-s", "30"]],
    ["group_size", ["--group-size", "5"]],
    ["window_s", ["--window-s", "120"]],
    ["keep_partial", ["--keep-partial", "--fused", "-1"]],
    ["fused", ["--fused", "0", "3"]],
    ["colormap", ["--colormap", "hot"]],
    ["colormap_none", ["--colormap", "none"]],
    ["size", ["--size", "40", "56"]],
    ["percentile", ["--percentile", "90"]],
    ["view", ["--view", "anterior"]],
]


def _write_study(path: Path) -> None:
    """60 x 1 s + 40 x 15 s, two detectors (anterior, posterior) with different asymmetric blobs rising in time."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    durations = np.array([1.0] * 60 + [15.0] * 40)
    rise = np.linspace(0.3, 1.5, durations.size)[:, None, None]
    views = []
    for cy, cx in ((6, 7), (15, 20)):  # anterior, posterior
        blob = 12.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 12.0) + 1.0
        views.append(rng.poisson(blob[None] * durations[:, None, None] * rise))
    write_nm_dicom(
        path,
        np.concatenate(views).astype(np.uint16),
        phases=[Phase(60, 1000), Phase(40, 15000)],
        detector_views=["ANTERIOR", "POSTERIOR"],
    )


def _png(path: Path) -> torch.Tensor:
    arr = np.asarray(Image.open(path), dtype=np.float32) / 255.0
    return torch.from_numpy(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))


def _bundle_image(config: str, overrides: dict, item: dict) -> torch.Tensor:
    """The bundle's network input for ``item``: ``inference.json``'s ``preprocessing`` or ``train.json``'s
    ``validate#preprocessing`` (which also loads the item's label), after ``overrides``."""
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / config))
    parser.update(overrides)
    pre = parser.get_parsed_content("preprocessing" if config == "inference.json" else "validate#preprocessing")
    return pre(item)["image"].as_tensor()


class TestChainReproducesDataset(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="chain_dataset_"))
        cls.studies = cls.tmp / "studies"
        cls.studies.mkdir()
        cls.study = cls.studies / "s1.dcm"
        _write_study(cls.study)
        label = np.zeros(SHAPE, np.uint8)
        label[4:10, 3:11] = 1
        Image.fromarray(label).save(cls.studies / "s1_label.png")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _build(self, name: str, options: list[str]) -> tuple[Path, dict]:
        out = self.tmp / f"ds_{name}"
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            size = [] if "--size" in options else ["--size", "32"]
            code = main(["--studies", str(self.studies), "--out", str(out), "--split", "1", "0", "0", "--quiet"]
                        + size + options)
        self.assertEqual(code, 0, name)
        return out, json.loads((out / "datalist.json").read_text())

    @parameterized.expand(CASES)
    def test_bundle_reproduces_the_png(self, name, options):
        out, datalist = self._build(name, options)
        args = update_kwargs(args=str(out / BUNDLE_ARGS_FILE))  # how `monai.bundle run --args_file` reads it
        self.assertEqual(args, json.loads(json.dumps(bundle_overrides(datalist["options"]))))
        entries = datalist["training"]
        self.assertEqual(len(entries), len(set(datalist["options"]["fused"])))
        png_first = _png(out / entries[0]["image"])  # entries follow --fused: the first is fused_index's image
        for entry in entries:
            png = _png(out / entry["image"])
            # train.json: a datalist item naming the study, its fused image and native label
            item = {"image": str(self.study), "label": str(out / entry["label_native"])}
            item["fused_index"] = entry["fused_index"]
            got = _bundle_image("train.json", args, item)
            self.assertEqual(tuple(got.shape), tuple(png.shape), f"{name} {entry['image']}")
            self.assertLessEqual(float((got - png).abs().max()), QUANTISATION, f"{name} {entry['image']} train.json")
        # inference.json: a bare study, the dataset's first fused image (bundle_args.json's fused_index)
        got = _bundle_image("inference.json", args, {"image": str(self.study)})
        self.assertEqual(tuple(got.shape), tuple(png_first.shape), name)
        self.assertLessEqual(float((got - png_first).abs().max()), QUANTISATION, f"{name} inference.json")
        if name != "defaults":  # the option matters: the bundle's defaults give another image
            default = _bundle_image("inference.json", {}, {"image": str(self.study)})
            differs = default.shape != png_first.shape or float((default - png_first).abs().max()) > 2 / 255
            self.assertTrue(differs, f"{name}: the bundle's defaults already reproduce this option")


class TestBundleOverrides(unittest.TestCase):
    def test_options_to_config_ids(self):
        opts = {"size": [40, 56], "colormap": None, "percentile": 90.0, "min_start_s": 30.0, "group_size": 5,
                "window_s": None, "drop_partial": False, "view": "anterior", "fused": [3, 1], "seed": 0}
        self.assertEqual(
            bundle_overrides(opts),
            {"view": "anterior", "min_start_s": 30.0, "group_size": 5, "window_s": None, "drop_partial": False,
             "percentile": 90.0, "fused_index": 3, "colormap": "none", "in_channels": 1, "image_size": [40, 56]},
        )
        self.assertEqual(bundle_overrides({"colormap": "jet"}), {"colormap": "jet", "in_channels": 3})
        self.assertEqual(bundle_overrides({}), {})


if __name__ == "__main__":
    unittest.main()
