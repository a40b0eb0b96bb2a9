# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared network checks for the registry's ``"segresnet"``."""

from __future__ import annotations

import unittest

from tests.networks.network_tester import NetworkTester


class TestSegResNet(NetworkTester, unittest.TestCase):
    name = "segresnet"
    tiny = {}
    bad_kwargs = [{"init_filters": 0}]
    nearest_size = 72  # 3 downsamplings: multiples of 8, 72 is nearest to 70
    overfit_lr = 2e-2


if __name__ == "__main__":
    unittest.main()
