# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of ``python -m scripts.simulate`` and ``python -m scripts.preview_studies``."""

from __future__ import annotations

import contextlib
import csv
import io
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from parameterized import parameterized

import scripts.simulate as simulate_cmd
from scripts import preview_studies
from scripts.simulation import batch
from scripts.simulation.writer import STUDY_FILES, TMP_PREFIX

_FAST = ["--matrix", "64", "--protocol", "quick39", "--no-progress"]
_ROOT = Path(__file__).resolve().parents[2]


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = simulate_cmd.main(argv)
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


class TestSimulateCommand(unittest.TestCase):
    def test_writes_studies_and_table(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, _ = run_main(["--out", d, "--studies", "2", "--seed", "4", *_FAST])
            self.assertEqual(rc, 0)
            self.assertIn("studies/s", out)
            for sid in ("sim_s4_00000", "sim_s4_00001"):
                self.assertEqual(sorted(p.name for p in (Path(d) / sid).iterdir()), sorted(STUDY_FILES))
            with open(Path(d) / "studies.csv", newline="") as fh:
                rows = list(csv.DictReader(fh))
            self.assertEqual([r["study_id"] for r in rows], ["sim_s4_00000", "sim_s4_00001"])
            self.assertEqual(rows[0]["protocol"], "quick39")

    def test_workers_do_not_change_results(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(run_main(["--out", f"{d}/a", "--studies", "3", "--seed", "2", *_FAST])[0], 0)
            rc = run_main(["--out", f"{d}/b", "--studies", "3", "--seed", "2", "--workers", "2", *_FAST])[0]
            self.assertEqual(rc, 0)
            for sid in ("sim_s2_00000", "sim_s2_00001", "sim_s2_00002"):
                for f in STUDY_FILES:
                    self.assertEqual((Path(d, "a", sid, f)).read_bytes(), (Path(d, "b", sid, f)).read_bytes())

    def test_existing_studies_are_kept_unless_overwrite(self):
        with tempfile.TemporaryDirectory() as d:
            run_main(["--out", d, "--studies", "1", "--seed", "1", *_FAST])
            marker = Path(d) / "sim_s1_00000" / "truth.json"
            marker.write_text(marker.read_text() + " ")
            edited = marker.read_text()
            rc, out, _ = run_main(["--out", d, "--studies", "2", "--seed", "1", *_FAST])
            self.assertEqual(rc, 0)
            self.assertIn("kept 1 existing", out)
            self.assertEqual(marker.read_text(), edited)
            run_main(["--out", d, "--studies", "1", "--seed", "1", "--overwrite", *_FAST])
            self.assertNotEqual(marker.read_text(), edited)

    def test_interrupted_run_leaves_only_complete_studies(self):
        real = batch.simulate_one
        calls = []

        def flaky(index, opts):
            calls.append(index)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real(index, opts)

        with tempfile.TemporaryDirectory() as d:
            with mock.patch.object(batch, "simulate_one", side_effect=flaky):
                rc, _, err = run_main(["--out", d, "--studies", "3", *_FAST])
            self.assertEqual(rc, 130)
            self.assertIn("interrupted", err)
            names = sorted(p.name for p in Path(d).iterdir())
            self.assertEqual(names, ["sim_s0_00000", "studies.csv"])
            self.assertFalse(any(n.startswith(TMP_PREFIX) for n in names))

    def test_corrupt_truth_is_named(self):
        with tempfile.TemporaryDirectory() as d:
            run_main(["--out", d, "--studies", "1", *_FAST])
            bad = Path(d) / "sim_s0_00000" / "truth.json"
            bad.write_text("{")
            rc, _, err = run_main(["--out", d, "--studies", "2", *_FAST])
            self.assertEqual(rc, 2)
            self.assertIn(str(bad), err)
            self.assertEqual(len(err.strip().splitlines()), 1)

    def test_stale_temp_folders_are_removed(self):
        with tempfile.TemporaryDirectory() as d:
            stale = Path(d) / f"{TMP_PREFIX}sim_s0_00000-1"
            stale.mkdir()
            (stale / "study.dcm").write_bytes(b"partial")
            self.assertEqual(run_main(["--out", d, "--studies", "1", *_FAST])[0], 0)
            self.assertFalse(stale.exists())

    @parameterized.expand(
        [
            (["--studies", "0"], "--studies must be > 0"),
            (["--studies", "-3"], "--studies must be > 0"),
            (["--studies", "1", "--protocol", "nope"], "unknown value 'nope'"),
            (["--studies", "1", "--matrix", "100"], "unknown value '100'"),
            (["--studies", "1", "--pathology-mix", "normal=1,cyst=2"], "unknown pathology 'cyst'"),
            (["--studies", "1", "--age-min", "5", "--age-max", "2"], "ages must satisfy"),
        ]
    )
    def test_bad_arguments(self, extra, message):
        with tempfile.TemporaryDirectory() as d:
            rc, _, err = run_main(["--out", d, *extra])
            self.assertEqual(rc, 2)
            self.assertIn(message, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertEqual(list(Path(d).iterdir()), [])

    def test_unwritable_output(self):
        with tempfile.TemporaryDirectory() as d:
            blocker = Path(d) / "file"
            blocker.write_text("x")
            rc, _, err = run_main(["--out", str(blocker / "sub"), "--studies", "1", *_FAST])
            self.assertEqual(rc, 2)
            self.assertEqual(len(err.strip().splitlines()), 1)
            self.assertIn("not writable", err)

    def test_command_line_error_has_no_traceback(self):
        proc = subprocess.run([sys.executable, "-m", "scripts.simulate", "--out", "/nonexistent/x", "--studies", "0"],
                              cwd=_ROOT, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1)


class TestPreviewCommand(unittest.TestCase):
    def test_preview_png_per_study(self):
        with tempfile.TemporaryDirectory() as d:
            run_main(["--out", d, "--studies", "2", "--seed", "6", *_FAST])
            with contextlib.redirect_stdout(io.StringIO()):
                rc = preview_studies.main(["--studies", d, "--out", f"{d}/prev"])
            self.assertEqual(rc, 0)
            pngs = sorted(p.name for p in Path(d, "prev").iterdir())
            self.assertEqual(pngs, ["sim_s6_00000.png", "sim_s6_00001.png"])
            self.assertGreater(Path(d, "prev", pngs[0]).stat().st_size, 10_000)

    def test_missing_folder_is_one_line_error(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = preview_studies.main(["--studies", "/nonexistent/sim", "--out", tempfile.gettempdir()])
        self.assertEqual(rc, 2)
        self.assertEqual(len(err.getvalue().strip().splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
