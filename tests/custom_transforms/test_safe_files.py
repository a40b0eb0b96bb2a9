# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.safe_files`: umask permissions, atomic writes, folder swap, overlap check, skip list."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from parameterized import parameterized

from custom_transforms import safe_files
from custom_transforms.safe_files import (
    OutputFolderError,
    OutputOverlapError,
    SkipList,
    atomic_write_json,
    atomic_write_text,
    check_output_folder,
    check_output_separate,
    make_build_dir,
    swap_in_folder,
    write_files_together,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestPermissions(unittest.TestCase):
    @parameterized.expand([(0o022, 0o644, 0o755), (0o002, 0o664, 0o775), (0o077, 0o600, 0o700)])
    def test_umask_is_applied(self, umask, file_mode, dir_mode):
        old = os.umask(umask)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                built = make_build_dir(Path(tmp) / "out")
                self.assertEqual(_mode(built), dir_mode)  # mkdtemp alone gives 0700
                atomic_write_text(built / "a.txt", "x")
                self.assertEqual(_mode(built / "a.txt"), file_mode)  # mkstemp alone gives 0600
                self.assertTrue(built.name.startswith(".out.tmp-"))
        finally:
            os.umask(old)


class TestAtomicWrite(unittest.TestCase):
    def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "r.json"
            atomic_write_json(path, {"a": 1})
            with self.assertRaises(ValueError):
                atomic_write_json(path, {"a": float("nan")})  # strict JSON refuses NaN before anything is replaced
            self.assertEqual(json.loads(path.read_text()), {"a": 1})
            with mock.patch.object(safe_files.os, "replace", side_effect=OSError("disk full")), self.assertRaises(OSError):
                atomic_write_text(path, "new")
            self.assertEqual(json.loads(path.read_text()), {"a": 1})
            self.assertEqual(sorted(p.name for p in Path(tmp).iterdir()), ["r.json"])


class TestSwapInFolder(unittest.TestCase):
    def test_replaces_and_restores_on_failure(self):
        with tempfile.TemporaryDirectory() as tmp:
            final = Path(tmp) / "out"
            final.mkdir()
            (final / "old.txt").write_text("old")
            built = make_build_dir(final)
            (built / "new.txt").write_text("new")
            real_replace = os.replace
            calls = []

            def second_fails(src, dst):
                calls.append((src, dst))
                if len(calls) == 2:
                    raise OSError("rename refused")
                return real_replace(src, dst)

            with mock.patch.object(safe_files.os, "replace", side_effect=second_fails), self.assertRaises(OSError):
                swap_in_folder(built, final)
            self.assertEqual([p.name for p in final.iterdir()], ["old.txt"])  # the old folder is back
            swap_in_folder(built, final)
            self.assertEqual([p.name for p in final.iterdir()], ["new.txt"])
            self.assertEqual(sorted(p.name for p in Path(tmp).iterdir()), ["out"])  # no backup left


class TestWriteFilesTogether(unittest.TestCase):
    @staticmethod
    def _writer(text: str, fail: bool = False):
        def write(paths: dict[str, str]) -> None:
            for i, path in enumerate(paths.values()):
                if fail and i == 1:
                    raise OSError("disk full")
                Path(path).write_text(text)

        return write

    def test_all_or_nothing_in_a_new_and_an_existing_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "report"
            with self.assertRaises(OSError):
                write_files_together(out, ["a", "b"], self._writer("new", fail=True))
            self.assertEqual(list(Path(tmp).iterdir()), [])  # no folder, no build folder
            write_files_together(out, ["a", "b", "c.dcm"], self._writer("one"))
            with self.assertRaises(OSError):
                write_files_together(out, ["a", "b"], self._writer("two", fail=True))
            self.assertEqual({p.name: p.read_text() for p in out.iterdir()}, {"a": "one", "b": "one", "c.dcm": "one"})
            final = write_files_together(out, ["a", "b"], self._writer("three"), stale=["c.dcm", "d.dcm"])
            self.assertEqual({p.name: p.read_text() for p in out.iterdir()}, {"a": "three", "b": "three"})
            self.assertEqual(final, {"a": str(out / "a"), "b": str(out / "b")})


class TestCheckOutputSeparate(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name).resolve()
        self.studies = self.root / "data" / "studies"
        self.studies.mkdir(parents=True)

    def tearDown(self):
        self._tmp.cleanup()

    @parameterized.expand(
        [
            ("same", "data/studies", "is the input"),
            ("parent", "data", "contains the input"),
            ("inside", "data/studies/dataset", "lies inside the input"),
        ]
    )
    def test_refused(self, _, out_rel, how):
        out = self.root / out_rel
        with self.assertRaises(OutputOverlapError) as ctx:
            check_output_separate(out, [None, self.studies], "--out")
        msg = str(ctx.exception)
        self.assertIn(how, msg)
        self.assertIn(str(out), msg)
        self.assertIn("--out", msg)
        self.assertEqual(len(msg.splitlines()), 1)

    def test_symlink_to_the_input_is_refused(self):
        link = self.root / "link"
        link.symlink_to(self.studies, target_is_directory=True)
        with self.assertRaises(OutputOverlapError):
            check_output_separate(link, [self.studies])

    def test_siblings_and_name_prefixes_are_fine(self):
        check_output_separate(self.root / "data" / "dataset", [self.studies])
        check_output_separate(self.root / "data" / "studies2", [self.studies])  # a prefix is not a parent


class TestLightImport(unittest.TestCase):
    def test_no_torch_needed(self):
        """``python3.11 -m scripts.monailabel_app`` runs before any venv with torch exists and exports the bundle with
        safe_files: importing them must not import torch or MONAI (the package loads its transforms lazily)."""
        code = (
            "import sys; import custom_transforms.safe_files, scripts.export_bundle, scripts.monailabel_app; "
            "heavy = sorted(m for m in ('torch', 'monai', 'numpy') if m in sys.modules); print(heavy); "
            "from custom_transforms import FrameFusiond, RenogramInputError; print(FrameFusiond.__name__)"
        )
        root = Path(__file__).resolve().parents[2]
        proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.split(), ["[]", "FrameFusiond"])  # public names still resolve on first use


class TestCheckOutputFolder(unittest.TestCase):
    def test_file_and_under_a_file_are_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            afile = Path(tmp) / "afile"
            afile.write_text("x")
            for out, fragment in ((afile, "--out exists and is not a folder"),
                                  (afile / "r" / "s", f"--out cannot be created: {afile} is a file")):
                with self.assertRaises(OutputFolderError) as ctx:
                    check_output_folder(out)
                self.assertEqual(str(ctx.exception), f"{out}: {fragment}")
            check_output_folder(Path(tmp) / "new" / "deeper")  # creatable: fine, and nothing is made
            self.assertFalse((Path(tmp) / "new").exists())


class TestSkipList(unittest.TestCase):
    def test_written_even_when_empty(self):
        with tempfile.TemporaryDirectory() as tmp:
            skips = SkipList("prepare_dataset")
            skips.inputs = 3
            self.assertTrue(skips)  # truthy even when empty
            skips.write(tmp)
            self.assertEqual(
                json.loads((Path(tmp) / "skipped.json").read_text()),
                {"command": "prepare_dataset", "inputs": 3, "done": 3, "skipped": []},
            )
            skips.add(Path(tmp) / "b.dcm", "b.dcm: truncated")
            skips.write(tmp)
            info = json.loads((Path(tmp) / "skipped.json").read_text())
            self.assertEqual(info["done"], 2)
            self.assertEqual(info["skipped"], [{"input": str(Path(tmp) / "b.dcm"), "reason": "b.dcm: truncated"}])
            self.assertEqual(len(skips), 1)


if __name__ == "__main__":
    unittest.main()
