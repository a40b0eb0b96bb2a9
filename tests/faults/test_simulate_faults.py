# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for ``python -m scripts.simulate``.

The simulator has no input files, but it replaces things in ``--out``: ``sim_s<seed>_<index>`` folders with
``--overwrite``, stale ``.sim-tmp-*`` folders, and ``studies.csv`` on every run. Each case: an ``--out`` it must not
change (a folder of the user's own studies with its ``studies.csv``), a file, a folder under a file, an unwritable
folder -> exit code 2 -> one line naming the folder or file -> nothing changed in it (checksum) -> no temporary left.
The resume and ``--overwrite`` cases check that nothing but the simulator's own study folders is touched.

Tiny on purpose: one 64x64 study of the 39-frame ``quick39`` protocol.
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

from scripts.simulate import main
from scripts.simulation.batch import prepare_output
from scripts.simulation.writer import TMP_PREFIX
from tests.faults.harness import assert_fault, assert_no_leftovers, run_main, tree_checksum

_FAST = ["--studies", "1", "--matrix", "64", "--protocol", "quick39", "--no-progress"]


class TestSimulateFaults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    @parameterized.expand([("plain", []), ("overwrite", ["--overwrite"])])
    def test_users_studies_csv_is_never_replaced(self, _name, extra):
        out = self.root / "my_studies"
        out.mkdir()
        (out / "u1.dcm").write_bytes(b"a study of mine")
        (out / "studies.csv").write_text("study_id,patient_id\nu1,P7\n")  # the table prepare_dataset reads
        before = tree_checksum(out)
        code, _, err = run_main(main, ["--out", str(out), *_FAST, *extra])
        assert_fault(self, code, err, 2, "not a table written by scripts.simulate", named_file=out / "studies.csv")
        self.assertEqual(tree_checksum(out), before)

    def test_out_is_a_file(self):
        out = self.root / "notes.txt"
        out.write_text("precious")
        code, _, err = run_main(main, ["--out", str(out), *_FAST])
        assert_fault(self, code, err, 2, "exists and is not a folder", named_file=out)
        self.assertEqual(out.read_text(), "precious")

    def test_out_under_a_file(self):
        (self.root / "notes.txt").write_text("precious")
        code, _, err = run_main(main, ["--out", str(self.root / "notes.txt" / "sim"), *_FAST])
        assert_fault(self, code, err, 2, "not writable", named_file=self.root / "notes.txt" / "sim")
        self.assertEqual((self.root / "notes.txt").read_text(), "precious")

    def test_unwritable_out_names_the_folder(self):
        out = self.root / "sim"
        out.mkdir()
        denied = PermissionError(errno.EACCES, "Permission denied", str(out / ".sim-tmp-probe.tmp-abcd"))
        with mock.patch("tempfile.mkdtemp", side_effect=denied), mock.patch("tempfile.mkstemp", side_effect=denied):
            code, _, err = run_main(main, ["--out", str(out), *_FAST])
        assert_fault(self, code, err, 2, "output folder is not writable (Permission denied)", named_file=out)
        self.assertEqual(list(out.iterdir()), [])

    def test_resume_and_overwrite_touch_only_the_simulators_folders(self):
        out = self.root / "sim"
        self.assertEqual(run_main(main, ["--out", str(out), *_FAST])[0], 0)
        (out / "notes").mkdir()
        (out / "notes" / "todo.txt").write_text("mine")
        mine = tree_checksum(out / "notes")
        first = tree_checksum(out / "sim_s0_00000")
        code, stdout, err = run_main(main, ["--out", str(out), *_FAST])  # resume: the complete study is kept
        self.assertEqual(code, 0, err)
        self.assertIn("kept 1 existing", stdout)
        code, _, err = run_main(main, ["--out", str(out), *_FAST, "--overwrite"])
        self.assertEqual(code, 0, err)
        self.assertEqual(tree_checksum(out / "sim_s0_00000"), first)  # same seed: byte-identical study
        self.assertEqual(tree_checksum(out / "notes"), mine)
        assert_no_leftovers(self, out)
        self.assertEqual([p.name for p in out.iterdir() if p.name.startswith(TMP_PREFIX)], [])

    @parameterized.expand([(0o022, 0o644, 0o755), (0o002, 0o664, 0o775)])
    def test_outputs_have_umask_permissions(self, umask, file_mode, dir_mode):
        out = self.root / "sim"
        old = os.umask(umask)
        try:
            code, _, err = run_main(main, ["--out", str(out), *_FAST])
        finally:
            os.umask(old)
        self.assertEqual(code, 0, err)
        for p in [out, *out.rglob("*")]:
            self.assertEqual(stat.S_IMODE(p.stat().st_mode), dir_mode if p.is_dir() else file_mode, p)

    def test_probe_leaves_nothing(self):
        out = self.root / "sim"
        out.mkdir()
        prepare_output(out)
        self.assertEqual(list(out.iterdir()), [])


if __name__ == "__main__":
    unittest.main()
