# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared network checks for the registry's ``"unet"``."""

from __future__ import annotations

import unittest

from tests.networks.network_tester import NetworkTester


class TestUNet(NetworkTester, unittest.TestCase):
    name = "unet"
    tiny = {}
    bad_kwargs = [{"channels": (16, 32)}]

    overfit_lr = 2e-2


if __name__ == "__main__":
    unittest.main()
