# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for bundle training (``bundle/configs/train.json``): resumes that cannot mean what was asked, and
unusable start weights.

Each case: an interrupted run's ``ckpt_dir`` (``checkpoint_epoch=2.pt`` + ``model.pt``) and a command that changes
something -> exit code 2 -> one line naming the checkpoint (or the weights file) and what is wrong, with how to start
fresh -> nothing written (no TensorBoard file in ``output_dir``, no new checkpoint) -> the checkpoint folder, the
dataset and the weights file unchanged by checksum. The runs go through :class:`monai.bundle.ConfigWorkflow`
in-process (as the bundle tests do); one case also runs ``python -m monai.bundle run`` as a subprocess, what a user
types, to check that no traceback reaches the terminal.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import unittest
import warnings
from pathlib import Path

import torch
from parameterized import parameterized

from tests.bundle.bundle_fixtures import CONFIGS, TINY_NET, TINY_OVERRIDES, make_png_dataset, make_workflow
from tests.faults.harness import assert_fault, assert_no_leftovers, run_module, tree_checksum

CHECKPOINT = "checkpoint_epoch=2.pt"


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop_settings(path: Path) -> None:  # the epoch checkpoint as the bundle wrote it before settings were recorded
    state = torch.load(path, weights_only=True)
    torch.save({k: state[k] for k in ("model", "optimizer", "trainer", "best_model_saver")}, path)


def _not_a_checkpoint(path: Path) -> None:
    path.write_text("not a checkpoint\n", encoding="utf-8")


# [name, overrides of the resumed run, change made to the checkpoint first, message fragment]
RESUME_CASES = [
    ["network_def", {"network_def": dict(TINY_NET, channels=[8, 16])}, None, "cannot resume: network_def was"],
    ["image_size", {"image_size": [32, 32]}, None, "image_size was [64, 64] for this checkpoint and is [32, 32]"],
    ["batch_size", {"batch_size": 4}, None, "batch_size was 2 for this checkpoint and is 4 now"],
    ["in_channels", {"in_channels": 1}, None, "in_channels was 3 for this checkpoint and is 1 now"],
    ["smaller_max_epochs", {"max_epochs": 1}, None, "max_epochs is 1 but the checkpoint has 2 epochs done"],
    ["truncated_checkpoint", {}, _truncate, "cannot resume: not a readable checkpoint"],
    ["not_a_checkpoint", {}, _not_a_checkpoint, "cannot resume: not a readable checkpoint"],
    ["checkpoint_without_settings", {}, _drop_settings, "records no training settings"],
]


class TestTrainingFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="faults_train_"))
        cls.dataset = make_png_dataset(cls.tmp / "dataset")
        cls.interrupted = cls.tmp / "interrupted"
        wf = make_workflow(["train.json"], "train", bundle_root=str(cls.interrupted), dataset_dir=str(cls.dataset),
                           **dict(TINY_OVERRIDES, max_epochs=2))
        wf.initialize()
        wf.run()  # no finalize: checkpoint_epoch=2.pt stays, as after a crash

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @staticmethod
    def _run(configs: list[str], workflow_type: str, root: Path, dataset: Path, overrides: dict) -> tuple[int, str]:
        """initialize/run/finalize as ``monai.bundle run`` does; returns (exit code, stderr)."""
        err = io.StringIO()
        wf = make_workflow(configs, workflow_type, bundle_root=str(root), dataset_dir=str(dataset),
                           **dict(TINY_OVERRIDES, **dict({"output_dir": str(root / "eval_new")}, **overrides)))
        code = 0
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            warnings.simplefilter("ignore")  # MONAI's own config warnings are not the command's messages
            try:
                wf.initialize()
                wf.run()
                wf.finalize()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        return code, err.getvalue()

    def train(self, root: Path, dataset: Path | None = None, **overrides) -> tuple[int, str]:
        """train.json (3 epochs unless overridden); returns (exit code, stderr)."""
        return self._run(["train.json"], "train", root, dataset or self.dataset, dict({"max_epochs": 3}, **overrides))

    def resumable(self, name: str) -> Path:
        root = self.tmp / name
        shutil.copytree(self.interrupted, root)
        return root

    @parameterized.expand(RESUME_CASES)
    def test_resume_refused(self, name, overrides, damage, fragment):
        root = self.resumable(name)
        ckpt = root / "models" / CHECKPOINT
        if damage is not None:
            damage(ckpt)
        models, data = tree_checksum(root / "models"), tree_checksum(self.dataset)
        code, stderr = self.train(root, **overrides)
        assert_fault(self, code, stderr, 2, fragment, named_file=ckpt)
        self.assertIn("start fresh with --resume false", stderr)
        self.assertEqual(tree_checksum(root / "models"), models)  # checkpoint and model.pt as they were
        self.assertEqual(tree_checksum(self.dataset), data)
        self.assertFalse((root / "eval_new").exists())  # refused before the trainer opened a TensorBoard file
        assert_no_leftovers(self, root)

    def test_resume_on_another_dataset_refused(self):
        root = self.resumable("other_dataset")
        other = make_png_dataset(self.tmp / "other_dataset_files", n_train=6)
        before = tree_checksum(other)
        code, stderr = self.train(root, dataset=other)
        fragment = "dataset was '4 training + 2 validation items"
        assert_fault(self, code, stderr, 2, fragment, root / "models" / CHECKPOINT)
        self.assertEqual(tree_checksum(other), before)

    def test_resume_with_other_initial_weights_refused(self):
        root = self.resumable("initial_weights")
        weights = self.tmp / "start_for_resume.pt"
        shutil.copy2(self.interrupted / "models" / "model.pt", weights)
        before = tree_checksum(weights)
        code, stderr = self.train(root, initial_weights=str(weights))
        assert_fault(self, code, stderr, 2, "initial_weights was '' for this checkpoint", root / "models" / CHECKPOINT)
        self.assertEqual(tree_checksum(weights), before)

    def test_foreign_initial_weights_refused_before_anything_is_written(self):
        root = self.tmp / "foreign_start"
        weights = self.tmp / "foreign.pt"
        torch.save({"conv.weight": torch.zeros(2, 2)}, weights)
        before = tree_checksum(weights)
        code, stderr = self.train(root, resume=False, initial_weights=str(weights))
        assert_fault(self, code, stderr, 2, "do not fit network_def", weights)
        self.assertEqual(tree_checksum(weights), before)
        self.assertFalse((root / "eval_new").exists())
        self.assertFalse((root / "models").exists())

    def test_missing_initial_weights_named_with_the_option(self):
        root = self.tmp / "missing_start"
        weights = self.tmp / "no_such_weights.pt"
        code, stderr = self.train(root, resume=False, initial_weights=str(weights))
        assert_fault(self, code, stderr, 2, "no such file: check --initial_weights", weights)
        self.assertFalse((root / "models").exists())

    def evaluate(self, root: Path, dataset: Path, **overrides) -> tuple[int, str]:
        """train.json + evaluate.json as ``monai.bundle run`` runs the evaluation; returns (exit code, stderr)."""
        return self._run(["train.json", "evaluate.json"], "eval", root, dataset, overrides)

    @parameterized.expand([["train"], ["evaluate"]])
    def test_missing_dataset_is_one_line(self, workflow):
        root = self.resumable(f"no_dataset_{workflow}")
        missing = self.tmp / "no_such_dataset"
        before = tree_checksum(root)
        run = self.train if workflow == "train" else self.evaluate
        code, stderr = run(root, missing, **({"resume": False} if workflow == "train" else {}))
        assert_fault(self, code, stderr, 2, "datalist not found", missing / "datalist.json")
        self.assertEqual(tree_checksum(root), before)

    def test_evaluate_without_weights_is_one_line(self):
        root = self.tmp / "eval_no_weights"
        root.mkdir()
        code, stderr = self.evaluate(root, self.dataset)
        assert_fault(self, code, stderr, 2, "no trained weights for network_def", root / "models" / "model.pt")
        self.assertFalse((root / "eval_new").exists())

    @parameterized.expand([["train"], ["evaluate"]])
    def test_output_dir_under_a_file_is_one_line(self, workflow):
        root = self.resumable(f"out_under_file_{workflow}")
        afile = root / "afile"
        afile.write_text("x")
        before = tree_checksum(root)
        run = self.train if workflow == "train" else self.evaluate
        extra = {"resume": False} if workflow == "train" else {}
        code, stderr = run(root, self.dataset, output_dir=str(afile / "eval"), **extra)
        assert_fault(self, code, stderr, 2, f"--output_dir cannot be created: {afile} is a file", afile / "eval")
        self.assertEqual(tree_checksum(root), before)

    def test_the_command_line_gets_one_line_and_exit_2(self):
        root = self.resumable("cli")
        models = tree_checksum(root / "models")
        args = ["run", "--config_file", str(CONFIGS / "train.json"), "--meta_file", str(CONFIGS / "metadata.json"),
                "--logging_file", str(CONFIGS / "logging.conf"), "--bundle_root", str(root),
                "--dataset_dir", str(self.dataset), "--output_dir", str(root / "eval_new"), "--max_epochs", "3",
                "--image_size", "[32,32]", "--batch_size", "2", "--num_workers", "0",
                "--device", "$torch.device('cpu')", "--network_def", str(TINY_NET)]
        env = dict(os.environ, PYTHONWARNINGS="ignore")  # MONAI's config-trust warning is not the command's message
        proc = run_module("monai.bundle", args, env=env, timeout=300)
        assert_fault(self, proc.returncode, proc.stderr, 2, "image_size was [64, 64]", root / "models" / CHECKPOINT)
        self.assertEqual(tree_checksum(root / "models"), models)
        self.assertFalse((root / "eval_new").exists())


if __name__ == "__main__":
    unittest.main()
