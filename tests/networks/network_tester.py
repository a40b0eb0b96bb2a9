# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared tester run for every registered network (smp ``tests/models/base.py`` style).

A per-network test subclasses :class:`NetworkTester` with ``unittest.TestCase`` and sets ``name`` (registry name),
``tiny`` (a small configuration), ``size`` (test size in pixels), ``bad_size`` / ``nearest_size`` (an input size the
network rejects and the size its message must name) and ``bad_kwargs`` (constructor arguments that must raise).
"""

from __future__ import annotations

import io
from typing import Any

import torch
import torch.nn.functional as F
from monai.networks import eval_mode

import networks

__all__ = ["NetworkTester", "synthetic_batch"]


def synthetic_batch(in_channels: int, size: int, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded image ``(B, C, S, S)`` with two bright blobs (kidneys) and its binary mask ``(B, 1, S, S)``."""
    g = torch.Generator().manual_seed(1234)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = []
    for b in range(batch):
        cx = size * (0.3 + 0.05 * b)
        cy = size * 0.5
        m = ((xx - cx) / (0.12 * size)) ** 2 + ((yy - cy) / (0.2 * size)) ** 2 < 1
        m |= ((xx - (size - cx)) / (0.12 * size)) ** 2 + ((yy - cy) / (0.2 * size)) ** 2 < 1
        masks.append(m)
    mask = torch.stack(masks)[:, None].float()
    image = mask.repeat(1, in_channels, 1, 1) * 0.8 + 0.2 * torch.rand(batch, in_channels, size, size, generator=g)
    return image, mask


class NetworkTester:
    """Mixin with the checks every network must pass; combine with ``unittest.TestCase``."""

    name: str = ""
    tiny: dict[str, Any] = {}
    size: int = 64
    bad_size: int = 70
    nearest_size: int = 64
    bad_kwargs: list[dict[str, Any]] = []
    #: substrings of parameter names that legitimately get no gradient (documented per network)
    unused_parameters: tuple[str, ...] = ()
    overfit_steps: int = 60
    overfit_lr: float = 1e-2

    def setUp(self) -> None:
        # one intra-op thread: on the shared 2-core CI host, 2 threads beside other jobs ran these tiny models 5-10x
        # slower (oversubscription); restored in tearDown so other tests keep their setting
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def tearDown(self) -> None:
        torch.set_num_threads(self._threads)

    # the assert* methods come from unittest.TestCase
    def build(self, in_channels: int = 3, out_channels: int = 1, seed: int = 0, **kw: Any) -> torch.nn.Module:
        torch.manual_seed(seed)
        kwargs = {**self.tiny, **kw}
        return networks.create_network(
            self.name, in_channels=in_channels, out_channels=out_channels, img_size=self.size, **kwargs
        )

    def test_registered(self) -> None:
        self.assertIn(self.name, networks.available_networks())

    def test_shape(self) -> None:
        for in_ch in (1, 3):
            for out_ch in (1, 2):
                net = self.build(in_ch, out_ch)
                with eval_mode(net), torch.no_grad():
                    y = net(torch.rand(2, in_ch, self.size, self.size))
                self.assertEqual(tuple(y.shape), (2, out_ch, self.size, self.size), f"{in_ch}->{out_ch}")
                self.assertTrue(torch.isfinite(y).all())

    def test_gradients_reach_every_parameter(self) -> None:
        net = self.build(3, 2)
        net.train()
        x = torch.rand(2, 3, self.size, self.size)
        target = torch.randint(0, 2, (2, self.size, self.size))
        F.cross_entropy(net(x), target).backward()
        for pname, p in net.named_parameters():
            if any(u in pname for u in self.unused_parameters):
                self.assertIsNone(p.grad, f"{pname} is declared unused but got a gradient")
                continue
            self.assertIsNotNone(p.grad, f"{pname} got no gradient")
            # a bias right before a normalisation layer is cancelled by it (zero gradient by design): weights only
            if p.ndim > 1:
                self.assertGreater(float(p.grad.abs().sum()), 0.0, f"{pname} has an all-zero gradient")

    def test_export_equals_eager(self) -> None:
        net = self.build(3, 2)
        x = torch.rand(2, 3, self.size, self.size)
        with eval_mode(net), torch.no_grad():
            expected = net(x)
            if getattr(net, "_is_torch_scriptable", True):
                exported = torch.jit.script(net)
            else:
                exported = torch.jit.trace(net, x)
            buf = io.BytesIO()
            torch.jit.save(exported, buf)
            buf.seek(0)
            loaded = torch.jit.load(buf)
            torch.testing.assert_close(exported(x), expected, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(loaded(x), expected, rtol=1e-4, atol=1e-5)

    def test_state_dict_strict_roundtrip(self) -> None:
        a, b = self.build(seed=0), self.build(seed=1)
        b.load_state_dict(a.state_dict(), strict=True)
        x = torch.rand(1, 3, self.size, self.size)
        with eval_mode(a, b), torch.no_grad():
            torch.testing.assert_close(a(x), b(x))

    def test_deterministic_for_seed(self) -> None:
        x = torch.rand(2, 3, self.size, self.size)
        outs = []
        for _ in range(2):
            net = self.build(seed=7)
            with eval_mode(net), torch.no_grad():
                outs.append(net(x))
        torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
        other = self.build(seed=8)
        with eval_mode(other), torch.no_grad():
            self.assertFalse(torch.equal(other(x), outs[0]), "a different seed gave the same model")

    def test_bad_arguments(self) -> None:
        with self.assertRaises(ValueError):
            networks.create_network(self.name, img_size=self.size, spatial_dims=3, **self.tiny)
        with self.assertRaises(ValueError):
            networks.create_network(self.name, img_size=(self.size, self.size, self.size), **self.tiny)
        for kw in self.bad_kwargs:
            with self.assertRaises(ValueError, msg=str(kw)):
                networks.create_network(self.name, **{"img_size": self.size, **self.tiny, **kw})

    def test_wrong_input_size(self) -> None:
        net = self.build()
        with eval_mode(net), torch.no_grad(), self.assertRaises(ValueError) as ctx:
            net(torch.rand(1, 3, self.bad_size, self.bad_size))
        self.assertIn(f"{self.nearest_size}x{self.nearest_size}", str(ctx.exception))

    def test_overfits_one_batch(self) -> None:
        net = self.build(3, 1)
        x, y = synthetic_batch(3, self.size)
        opt = torch.optim.Adam(net.parameters(), lr=self.overfit_lr)
        net.train()
        losses = []
        for _ in range(self.overfit_steps):
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(net(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        self.assertLess(min(losses[-5:]), losses[0] / 10, f"loss {losses[0]:.4f} -> {losses[-5:]}")
