# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""``scripts.benchmark_report`` runs and reports every step (its figures are never asserted: not a timed test)."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path

from scripts.benchmark_report import STEPS, parse_args, run_benchmark
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, make_tiny_bundle, simulate


class TestBenchmarkReportArgs(unittest.TestCase):
    def test_defaults_and_bad_count(self):
        args = parse_args([])
        self.assertEqual((args.studies, args.threads, args.bundle_dir), (100, 1, "bundle"))
        with self.assertRaises(SystemExit):
            parse_args(["--studies", "0"])


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestRunBenchmark(unittest.TestCase):
    def test_every_step_is_timed_and_reports_written(self):
        tmp = Path(tempfile.mkdtemp(prefix="bench_report_"))
        try:
            studies = [simulate(tmp / "studies", f"s{i}", i) / "study.dcm" for i in range(2)]
            result = run_benchmark(studies, tmp / "out", make_tiny_bundle(tmp / "bundle"), threads=1)
            self.assertEqual(result["studies"], 2)
            self.assertEqual(set(result["steps"]), set(STEPS))
            for key in ("setup_s", "cohort_s", "per_study_with_setup_s", "per_study_s"):
                self.assertIn(key, result)
            self.assertTrue((tmp / "out" / "cohort.csv").is_file())
            self.assertTrue(all((tmp / "out" / f"s{i}" / "report.png").is_file() for i in range(2)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
