# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.autocast_inferer`: float32 logits from a bf16 / channels_last network call, close
to the fp32 call, and weights that load unchanged into a plain fp32 network."""

from __future__ import annotations

import io
import unittest

import torch
from monai.networks.nets import UNet
from parameterized import parameterized

from custom_transforms.autocast_inferer import AutocastInferer, autocast_dtype


def _tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return UNet(spatial_dims=2, in_channels=3, out_channels=1, channels=(4, 8), strides=(2,), num_res_units=0)


class _Recorder(torch.nn.Module):
    """Records the dtype the conv computes in and whether its input was channels_last."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, 3, padding=1)
        self.seen: list[tuple[torch.dtype, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        self.seen.append((out.dtype, x.is_contiguous(memory_format=torch.channels_last)))
        return out


# [dtype, channels_last, compute dtype seen by the conv, channels_last input seen]
CASES = [
    ["bfloat16", False, torch.bfloat16, False],
    ["bfloat16", True, torch.bfloat16, True],
    [None, True, torch.float32, True],
    [None, False, torch.float32, False],
    ["float32", False, torch.float32, False],
]


class TestAutocastInferer(unittest.TestCase):
    @parameterized.expand(CASES)
    def test_compute_dtype_memory_format_and_float32_output(self, dtype, channels_last, compute, cl_seen):
        net = _Recorder()
        out = AutocastInferer(dtype, channels_last=channels_last)(torch.rand(2, 3, 16, 16), net)
        self.assertEqual(net.seen, [(compute, cl_seen)])
        self.assertEqual(out.dtype, torch.float32)
        self.assertEqual(tuple(out.shape), (2, 1, 16, 16))

    def test_bf16_prediction_close_to_fp32(self):
        net = _tiny_net().eval()
        x = torch.rand(2, 3, 32, 32)
        with torch.no_grad():
            ref = net(x)
            net_cl = _tiny_net().eval().to(memory_format=torch.channels_last)
            fast = AutocastInferer("bfloat16", channels_last=True)(x, net_cl)
        self.assertEqual(fast.dtype, torch.float32)
        torch.testing.assert_close(fast, ref, atol=5e-2, rtol=5e-2)
        self.assertGreater(((fast > 0) == (ref > 0)).float().mean().item(), 0.97)

    def test_weights_trained_fast_load_into_a_plain_fp32_network(self):
        net = _tiny_net().to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
        inferer = AutocastInferer("bfloat16", channels_last=True)
        x, y = torch.rand(2, 3, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float()
        for _ in range(2):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(inferer(x, net), y).backward()
            opt.step()
        self.assertTrue(all(p.dtype == torch.float32 for p in net.parameters()))
        buf = io.BytesIO()
        torch.save(net.state_dict(), buf)
        buf.seek(0)
        plain = _tiny_net()
        plain.load_state_dict(torch.load(buf, weights_only=True), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(plain.eval()(x), net.eval()(x.contiguous(memory_format=torch.channels_last)))

    def test_dtype_names(self):
        self.assertIs(autocast_dtype("BF16"), torch.bfloat16)
        self.assertIsNone(autocast_dtype("none"))
        self.assertIsNone(autocast_dtype(torch.float32))
        with self.assertRaisesRegex(ValueError, "autocast_dtype 'int8' is not one of"):
            AutocastInferer("int8")


if __name__ == "__main__":
    unittest.main()
