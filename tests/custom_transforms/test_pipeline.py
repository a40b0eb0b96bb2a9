# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.pipeline` (the one study -> network input chain), of the bundle loader on loaded
frames, of :func:`custom_transforms.io.frame_timing`, and of the package's import layering."""

from __future__ import annotations

import ast
import copy
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from monai.bundle import ConfigParser
from monai.data import MetaTensor
from parameterized import parameterized

import custom_transforms as ct
from custom_transforms.io import frame_timing
from custom_transforms.pipeline import (
    BUNDLE_CHAIN,
    CHAIN_DEFAULTS,
    CHAIN_IDS,
    FUSION_RULES,
    FusedImageChain,
    StudyFusion,
)
from custom_transforms.renogram_image import LoadRenogramImage, LoadRenogramImaged
from tests.custom_transforms.nm_dicom import Phase, write_nm_dicom

PACKAGE = Path(ct.__file__).resolve().parent
CONFIGS = PACKAGE.parent / "bundle" / "configs"

# [name, chain kwargs]: every parameter of the chain away from its default
CHAIN_CASES = [
    ["defaults", {}],
    ["min_start_s", {"min_start_s": 30.0}],
    ["group_size", {"group_size": 5}],
    ["window_s", {"window_s": 120.0}],
    ["keep_partial", {"drop_partial": False, "fused_index": -1}],
    ["fused_index", {"fused_index": 3}],
    ["colormap", {"colormap": "hot"}],
    ["gray", {"colormap": None}],
    ["percentile", {"percentile": 90.0}],
]


def _study(folder: Path, shape=(20, 24)) -> Path:
    """60 x 1 s + 40 x 15 s Poisson study with an off-centre blob."""
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    blob = 15.0 * np.exp(-((yy - 5) ** 2 + (xx - 7) ** 2) / 10.0) + 1.0
    durations = np.array([1.0] * 60 + [15.0] * 40)
    frames = rng.poisson(blob[None] * durations[:, None, None]).astype(np.uint16)
    return write_nm_dicom(folder / "study.dcm", frames, phases=[Phase(60, 1000), Phase(40, 15000)])


class ChainCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="pipeline_"))
        cls.path = _study(cls.tmp)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)


class TestFusedImageChain(ChainCase):
    @parameterized.expand(CHAIN_CASES)
    def test_chain_is_its_steps(self, name, kwargs):
        """The chain gives exactly what the array transforms give in turn, from a path and from loaded frames."""
        p = {**CHAIN_DEFAULTS, **kwargs}
        frames = ct.LoadDynamicStudy()(str(self.path))
        fused = ct.FrameFusion(p["group_size"], p["window_s"], p["drop_partial"])(
            ct.DropEarlyFrames(p["min_start_s"])(frames)
        )
        expected = ct.Pseudocolor(p["colormap"], p["percentile"])(ct.SelectFusedImages(p["fused_index"])(fused))
        chain = FusedImageChain(**kwargs)
        for study in (str(self.path), frames):
            torch.testing.assert_close(chain.fuse(study).as_tensor(), fused.as_tensor())
            torch.testing.assert_close(chain(study).as_tensor(), expected.as_tensor())
        self.assertEqual(chain.fuse(frames).meta["fused_start_s"], fused.meta["fused_start_s"])

    def test_loaded_frames_are_not_modified(self):
        frames = ct.LoadDynamicStudy()(str(self.path))
        before, meta = frames.clone(), copy.deepcopy(dict(frames.meta))
        FusedImageChain(window_s=120.0)(frames)
        LoadRenogramImage()(frames)
        torch.testing.assert_close(frames.as_tensor(), before.as_tensor())
        self.assertEqual(frames.meta["frame_start_s"], meta["frame_start_s"])
        self.assertEqual(set(frames.meta), set(meta))

    def test_call_fused_index_overrides_the_configured_one(self):
        chain = FusedImageChain(fused_index=1)
        torch.testing.assert_close(chain(str(self.path), 3), FusedImageChain(fused_index=3)(str(self.path)))

    @parameterized.expand([["numpy", np.ones((4, 5, 5))], ["tensor", torch.ones(4, 5, 5)],
                           ["no_timing", MetaTensor(torch.ones(4, 5, 5))]])
    def test_array_without_timing_is_refused(self, name, array):
        with self.assertRaisesRegex(TypeError, "LoadDynamicStudy"):
            StudyFusion()(array)

    def test_missing_study_names_the_path(self):
        with self.assertRaisesRegex(ct.RenogramInputError, "nothere.dcm: no such study"):
            FusedImageChain()(str(self.tmp / "nothere.dcm"))

    def test_from_config_reads_the_bundle_ids(self):
        parser = ConfigParser()
        parser.read_config(str(CONFIGS / "inference.json"))
        for key in CHAIN_IDS:
            self.assertEqual(parser[key], BUNDLE_CHAIN[key], key)  # the configs state the bundle's rule
        parser.update({"window_s": 120.0, "fused_index": 2, "colormap": "hot"})
        chain = FusedImageChain.from_config(parser)
        self.assertEqual(chain.fusion.fusion.window_s, 120.0)
        self.assertEqual(chain.fused_index, 2)
        torch.testing.assert_close(chain(str(self.path)), FusedImageChain(window_s=120.0, fused_index=2,
                                                                          colormap="hot")(str(self.path)))
        self.assertEqual(FusedImageChain.from_config(ConfigParser({})).fused_index, CHAIN_DEFAULTS["fused_index"])

    def test_the_bundle_rule_is_the_time_window_rule(self):
        self.assertEqual({k: BUNDLE_CHAIN[k] for k in FUSION_RULES["time_window"]}, FUSION_RULES["time_window"])
        self.assertEqual({k: CHAIN_DEFAULTS[k] for k in FUSION_RULES["paper"]}, FUSION_RULES["paper"])  # classes

    def test_pipeline_functions_are_the_chain_resized(self):
        pre = ct.fused_image_pipeline(window_s=120.0, fused_index=2, spatial_size=(30, 36))
        got = pre({"image": str(self.path)})["image"]
        from monai.transforms import Resize

        expected = Resize((30, 36), mode="bilinear", anti_aliasing=False)(
            FusedImageChain(window_s=120.0, fused_index=2)(str(self.path))
        )
        torch.testing.assert_close(got.as_tensor(), expected.as_tensor())


class TestLoadRenogramImageOnLoadedFrames(ChainCase):
    @parameterized.expand([["channels3", {}], ["channels1", {"channels": 1}],
                           ["window", {"window_s": 120.0, "drop_partial": False, "fused_index": -1}]])
    def test_frames_give_what_the_path_gives(self, name, kwargs):
        loader = LoadRenogramImage(**kwargs)
        frames = ct.LoadDynamicStudy()(str(self.path))
        a, b = loader(str(self.path)), loader(frames)
        torch.testing.assert_close(b.as_tensor(), a.as_tensor())
        self.assertEqual(b.meta["filename_or_obj"], str(self.path))
        self.assertEqual(b.meta["source_format"], "dicom")
        self.assertEqual(b.meta["fused_index"], a.meta["fused_index"])
        torch.testing.assert_close(b.affine, a.affine)

    def test_dict_wrapper_takes_frames_and_the_item_fused_index(self):
        frames = ct.LoadDynamicStudy()(str(self.path))
        out = LoadRenogramImaged("image", window_s=120.0)({"image": frames, "fused_index": 3})["image"]
        expected = LoadRenogramImage(fused_index=3, window_s=120.0)(frames)
        torch.testing.assert_close(out.as_tensor(), expected.as_tensor())
        self.assertEqual(out.meta["fused_index"], 3)

    def test_window_and_partial_change_the_input(self):
        """The bundle loader's own window_s / drop_partial reach the chain (they were missing)."""
        default = LoadRenogramImage(fused_index=-1)(str(self.path))
        for kwargs in ({"window_s": 120.0}, {"drop_partial": False}):
            other = LoadRenogramImage(fused_index=-1, **kwargs)(str(self.path))
            self.assertGreater(float((other - default).abs().max()), 2 / 255, kwargs)

    def test_the_loaders_chain_is_the_pipeline_chain(self):
        loader = LoadRenogramImage(window_s=120.0, group_size=5, percentile=90.0, view="posterior")
        self.assertIsInstance(loader.chain, FusedImageChain)
        self.assertEqual(loader.chain.fusion.fusion.window_s, 120.0)
        self.assertEqual(loader.chain.input.pseudocolor.percentile, 90.0)


# [name, meta, error text]
TIMING_FAULTS = [
    ["missing", {"frame_start_s": [0.0, 1.0]}, "no timing"],
    ["length", {"frame_start_s": [0.0, 1.0], "frame_duration_s": [1.0]}, "2 starts and 1 durations for 2 frames"],
    ["nan", {"frame_start_s": [0.0, float("nan")], "frame_duration_s": [1.0, 1.0]}, "NaN"],
    ["zero_duration", {"frame_start_s": [0.0, 1.0], "frame_duration_s": [1.0, 0.0]}, "durations must be positive"],
    ["decreasing", {"frame_start_s": [1.0, 0.0], "frame_duration_s": [1.0, 1.0]}, "not in increasing order"],
]


class TestFrameTiming(unittest.TestCase):
    def test_reads_the_lists(self):
        starts, durs = frame_timing({"frame_start_s": [0, 1.5], "frame_duration_s": [1.5, 2]}, 2, "s.dcm")
        np.testing.assert_array_equal(starts, [0.0, 1.5])
        np.testing.assert_array_equal(durs, [1.5, 2.0])
        self.assertEqual(starts.dtype, np.float64)

    @parameterized.expand(TIMING_FAULTS)
    def test_refuses_naming_the_file(self, name, meta, text):
        with self.assertRaisesRegex(ct.RenogramInputError, rf"^s\.dcm: .*{text}"):
            frame_timing(meta, 2, "s.dcm")

    def test_array_transforms_use_it(self):
        img = MetaTensor(torch.ones(2, 3, 3), meta={"frame_start_s": [1.0, 0.0], "frame_duration_s": [1.0, 1.0],
                                                     "filename_or_obj": "s.dcm"})
        with self.assertRaisesRegex(ct.RenogramInputError, "s.dcm: frame start times are not in increasing order"):
            ct.DropEarlyFrames(0.0)(img)


#: the package's study modules, lowest first: each may import only modules before it in this list.
LAYERS = ["errors", "io", "loading", "array", "dictionary", "pipeline", "renogram_image"]


def _package_imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("custom_transforms"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("custom_transforms."))
    return found


class TestImportLayers(unittest.TestCase):
    @parameterized.expand([[m] for m in LAYERS])
    def test_imports_only_lower_layers(self, module):
        allowed = set(LAYERS[: LAYERS.index(module)]) | {"safe_files"}
        self.assertLessEqual(_package_imports(module) & (set(LAYERS) | {"safe_files"}), allowed, module)

    def test_no_reexports(self):
        from custom_transforms import array, dictionary, io, loading

        self.assertNotIn("LoadDynamicStudy", array.__all__)
        self.assertNotIn("LoadDynamicStudyd", dictionary.__all__)
        self.assertNotIn("read_dynamic_study", loading.__all__)
        self.assertFalse(hasattr(io, "__getattr__"))
        for module in (array, dictionary, io, loading):
            for name in module.__all__:
                value = getattr(module, name)
                if isinstance(value, type) or callable(value):
                    self.assertEqual(getattr(value, "__module__", module.__name__), module.__name__, name)


if __name__ == "__main__":
    unittest.main()
