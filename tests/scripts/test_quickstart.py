# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""scripts.quickstart, the README's main job, end to end on a tiny budget."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]


class TestQuickstart(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="quickstart_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_bad_budget_is_a_one_line_error(self):
        proc = subprocess.run([sys.executable, "-m", "scripts.quickstart", "--epochs", "0", "--out", str(self.tmp / "o")],
                              cwd=REPO_ROOT, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--epochs", proc.stderr)
        self.assertFalse((self.tmp / "o").exists())

    def test_a_step_that_skipped_some_inputs_does_not_stop_the_quick_start(self):
        from scripts import quickstart

        skip_list = self.tmp / "skipped.json"
        partial = [sys.executable, "-c", f"import json, sys; open({str(skip_list)!r}, 'w').write(json.dumps("
                   "{'skipped': [{'input': 'a.dcm', 'reason': 'a.dcm: truncated'}]})); sys.exit(2)"]
        log = self.tmp / "log.txt"
        quickstart._run(partial, log, skip_list=skip_list)  # exit 2 with its skip list: go on with the good inputs
        with self.assertRaises(SystemExit):
            quickstart._run(partial, log)  # a step that gave no skip list failed
        skip_list.unlink()
        with self.assertRaises(SystemExit):
            quickstart._run([sys.executable, "-c", "import sys; sys.exit(2)"], log, skip_list=skip_list)

    @pytest.mark.slow  # simulates 10 studies, trains one epoch, evaluates, infers and reports (~1-2 min on 2 cores)
    def test_tiny_run_writes_every_output(self):
        out, sim = self.tmp / "out", self.tmp / "sim"
        proc = subprocess.run(
            [sys.executable, "-m", "scripts.quickstart", "--out", str(out), "--studies-dir", str(sim), "--studies", "10",
             "--epochs", "1", "--infer-limit", "1"],
            cwd=REPO_ROOT, capture_output=True, text=True,
        )
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:] + proc.stderr[-2000:])
        self.assertTrue((sim / "studies.csv").is_file())
        self.assertTrue((out / "dataset" / "datalist.json").is_file())
        self.assertTrue((out / "models" / "model.pt").is_file())
        summary = json.loads((out / "eval" / "summary.json").read_text())
        for key in ("network_dice", "native_dice", "network_precision", "network_recall", "network_jaccard"):
            self.assertIn(key, summary["mean"])
        test_id = json.loads((out / "dataset" / "splits.json").read_text())["test"][0]
        mask = np.asarray(Image.open(out / "inference" / f"{test_id}_mask.png"))
        ds = pydicom.dcmread(sim / test_id / "study.dcm", stop_before_pixels=True)
        self.assertEqual(mask.shape, (int(ds.Rows), int(ds.Columns)))  # on the study's native matrix
        self.assertTrue((out / "inference" / f"{test_id}_overlay.png").is_file())
        if (REPO_ROOT / "bundle" / "models" / "model.pt").is_file():  # fine-tuned shipped weights find the kidneys
            report = json.loads((out / "report" / test_id / "report.json").read_text())
            self.assertIn("drf_percent", report)
            self.assertTrue((out / "report" / test_id / "report.png").is_file())
        self.assertIn("Outputs in", proc.stdout)


if __name__ == "__main__":
    unittest.main()
