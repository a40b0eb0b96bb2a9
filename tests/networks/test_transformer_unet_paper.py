# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared network checks for the registry's ``"transformer_unet_paper"``."""

from __future__ import annotations

import unittest

from tests.networks.network_tester import NetworkTester


class TestTransformerUNetPaper(NetworkTester, unittest.TestCase):
    name = "transformer_unet_paper"
    tiny = {
        "patch_size": 32,
        "hidden_size": 64,
        "num_layers": 2,
        "num_heads": 4,
        "mlp_dim": 128,
        "decoder_channels": (32, 16, 16, 8),
    }
    bad_kwargs = [{"num_heads": 5}, {"patch_size": 48}, {"skip_layers": (1, 9)}]
    nearest_size = 64  # patch_size 32
    overfit_lr = 2e-2
    # MONAI's TransformerBlock always builds a LayerNorm for cross-attention, used only when with_cross_attention=True
    unused_parameters = ("norm_cross_attn",)


if __name__ == "__main__":
    unittest.main()
