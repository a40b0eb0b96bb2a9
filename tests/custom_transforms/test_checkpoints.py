# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.checkpoints`: latest and final epoch checkpoints, strict fit check."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path

import torch

from custom_transforms.checkpoints import check_checkpoint, keep_final_checkpoint, latest_epoch_checkpoint
from custom_transforms.errors import RenogramInputError


class TestEpochCheckpoints(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="checkpoints_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_latest_and_final_checkpoint(self):
        self.assertEqual(latest_epoch_checkpoint(self.tmp), "")
        self.assertEqual(keep_final_checkpoint(self.tmp), "")
        for epoch in (2, 10, 9):
            torch.save({"epoch": epoch}, self.tmp / f"checkpoint_epoch={epoch}.pt")
        self.assertEqual(Path(latest_epoch_checkpoint(self.tmp)).name, "checkpoint_epoch=10.pt")  # numeric order
        final = keep_final_checkpoint(self.tmp)
        self.assertEqual(torch.load(final)["epoch"], 10)
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir()), ["checkpoint_final.pt"])


class TestCheckCheckpoint(unittest.TestCase):
    def test_fitting_foreign_missing_and_broken_checkpoints(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp, True)
        net = torch.nn.Conv2d(3, 1, 1)
        torch.save(net.state_dict(), tmp / "ok.pt")
        check_checkpoint(tmp / "ok.pt", net)
        torch.save({"model": net.state_dict()}, tmp / "wrapped.pt")
        check_checkpoint(tmp / "wrapped.pt", net)
        torch.save(torch.nn.Conv2d(1, 1, 1).state_dict(), tmp / "other.pt")
        with self.assertRaisesRegex(RenogramInputError, r"other.pt: weights do not fit network_def .* 1 shape-mism"):
            check_checkpoint(tmp / "other.pt", net)
        with self.assertRaisesRegex(RenogramInputError, "missing.pt: no trained weights for network_def"):
            check_checkpoint(tmp / "missing.pt", net)
        (tmp / "broken.pt").write_bytes(b"not a checkpoint")
        with self.assertRaisesRegex(RenogramInputError, "broken.pt: cannot be read"):
            check_checkpoint(tmp / "broken.pt", net)

if __name__ == "__main__":
    unittest.main()
