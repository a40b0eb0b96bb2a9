# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""scripts.export_bundle: a self-contained bundle that runs from any working directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scripts.bundle_tools.export import REPO_ROOT, export_bundle
from scripts.bundle_tools.verify import DEFAULT_SCHEMAS
from scripts.export_bundle import main


def _isolated_env(bundle: Path) -> dict[str, str]:
    """Environment whose only project code on sys.path is the exported bundle (as MONAI Label sets it up)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(bundle)
    return env


class TestExportBundle(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="export_bundle_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_export_carries_configs_weights_and_code_packages(self):
        out = export_bundle(self.tmp / "exported")
        for rel in ("configs/train.json", "configs/inference.json", "configs/metadata.json", "LICENSE",
                    "docs/README.md", "custom_transforms/__init__.py", "networks/__init__.py"):
            self.assertTrue((out / rel).is_file(), rel)
        if (REPO_ROOT / "bundle" / "models" / "model.pt").is_file():
            self.assertEqual((out / "models" / "model.pt").read_bytes(),
                             (REPO_ROOT / "bundle" / "models" / "model.pt").read_bytes())
        self.assertEqual(list(out.rglob("__pycache__")), [])
        self.assertEqual([p.name for p in self.tmp.iterdir()], ["exported"])  # no temporary folder left behind

    def test_existing_destination_is_kept_without_overwrite(self):
        dest = self.tmp / "taken"
        dest.mkdir()
        (dest / "mine.txt").write_text("keep me")
        proc = subprocess.run([sys.executable, "-m", "scripts.export_bundle", "--out", str(dest)], cwd=REPO_ROOT,
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(str(dest), proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1)
        self.assertEqual((dest / "mine.txt").read_text(), "keep me")
        self.assertEqual(main(["--out", str(dest), "--overwrite"]), 0)
        self.assertFalse((dest / "mine.txt").exists())
        self.assertTrue((dest / "configs" / "inference.json").is_file())

    def test_missing_source_bundle_is_an_error(self):
        self.assertEqual(main(["--out", str(self.tmp / "x"), "--bundle", str(self.tmp / "no_bundle")]), 2)
        self.assertFalse((self.tmp / "x").exists())

    @pytest.mark.slow  # one bundle inference in a subprocess (~10-20 s on 2 CPU cores)
    def test_exported_bundle_infers_from_another_working_directory(self):
        if not (REPO_ROOT / "bundle" / "models" / "model.pt").is_file():
            self.skipTest("no shipped weights to infer with")
        out = export_bundle(self.tmp / "exported")
        inputs = self.tmp / "in"
        inputs.mkdir()
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (100, 90, 3), dtype=np.uint8)).save(inputs / "odd_size.png")
        elsewhere = self.tmp / "cwd"
        elsewhere.mkdir()
        cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(out / "configs" / "inference.json"),
               "--meta_file", str(out / "configs" / "metadata.json"), "--bundle_root", str(out),
               "--dataset_dir", str(inputs), "--output_dir", str(self.tmp / "masks")]
        proc = subprocess.run(cmd, cwd=elsewhere, env=_isolated_env(out), capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        mask = np.asarray(Image.open(self.tmp / "masks" / "odd_size_mask.png"))
        self.assertEqual(mask.shape, (100, 90))
        self.assertTrue(set(np.unique(mask)) <= {0, 1})

    @pytest.mark.slow  # verify_metadata x2, verify_net_in_out and ckpt_export in subprocesses (~30-60 s)
    def test_exported_bundle_passes_monai_bundle_checks(self):
        if not all(s.is_file() for s in DEFAULT_SCHEMAS):
            self.skipTest("../shared/monai_bundle_schema not present")
        out = self.tmp / "exported"
        proc = subprocess.run([sys.executable, "-m", "scripts.export_bundle", "--out", str(out), "--verify"],
                              cwd=REPO_ROOT, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        for check in ("verify_metadata meta_schema_20220324.json: ok", "verify_metadata meta_schema_20240725.json: ok",
                      "verify_net_in_out: ok"):
            self.assertIn(check, proc.stdout)
        if (out / "models" / "model.pt").is_file():
            self.assertIn("ckpt_export: ok", proc.stdout)



class TestExportedTrainingRule(unittest.TestCase):
    """The exported weights and configs are one rule (TorchScript export and MONAI Label skip ``initialize``)."""

    def setUp(self) -> None:
        import torch

        from custom_transforms.resume import TrainingSettings

        self.tmp = Path(tempfile.mkdtemp(prefix="export_rule_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.src = self.tmp / "bundle"
        shutil.copytree(REPO_ROOT / "bundle" / "configs", self.src / "configs")
        (self.src / "models").mkdir()
        self.rule = {"group_size": 7, "window_s": None, "fused_index": 1}  # the paper's, not the bundle's rule
        self.save = lambda rule: torch.save({"model": {}, "settings": TrainingSettings(rule).state_dict()},
                                            self.src / "models" / "model.pt")

    def test_weights_of_another_rule_are_refused_in_one_line(self):
        from scripts.bundle_tools.verify import check_exported_training_rule

        self.save(self.rule)
        out = export_bundle(self.tmp / "out", self.src)
        with self.assertRaises(RuntimeError) as ctx:
            check_exported_training_rule(out)
        self.assertEqual(
            str(ctx.exception),
            f"{Path(out).resolve()}/models/model.pt: was trained with window_s=None, fused_index=1; this run has "
            "window_s=120, fused_index=0: set the same ids, or retrain",
        )
        self.save(dict(self.rule, window_s=120.0, fused_index=0))
        out = export_bundle(self.tmp / "out2", self.src)
        self.assertEqual(check_exported_training_rule(out), "training rule: ok")

    def test_torchscript_export_takes_the_model_entry(self):
        from unittest import mock

        from scripts.bundle_tools import verify

        self.save(dict(self.rule, window_s=120.0, fused_index=0))
        out = export_bundle(self.tmp / "out", self.src)
        done = subprocess.CompletedProcess([], 0, "", "")
        with mock.patch.object(verify.subprocess, "run", return_value=done) as run, \
                mock.patch.object(verify, "check_exported_training_rule", return_value="training rule: ok"), \
                mock.patch("sys.stdout"):
            verify.verify_bundle(out, schemas=[])
        export = [c.args[0] for c in run.call_args_list if "ckpt_export" in c.args[0]]
        self.assertEqual(len(export), 1)
        # without it MONAI copies nothing from {"model": ..., "settings": ...}: an untrained TorchScript network
        self.assertIn("--key_in_ckpt model", " ".join(export[0]))


if __name__ == "__main__":
    unittest.main()
