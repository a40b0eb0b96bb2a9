# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.handlers`: the non-finite-loss stop names the config id, epoch and files."""

from __future__ import annotations

import unittest
from types import SimpleNamespace

import torch
from parameterized import parameterized

from custom_transforms.handlers import StopOnNonFiniteLoss


class TestStopOnNonFiniteLoss(unittest.TestCase):
    def _engine(self, loss):
        batch = [{"image": SimpleNamespace(meta={"filename_or_obj": "/d/a.png"})}]
        return SimpleNamespace(state=SimpleNamespace(output=[{"loss": loss}], batch=batch, epoch=3, iteration=7))

    def test_finite_loss_passes(self):
        StopOnNonFiniteLoss()(self._engine(torch.tensor(0.3)))

    @parameterized.expand([["nan", float("nan")], ["inf", float("inf")]])
    def test_non_finite_loss_raises_with_id_and_files(self, _, value):
        with self.assertRaisesRegex(FloatingPointError, r"train#loss: .* epoch 3, iteration 7 \(batch: /d/a.png\)"):
            StopOnNonFiniteLoss("train#loss")(self._engine(torch.tensor(value)))

if __name__ == "__main__":
    unittest.main()
