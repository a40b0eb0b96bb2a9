# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for ``python -m scripts.prepare_dataset``.

Each case: an ``--out`` or a folder of studies that is wrong -> exit code -> message fragment naming the user's folder
or file -> nothing half-written (no hidden build folder, no dataset) -> the inputs unchanged by checksum. Covers an
``--out`` that would destroy the studies (issue 11, case 2), an unwritable ``--out`` (case 6), the permissions of
the written dataset (case 10), and a folder with a bad study (every good study used, ``skipped.json``, exit 2).

Tiny on purpose: three 32x40 studies of 100 frames, 32x32 PNGs.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from parameterized import parameterized
from PIL import Image

from custom_transforms.safe_files import SKIPPED_FILE
from scripts import prepare_dataset
from scripts.prepare_dataset import main
from tests.faults.harness import assert_fault, assert_no_leftovers, run_main, tree_checksum
from tests.scripts.test_prepare_dataset import make_label, make_study

_FAST = ["--quiet", "--size", "32"]


def _studies(folder: Path, bad: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, sid in enumerate(("u1", "u2", "u3")):
        make_study(folder / f"{sid}.dcm", i, sid.upper())
        Image.fromarray(make_label()).save(folder / f"{sid}_label.png")
    if bad:
        (folder / "bad.dcm").write_text("not a DICOM file")
        Image.fromarray(make_label()).save(folder / "bad_label.png")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class FaultCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self):
        for p in self.root.rglob("*"):  # read-only folders of a case must not block the clean-up
            if p.is_dir():
                p.chmod(0o755)
        self.tmp.cleanup()


# (case, layout: studies folder and --out relative to the temporary root, extra args, fragment, named input)
OVERLAP_CASES = [
    ("out_is_studies", "S", "S", ["--overwrite"], "--out is the input", "S"),
    ("out_above_studies", "top/S", "top", ["--overwrite"], "--out contains the input", "top/S"),
    ("out_inside_studies", "S", "S/dataset", [], "--out lies inside the input", "S"),
    ("out_inside_studies_overwrite", "S", "S/dataset", ["--overwrite"], "--out lies inside the input", "S"),
]


class TestOutputNeverDestroysInputs(FaultCase):
    @parameterized.expand(OVERLAP_CASES)
    def test_refused_before_anything_is_touched(self, _name, studies_rel, out_rel, extra, fragment, named):
        studies = self.root / studies_rel
        _studies(studies)
        before = tree_checksum(self.root)
        code, _, err = run_main(main, ["--studies", str(studies), "--out", str(self.root / out_rel), *extra, *_FAST])
        assert_fault(self, code, err, 2, fragment, named_file=self.root / named)
        self.assertEqual(tree_checksum(self.root), before)  # not one file added, removed or changed
        assert_no_leftovers(self, self.root)

    def test_splits_file_inside_out(self):
        studies, out = self.root / "S", self.root / "DS"
        _studies(studies)
        self.assertEqual(run_main(main, ["--studies", str(studies), "--out", str(out), *_FAST])[0], 0)
        frozen = out / "frozen.json"
        frozen.write_text(json.dumps({"training": ["u1", "u2"], "validation": ["u3"], "test": []}))
        before = tree_checksum(self.root)
        code, _, err = run_main(
            main, ["--studies", str(studies), "--out", str(out), "--splits", str(frozen), "--overwrite", *_FAST]
        )
        assert_fault(self, code, err, 2, "--out contains the input", named_file=frozen)
        self.assertEqual(tree_checksum(self.root), before)

    def test_link_to_the_studies(self):
        studies = self.root / "S"
        _studies(studies)
        (self.root / "link").symlink_to(studies, target_is_directory=True)
        before = tree_checksum(studies)
        code, _, err = run_main(
            main, ["--studies", str(studies), "--out", str(self.root / "link"), "--overwrite", *_FAST]
        )
        assert_fault(self, code, err, 2, "--out is the input", named_file=self.root / "link")
        self.assertEqual(tree_checksum(studies), before)


class TestUnwritableOutput(FaultCase):
    def setUp(self):
        super().setUp()
        self.studies = self.root / "S"
        _studies(self.studies)
        self.before = tree_checksum(self.studies)

    def check(self, out: Path, extra: list[str], fragment: str, named: Path | None = None):
        code, _, err = run_main(main, ["--studies", str(self.studies), "--out", str(out), *extra, *_FAST])
        assert_fault(self, code, err, 2, fragment, named_file=named or out)
        self.assertNotIn(".tmp-", err)  # the user's folder is named, never a temporary one
        self.assertEqual(tree_checksum(self.studies), self.before)
        assert_no_leftovers(self, self.root)

    @parameterized.expand([("plain", []), ("overwrite", ["--overwrite"])])
    def test_out_is_a_file(self, _name, extra):
        out = self.root / "notes.txt"
        out.write_text("precious")
        self.check(out, extra, "--out is a file, not a folder")
        self.assertEqual(out.read_text(), "precious")  # not renamed aside, not replaced by a dataset

    def test_out_under_a_file(self):
        (self.root / "notes.txt").write_text("precious")
        self.check(self.root / "notes.txt" / "ds", [], "is a file", named=self.root / "notes.txt")
        self.assertEqual((self.root / "notes.txt").read_text(), "precious")

    @unittest.skipIf(hasattr(os, "geteuid") and os.geteuid() == 0, "root writes into read-only folders")
    def test_read_only_parent(self):
        parent = self.root / "ro"
        parent.mkdir()
        parent.chmod(0o555)
        self.check(parent / "ds", [], "--out cannot be written (Permission denied)")
        self.assertEqual(list(parent.iterdir()), [])

    def test_permission_denied_injected(self):
        """The same as a read-only parent, for any user (root ignores folder permissions)."""
        denied = PermissionError(errno.EACCES, "Permission denied", str(self.root / ".ds.tmp-abcd"))
        with mock.patch.object(prepare_dataset, "make_build_dir", side_effect=denied):
            self.check(self.root / "new" / "ds", [], "--out cannot be written (Permission denied)")
        self.assertFalse((self.root / "new").exists())  # the parent it made is removed again

    def test_disk_full_keeps_the_old_dataset(self):
        out = self.root / "ds"
        self.assertEqual(run_main(main, ["--studies", str(self.studies), "--out", str(out), *_FAST])[0], 0)
        old = tree_checksum(out)
        real_save = prepare_dataset._save_png

        def fill_up(path, array):
            if path.name.startswith("u3"):
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            real_save(path, array)

        with mock.patch.object(prepare_dataset, "_save_png", side_effect=fill_up):
            self.check(out, ["--overwrite"], "--out cannot be written (No space left on device)")
        self.assertEqual(tree_checksum(out), old)


class TestFolderWithBadStudies(FaultCase):
    def test_good_studies_used_bad_listed_exit_2(self):
        studies, out = self.root / "S", self.root / "ds"
        _studies(studies, bad=True)
        before = tree_checksum(studies)
        code, stdout, err = run_main(main, ["--studies", str(studies), "--out", str(out), *_FAST])
        assert_fault(self, code, err, 2, "not a DICOM", named_file=studies / "bad.dcm")
        self.assertIn("1 skipped", stdout)
        info = json.loads((out / SKIPPED_FILE).read_text())
        self.assertEqual((info["command"], info["inputs"], info["done"]), ("prepare_dataset", 4, 3))
        self.assertEqual([s["input"] for s in info["skipped"]], [str(studies / "bad.dcm")])
        self.assertIn("not a DICOM", info["skipped"][0]["reason"])
        written = sorted({p.name.split("_f")[0] for p in (out / "images").iterdir()})
        self.assertEqual(written, ["u1", "u2", "u3"])  # every good study, whatever the order
        self.assertEqual(tree_checksum(studies), before)
        assert_no_leftovers(self, self.root)

    def test_stop_on_first_error_writes_nothing(self):
        studies, out = self.root / "S", self.root / "ds"
        _studies(studies, bad=True)
        code, _, err = run_main(main, ["--studies", str(studies), "--out", str(out), "--on-error", "stop", *_FAST])
        assert_fault(self, code, err, 2, "not a DICOM", named_file=studies / "bad.dcm")
        self.assertFalse(out.exists())
        assert_no_leftovers(self, self.root)

    def test_all_good_writes_an_empty_skip_list_exit_0(self):
        studies, out = self.root / "S", self.root / "ds"
        _studies(studies)
        code, _, err = run_main(main, ["--studies", str(studies), "--out", str(out), *_FAST])
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads((out / SKIPPED_FILE).read_text())["skipped"], [])

    def test_excluded_by_frozen_splits_is_not_a_failure(self):
        studies, out = self.root / "S", self.root / "ds"
        _studies(studies)
        frozen = self.root / "frozen.json"
        frozen.write_text(json.dumps({"training": ["u1"], "validation": ["u2"], "test": []}))
        code, stdout, err = run_main(
            main, ["--studies", str(studies), "--out", str(out), "--splits", str(frozen), *_FAST]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads((out / SKIPPED_FILE).read_text())["skipped"], [])
        datalist = json.loads((out / "datalist.json").read_text())
        self.assertEqual([s["study"] for s in datalist["skipped"]], ["u3"])  # still listed in the datalist
        self.assertIn("1 not in the frozen --splits", stdout)


class TestPermissions(FaultCase):
    @parameterized.expand([(0o022, 0o644, 0o755), (0o002, 0o664, 0o775)])
    def test_dataset_has_umask_permissions(self, umask, file_mode, dir_mode):
        studies, out = self.root / "S", self.root / "ds"
        _studies(studies)
        old = os.umask(umask)
        try:
            code, _, err = run_main(main, ["--studies", str(studies), "--out", str(out), *_FAST])
        finally:
            os.umask(old)
        self.assertEqual(code, 0, err)
        self.assertEqual(_mode(out), dir_mode)  # was 0700 (tempfile.mkdtemp)
        for p in out.rglob("*"):
            self.assertEqual(_mode(p), dir_mode if p.is_dir() else file_mode, p)


if __name__ == "__main__":
    unittest.main()
