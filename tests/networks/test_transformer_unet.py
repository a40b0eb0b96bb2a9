# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared network checks for the registry's ``"transformer_unet"``."""

from __future__ import annotations

import unittest

from tests.networks.network_tester import NetworkTester


class TestTransformerUNet(NetworkTester, unittest.TestCase):
    name = "transformer_unet"
    tiny = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "mlp_dim": 128}
    bad_kwargs = [
        {"num_heads": 5},
        {"patch_size": 24},
        {"skip_source": "cnn"},
        {"preset": "tiny"},
        {"dropout_rate": 2.0},
    ]
    # MONAI's TransformerBlock always builds a LayerNorm for cross-attention, used only when with_cross_attention=True
    unused_parameters = ("norm_cross_attn",)


if __name__ == "__main__":
    unittest.main()
