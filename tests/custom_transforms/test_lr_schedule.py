# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.lr_schedule`: the learning rate after k epochs of each schedule."""

from __future__ import annotations

import unittest

import torch
from parameterized import parameterized

from custom_transforms.lr_schedule import create_lr_scheduler, lr_factor

# [schedule, warmup_epochs, max_epochs, epochs stepped, expected lr / base lr]
CASES = [
    ["cosine", 2, 10, 0, 1 / 3],
    ["cosine", 2, 10, 1, 2 / 3],
    ["cosine", 2, 10, 2, 1.0],
    ["cosine", 2, 10, 6, 0.5],
    ["cosine", 2, 10, 10, 0.0],
    ["cosine", 2, 10, 12, 0.0],
    ["cosine", 0, 4, 0, 1.0],
    ["cosine", 0, 4, 2, 0.5],
    ["constant", 0, 10, 0, 1.0],
    ["constant", 0, 10, 7, 1.0],
]


class TestLrSchedule(unittest.TestCase):
    @parameterized.expand(CASES)
    def test_lr_after_k_epochs(self, schedule, warmup, max_epochs, k, factor):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
        scheduler = create_lr_scheduler(opt, schedule, warmup, max_epochs)
        for _ in range(k):
            opt.step()
            scheduler.step()
        self.assertAlmostEqual(opt.param_groups[0]["lr"], 0.01 * factor, places=9)

    def test_state_saves_no_curve(self):  # the curve is rebuilt from the config on resume
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
        state = create_lr_scheduler(opt, "cosine", 2, 10).state_dict()
        self.assertEqual(state["lr_lambdas"], [None])

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "lr_schedule 'step' is not one of"):
            lr_factor("step", 0, 10)
        with self.assertRaisesRegex(ValueError, "warmup_epochs must be 0 or more"):
            lr_factor("cosine", -1, 10)


if __name__ == "__main__":
    unittest.main()
