# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""What a network costs on the CPU: parameters, forward GFLOPs, latency, training-step time, peak memory.

The project's one way of costing a network, used by ``scripts.benchmark_networks`` (every registered network, each
measured in fresh subprocesses) and by :mod:`scripts.comparison.costs` (the compared networks, with the comparison's
arguments):

- :func:`count_gflops`: forward GFLOPs with ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions;
  the CPU fused-attention op, which the counter does not know, is counted with torch's own ``sdpa_flop_count``);
- :func:`time_forward`: wall-clock seconds of no-grad forward passes after warm-ups;
- :func:`measure`: one network, one mode (inference or a training step), in this process;
- :func:`interleaved_latency`: several networks timed round-robin in one process, the fairest basis for latency
  ratios on a shared host.
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Any

__all__ = ["REFERENCE_NAME", "build", "count_gflops", "time_forward", "measure", "interleaved_latency"]

#: benchmark-only reference for the speed target (the issue's MONAI UNet, literal: num_res_units=0)
REFERENCE_NAME = "unet_target_ref"


def build(name: str, size: int, in_channels: int, out_channels: int) -> Any:
    """A registered network (or the reference UNet) at its default configuration, in eval mode."""
    import networks

    if name == REFERENCE_NAME:
        net = networks.monai_unet(in_channels, out_channels, size, num_res_units=0)
    else:
        net = networks.create_network(name, in_channels=in_channels, out_channels=out_channels, img_size=size)
    return net.eval()


def count_gflops(net: Any, x: Any) -> float:
    """Forward GFLOPs of ``net(x)`` (per batch), counting CPU fused attention with torch's SDPA formula."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def _flash_cpu(q, k, v, *args, out_shape=None, **kwargs):  # shapes in (the counter's shape_wrapper)
        return sdpa_flop_count(q, k, v)

    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _flash_cpu}
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        net(x)
    return counter.get_total_flops() / 1e9


def time_forward(net: Any, x: Any, repeats: int, warmup: int = 2) -> list[float]:
    """Wall-clock seconds of ``repeats`` no-grad forward passes of ``net(x)``, after ``warmup`` untimed passes."""
    import torch

    times = []
    with torch.no_grad():
        for i in range(repeats + warmup):
            t0 = time.perf_counter()
            net(x)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return times


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def measure(
    name: str,
    mode: str,
    size: int,
    threads: int,
    repeats: int,
    batch: int,
    out_channels: int,
    autocast: str | None = None,
    channels_last: bool = False,
) -> dict:
    """One network, one mode (``"infer"`` or ``"train"``), in this process; returns the figures.

    ``autocast`` (``"bfloat16"``, ``"float16"`` or None) and ``channels_last`` apply to the training step only, as in
    ``train.json`` (``autocast_dtype``, ``channels_last``): the forward runs through the bundle's
    :class:`~custom_transforms.autocast_inferer.AutocastInferer` and the network is moved to ``channels_last``.
    """
    import torch
    import torch.nn.functional as F

    from custom_transforms.autocast_inferer import AutocastInferer

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build(name, size, 3, out_channels)
    rec: dict[str, Any] = {"network": name, "mode": mode}
    if mode == "infer":
        x = torch.rand(1, 3, size, size)
        rec["params_m"] = sum(p.numel() for p in net.parameters()) / 1e6
        rss0 = _maxrss_mb()
        rec["gflops_per_image"] = count_gflops(net, x)
        times = time_forward(net, x, repeats)
        rec["latency_ms_b1"] = 1e3 * statistics.median(times)
        rec["latency_ms_b1_min"] = 1e3 * min(times)
    else:
        x = torch.rand(batch, 3, size, size)
        y = torch.randint(0, 2, (batch, 1, size, size)).float()
        if out_channels > 1:
            y = y[:, 0].long()
        net.train()
        inferer = AutocastInferer(autocast, channels_last=channels_last)
        if inferer.channels_last:
            net = net.to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        rss0 = _maxrss_mb()
        times = []
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            out = inferer(x, net)
            loss = F.binary_cross_entropy_with_logits(out, y) if out_channels == 1 else F.cross_entropy(out, y)
            loss.backward()
            opt.step()
            if i >= 1:
                times.append(time.perf_counter() - t0)
        rec["train_step_s"] = statistics.median(times)
        rec["train_batch"] = batch
        rec["train_ms_per_image"] = 1e3 * rec["train_step_s"] / batch
        rec["train_autocast"] = None if inferer.dtype is None else str(inferer.dtype).replace("torch.", "")
        rec["train_channels_last"] = inferer.channels_last
    rec["peak_rss_delta_mb"] = _maxrss_mb() - rss0
    rec["peak_rss_mb"] = _maxrss_mb()
    return rec


def interleaved_latency(names: list[str], size: int, threads: int, repeats: int, out_channels: int) -> dict:
    """Batch-1 latency of several networks measured round-robin in one process (ms, median and min per network).

    Each round times one forward of every network in turn, so a burst of load from other jobs hits all of them alike:
    the fairest basis for latency ratios on a shared host.
    """
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nets = {n: build(n, size, 3, out_channels) for n in names}
    x = torch.rand(1, 3, size, size)
    times: dict[str, list[float]] = {n: [] for n in names}
    with torch.no_grad():
        for i in range(repeats + 2):
            for n, net in nets.items():
                t0 = time.perf_counter()
                net(x)
                if i >= 2:
                    times[n].append(time.perf_counter() - t0)
    return {n: {"median_ms": 1e3 * statistics.median(t), "min_ms": 1e3 * min(t)} for n, t in times.items()}
