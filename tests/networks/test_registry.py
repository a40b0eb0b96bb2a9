# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Registry contract: names, unknown-name error, bundle-style ``network_def`` construction."""

from __future__ import annotations

import unittest

import torch
from monai.bundle import ConfigParser

import networks

CONTRACT_NAMES = [
    "transformer_unet",
    "transformer_unet_paper",
    "fcn8s",
    "segnet",
    "deeplabv3plus",
    "unet",
    "segresnet",
    "unetr",
]


class TestRegistry(unittest.TestCase):
    def test_names(self) -> None:
        self.assertEqual(networks.available_networks(), CONTRACT_NAMES)
        self.assertEqual(list(networks.NETWORKS), CONTRACT_NAMES)

    def test_unknown_name_lists_valid_names(self) -> None:
        with self.assertRaises(ValueError) as ctx:
            networks.create_network("transunet")
        for name in CONTRACT_NAMES:
            self.assertIn(name, str(ctx.exception))

    def test_bad_img_size(self) -> None:
        for bad in ("384", 0, -64, [64], [64, 64, 64], True):
            with self.assertRaises(ValueError, msg=repr(bad)):
                networks.create_network("transformer_unet", img_size=bad, hidden_size=64, num_layers=1)

    def test_bundle_network_def(self) -> None:
        # the bundle's network_def with a list img_size, at the CI size with the tiny transformer
        parser = ConfigParser(
            {
                "network_def": {
                    "_target_": "networks.create_network",
                    "name": "transformer_unet",
                    "in_channels": 3,
                    "out_channels": 1,
                    "img_size": [64, 64],
                    "hidden_size": 64,
                    "num_layers": 2,
                }
            }
        )
        net = parser.get_parsed_content("network_def")
        self.assertIsInstance(net, networks.TransformerUNet)
        with torch.no_grad():
            self.assertEqual(tuple(net.eval()(torch.rand(1, 3, 64, 64)).shape), (1, 1, 64, 64))

    def test_paper_entry_is_the_paper_preset(self) -> None:
        net = networks.create_network(
            "transformer_unet_paper", img_size=384, hidden_size=64, num_layers=2, num_heads=4, mlp_dim=128
        )
        self.assertEqual(net.patch_size, 128)
        self.assertEqual(net.grid, (3, 3))  # the paper's 9 pieces
        self.assertEqual(net.skip_source, "transformer")
        self.assertEqual(tuple(net.position_embedding.shape), (1, 9, 64))


if __name__ == "__main__":
    unittest.main()
