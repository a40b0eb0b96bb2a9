# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fault injection for ``python -m scripts.compare_networks``.

The comparison deletes and retrains every unfinished ``RESULTS/runs/<run>/``. Each case: an ``--out`` that is,
contains or lies inside ``--dataset`` or ``--bundle``, or a ``runs/<run>`` folder the comparison did not write ->
exit code 2 -> one line naming the folder -> no worker started, nothing written -> the inputs unchanged by checksum.
Also the permissions of the run files (``spec.json``, ``done.json``, tables: were ``0600``), and runs evaluated on
different test images (the paired test against ``transformer_unet`` matches images by id): exit code 2, one line
naming both runs, no table written.

No training: a worker start is an error in every case (``subprocess.run`` is replaced), or a stand-in writes a
finished run's files (``FakeWorker``).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from parameterized import parameterized

import scripts.compare_networks as cli
from scripts.comparison.spec import atomic_write_json, atomic_write_text, run_name
from tests.faults.harness import REPO_ROOT, assert_fault, assert_no_leftovers, run_main, tree_checksum
from tests.scripts.test_compare_networks import TEST_IMAGES, TINY_KWARGS, FakeWorker, make_dataset

_TINY = ["--networks", "unet", "--augment", "off", "--image-size", "32", "--epochs", "1", "--no-benchmark", "--quiet"]

# (case, --dataset, --bundle, --out (relative to the temporary root), fragment, named input)
OVERLAP_CASES = [
    ("out_is_the_dataset", "ds", "bundle", "ds", "--out is the input", "ds"),
    ("out_inside_the_dataset", "ds", "bundle", "ds/images/results", "--out lies inside the input", "ds"),
    ("out_contains_the_dataset", "top/ds", "bundle", "top", "--out contains the input", "top/ds"),
    # the bundle's inputs are its configs and weights (results may be written under bundle/docs/results)
    ("out_is_the_bundle", "ds", "bundle", "bundle", "--out contains the input", "bundle/configs"),
    ("out_inside_the_configs", "ds", "bundle", "bundle/configs/results", "--out lies inside the input", "bundle/configs"),
]


class TestComparisonFaults(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        patcher = mock.patch.object(cli.subprocess, "run", side_effect=AssertionError("a worker was started"))
        self.worker = patcher.start()
        self.addCleanup(patcher.stop)

    def tearDown(self):
        self.tmp.cleanup()

    def inputs(self, dataset_rel: str, bundle_rel: str) -> tuple[Path, Path]:
        dataset = make_dataset(self.root / dataset_rel, counts=(1, 1, 1), size=16)
        bundle = self.root / bundle_rel
        shutil.copytree(REPO_ROOT / "bundle" / "configs", bundle / "configs")
        (bundle / "docs").mkdir()
        return dataset, bundle

    @parameterized.expand(OVERLAP_CASES)
    def test_out_overlapping_an_input(self, _name, dataset_rel, bundle_rel, out_rel, fragment, named):
        dataset, bundle = self.inputs(dataset_rel, bundle_rel)
        before = tree_checksum(self.root)
        argv = ["--dataset", str(dataset), "--bundle", str(bundle), "--out", str(self.root / out_rel), *_TINY]
        code, _, err = run_main(cli.main, argv)
        assert_fault(self, code, err, 2, fragment, named_file=self.root / named)
        self.worker.assert_not_called()
        self.assertEqual(tree_checksum(self.root), before)
        assert_no_leftovers(self, self.root)

    @parameterized.expand([("plain", []), ("retrain", ["--retrain"])])
    def test_run_folder_it_did_not_write_is_never_deleted(self, _name, extra):
        dataset, bundle = self.inputs("ds", "bundle")
        out = self.root / "results"
        foreign = out / "runs" / run_name("unet", False, 0)
        foreign.mkdir(parents=True)
        (foreign / "my_notes.txt").write_text("a training run of mine, same name by chance")
        before = tree_checksum(self.root)
        argv = ["--dataset", str(dataset), "--bundle", str(bundle), "--out", str(out), *_TINY, *extra]
        code, _, err = run_main(cli.main, argv)
        assert_fault(self, code, err, 2, "not a comparison run folder (no spec.json)", named_file=foreign)
        self.worker.assert_not_called()
        self.assertEqual(tree_checksum(self.root), before)

    def test_out_under_a_file(self):
        dataset, bundle = self.inputs("ds", "bundle")
        (self.root / "notes.txt").write_text("precious")
        out = self.root / "notes.txt" / "results"
        argv = ["--dataset", str(dataset), "--bundle", str(bundle), "--out", str(out), *_TINY]
        code, _, err = run_main(cli.main, argv)
        assert_fault(self, code, err, 2, "is a file", named_file=self.root / "notes.txt")
        self.assertEqual((self.root / "notes.txt").read_text(), "precious")


class TestRunFilePermissions(unittest.TestCase):
    @parameterized.expand([(0o022, 0o644), (0o002, 0o664)])
    def test_run_files_have_umask_permissions(self, umask, file_mode):
        old = os.umask(umask)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                atomic_write_json(Path(tmp) / "done.json", {"epochs": 1, "dice": float("nan")})  # NaN kept, as before
                atomic_write_text(Path(tmp) / "table.md", "| a |\n")
                for name in ("done.json", "table.md"):
                    self.assertEqual(stat.S_IMODE((Path(tmp) / name).stat().st_mode), file_mode, name)
                self.assertIn("NaN", (Path(tmp) / "done.json").read_text())
        finally:
            os.umask(old)


class TestDifferentTestSets(unittest.TestCase):
    def test_runs_on_other_test_images_are_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            dataset = make_dataset(Path(tmp) / "ds", counts=(1, 1, 1), size=16)
            out = Path(tmp) / "results"
            worker = FakeWorker(
                {("unet", None): 0.8, ("transformer_unet", None): 0.8},
                {"unet": 60.0, "transformer_unet": 60.0},
                images={"unet": [*TEST_IMAGES[:-1], "from_another_split.png"]},
            )
            argv = ["--dataset", str(dataset), "--out", str(out), "--networks", "transformer_unet", "unet",
                    *TINY_KWARGS, "--image-size", "64", "--epochs", "1", "--augment", "off", "--no-benchmark",
                    "--quiet"]
            for extra in ([], ["--report-only"]):
                with mock.patch.object(cli.subprocess, "run", side_effect=worker):
                    code, _, err = run_main(cli.main, [*argv, *extra])
                assert_fault(self, code, err, 2, "were evaluated on different test images",
                             named_file=out / "runs" / "unet__noaug__seed0")
                self.assertIn("transformer_unet__noaug__seed0", err)
                self.assertFalse((out / "table.csv").exists(), "no table from unpaired runs")
            self.assertEqual(len(worker.specs), 2, "trained once, then read back")


class TestFinishedRunFilesLost(unittest.TestCase):
    @parameterized.expand([("summary_missing", "summary.json", None, "cannot be read"),
                           ("summary_damaged", "summary.json", "{not json", "Expecting property name"),
                           ("per_image_empty", "metrics_per_image.csv", "", "has no rows")])
    def test_report_only_names_the_lost_file(self, _name, filename, content, fragment):
        with tempfile.TemporaryDirectory() as tmp:
            dataset = make_dataset(Path(tmp) / "ds", counts=(1, 1, 1), size=16)
            out = Path(tmp) / "results"
            worker = FakeWorker({("unet", None): 0.8, ("transformer_unet", None): 0.8},
                                {"unet": 60.0, "transformer_unet": 60.0})
            argv = ["--dataset", str(dataset), "--out", str(out), "--networks", "transformer_unet", "unet",
                    *TINY_KWARGS, "--image-size", "64", "--epochs", "1", "--augment", "off", "--no-benchmark",
                    "--quiet"]
            with mock.patch.object(cli.subprocess, "run", side_effect=worker):
                self.assertEqual(run_main(cli.main, argv)[0], 0)
            table = (out / "table.csv").read_bytes()
            lost = out / "runs" / "unet__noaug__seed0" / "eval" / filename
            if content is None:
                lost.unlink()
            else:
                lost.write_text(content)
            code, _, err = run_main(cli.main, [*argv, "--report-only"])
            assert_fault(self, code, err, 2, fragment, named_file=lost)
            self.assertEqual((out / "table.csv").read_bytes(), table, "the earlier table is kept")

if __name__ == "__main__":
    unittest.main()
