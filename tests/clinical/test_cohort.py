# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The batch's cohort table and summary: ``cohort.csv`` rows and columns against the per-study ``report.json`` files,
``cohort.png`` opens; a failing cohort write leaves no partial file."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from PIL import Image

from scripts.clinical.cohort import COHORT_COLUMNS, KIDNEY_COLUMNS, WARNING_SEPARATOR, cohort_row
from scripts.renal_function import main
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, make_tiny_bundle, simulate, truncated_copy


def run_cli(*args) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, err.getvalue()


def _cell(value) -> str:
    return "" if value is None else ("true" if value is True else "false" if value is False else str(value))


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestCohort(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="renal_cohort_"))
        cls.studies = cls.tmp / "studies"
        for i, (name, pathology) in enumerate((("a_normal", "normal"), ("b_reduced", "reduced"))):
            simulate(cls.studies, name, i, pathology)
        truncated_copy(cls.studies / "a_normal" / "study.dcm", cls.studies / "c_bad.dcm")
        cls.bundle = make_tiny_bundle(cls.tmp / "bundle")
        cls.out = cls.tmp / "reports"
        cls.rc, cls.err = run_cli(cls.studies, "--out", cls.out, "--bundle-dir", cls.bundle, "--quiet")
        with open(cls.out / "cohort.csv", newline="") as fh:
            cls.rows = list(csv.DictReader(fh))
        with open(cls.out / "cohort.csv", newline="") as fh:
            cls.header = next(csv.reader(fh))

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_one_row_per_reported_study(self):
        self.assertEqual(self.rc, 2, self.err)  # the truncated study is skipped
        self.assertEqual(self.header, list(COHORT_COLUMNS))
        self.assertEqual([r["study_id"] for r in self.rows], ["a_normal", "b_reduced"])
        self.assertEqual([r["source"] for r in self.rows],
                         [str(self.studies / s / "study.dcm") for s in ("a_normal", "b_reduced")])
        skipped = json.loads((self.out / "skipped.json").read_text())
        self.assertEqual([e["input"] for e in skipped["skipped"]], [str(self.studies / "c_bad.dcm")])

    def test_rows_hold_the_report_numbers_and_flags(self):
        for row in self.rows:
            rep = json.loads((self.out / row["study_id"] / "report.json").read_text())
            for method in ("integral", "patlak", "parenchyma_integral"):
                for side in ("left", "right"):
                    self.assertEqual(row[f"drf_{method}_{side}"], _cell(rep["drf_percent"][method][side]))
            for side in ("left", "right"):
                kidney = rep["kidneys"][side]
                for name in KIDNEY_COLUMNS:
                    self.assertEqual(row[f"{side}_{name}"], _cell(kidney.get(name)), f"{side}_{name}")
                for name, flag in kidney.get("flags", {}).items():
                    self.assertEqual(row[f"{side}_flag_{name}"], flag)
            self.assertEqual(row["tracer"], rep["study"]["tracer"])
            self.assertEqual(int(row["n_warnings"]), len(rep["warnings"]))
            self.assertEqual(row["warnings"].split(WARNING_SEPARATOR) if row["warnings"] else [], rep["warnings"])

    def test_summary_png_opens(self):
        with Image.open(self.out / "cohort.png") as im:
            im.verify()
        with Image.open(self.out / "cohort.png") as im:
            self.assertGreater(min(im.size), 300)

    def test_single_study_writes_no_cohort(self):
        out = self.tmp / "single"
        rc, err = run_cli(self.studies / "a_normal" / "study.dcm", "--out", out, "--bundle-dir", self.bundle)
        self.assertEqual(rc, 0, err)
        self.assertFalse((out / "cohort.csv").exists())

    def test_missing_kidney_gives_empty_cells_and_na_flags(self):
        rep = json.loads((self.out / "a_normal" / "report.json").read_text())
        rep["kidneys"]["right"] = {"found": False, "drf_integral_percent": 0.0, "drf_patlak_percent": 0.0}
        row = cohort_row("x", "x.dcm", rep)
        self.assertIsNone(row["right_tmax_min"])
        self.assertEqual(row["right_flag_tmax_min"], "n/a")
        self.assertFalse(row["right_found"])

    def test_failed_cohort_write_is_one_line_and_leaves_no_partial_file(self):
        out = self.tmp / "failing"
        with mock.patch("scripts.clinical.cohort.render_cohort_png", side_effect=OSError("disk full")):
            rc, err = run_cli(self.studies / "a_normal" / "study.dcm", self.studies / "b_reduced" / "study.dcm",
                              "--out", out, "--bundle-dir", self.bundle, "--quiet")
        self.assertEqual(rc, 2)
        self.assertEqual(err, f"renal_function: error: {out}: cannot write the cohort table (disk full)\n")
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["a_normal", "b_reduced"])


if __name__ == "__main__":
    unittest.main()
