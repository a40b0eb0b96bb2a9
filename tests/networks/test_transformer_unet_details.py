# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""TransformerUNet specifics: presets, global attention over every token, position-table handling, logits fixture."""

from __future__ import annotations

import os
import unittest
from pathlib import Path

import torch
from monai.networks import eval_mode

from networks import PRESETS, TransformerUNet

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "networks" / "transformer_unet_tiny_logits.pt"
#: tiny configuration of the default design (conv skips, patch 32) stored in the fixture
FIXTURE_CONFIG = {
    "in_channels": 3,
    "out_channels": 2,
    "img_size": 64,
    "encoder_channels": (4, 4, 8, 8),
    "hidden_size": 16,
    "num_layers": 1,
    "num_heads": 2,
    "mlp_dim": 32,
    "decoder_channels": (8, 8, 4, 4),
}


def make_fixture(path: Path = FIXTURE) -> None:
    """(Re)write the fixture: seeded tiny model weights, a seeded input and the eager logits."""
    torch.manual_seed(0)
    net = TransformerUNet(**FIXTURE_CONFIG).eval()
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = net(x)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": FIXTURE_CONFIG, "state_dict": net.state_dict(), "input": x, "output": y}, path)


class TestTransformerUNet(unittest.TestCase):
    def test_default_preset_values(self) -> None:
        net = TransformerUNet(img_size=384)
        self.assertEqual(net.config, PRESETS["default"])
        self.assertEqual(net.grid, (12, 12))
        self.assertEqual(tuple(net.position_embedding.shape), (1, 144, 192))
        self.assertEqual(len(net.transformer.blocks), 4)

    def test_img_size_forms(self) -> None:
        a = TransformerUNet(img_size=(64, 96), hidden_size=32, num_layers=1)
        self.assertEqual(a.grid, (2, 3))
        with eval_mode(a), torch.no_grad():
            self.assertEqual(tuple(a(torch.rand(1, 3, 64, 96)).shape), (1, 1, 64, 96))
        with self.assertRaises(ValueError) as ctx:
            TransformerUNet(img_size=100, hidden_size=32, num_layers=1)
        self.assertIn("(96, 96)", str(ctx.exception))

    def test_attention_is_global(self) -> None:
        # changing one corner pixel changes the logits in the opposite corner through the token mixing, even with the
        # conv stem's local receptive field: attention spans all tokens
        torch.manual_seed(0)
        net = TransformerUNet(img_size=128, hidden_size=32, num_layers=1, num_heads=2, mlp_dim=64).eval()
        x = torch.rand(1, 3, 128, 128)
        x2 = x.clone()
        x2[..., :8, :8] += 1.0
        with torch.no_grad():
            d = (net(x) - net(x2))[..., -16:, -16:].abs().max()
        self.assertGreater(float(d), 0.0)

    def test_other_sizes_interpolate_position_table(self) -> None:
        torch.manual_seed(0)
        net = TransformerUNet(img_size=64, hidden_size=32, num_layers=1, num_heads=2, mlp_dim=64).eval()
        pos = net.interpolate_position_embedding(4, 4)
        self.assertEqual(tuple(pos.shape), (1, 16, 32))
        self.assertIs(net.interpolate_position_embedding(2, 2), net.position_embedding)
        with torch.no_grad():
            self.assertEqual(tuple(net(torch.rand(1, 3, 128, 96)).shape), (1, 1, 128, 96))
            self.assertEqual(tuple(torch.jit.script(net)(torch.rand(1, 3, 128, 96)).shape), (1, 1, 128, 96))

    def test_encode_decode_and_hidden_states(self) -> None:
        net = TransformerUNet(img_size=64, hidden_size=32, num_layers=3, num_heads=2, mlp_dim=64).eval()
        with torch.no_grad():
            bottleneck, skips, hidden = net.encode(torch.rand(1, 3, 64, 64))
            self.assertEqual(tuple(bottleneck.shape), (1, 32, 2, 2))
            self.assertEqual([tuple(s.shape[2:]) for s in skips], [(4, 4), (8, 8), (16, 16), (32, 32)])
            self.assertEqual(len(hidden), 3)
            self.assertEqual(tuple(net.decode(bottleneck, skips, [64, 64]).shape), (1, 1, 64, 64))

    def test_transformer_skips_taps(self) -> None:
        net = TransformerUNet(
            img_size=64,
            skip_source="transformer",
            patch_size=16,
            hidden_size=32,
            num_layers=4,
            num_heads=2,
            mlp_dim=64,
            skip_layers=(4, 2),
        )
        self.assertEqual(net.skip_taps, [3, 1])
        with eval_mode(net), torch.no_grad():
            _, skips, _ = net.encode(torch.rand(1, 3, 64, 64))
        self.assertEqual([tuple(s.shape[2:]) for s in skips], [(8, 8), (16, 16)])

    def test_convs_per_stage(self) -> None:
        one = TransformerUNet(img_size=64, hidden_size=32, num_layers=1, convs_per_stage=1)
        two = TransformerUNet(img_size=64, hidden_size=32, num_layers=1, convs_per_stage=2)
        self.assertGreater(sum(p.numel() for p in two.parameters()), sum(p.numel() for p in one.parameters()))
        with self.assertRaises(ValueError):
            TransformerUNet(img_size=64, convs_per_stage=3)

    def test_logits_fixture(self) -> None:
        if os.environ.get("REGENERATE_NETWORK_FIXTURES") == "1":
            make_fixture()
        data = torch.load(FIXTURE, weights_only=True)
        self.assertEqual(data["config"], FIXTURE_CONFIG)
        net = TransformerUNet(**FIXTURE_CONFIG).eval()
        net.load_state_dict(data["state_dict"], strict=True)
        with torch.no_grad():
            torch.testing.assert_close(net(data["input"]), data["output"], rtol=1e-4, atol=1e-5)


if __name__ == "__main__":
    unittest.main()
