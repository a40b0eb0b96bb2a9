# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Reports are identical before and after the redesign: ``scripts.renal_function`` against stored ``report.json``
numbers of six fixed simulated studies (ground-truth masks, the tiny threshold-network bundle, the shipped model)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from tests.clinical.reference_studies import (
    REFERENCE_FILE,
    REFERENCE_SEED,
    REFERENCE_STUDIES,
    compare_reports,
    report_numbers,
    write_reference_studies,
)
from tests.clinical.renal_fixtures import HAVE_SIMULATOR, REPO, make_tiny_bundle

MODES = ("mask", "threshold_bundle", "model")


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestReferenceReports(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        from scripts.renal_function import main

        cls.expected = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
        cls.tmp = Path(tempfile.mkdtemp(prefix="reference_reports_"))
        cls.studies = write_reference_studies(cls.tmp / "studies")
        bundles = {"threshold_bundle": make_tiny_bundle(cls.tmp / "tiny_bundle"), "model": REPO / "bundle"}
        cls.rc: dict[str, int] = {}
        cls.errors: dict[str, str] = {}
        for mode in MODES:
            for sid, folder in cls.studies.items():
                args = [str(folder / "study.dcm"), "--out", str(cls.tmp / mode / sid)]
                if mode == "mask":
                    args += ["--mask", str(folder / "parenchyma.png")]
                else:
                    args += ["--bundle-dir", str(bundles[mode])]
                err = io.StringIO()
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                    cls.rc[f"{mode}/{sid}"] = main(args)
                cls.errors[f"{mode}/{sid}"] = err.getvalue()

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_reference_set_is_the_stored_one(self):
        self.assertEqual(self.expected["seed"], REFERENCE_SEED)
        self.assertEqual(self.expected["studies"], [list(s) for s in REFERENCE_STUDIES])
        pathologies = {s[3] for s in REFERENCE_STUDIES}
        self.assertTrue({"hydronephrosis", "reduced"} <= pathologies)

    @parameterized.expand([(mode, sid) for mode in MODES for sid, *_ in REFERENCE_STUDIES])
    def test_report_equals_stored(self, mode, sid):
        key = f"{mode}/{sid}"
        self.assertEqual(self.rc[key], 0, self.errors[key])
        report = json.loads((self.tmp / mode / sid / "report.json").read_text(encoding="utf-8"))
        diffs = compare_reports(self.expected[mode][sid], report_numbers(report))
        self.assertEqual(diffs, [], f"{key}: report differs from the stored reference")

    def test_compare_reports_sees_a_change(self):
        stored = self.expected["mask"]["normal64"]
        changed = json.loads(json.dumps(stored))
        changed["drf_percent"]["integral"]["left"] += 0.05
        changed["kidneys"]["left"]["flags"]["tmax_min"] = "abnormal"
        changed["warnings"].append("new")
        diffs = compare_reports(stored, changed)
        self.assertEqual(len(diffs), 3, diffs)
        rounded = json.loads(json.dumps(stored))
        rounded["kidneys"]["left"]["tmax_min"] = round(rounded["kidneys"]["left"]["tmax_min"] + 0.001, 3)
        self.assertEqual(compare_reports(stored, rounded), [])


if __name__ == "__main__":
    unittest.main()
