# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Resuming ``bundle/configs/train.json`` (:mod:`custom_transforms.resume`): what a changed setting does, and the
state a resume carries over (early stopping, best epoch, max_epochs).

An interrupted run is simulated as the existing resume test does: ``initialize()`` and ``run()`` without
``finalize()``, which leaves ``checkpoint_epoch=<N>.pt``. ``learning_rate: 0`` keeps the weights (and so every
validation score) fixed, which makes the early-stopping and best-epoch arithmetic exact.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import unittest
import warnings
from pathlib import Path

import torch
from ignite.engine import Events
from parameterized import parameterized

from custom_transforms.resume import (
    BestMetricRecord,
    EarlyStoppingState,
    TrainingSettings,
    dataset_record,
    network_layout,
)
from tests.bundle.bundle_fixtures import TINY_NET, TINY_OVERRIDES, make_png_dataset, make_workflow
from tests.faults.harness import error_lines, tree_checksum

#: the chain ids the refusal cases below change, pinned so that the cases hold whatever train.json's defaults are
PINNED = {"fused_index": 1, "window_s": None}


def _interrupted(root: Path, dataset: Path, **overrides) -> None:
    """Train without ``finalize``: ``root/models/checkpoint_epoch=<max_epochs>.pt`` stays, as after a crash."""
    wf = make_workflow(["train.json"], "train", bundle_root=str(root), dataset_dir=str(dataset),
                       **dict(TINY_OVERRIDES, **PINNED, **overrides))
    wf.initialize()
    wf.run()


class TestResume(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="bundle_resume2_"))
        cls.dataset = make_png_dataset(cls.tmp / "dataset")
        cls.interrupted = cls.tmp / "interrupted"  # two epochs at peak lr 0.001, not finalized; copied by each case
        _interrupted(cls.interrupted, cls.dataset, max_epochs=2)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _copy(self, name: str) -> Path:
        root = self.tmp / name
        shutil.copytree(self.interrupted, root)
        return root

    def _workflow(self, root: Path, dataset: Path | None = None, **overrides):
        return make_workflow(["train.json"], "train", bundle_root=str(root), dataset_dir=str(dataset or self.dataset),
                             **dict(TINY_OVERRIDES, **dict(PINNED, **overrides)))

    def test_changed_learning_rate_is_applied_and_logged(self):
        root = self._copy("lr")
        start = torch.load(root / "models" / "checkpoint_epoch=2.pt", weights_only=True)
        self.assertEqual(start["lr_scheduler"]["base_lrs"], [0.001])  # the recipe's peak learning rate
        wf = self._workflow(root, max_epochs=3, learning_rate=0.0)
        wf.initialize()
        with self.assertLogs("custom_transforms.resume", "INFO") as logs:
            wf.run()
        optimizer = wf.parser.get_parsed_content("optimizer")
        self.assertEqual([g["lr"] for g in optimizer.param_groups], [0.0])
        self.assertTrue(any("learning_rate was 0.001" in m and "0.0 now: applied" in m for m in logs.output),
                        logs.output)
        trained = torch.load(root / "models" / "checkpoint_epoch=3.pt", weights_only=True)
        self.assertEqual(trained["trainer"]["iteration"], 6)  # epoch 3 ran ...
        for key, value in start["model"].items():  # ... at lr 0: the weights are the checkpoint's
            torch.testing.assert_close(trained["model"][key], value)

    @parameterized.expand(
        [
            ["network_def", {"network_def": dict(TINY_NET, channels=[8, 16])}, "network_def was 'UNet ("],
            ["image_size", {"image_size": [32, 32]}, "image_size was [64, 64] for this checkpoint and is [32, 32]"],
            ["batch_size", {"batch_size": 4}, "batch_size was 2 for this checkpoint and is 4 now"],
            ["in_channels", {"in_channels": 1}, "in_channels was 3 for this checkpoint and is 1 now"],
            ["colormap", {"colormap": "none"}, "colormap was 'jet' for this checkpoint and is 'none' now"],
            ["fused_index", {"fused_index": 0}, "fused_index was 1 for this checkpoint and is 0 now"],
            ["group_size", {"group_size": 5}, "group_size was 7 for this checkpoint and is 5 now"],
            ["window_s", {"window_s": 120.0}, "window_s was null for this checkpoint and is 120.0 now"],
            ["network_name", {"network_name": "segnet"}, "network_name was 'transformer_unet'"],
            ["optimizer", {"optimizer": {"_target_": "torch.optim.SGD", "params": "$@network.parameters()",
                                         "lr": "@learning_rate"}}, "optimizer was 'AdamW' for this checkpoint"],
            ["smaller_max_epochs", {"max_epochs": 1}, "max_epochs is 1 but the checkpoint has 2 epochs done"],
        ]
    )
    def test_meaningless_resume_is_refused_in_one_line(self, name, overrides, fragment):
        root = self._copy(f"refuse_{name}")
        before = tree_checksum(root)
        wf = self._workflow(root, **dict({"max_epochs": 3}, **overrides))
        err = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as ctx:
            warnings.simplefilter("ignore")  # MONAI's own warnings are not the refusal's message
            wf.initialize()
        self.assertEqual(ctx.exception.code, 2)
        lines = error_lines(err.getvalue())
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(fragment, lines[0])
        self.assertTrue(lines[0].startswith(str(root / "models" / "checkpoint_epoch=2.pt") + ": cannot resume: "))
        self.assertIn("--resume false", lines[0])
        self.assertIn("--ckpt_dir", lines[0])
        self.assertEqual(tree_checksum(root), before)  # the checkpoint and model.pt are untouched

    def test_other_dataset_and_other_initial_weights_are_refused(self):
        other = make_png_dataset(self.tmp / "other_dataset", n_train=6)
        for name, dataset, overrides, fragment in (
            ("dataset", other, {}, "dataset was '4 training + 2 validation items"),
            ("initial_weights", self.dataset, {"initial_weights": str(self.interrupted / "models" / "model.pt")},
             "initial_weights was '' for this checkpoint"),
        ):
            with self.subTest(name):
                root = self._copy(f"refuse_{name}")
                wf = self._workflow(root, dataset=dataset, max_epochs=3, **overrides)
                with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as ctx:
                    wf.initialize()
                self.assertIn(fragment, str(ctx.exception))

    def test_moved_dataset_still_resumes(self):
        root = self._copy("moved")
        moved = self.tmp / "moved_dataset"
        shutil.copytree(self.dataset, moved)
        wf = self._workflow(root, dataset=moved, max_epochs=3)
        wf.initialize()
        wf.run()
        self.assertEqual(wf.parser.get_parsed_content("train#trainer").state.epoch, 3)

    def test_early_stopping_counter_survives_a_resume(self):
        # patience 2 at lr 0: epoch 1 sets the best score, epochs 2 and 3 do not improve -> the stop is after epoch 3
        root = self.tmp / "early_stop"
        _interrupted(root, self.dataset, max_epochs=2, learning_rate=0.0, early_stop_patience=2)
        wf = self._workflow(root, max_epochs=10, learning_rate=0.0, early_stop_patience=2)
        wf.initialize()
        trainer = wf.parser.get_parsed_content("train#trainer")
        started = []
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: started.append(e.state.epoch))
        wf.run()
        self.assertEqual(started, [3])  # without the restored counter the stop would come after epoch 5
        self.assertEqual(trainer.state.epoch, 3)
        saved = torch.load(root / "models" / "checkpoint_epoch=3.pt", weights_only=True)["early_stopping"]
        self.assertEqual(saved["counter"], 2)

    def test_best_epoch_counts_from_the_first_run(self):
        root = self.tmp / "best_epoch"
        _interrupted(root, self.dataset, max_epochs=1, learning_rate=0.0)
        wf = self._workflow(root, max_epochs=2, learning_rate=0.0)
        wf.initialize()
        wf.run()
        evaluator = wf.parser.get_parsed_content("validate#evaluator")
        trainer = wf.parser.get_parsed_content("train#trainer")
        self.assertEqual(evaluator.state.best_metric_epoch, 1)  # epoch 2 scored the same, so epoch 1 stays best
        self.assertEqual(trainer.state.best_metric_epoch, 1)
        saver = wf.parser.get_parsed_content("validate#best_model_saver")._key_metric_checkpoint
        self.assertEqual(len(saver._saved), 1)
        self.assertAlmostEqual(saver._saved[0].priority, float(evaluator.state.best_metric), places=6)

    def test_larger_max_epochs_extends_training(self):
        root = self._copy("extend")
        wf = self._workflow(root, max_epochs=4)
        wf.initialize()
        trainer = wf.parser.get_parsed_content("train#trainer")
        started = []
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: started.append(e.state.epoch))
        with self.assertLogs("custom_transforms.resume", "INFO") as logs:
            wf.run()
        self.assertEqual(started, [3, 4])
        self.assertTrue(any("max_epochs was 2" in m and "4 now: applied" in m for m in logs.output), logs.output)

    def test_checkpoint_without_settings_record_is_refused(self):
        root = self._copy("old_format")
        path = root / "models" / "checkpoint_epoch=2.pt"
        state = torch.load(path, weights_only=True)
        torch.save({k: state[k] for k in ("model", "optimizer", "trainer", "best_model_saver")}, path)
        wf = self._workflow(root, max_epochs=3)
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as ctx:
            wf.initialize()
        self.assertIn("records no training settings", str(ctx.exception))

    def test_resume_false_starts_fresh_despite_changed_settings(self):
        root = self._copy("fresh")
        wf = self._workflow(root, max_epochs=1, resume=False, batch_size=4)
        wf.initialize()
        wf.run()
        wf.finalize()
        self.assertEqual(wf.parser.get_parsed_content("train#trainer").state.iteration, 1)  # 4 images / batch 4
        models = root / "models"
        # the abandoned run's epoch-2 checkpoint is set aside, so finalize keeps this run's epoch 1, not epoch 2
        self.assertEqual(torch.load(models / "checkpoint_final.pt", weights_only=True)["trainer"]["iteration"], 1)
        self.assertTrue((models / "abandoned_checkpoint_epoch=2.pt").is_file())
        self.assertEqual(sorted(models.glob("checkpoint_epoch=*.pt")), [])


class TestResumeParts(unittest.TestCase):
    def test_settings_compare_json_values(self):
        rec = TrainingSettings({"image_size": (64, 64), "augment_flip": "True", "learning_rate": "0.01"})
        self.assertEqual(rec.differences({"image_size": [64, 64], "augment_flip": True, "learning_rate": 0.01}), {})
        self.assertEqual(rec.differences({"image_size": [32, 32]}), {"image_size": ([32, 32], [64, 64])})
        self.assertEqual(rec.differences({"other": 1}), {})

    def test_network_layout_follows_the_weights_shapes(self):
        from monai.networks.nets import UNet

        def net(channels, seed):
            torch.manual_seed(seed)
            return UNet(2, 3, 1, channels=channels, strides=[2], num_res_units=0)

        self.assertEqual(network_layout(net([4, 8], 0)), network_layout(net([4, 8], 1)))
        self.assertNotEqual(network_layout(net([4, 8], 0)), network_layout(net([8, 16], 0)))
        self.assertTrue(network_layout(net([4, 8], 0)).startswith("UNet ("))

    def test_dataset_record_ignores_the_folder_and_sees_the_files(self):
        tmp = Path(tempfile.mkdtemp(prefix="resume_ds_"))
        self.addCleanup(shutil.rmtree, tmp, True)
        a = make_png_dataset(tmp / "a")
        b = tmp / "b"
        shutil.copytree(a, b)

        def items(root, names):
            return [{"image": str(root / "images" / n), "label": str(root / "labels" / n)} for n in names]

        names = ["case0_f1.png", "case1_f1.png"]
        self.assertEqual(dataset_record(items(a, names), [], a), dataset_record(items(b, names), [], b))
        (b / "images" / "case1_f1.png").write_bytes(b"other")
        self.assertNotEqual(dataset_record(items(a, names), [], a), dataset_record(items(b, names), [], b))
        self.assertTrue(dataset_record(items(a, names), [], a).startswith("2 training + 0 validation items"))

    def test_early_stopping_and_best_metric_round_trip(self):
        from ignite.engine import Engine
        from ignite.handlers import EarlyStopping

        trainer = Engine(lambda e, b: None)
        stopper = EarlyStopping(patience=3, score_function=lambda e: 0.5, trainer=trainer)
        stopper.counter, stopper.best_score = 2, 0.75
        state = EarlyStoppingState(stopper).state_dict()
        other = EarlyStopping(patience=3, score_function=lambda e: 0.5, trainer=trainer)
        EarlyStoppingState(other).load_state_dict(state)
        self.assertEqual((other.counter, other.best_score), (2, 0.75))

        engine = Engine(lambda e, b: None)
        engine.state.best_metric, engine.state.best_metric_epoch = torch.tensor(0.8), 7
        saved = BestMetricRecord({"evaluator": engine}).state_dict()
        fresh = Engine(lambda e, b: None)
        BestMetricRecord({"evaluator": fresh}).load_state_dict(saved)
        self.assertAlmostEqual(fresh.state.best_metric, 0.8, places=6)
        self.assertEqual(fresh.state.best_metric_epoch, 7)


if __name__ == "__main__":
    unittest.main()
