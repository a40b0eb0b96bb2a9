# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Weights carry the rule they were trained with, and inference/evaluation refuse to apply them by another rule.

``train.json`` saves its ``TrainingSettings`` record under ``"settings"`` next to ``"model"`` in ``model.pt`` and in
the epoch/final checkpoints; ``inference.json`` and ``evaluate.json`` run
:func:`custom_transforms.checkpoints.check_training_rule` before anything else, and weights without a record load as
before. One tiny training run (64x64, a two-level UNet, one epoch) serves every end-to-end case.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from ignite.engine import Engine
from monai.bundle import ConfigParser
from parameterized import parameterized
from PIL import Image

from custom_transforms import checkpoints
from custom_transforms.checkpoints import TRAINING_RULE_IDS, check_training_rule, recorded_training_rule
from custom_transforms.errors import RenogramInputError
from custom_transforms.pipeline import BUNDLE_CHAIN, CHAIN_DEFAULTS, DEFAULT_SPATIAL_SIZE, bundle_overrides
from custom_transforms.resume import TrainingSettings
from tests.bundle.bundle_fixtures import CONFIGS, TINY_OVERRIDES, make_png_dataset, make_workflow

#: the paper's rule as a bundle run records it (the shipped configs' defaults at 64x64).
RULE = {
    "network_name": "transformer_unet",
    "network_kwargs": {},
    "in_channels": 3,
    "image_size": [64, 64],
    **CHAIN_DEFAULTS,
}


def _save(path: Path, net: torch.nn.Module, rule: dict | None) -> Path:
    state = net.state_dict()
    torch.save(state if rule is None else {"model": state, "settings": TrainingSettings(rule).state_dict()}, path)
    return path


class TestCheckTrainingRule(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="training_rule_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.net = torch.nn.Conv2d(3, 1, 1)

    def test_matching_rule_passes(self):
        path = _save(self.tmp / "model.pt", self.net, dict(RULE, batch_size=8))
        self.assertEqual(recorded_training_rule(path), RULE)  # only the rule ids, not batch_size
        # the same values in other spellings (tuple, int for float) and ids of no concern are accepted
        ids = dict(RULE, image_size=(64, 64), min_start_s=60, learning_rate=0.1)
        self.assertEqual(check_training_rule(path, ids), RULE)

    @parameterized.expand(
        [
            [
                {"window_s": 120.0, "fused_index": 0},
                "window_s=120, fused_index=0; this run has window_s=None, fused_index=1",
            ],
            [{"group_size": 5}, "group_size=5; this run has group_size=7"],
            [{"image_size": [96, 96]}, "image_size=[96, 96]; this run has image_size=[64, 64]"],
            [{"network_name": "unet"}, "network_name=unet; this run has network_name=transformer_unet"],
            [
                {"colormap": "none", "in_channels": 1},
                "in_channels=1, colormap=none; this run has in_channels=3, colormap=jet",
            ],
            [{"view": "anterior"}, "view=anterior; this run has view=None"],
        ]
    )
    def test_differing_id_is_refused_in_one_line(self, trained, expected):
        path = _save(self.tmp / "model.pt", self.net, dict(RULE, **trained))
        with self.assertRaises(RenogramInputError) as ctx:
            check_training_rule(path, RULE)
        message = str(ctx.exception)
        self.assertEqual(message, f"{path}: was trained with {expected}: set the same ids, or retrain")
        self.assertNotIn("\n", message)

    def test_weights_without_record_are_not_checked(self):
        path = _save(self.tmp / "old.pt", self.net, None)
        with self.assertLogs("custom_transforms.checkpoints", "WARNING") as logs:
            self.assertIsNone(check_training_rule(path, dict(RULE, window_s=120.0)))
        self.assertEqual(len(logs.output), 1)
        self.assertIn(f"{path}: the weights record no training rule", logs.output[0])
        torch.save({"model": self.net.state_dict()}, self.tmp / "wrapped.pt")  # {"model": ...} without "settings"
        self.assertIsNone(recorded_training_rule(self.tmp / "wrapped.pt"))
        # a missing or unreadable file is left to check_checkpoint (which names it), without a line here
        (self.tmp / "broken.pt").write_bytes(b"not a checkpoint")
        with self.assertNoLogs("custom_transforms.checkpoints"):
            self.assertIsNone(check_training_rule(self.tmp / "missing.pt", RULE))
            self.assertIsNone(check_training_rule(self.tmp / "broken.pt", RULE))

    def test_monai_checkpoint_loader_loads_the_model_of_a_recorded_checkpoint(self):
        from monai.handlers import CheckpointLoader

        trained = torch.nn.Conv2d(3, 1, 1)
        path = _save(self.tmp / "model.pt", trained, RULE)
        loader = CheckpointLoader(load_path=str(path), load_dict={"model": self.net}, map_location="cpu")
        loader(Engine(lambda engine, batch: None))
        for key, value in trained.state_dict().items():
            torch.testing.assert_close(self.net.state_dict()[key], value)


class TestSameDefaults(unittest.TestCase):
    """A dataset built with prepare_dataset's defaults trains, evaluates and infers by the same default rule."""

    def test_defaults_are_one_rule(self):
        from scripts import prepare_dataset

        args = prepare_dataset._parser().parse_args(["--studies", "s", "--out", "o"])
        cli = prepare_dataset.options_from_args(args, tuple(args.size * 2), args.colormap)
        self.assertEqual(dataclasses.replace(cli, progress=True), prepare_dataset.BuildOptions(),
                         "prepare_dataset's flags and BuildOptions defaults")
        paper = prepare_dataset.options_from_args(
            prepare_dataset._parser().parse_args(["--studies", "s", "--out", "o", "--rule", "paper"]), (384, 384), "jet"
        )
        self.assertEqual((paper.window_s, paper.group_size, paper.fused), (None, 7, (1, 2)))
        dataset_rule = bundle_overrides(
            {k: v for k, v in vars(prepare_dataset.BuildOptions()).items() if k not in ("progress", "overwrite")}
        )
        pipeline_rule = dict(BUNDLE_CHAIN, image_size=list(DEFAULT_SPATIAL_SIZE), in_channels=3)
        self.assertEqual(dataset_rule, pipeline_rule)
        for configs in (["train.json"], ["train.json", "evaluate.json"], ["inference.json"]):
            parser = ConfigParser()
            parser.read_config([str(CONFIGS / c) for c in configs])
            ids = {k: parser.get_parsed_content(k) for k in pipeline_rule}
            self.assertEqual(ids, pipeline_rule, configs)
        # the network ids of the record agree too
        train, infer = ConfigParser(), ConfigParser()
        train.read_config(str(CONFIGS / "train.json"))
        infer.read_config(str(CONFIGS / "inference.json"))
        for key in TRAINING_RULE_IDS:
            self.assertEqual(train.get_parsed_content(key), infer.get_parsed_content(key), key)


class TestBundleRecordsAndChecksTheRule(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="bundle_rule_"))
        cls.dataset = make_png_dataset(cls.tmp / "dataset", n_train=2, n_val=2, n_test=2)
        cls.models = cls.tmp / "models"
        wf = make_workflow(
            ["train.json"], "train", bundle_root=str(cls.tmp), dataset_dir=str(cls.dataset), ckpt_dir=str(cls.models),
            output_dir=str(cls.tmp / "tb"), max_epochs=1, **TINY_OVERRIDES,
        )
        wf.initialize()
        wf.run()
        wf.finalize()
        cls.inputs = cls.tmp / "inputs"
        cls.inputs.mkdir()
        rgb = np.zeros((64, 64, 3), np.uint8)
        rgb[20:40, 10:25, 0] = 230
        Image.fromarray(rgb).save(cls.inputs / "a.png")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _infer(self, out: str, ckpt_dir: Path | None = None, **overrides):
        wf = make_workflow(
            ["inference.json"], "infer", bundle_root=str(self.tmp), dataset_dir=str(self.inputs),
            output_dir=str(self.tmp / out), ckpt_dir=str(ckpt_dir or self.models), save_overlay=False,
            **dict(TINY_OVERRIDES, **overrides),
        )
        with mock.patch.object(checkpoints.logger, "warning") as warning, contextlib.redirect_stderr(io.StringIO()):
            wf.initialize()
            wf.run()
        return "\n".join(str(c.args[0]) for c in warning.call_args_list)

    def test_best_and_final_checkpoints_carry_the_rule(self):
        expected = dict(RULE, **BUNDLE_CHAIN)  # train.json's ids: the bundle's rule
        for name in ("model.pt", "checkpoint_final.pt"):
            state = torch.load(self.models / name, map_location="cpu", weights_only=True)
            self.assertIn("model", state, name)
            self.assertEqual(recorded_training_rule(self.models / name), expected, name)

    def test_inference_with_the_training_rule_runs(self):
        err = self._infer("same")
        self.assertNotIn("could not be checked", err)
        self.assertEqual(np.asarray(Image.open(self.tmp / "same" / "a_mask.png")).shape, (64, 64))

    def test_inference_with_another_rule_is_refused(self):
        with self.assertRaises(SystemExit) as ctx:
            self._infer("other", window_s=None, fused_index=1)
        self.assertEqual(ctx.exception.code, 2)
        self.assertEqual(
            str(ctx.exception),
            f"{self.models / 'model.pt'}: was trained with window_s=120, fused_index=0; this run has window_s=None, "
            "fused_index=1: set the same ids, or retrain",
        )
        self.assertEqual(list((self.tmp / "other").glob("*_mask.png")), [])

    def test_evaluation_with_another_rule_is_refused(self):
        wf = make_workflow(
            ["train.json", "evaluate.json"], "eval", bundle_root=str(self.tmp), dataset_dir=str(self.dataset),
            ckpt_dir=str(self.models), output_dir=str(self.tmp / "eval"), group_size=5, **TINY_OVERRIDES,
        )
        with self.assertRaises(SystemExit) as ctx, contextlib.redirect_stderr(io.StringIO()):
            wf.initialize()
        self.assertEqual(ctx.exception.code, 2)
        self.assertIn("model.pt: was trained with group_size=7; this run has group_size=5", str(ctx.exception))
        self.assertFalse((self.tmp / "eval" / "summary.json").exists())

    def test_old_weights_without_record_load_unchecked(self):
        old = self.tmp / "old_models"
        old.mkdir()
        state = torch.load(self.models / "model.pt", map_location="cpu", weights_only=True)["model"]
        torch.save(state, old / "model.pt")  # the layout of weights written before the record existed
        err = self._infer("old", ckpt_dir=old, window_s=90.0)
        self.assertIn("could not be checked", err)
        self.assertTrue((self.tmp / "old" / "a_mask.png").is_file())


if __name__ == "__main__":
    unittest.main()
