# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.summary`: summary.json, metrics_per_image.csv and subgroups.md from the buffers."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import unittest
from pathlib import Path
from types import SimpleNamespace

import torch
from parameterized import parameterized

from custom_transforms.summary import write_summary


def _engine(buffer: torch.Tensor) -> SimpleNamespace:
    return SimpleNamespace(state=SimpleNamespace(metric_details={"val_precision": buffer}, metrics={"x": 0.5}))


class TestSummary(unittest.TestCase):
    def test_summary_excludes_nan_from_means_and_writes_csv(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp, True)
        buf = torch.tensor([[[4.0, 0, 12, 0]], [[0.0, 0, 16, 0]], [[2.0, 2, 10, 2]]])  # (N, C, 4)
        engine = SimpleNamespace(state=SimpleNamespace(metric_details={"val_precision": buf}, metrics={"x": 0.5}))
        items = [{"image": f"i{k}.png", "study": f"s{k}"} for k in range(3)]
        summary = write_summary(engine, tmp / "summary.json", items, grids={"network": "val_precision"}, net="n")
        self.assertAlmostEqual(summary["mean"]["network_dice"], 0.75)  # (1 + 0.5) / 2, the empty/empty case skipped
        self.assertEqual(summary["n_nan"]["network_dice"], 1)
        on_disk = json.loads((tmp / "summary.json").read_text())
        self.assertEqual(on_disk["info"], {"net": "n"})
        lines = (tmp / "metrics_per_image.csv").read_text().splitlines()
        self.assertEqual(len(lines), 4)
        self.assertTrue(lines[0].startswith("image,study,network_dice"))

    def test_summary_refuses_misaligned_items(self):
        engine = SimpleNamespace(state=SimpleNamespace(metric_details={"val_precision": torch.zeros(2, 1, 4)},
                                                       metrics={}))
        with self.assertRaisesRegex(ValueError, "2 confusion rows for 1 datalist items"):
            write_summary(engine, Path(tempfile.mkdtemp()) / "s.json", [{"image": "a"}])

    @parameterized.expand([["umask_022", 0o022, 0o644], ["umask_002", 0o002, 0o664]])
    def test_files_have_umask_permissions_in_a_new_folder(self, _, umask, mode):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp, True)
        old = os.umask(umask)
        try:
            write_summary(_engine(torch.tensor([[[4.0, 0, 12, 0]]])), tmp / "eval" / "summary.json", [{"image": "a"}])
        finally:
            os.umask(old)
        names = ["metrics_per_image.csv", "subgroups.md", "summary.json"]
        for name in names:
            self.assertEqual(stat.S_IMODE((tmp / "eval" / name).stat().st_mode), mode, name)
        self.assertEqual(sorted(p.name for p in (tmp / "eval").iterdir()), names)


if __name__ == "__main__":
    unittest.main()
