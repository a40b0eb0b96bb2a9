# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The training recipe of ``bundle/configs/train.json`` (the shipped model's) and the ``paper.json`` preset (the
paper's literal set-up): loss, optimizer, learning-rate schedule, precision, memory format, cached datasets, threads;
the schedule's state in the epoch checkpoint and its restoration on resume."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import unittest
from pathlib import Path

import torch
from ignite.engine import Events
from monai.data import CacheDataset
from parameterized import parameterized

from custom_transforms.autocast_inferer import AutocastInferer
from custom_transforms.lr_schedule import lr_factor
from tests.bundle.bundle_fixtures import CONFIGS, TINY_OVERRIDES, make_png_dataset, make_workflow

PAPER = ["train.json", "paper.json"]


def _parse(configs: list[str], **overrides):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([str(CONFIGS / c) for c in configs])
    parser.update({"bundle_root": "/nonexistent", "image_size": [64, 64], "network_def": TINY_OVERRIDES["network_def"],
                   "device": "cpu", **overrides})
    return parser


class TestPresets(unittest.TestCase):
    def test_default_is_the_shipped_recipe(self):
        parser = _parse(["train.json"])
        self.assertEqual(type(parser.get_parsed_content("loss")).__name__, "DiceCELoss")
        scheduler = parser.get_parsed_content("lr_scheduler")
        optimizer = parser.get_parsed_content("optimizer")
        self.assertIsInstance(optimizer, torch.optim.AdamW)
        self.assertEqual(optimizer.defaults["weight_decay"], 1e-4)
        self.assertEqual(optimizer.param_groups[0]["initial_lr"], 1e-3)  # the peak of the schedule
        self.assertAlmostEqual(optimizer.param_groups[0]["lr"], 1e-3 / 3)  # epoch 1 of 2 warmup epochs
        self.assertAlmostEqual(scheduler.lr_lambdas[0](500), lr_factor("cosine", 2, 1000)(500))
        inferer = parser.get_parsed_content("train#inferer")
        self.assertIsInstance(inferer, AutocastInferer)
        self.assertEqual((inferer.dtype, inferer.channels_last), (torch.bfloat16, True))
        self.assertEqual(type(parser.get_parsed_content("validate#inferer")).__name__, "SimpleInferer")  # fp32
        net = parser.get_parsed_content("network")
        conv = next(p for p in net.parameters() if p.ndim == 4)
        self.assertTrue(conv.is_contiguous(memory_format=torch.channels_last))
        for key, value in {"batch_size": 8, "max_epochs": 1000, "early_stop_patience": 100, "cache_rate": 1.0,
                           "lr_schedule": "cosine", "warmup_epochs": 2, "num_workers": 0, "num_threads": None,
                           "network_name": "transformer_unet"}.items():
            self.assertEqual(parser.get_parsed_content(key), value, key)
        self.assertEqual(parser["train#dataset"]["_target_"], "CacheDataset")
        self.assertEqual(parser["validate#dataset"]["_target_"], "CacheDataset")

    def test_paper_preset_is_the_papers_setup(self):
        parser = _parse(PAPER)
        self.assertEqual(type(parser.get_parsed_content("loss")).__name__, "BCEWithLogitsLoss")
        scheduler = parser.get_parsed_content("lr_scheduler")
        optimizer = parser.get_parsed_content("optimizer")
        self.assertIs(type(optimizer), torch.optim.Adam)
        self.assertEqual(optimizer.defaults["weight_decay"], 0.0)
        self.assertEqual(optimizer.param_groups[0]["lr"], 0.002)
        self.assertEqual([scheduler.lr_lambdas[0](e) for e in (0, 1, 999)], [1.0, 1.0, 1.0])  # constant
        inferer = parser.get_parsed_content("train#inferer")
        self.assertEqual((inferer.dtype, inferer.channels_last), (None, False))  # fp32
        self.assertEqual(parser.get_parsed_content("batch_size"), 8)
        self.assertEqual(parser.get_parsed_content("cache_rate"), 0.0)
        self.assertEqual(parser.get_parsed_content("max_epochs"), 1000)
        self.assertEqual(parser.get_parsed_content("early_stop_patience"), 100)

    def test_paper_preset_changes_no_preprocessing_id(self):
        import json

        paper = json.loads((CONFIGS / "paper.json").read_text(encoding="utf-8"))
        chain = {"view", "min_start_s", "group_size", "window_s", "drop_partial", "fused_index", "colormap",
                 "percentile", "image_size", "in_channels"}
        self.assertFalse(chain & set(paper))

    def test_cosine_ends_at_the_trainers_max_epochs(self):  # MONAI Label overrides train#trainer#max_epochs only
        scheduler = _parse(["train.json"], **{"train#trainer#max_epochs": 10}).get_parsed_content("lr_scheduler")
        self.assertAlmostEqual(scheduler.lr_lambdas[0](6), 0.5)
        self.assertEqual(scheduler.lr_lambdas[0](10), 0.0)

    def test_unknown_loss_name_is_a_key_error_naming_it(self):
        with self.assertRaises(Exception) as ctx:
            _parse(["train.json"], loss_name="focal").get_parsed_content("loss")
        self.assertIn("focal", repr(ctx.exception) + str(ctx.exception.__cause__ or ""))


class TestCachedDatasets(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="bundle_recipe_"))
        cls.dataset = make_png_dataset(cls.tmp / "dataset")

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @parameterized.expand([[1.0, 4, 2], [0.0, 0, 0], [0.5, 2, 1]])
    def test_cache_rate(self, rate, n_train, n_val):
        parser = _parse(["train.json"], dataset_dir=str(self.dataset), cache_rate=rate, augment_flip=True)
        train = parser.get_parsed_content("train#dataset")
        self.assertIsInstance(train, CacheDataset)
        self.assertEqual(train.cache_num, n_train)
        self.assertEqual(parser.get_parsed_content("validate#dataset").cache_num, n_val)
        item = train[0]  # the random flips run after the cache: the cached image is the unflipped one
        self.assertEqual(tuple(item["image"].shape), (3, 64, 64))
        self.assertEqual(item["image"].dtype, torch.float32)

    def test_num_threads_is_set_at_initialize(self):
        before = torch.get_num_threads()
        self.addCleanup(torch.set_num_threads, before)
        wf = make_workflow(["train.json"], "train", bundle_root=str(self.tmp / "threads"),
                           dataset_dir=str(self.dataset), **dict(TINY_OVERRIDES, max_epochs=1, num_threads=1))
        wf.initialize()
        self.assertEqual(torch.get_num_threads(), 1)


class TestScheduleResume(unittest.TestCase):
    """The default recipe (cosine, 2 warmup epochs): 2 epochs, interrupted, resumed for 1 more (or 2 more)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="bundle_sched_"))
        cls.dataset = make_png_dataset(cls.tmp / "dataset")
        cls.interrupted = cls.tmp / "interrupted"
        wf = cls._workflow(cls.interrupted, max_epochs=3)
        wf.initialize()
        trainer = wf.parser.get_parsed_content("train#trainer")
        trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: e.terminate() if e.state.epoch == 2 else None)
        wf.run()  # stops after epoch 2 of 3, no finalize: as if the process died

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def _workflow(cls, root: Path, **overrides):
        return make_workflow(["train.json"], "train", bundle_root=str(root), dataset_dir=str(cls.dataset),
                             **dict(TINY_OVERRIDES, **overrides))

    def _copy(self, name: str) -> Path:
        root = self.tmp / name
        shutil.copytree(self.interrupted, root)
        return root

    def test_checkpoint_holds_the_scheduler(self):
        state = torch.load(self.interrupted / "models" / "checkpoint_epoch=2.pt", weights_only=True)
        self.assertEqual(state["lr_scheduler"]["last_epoch"], 2)
        self.assertEqual(state["lr_scheduler"]["base_lrs"], [1e-3])
        self.assertAlmostEqual(state["optimizer"]["param_groups"][0]["lr"], 1e-3 * lr_factor("cosine", 2, 3)(2))
        self.assertEqual(state["settings"]["lr_schedule"], "cosine")

    def _resume(self, name: str, **overrides) -> tuple[list[float], dict]:
        root = self._copy(name)
        wf = self._workflow(root, **overrides)
        wf.initialize()
        trainer = wf.parser.get_parsed_content("train#trainer")
        optimizer = wf.parser.get_parsed_content("optimizer")
        lrs: list[float] = []
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: lrs.append(optimizer.param_groups[0]["lr"]))
        wf.run()
        last = max(int(p.stem.split("=")[1]) for p in (root / "models").glob("checkpoint_epoch=*.pt"))
        return lrs, torch.load(root / "models" / f"checkpoint_epoch={last}.pt", weights_only=True)

    def test_resume_continues_the_schedule(self):
        lrs, state = self._resume("same", max_epochs=3)
        f = lr_factor("cosine", 2, 3)
        self.assertEqual(len(lrs), 1)  # only epoch 3 ran, at the schedule's epoch-2 rate
        self.assertAlmostEqual(lrs[0], 1e-3 * f(2))
        self.assertEqual(state["lr_scheduler"]["last_epoch"], 3)
        self.assertAlmostEqual(state["optimizer"]["param_groups"][0]["lr"], 1e-3 * f(3))

    def test_checkpoint_from_before_the_schedule_is_refused_in_one_line(self):
        root = self._copy("before_schedule")
        path = root / "models" / "checkpoint_epoch=2.pt"
        state = torch.load(path, weights_only=True)
        state["settings"] = {k: v for k, v in state["settings"].items() if k != "lr_schedule"}
        del state["lr_scheduler"]
        torch.save(state, path)
        wf = self._workflow(root, max_epochs=3)
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as ctx:
            wf.initialize()
        self.assertEqual(ctx.exception.code, 2)
        self.assertIn("records no learning-rate schedule", str(ctx.exception))

    def test_changed_weight_decay_is_applied(self):
        root = self._copy("weight_decay")
        wf = self._workflow(root, max_epochs=3, weight_decay=0.5)
        wf.initialize()
        wf.run()
        state = torch.load(root / "models" / "checkpoint_epoch=3.pt", weights_only=True)
        self.assertEqual(state["optimizer"]["param_groups"][0]["weight_decay"], 0.5)

    def test_longer_max_epochs_replans_the_cosine(self):
        lrs, state = self._resume("longer", max_epochs=6, learning_rate=2e-3)
        f = lr_factor("cosine", 2, 6)
        self.assertEqual(len(lrs), 4)
        for k, lr in enumerate(lrs, start=2):
            self.assertAlmostEqual(lr, 2e-3 * f(k), msg=f"epoch index {k}")
        self.assertEqual(state["lr_scheduler"]["base_lrs"], [2e-3])
        self.assertEqual(state["lr_scheduler"]["last_epoch"], 6)


if __name__ == "__main__":
    unittest.main()
