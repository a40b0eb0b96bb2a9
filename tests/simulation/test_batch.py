# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`scripts.simulation.batch`, the one batch writer behind ``scripts.simulate`` and
``scripts.validate_renal_function --simulate``."""

from __future__ import annotations

import contextlib
import io
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from scripts.simulation.batch import SimulationOptions, parse_choices, prepare_output, simulate_studies
from scripts.simulation.writer import STUDY_FILES
from tests.simulation.test_commands import run_main


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class TestBatch(unittest.TestCase):
    def test_library_writes_what_the_command_writes(self):
        with tempfile.TemporaryDirectory() as d:
            cli, lib = Path(d, "cli"), Path(d, "lib")
            rc, out, _ = run_main(["--out", str(cli), "--studies", "2", "--seed", "3", "--start-index", "4",
                                   "--matrix", "64", "--protocol", "quick39", "--no-progress"])
            self.assertEqual(rc, 0)
            prepare_output(lib)
            run = simulate_studies(SimulationOptions(out=str(lib), seed=3, protocols=("quick39",), matrices=(64,)),
                                   range(4, 6), progress=False)
            self.assertEqual((run.written, run.kept, run.table), (2, 0, lib / "studies.csv"))
            self.assertEqual(_files(cli), _files(lib))
            self.assertEqual(sorted(_files(lib / "sim_s3_00004")), sorted(STUDY_FILES))
            self.assertIn("simulated 2 studies", out)
            again = simulate_studies(SimulationOptions(out=str(lib), seed=3, protocols=("quick39",), matrices=(64,)),
                                     range(4, 6), progress=False)
            self.assertEqual((again.written, again.kept), (0, 2))
            self.assertIn("kept 2 existing", again.summary())

    @parameterized.expand([
        ["empty", " , ", "--protocol is empty"],
        ["unknown", "quick39,nope", "--protocol: unknown value 'nope'"],
    ])
    def test_parse_choices_refuses(self, _, text, message):
        with self.assertRaisesRegex(ValueError, message):
            parse_choices(text, ["quick39", "paper136"], "protocol")

    def test_parse_choices_casts(self):
        self.assertEqual(parse_choices("64, 128", [64, 128], "matrix", int), [64, 128])
        with self.assertRaisesRegex(ValueError, "--matrix: 'x' is not valid"):
            parse_choices("x", [64, 128], "matrix", int)

    def test_prepare_output_refuses_a_file(self):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "f").write_text("x")
            with self.assertRaisesRegex(OSError, "f: exists and is not a folder"):
                prepare_output(Path(d, "f"))


class TestValidateSimulates(unittest.TestCase):
    def test_validate_simulates_what_the_simulate_command_writes(self):
        from scripts.validate_renal_function import main

        with tempfile.TemporaryDirectory() as d:
            run_main(["--out", str(Path(d, "cli")), "--studies", "1", "--seed", "7", "--protocol", "quick39",
                      "--no-progress"])
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = main(["--studies", str(Path(d, "val")), "--simulate", "1", "--seed", "7", "--protocol",
                           "quick39", "--out", str(Path(d, "res"))])
            self.assertEqual(rc, 0)
            self.assertEqual(_files(Path(d, "cli")), _files(Path(d, "val")))
            self.assertIn("simulated 1 studies", out.getvalue())
            self.assertTrue(Path(d, "res", "summary.json").is_file())

    def test_validate_bad_protocol_is_one_line(self):
        from scripts.validate_renal_function import main

        with tempfile.TemporaryDirectory() as d:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                rc = main(["--studies", str(Path(d, "val")), "--simulate", "1", "--protocol", "nope", "--out",
                           str(Path(d, "res"))])
            self.assertEqual(rc, 2)
            self.assertEqual(len(err.getvalue().strip().splitlines()), 1, err.getvalue())
            self.assertIn("--protocol: unknown value 'nope'", err.getvalue())
            self.assertFalse(Path(d, "val").exists())


if __name__ == "__main__":
    unittest.main()
