# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for ``python -m scripts.export_bundle``.

Each case: an ``--out`` that is, contains or lies inside what the export copies (the source bundle, the repository's
``custom_transforms/`` and ``networks/``), a file, a folder under a file, or an unwritable folder -> exit code 2 ->
one line naming the user's folder -> nothing half-written -> the inputs unchanged by checksum.

The repository is a tiny stand-in (``REPO_ROOT`` patched) so that a regression can never replace the real packages.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from parameterized import parameterized

from scripts.bundle_tools import export as export_module
from scripts.export_bundle import main
from tests.faults.harness import assert_fault, assert_no_leftovers, run_main, tree_checksum


def _fake_repo(root: Path) -> Path:
    """``root/repo`` with a small ``bundle/`` (configs, models, docs, LICENSE, a user's notes) and the two packages."""
    repo = root / "repo"
    for rel, text in {
        "bundle/configs/inference.json": "{}\n",
        "bundle/models/model.pt": "weights\n",
        "bundle/docs/README.md": "# bundle\n",
        "bundle/LICENSE": "Apache-2.0\n",
        "bundle/notes.txt": "not exported, must survive\n",
        "custom_transforms/__init__.py": "\n",
        "networks/__init__.py": "\n",
    }.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    return repo


# (case, --out relative to the fake repository's parent, fragment, named input)
OVERLAP_CASES = [
    ("out_is_the_bundle", "repo/bundle", "--out is the input", "repo/bundle"),
    ("out_inside_the_bundle", "repo/bundle/models/exported", "--out lies inside the input", "repo/bundle"),
    ("out_contains_the_bundle", "repo", "--out contains the input", "repo/bundle"),
    ("out_is_the_networks_package", "repo/networks", "--out is the input", "repo/networks"),
    ("out_inside_custom_transforms", "repo/custom_transforms/x", "--out lies inside the input", "custom_transforms"),
]


class TestExportFaults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        self.repo = _fake_repo(self.root)
        patcher = mock.patch.object(export_module, "REPO_ROOT", self.repo)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.before = tree_checksum(self.repo)

    def tearDown(self):
        self.tmp.cleanup()

    def run_export(self, out: Path, *extra: str):
        return run_main(main, ["--out", str(out), "--bundle", str(self.repo / "bundle"), *extra])

    @parameterized.expand(OVERLAP_CASES)
    def test_out_overlapping_what_is_copied(self, _name, out_rel, fragment, named):
        code, _, err = self.run_export(self.root / out_rel, "--overwrite")
        assert_fault(self, code, err, 2, fragment, named_file=self.root / named)
        self.assertEqual(tree_checksum(self.repo), self.before)
        assert_no_leftovers(self, self.root)

    @parameterized.expand([("plain", []), ("overwrite", ["--overwrite"])])
    def test_out_is_a_file(self, _name, extra):
        out = self.root / "notes.txt"
        out.write_text("precious")
        code, _, err = self.run_export(out, *extra)
        assert_fault(self, code, err, 2, "is a file", named_file=out)
        self.assertEqual(out.read_text(), "precious")
        assert_no_leftovers(self, self.root)

    def test_out_under_a_file(self):
        (self.root / "notes.txt").write_text("precious")
        code, _, err = self.run_export(self.root / "notes.txt" / "exported")
        assert_fault(self, code, err, 2, "is a file", named_file=self.root / "notes.txt")
        self.assertEqual(tree_checksum(self.repo), self.before)

    def test_unwritable_out_names_the_folder_not_a_temporary_one(self):
        out = self.root / "exported"
        denied = PermissionError(errno.EACCES, "Permission denied", str(self.root / ".exported.tmp-abcd"))
        with mock.patch("tempfile.mkdtemp", side_effect=denied):
            code, _, err = self.run_export(out)
        assert_fault(self, code, err, 2, "cannot write the export (Permission denied)", named_file=out)
        self.assertNotIn(".tmp-", err)
        self.assertFalse(out.exists())
        assert_no_leftovers(self, self.root)

    @parameterized.expand([(0o022, 0o755), (0o002, 0o775)])
    def test_export_has_umask_permissions(self, umask, dir_mode):
        old = os.umask(umask)
        try:
            code, _, err = self.run_export(self.root / "exported")
        finally:
            os.umask(old)
        self.assertEqual(code, 0, err)
        out = self.root / "exported"
        self.assertEqual(stat.S_IMODE(out.stat().st_mode), dir_mode)  # was 0700 (tempfile.mkdtemp)
        for p in out.rglob("*"):  # copies keep their source's mode (copy2), as before
            src = self.repo / ("bundle" if p.relative_to(out).parts[0] not in ("custom_transforms", "networks") else "")
            self.assertEqual(stat.S_IMODE(p.stat().st_mode), stat.S_IMODE((src / p.relative_to(out)).stat().st_mode))
        self.assertEqual(tree_checksum(self.repo), self.before)


if __name__ == "__main__":
    unittest.main()
