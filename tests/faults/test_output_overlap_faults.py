# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for the smaller commands that write beside their inputs: ``scripts.quickstart``,
``scripts.validate_renal_function``, ``scripts.monailabel_app start`` and ``scripts.preview_studies``.

What each one replaces: quickstart ``OUT/models``, ``OUT/dataset``, ``OUT/inference_inputs``; validate_renal_function
``OUT/per_study.csv``, ``OUT/summary.json``, ``OUT/predictions/``; monailabel_app ``<workspace>/monaibundle`` (when
incomplete) and its model folder. Each case: an output that is, contains or lies inside an input -> exit code 2 ->
one line naming both -> nothing started or written -> the inputs unchanged by checksum. Then the permissions of
what validate_renal_function and preview_studies write (were ``0600``).

Nothing heavy runs: quickstart's steps and MONAI Label's set-up are replaced by errors, the studies are one tiny
simulated study.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from parameterized import parameterized

from scripts import monailabel_app, preview_studies, quickstart, simulate, validate_renal_function
from tests.faults.harness import REPO_ROOT, assert_fault, assert_no_leftovers, run_main, tree_checksum


def _simulated(folder: Path) -> Path:
    code = simulate.main(["--out", str(folder), "--studies", "1", "--matrix", "64", "--protocol", "quick39",
                          "--no-progress"])
    assert code == 0, code
    return folder


class TmpCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()


# (case, --studies-dir, --out, fragment, named input); "BUNDLE" is the (stand-in) repository bundle
QUICKSTART_CASES = [
    ("out_is_the_bundle", "sim", "BUNDLE", "--out is the input", "BUNDLE"),
    ("studies_in_out_models", "qs/models", "qs", "--out contains the input", "qs/models"),
    ("out_is_the_studies", "sim", "sim", "--out is the input", "sim"),
    ("out_inside_the_studies", "sim", "sim/qs", "--out lies inside the input", "sim"),
]


class TestQuickstart(TmpCase):
    def setUp(self):
        super().setUp()
        self.bundle = self.root / "repo" / "bundle"
        (self.bundle / "models").mkdir(parents=True)
        (self.bundle / "models" / "model.pt").write_bytes(b"shipped weights")
        for patcher in (
            mock.patch.object(quickstart, "BUNDLE", self.bundle),
            mock.patch.object(quickstart.subprocess, "run", side_effect=AssertionError("a step was started")),
        ):
            patcher.start()
            self.addCleanup(patcher.stop)

    def path(self, rel: str) -> Path:
        return self.bundle if rel == "BUNDLE" else self.root / rel

    @parameterized.expand(QUICKSTART_CASES)
    def test_out_overlapping_an_input(self, _name, studies_rel, out_rel, fragment, named):
        studies = self.path(studies_rel)
        studies.mkdir(parents=True, exist_ok=True)
        (studies / "studies.csv").write_text("study_id,patient_id\n")
        before = tree_checksum(self.root)
        code, _, err = run_main(quickstart.main, ["--out", str(self.path(out_rel)), "--studies-dir", str(studies)])
        assert_fault(self, code, err, 2, fragment, named_file=self.path(named))
        self.assertEqual(tree_checksum(self.root), before)

    def test_out_is_a_file(self):
        (self.root / "notes.txt").write_text("precious")
        argv = ["--out", str(self.root / "notes.txt"), "--studies-dir", str(self.root / "sim")]
        code, _, err = run_main(quickstart.main, argv)
        assert_fault(self, code, err, 2, "--out cannot be written", named_file=self.root / "notes.txt")
        self.assertEqual((self.root / "notes.txt").read_text(), "precious")


class TestValidateRenalFunction(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.base = _simulated(Path(cls.tmp.name) / "base")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.root = Path(tempfile.mkdtemp(dir=self.tmp.name))
        self.studies = self.root / "val"
        shutil.copytree(self.base, self.studies)
        self.study = next(p for p in self.studies.iterdir() if p.is_dir())

    @parameterized.expand(
        [
            ("out_is_the_studies", lambda s, st, r: s, "--out is the input"),
            ("out_inside_a_study", lambda s, st, r: st / "results", "--out lies inside the input"),
            ("out_contains_the_studies", lambda s, st, r: r, "--out contains the input"),
        ]
    )
    def test_out_overlapping_the_studies(self, _name, out_of, fragment):
        out = out_of(self.studies, self.study, self.root)
        before = tree_checksum(self.root)
        argv = ["--studies", str(self.studies), "--out", str(out)]
        code, _, err = run_main(validate_renal_function.main, argv)
        assert_fault(self, code, err, 2, fragment, named_file=self.studies)
        self.assertEqual(tree_checksum(self.root), before)

    def test_out_is_the_predictions(self):
        preds = self.root / "pred"
        preds.mkdir()
        shutil.copy(self.study / "parenchyma.png", preds / f"{self.study.name}.png")
        before = tree_checksum(self.root)
        argv = ["--studies", str(self.studies), "--predictions", str(preds), "--out", str(preds)]
        code, _, err = run_main(validate_renal_function.main, argv)
        assert_fault(self, code, err, 2, "--out is the input", named_file=preds)
        self.assertEqual(tree_checksum(self.root), before)

    @parameterized.expand([(0o022, 0o644), (0o002, 0o664)])
    def test_results_have_umask_permissions(self, umask, file_mode):
        out = self.root / "results"
        old = os.umask(umask)
        try:
            code, _, err = run_main(validate_renal_function.main, ["--studies", str(self.studies), "--out", str(out)])
        finally:
            os.umask(old)
        self.assertEqual(code, 0, err)
        for name in ("per_study.csv", "summary.json"):
            self.assertEqual(stat.S_IMODE((out / name).stat().st_mode), file_mode, name)
        assert_no_leftovers(self, out)


class TestMonailabelWorkspace(TmpCase):
    def setUp(self):
        super().setUp()
        patcher = mock.patch.object(monailabel_app, "setup_venv", side_effect=AssertionError("set-up started"))
        patcher.start()
        self.addCleanup(patcher.stop)
        self.ws = self.root / "ws"
        self.images = self.ws / "monaibundle" / "images"  # an app without main.py is replaced as a whole
        self.images.mkdir(parents=True)
        (self.images / "s1.png").write_bytes(b"fused image")

    def test_studies_inside_the_app_folder(self):
        before = tree_checksum(self.root)
        argv = ["--venv", str(self.root / "venv"), "start", "--studies", str(self.images), "--workspace", str(self.ws)]
        code, _, err = run_main(monailabel_app.main, argv)
        assert_fault(self, code, err, 2, "--workspace contains the input", named_file=self.images)
        self.assertEqual(tree_checksum(self.root), before)
        self.assertFalse((self.root / "venv").exists())

    def test_bundle_inside_the_app_folder(self):
        bundle = self.ws / "monaibundle" / "model" / "renal_parenchyma"
        shutil.copytree(REPO_ROOT / "bundle" / "configs", bundle / "configs")
        studies = self.root / "pngs"
        studies.mkdir()
        before = tree_checksum(self.root)
        argv = ["--venv", str(self.root / "venv"), "start", "--studies", str(studies), "--workspace", str(self.ws),
                "--bundle", str(bundle)]
        code, _, err = run_main(monailabel_app.main, argv)
        assert_fault(self, code, err, 2, "--workspace contains the input", named_file=bundle)
        self.assertEqual(tree_checksum(self.root), before)

    def test_prepare_app_checks_before_replacing(self):
        before = tree_checksum(self.root)
        with self.assertRaisesRegex(ValueError, "contains the input"):
            monailabel_app.prepare_app(self.ws, "/bin/false", studies=self.images)
        self.assertEqual(tree_checksum(self.root), before)


class TestPreviewPermissions(TmpCase):
    @parameterized.expand([(0o022, 0o644), (0o002, 0o664)])
    def test_preview_png_has_umask_permissions(self, umask, file_mode):
        studies = _simulated(self.root / "sim")
        out = self.root / "previews"
        old = os.umask(umask)
        try:
            code, _, err = run_main(preview_studies.main, ["--studies", str(studies), "--out", str(out)])
        finally:
            os.umask(old)
        self.assertEqual(code, 0, err)
        pngs = list(out.glob("*.png"))
        self.assertEqual(len(pngs), 1)
        self.assertEqual(stat.S_IMODE(pngs[0].stat().st_mode), file_mode)
        assert_no_leftovers(self, out)


if __name__ == "__main__":
    unittest.main()
