# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared network checks for the registry's ``"segnet"``."""

from __future__ import annotations

import unittest

from tests.networks.network_tester import NetworkTester


class TestSegNet(NetworkTester, unittest.TestCase):
    name = "segnet"
    tiny = {"width": 8}
    bad_kwargs = [{"width": 0}, {"depths": (2, 2, 3)}]


if __name__ == "__main__":
    unittest.main()
