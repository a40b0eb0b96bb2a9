# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared network checks for the registry's ``"deeplabv3plus"``."""

from __future__ import annotations

import unittest

from tests.networks.network_tester import NetworkTester


class TestDeepLabV3Plus(NetworkTester, unittest.TestCase):
    name = "deeplabv3plus"
    tiny = {"width": 8, "aspp_channels": 32}
    bad_kwargs = [{"layers": (1, 1, 1)}, {"dropout_rate": 1.5}, {"aspp_rates": (0, 6, 12)}]


if __name__ == "__main__":
    unittest.main()
