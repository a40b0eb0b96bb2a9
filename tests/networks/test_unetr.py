# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared network checks for the registry's ``"unetr"``."""

from __future__ import annotations

import unittest

import pytest

from tests.networks.network_tester import NetworkTester


class TestUNETR(NetworkTester, unittest.TestCase):
    name = "unetr"
    tiny = {"hidden_size": 96, "mlp_dim": 192, "num_heads": 4, "feature_size": 8}
    bad_kwargs = [{"num_heads": 5}, {"img_size": 72}, {"dropout_rate": 1.5}]
    # MONAI's TransformerBlock always builds a LayerNorm for cross-attention, used only when with_cross_attention=True
    unused_parameters = ("norm_cross_attn",)

    @pytest.mark.slow  # scripting MONAI's 12-block UNETR takes ~10 s on 2 cores
    def test_export_equals_eager(self) -> None:
        super().test_export_equals_eager()


if __name__ == "__main__":
    unittest.main()
