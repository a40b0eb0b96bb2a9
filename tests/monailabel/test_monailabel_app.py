# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fast tests of ``scripts.monailabel_app`` that need no MONAI Label (part of the main suite).

The environment set-up is exercised with a fake interpreter (a shell script that records its arguments), so the tests
check which installs run, not pip itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from scripts.monailabel_app import OFFLINE_CONF, prepare_app, server_command, setup_venv

__all__ = ["TestServerCommand", "TestPrepareApp", "TestPrepareAppWeights", "TestSetupVenv", "TestCommandLine"]

REPO_ROOT = Path(__file__).resolve().parents[2]


class TestServerCommand(unittest.TestCase):
    def test_offline_settings_model_and_address(self):
        cmd = server_command("/venv/bin/python", "/ws/monaibundle", "/data/pngs", "renal_parenchyma", "127.0.0.1", 8123)
        self.assertEqual(cmd[:4], ["/venv/bin/python", "-m", "monailabel.main", "start_server"])
        pairs = [(cmd[i + 1], cmd[i + 2]) for i, arg in enumerate(cmd) if arg == "--conf"]
        self.assertIn(("models", "renal_parenchyma"), pairs)
        for pair in OFFLINE_CONF:
            self.assertIn(pair, pairs)
        self.assertEqual(dict(pairs)["zoo_source"], "local")
        self.assertEqual(dict(pairs)["sam2"], "false")
        self.assertEqual(cmd[cmd.index("--app") + 1], "/ws/monaibundle")
        self.assertEqual(cmd[cmd.index("--studies") + 1], "/data/pngs")
        self.assertEqual(cmd[cmd.index("--port") + 1], "8123")
        self.assertEqual(cmd[cmd.index("--host") + 1], "127.0.0.1")

    def test_extra_conf_is_appended(self):
        cmd = server_command("py", "app", "studies", conf=[("preload", "true")])
        self.assertIn(["--conf", "preload", "true"], [cmd[i : i + 3] for i in range(len(cmd) - 2)])


class TestPrepareApp(unittest.TestCase):
    @parameterized.expand([("renal_deepedit",), ("DeepGrow2d",), ("kidney_detection",), ("classification",), ("a/b",),
                           ("",), (".hidden",)])
    def test_rejects_names_that_change_task_type_or_path(self, name):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(ValueError):
                prepare_app(tmp, sys.executable, name=name)
            self.assertEqual(os.listdir(tmp), [])  # nothing downloaded or exported


class TestPrepareAppWeights(unittest.TestCase):
    """The export into an existing app; the app download is skipped by an existing ``main.py``."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.bundle = self.tmp / "bundle"
        (self.bundle / "configs").mkdir(parents=True)
        (self.bundle / "configs" / "inference.json").write_text("{}")
        (self.bundle / "models").mkdir()
        (self.bundle / "models" / "model.pt").write_bytes(b"shipped")
        self.ws = self.tmp / "ws"
        (self.ws / "monaibundle").mkdir(parents=True)
        (self.ws / "monaibundle" / "main.py").write_text("# stand-in for the downloaded app\n")
        self.model = self.ws / "monaibundle" / "model" / "renal_parenchyma"

    def tearDown(self):
        self._tmp.cleanup()

    def prepare(self, **kwargs) -> Path:
        with contextlib.redirect_stdout(io.StringIO()):
            return prepare_app(self.ws, sys.executable, bundle_dir=self.bundle, **kwargs)

    def test_exports_bundle_and_code_packages(self):
        self.assertEqual(self.prepare(), self.ws / "monaibundle")
        self.assertEqual((self.model / "models" / "model.pt").read_bytes(), b"shipped")
        self.assertTrue((self.model / "configs" / "inference.json").is_file())
        for package in ("custom_transforms", "networks"):
            self.assertTrue((self.model / package / "__init__.py").is_file(), package)

    def test_weights_trained_in_the_app_are_kept_and_configs_refreshed(self):
        self.prepare()
        (self.model / "models" / "model.pt").write_bytes(b"trained in monailabel")
        (self.bundle / "configs" / "inference.json").write_text('{"new": 1}')
        self.prepare()
        self.assertEqual((self.model / "models" / "model.pt").read_bytes(), b"trained in monailabel")
        self.assertEqual((self.model / "configs" / "inference.json").read_text(), '{"new": 1}')
        self.assertEqual(sorted(p.name for p in self.model.parent.iterdir()), ["renal_parenchyma"])  # no leftovers

    def test_weights_an_interrupted_start_set_aside_are_restored(self):
        self.prepare()
        # as left by a start killed during the export: the app's trained weights wait beside the model folder
        left = self.model.parent / "renal_parenchyma.models-kept-20261201-101500-123"
        (left / "models").mkdir(parents=True)
        (left / "models" / "model.pt").write_bytes(b"trained in monailabel")
        shutil.rmtree(self.model / "models")
        self.prepare()
        self.assertEqual((self.model / "models" / "model.pt").read_bytes(), b"trained in monailabel")
        self.assertEqual(sorted(p.name for p in self.model.parent.iterdir()), ["renal_parenchyma"])

    def test_replace_weights_moves_old_ones_aside(self):
        self.prepare()
        (self.model / "models" / "model.pt").write_bytes(b"trained in monailabel")
        self.prepare(replace_weights=True)
        self.assertEqual((self.model / "models" / "model.pt").read_bytes(), b"shipped")
        backups = [p for p in self.model.parent.iterdir() if p.name.startswith("renal_parenchyma.models-")]
        self.assertEqual(len(backups), 1)
        self.assertEqual((backups[0] / "model.pt").read_bytes(), b"trained in monailabel")

    def test_weights_trained_by_another_rule_are_refused(self):
        import torch

        from custom_transforms.resume import TrainingSettings

        shutil.copy(REPO_ROOT / "bundle" / "configs" / "inference.json", self.bundle / "configs" / "inference.json")
        rule = {"group_size": 7, "window_s": None, "fused_index": 1, "image_size": [384, 384]}  # the paper's rule
        torch.save({"model": {}, "settings": TrainingSettings(rule).state_dict()}, self.bundle / "models" / "model.pt")
        with self.assertRaises(ValueError) as ctx:
            self.prepare()
        self.assertEqual(
            str(ctx.exception),
            f"{self.model / 'models' / 'model.pt'}: was trained with window_s=None, fused_index=1; this run has "
            "window_s=120, fused_index=0: set the same ids, or retrain",
        )
        torch.save({"model": {}, "settings": TrainingSettings(dict(rule, window_s=120.0, fused_index=0)).state_dict()},
                   self.bundle / "models" / "model.pt")
        self.prepare(replace_weights=True)  # the same rule: served

    def test_no_weights_anywhere_is_an_error_before_writing(self):
        (self.bundle / "models" / "model.pt").unlink()
        with self.assertRaisesRegex(FileNotFoundError, "--random-weights"):
            self.prepare()
        self.assertFalse(self.model.exists())


def _fake_python(folder: Path, log: Path, fail_on: str = "", fail_exact: str = "") -> Path:
    """A ``bin/python`` that appends its arguments to ``log`` and exits 1 when they contain ``fail_on`` or equal
    ``fail_exact``."""
    py = folder / "bin" / "python"
    py.parent.mkdir(parents=True, exist_ok=True)
    check = f'case "$*" in *"{fail_on}"*) exit 1;; esac\n' if fail_on else ""
    check += f'[ "$*" = "{fail_exact}" ] && exit 1\n' if fail_exact else ""
    py.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n{check}exit 0\n')
    py.chmod(py.stat().st_mode | stat.S_IXUSR)
    return py


class TestSetupVenv(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.venv, self.log = self.tmp / "venv", self.tmp / "calls.log"
        self.req = self.tmp / "req.txt"
        self.req.write_text("monailabel==0.8.5\n")

    def tearDown(self):
        self._tmp.cleanup()

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.is_file() else []

    def test_installs_then_reuses_until_requirements_change(self):
        _fake_python(self.venv, self.log)
        self.assertEqual(setup_venv(self.venv, self.req), self.venv / "bin" / "python")
        self.assertTrue(any(f"install -q -r {self.req}" in c for c in self.calls()), self.calls())
        self.log.unlink()
        setup_venv(self.venv, self.req)
        self.assertEqual(self.calls(), ["-c import monailabel"])  # reused: only the import check
        self.log.unlink()
        self.req.write_text("monailabel==0.8.5\npytest\n")
        setup_venv(self.venv, self.req)
        self.assertTrue(any("install -q -r" in c for c in self.calls()), self.calls())

    def test_failed_install_raises_and_is_retried(self):
        _fake_python(self.venv, self.log, fail_on="-r ")
        with self.assertRaisesRegex(RuntimeError, "installing req.txt"):
            setup_venv(self.venv, self.req)
        self.log.unlink()
        with self.assertRaises(RuntimeError):
            setup_venv(self.venv, self.req)
        self.assertTrue(any("install -q -r" in c for c in self.calls()), "a failed install must not be stamped as done")

    def test_broken_environment_is_reinstalled(self):
        _fake_python(self.venv, self.log)
        setup_venv(self.venv, self.req)
        _fake_python(self.venv, self.log, fail_exact="-c import monailabel")
        self.log.unlink()
        setup_venv(self.venv, self.req)
        self.assertTrue(any("install -q -r" in c for c in self.calls()), self.calls())

    def test_install_that_does_not_import_is_not_stamped(self):
        _fake_python(self.venv, self.log, fail_on="import monailabel.app")
        with self.assertRaisesRegex(RuntimeError, "importing monailabel.app"):
            setup_venv(self.venv, self.req)
        self.assertFalse((self.venv / ".renogram-requirements.sha256").exists())


class TestCommandLine(unittest.TestCase):
    def run_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "scripts.monailabel_app", *args], cwd=REPO_ROOT,
                              capture_output=True, text=True)

    def test_missing_studies_folder_is_one_line_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc = self.run_cli("--venv", str(Path(tmp) / "venv"), "start", "--studies", str(Path(tmp) / "nope"))
            self.assertEqual(proc.returncode, 2)
            self.assertEqual(len(proc.stderr.strip().splitlines()), 1)
            self.assertIn("nope", proc.stderr)
            self.assertFalse((Path(tmp) / "venv").exists())  # nothing installed for a bad call

    def test_help(self):
        proc = self.run_cli("--help")
        self.assertEqual(proc.returncode, 0)
        for command in ("setup", "start", "init-weights"):
            self.assertIn(command, proc.stdout)


if __name__ == "__main__":
    unittest.main()
