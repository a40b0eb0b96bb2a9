# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for ``python -m scripts.renal_function``: bad studies, folders, masks and output folders.

Each case: the command's input -> exit code -> a fragment of the one error line, which names the user's file (never a
temporary copy) -> no half-written report and no temporary file left -> the inputs unchanged (checksums). A folder
with bad studies still gets a report for every good one and ``skipped.json`` listing the bad ones.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from scripts.renal_function import main
from tests.clinical.renal_fixtures import (
    HAVE_SIMULATOR,
    all_zero_copy,
    make_tiny_bundle,
    non_nm_copy,
    simulate,
    truncated_copy,
)
from tests.faults.harness import assert_fault, assert_no_leftovers, error_lines, run_main, run_module, tree_checksum

REPORT = ("report.json", "curves.csv", "report.png")

# name, arguments ({in}: inputs folder, {tmp}: scratch folder; --out is {out} unless given), exit code, fragment,
# the file the line must name, files that must exist under --out afterwards (None: --out must not exist),
# the inputs skipped.json must list (None: no skipped.json)
FAULT_CASES = [
    ("truncated_dicom", ["{in}/trunc.dcm"], 2, "pixel data cannot be decoded", "{in}/trunc.dcm", None, None),
    ("non_nm_dicom", ["{in}/nonnm.dcm"], 2, "not a nuclear-medicine image", "{in}/nonnm.dcm", None, None),
    ("missing_file", ["{in}/missing.dcm"], 2, "no such file", "{in}/missing.dcm", None, None),
    ("missing_file_among_several", ["{in}/good/study.dcm", "{in}/missing.dcm"], 2, "no such file",
     "{in}/missing.dcm", [f"good/{f}" for f in REPORT], ["{in}/missing.dcm"]),
    ("empty_folder", ["{in}/empty"], 2, "holds no study", "{in}/empty", None, None),
    ("folder_one_bad_two_good", ["{in}/mixed"], 2, "pixel data cannot be decoded", "{in}/mixed/a_bad.dcm",
     [f"{s}/{f}" for s in ("b_good", "c_good") for f in REPORT], ["{in}/mixed/a_bad.dcm"]),
    ("all_zero_study", ["{in}/zero.dcm"], 2, "holds no counts", "{in}/zero.dcm", None, None),
    ("bad_mask", ["{in}/good/study.dcm", "--mask", "{in}/badmask.png"], 2, "cannot read the mask as an image",
     "{in}/badmask.png", None, None),
    ("out_under_a_file", ["{in}/good/study.dcm", "--out", "{tmp}/afile/R"], 2, "afile is a file", "{tmp}/afile/R",
     None, None),
    ("out_is_a_file", ["{in}/good/study.dcm", "--out", "{tmp}/afile"], 2, "exists and is not a folder",
     "{tmp}/afile", None, None),
    ("out_contains_the_input", ["{in}/mixed", "--out", "{in}"], 2, "contains the input", "{in}", None, None),
    ("out_inside_the_input", ["{in}/mixed", "--out", "{in}/mixed/reports"], 2, "lies inside the input",
     "{in}/mixed/reports", None, None),
    ("on_error_stop", ["{in}/stop", "--on-error", "stop"], 2, "pixel data cannot be decoded", "{in}/stop/b_bad.dcm",
     [f"a_good/{f}" for f in REPORT], ["{in}/stop/b_bad.dcm", "{in}/stop/c_good.dcm"]),  # c: not attempted
]


@unittest.skipUnless(HAVE_SIMULATOR, "scripts.simulation not available")
class TestRenalFunctionFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = Path(tempfile.mkdtemp(prefix="renal_faults_"))
        cls.inputs = inp = cls.tmp / "inputs"
        good = simulate(inp, "good", 0) / "study.dcm"
        good2 = simulate(inp, "good2", 1) / "study.dcm"
        truncated_copy(good, inp / "trunc.dcm")
        non_nm_copy(good, inp / "nonnm.dcm")
        all_zero_copy(good, inp / "zero.dcm")
        (inp / "badmask.png").write_bytes(b"not a png")
        (inp / "empty").mkdir()
        layouts = {"mixed": {"a_bad": None, "b_good": good, "c_good": good2},
                   "stop": {"a_good": good, "b_bad": None, "c_good": good2}}
        for folder, studies in layouts.items():
            (inp / folder).mkdir()
            for name, src in studies.items():
                dest = inp / folder / f"{name}.dcm"
                truncated_copy(good, dest) if src is None else shutil.copy(src, dest)
        (cls.tmp / "afile").write_text("a file, not a folder\n")
        cls.bundle = make_tiny_bundle(cls.tmp / "bundle", record_rule=True)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def _fill(self, text: str, out: Path) -> str:
        return text.format(**{"in": self.inputs, "tmp": self.tmp, "out": out})

    @parameterized.expand(FAULT_CASES)
    def test_fault(self, name, args, code, fragment, named, created, skipped):
        out = self.tmp / "out" / name
        argv = [self._fill(a, out) for a in args]
        if "--out" not in argv:
            argv += ["--out", str(out)]
        out = Path(argv[argv.index("--out") + 1])
        before = tree_checksum(self.inputs)
        rc, _, err = run_main(main, [*argv, "--bundle-dir", str(self.bundle), "--quiet"])
        assert_fault(self, rc, err, code, fragment, self._fill(named, out))
        self.assertNotIn("renal_segment_", err)
        self.assertEqual(tree_checksum(self.inputs), before, "the inputs changed")
        if out != self.inputs:
            assert_no_leftovers(self, out)
        if created is None:
            if out.parent != self.tmp and out != self.inputs:
                self.assertFalse(out.exists(), f"{out} was created")
            return
        for rel in created:
            self.assertTrue((out / rel).is_file(), f"{rel} missing")
        done = {p.name for p in out.iterdir() if p.is_dir()}
        self.assertEqual(done, {rel.split("/")[0] for rel in created}, "report folders other than the good studies")
        listed = json.loads((out / "skipped.json").read_text(encoding="utf-8"))
        self.assertEqual([e["input"] for e in listed["skipped"]], [self._fill(s, out) for s in skipped])
        self.assertEqual(listed["command"], "renal_function")
        self.assertEqual(listed["done"], len(done))  # done counts the reports written, never studies not tried
        for entry in listed["skipped"]:
            if "not attempted (--on-error stop" not in entry["reason"]:
                self.assertIn(fragment, entry["reason"])

    def test_weights_that_do_not_fit_stop_the_batch_in_one_line(self):
        """Unfit weights fail every study alike: one line naming the weights, not every study listed as bad."""
        import torch

        bundle = self.tmp / "foreign_bundle"
        if not bundle.exists():
            shutil.copytree(self.bundle, bundle)
            torch.save({"conv.weight": torch.zeros(2, 2)}, bundle / "models" / "model.pt")
        out = self.tmp / "out" / "foreign_weights"
        before = tree_checksum(self.inputs)
        rc, _, err = run_main(main, [str(self.inputs / "mixed"), "--out", str(out), "--bundle-dir", str(bundle),
                                     "--quiet"])
        assert_fault(self, rc, err, 2, "weights do not fit network_def", bundle / "models" / "model.pt")
        self.assertEqual(tree_checksum(self.inputs), before)
        self.assertFalse(out.exists() and any(p.is_dir() for p in out.iterdir()), "a report was written")

    @unittest.skipIf(hasattr(os, "geteuid") and os.geteuid() == 0, "root may write into a read-only folder")
    def test_read_only_out(self):
        ro = self.tmp / "read_only"
        ro.mkdir(exist_ok=True)
        ro.chmod(0o555)
        try:
            rc, _, err = run_main(main, [str(self.inputs / "good" / "study.dcm"), "--out", str(ro / "R"),
                                         "--bundle-dir", str(self.bundle)])
            assert_fault(self, rc, err, 2, "is not writable", ro / "R")
            self.assertFalse((ro / "R").exists())
        finally:
            ro.chmod(0o755)

    def test_one_bad_file_as_a_process(self):
        """The issue's case: ``python -m scripts.renal_function BAD.dcm --out R`` is one line naming BAD.dcm."""
        out = self.tmp / "out" / "process_single"
        before = tree_checksum(self.inputs)
        proc = run_module("scripts.renal_function",
                          [self.inputs / "trunc.dcm", "--out", out, "--bundle-dir", self.bundle])
        assert_fault(self, proc.returncode, proc.stderr, 2, "pixel data cannot be decoded", self.inputs / "trunc.dcm")
        self.assertTrue(error_lines(proc.stderr)[0].startswith(f"renal_function: error: {self.inputs / 'trunc.dcm'}: "))
        self.assertNotIn("renal_segment_", proc.stderr)
        self.assertFalse(out.exists())
        self.assertEqual(tree_checksum(self.inputs), before)

    def test_folder_as_a_process_with_progress_bar(self):
        out = self.tmp / "out" / "process_folder"
        proc = run_module("scripts.renal_function", [self.inputs / "mixed", "--out", out, "--bundle-dir", self.bundle])
        assert_fault(self, proc.returncode, proc.stderr, 2, "pixel data cannot be decoded",
                     self.inputs / "mixed" / "a_bad.dcm")
        self.assertIn("%|", proc.stderr)  # the progress bar is on stderr ...
        self.assertIn("2 report(s)", proc.stdout)  # ... the results on stdout
        for study in ("b_good", "c_good"):
            self.assertTrue((out / study / "report.png").is_file())
        assert_no_leftovers(self, out)


if __name__ == "__main__":
    unittest.main()
