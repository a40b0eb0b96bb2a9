# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared network checks for the registry's ``"fcn8s"``."""

from __future__ import annotations

import unittest

from tests.networks.network_tester import NetworkTester


class TestFCN8s(NetworkTester, unittest.TestCase):
    name = "fcn8s"
    tiny = {"width": 8, "fc_channels": 64}
    bad_kwargs = [{"fc_kernel_size": 4}, {"dropout_rate": -0.1}, {"in_channels": 0}]


if __name__ == "__main__":
    unittest.main()
