# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Parameters, forward GFLOPs and CPU latency of the compared networks, cached in ``RESULTS/benchmark.json``.

GFLOPs are counted by :func:`scripts.benchmarking.network_costs.count_gflops` and latency is timed with
:func:`~scripts.benchmarking.network_costs.time_forward` (the project's one way of costing a network, also used by
``scripts.benchmark_networks``); this module adds the comparison's ``--network-kwargs`` and size, and
caches the result so that a resumed comparison does not measure again. Cached entries are reused only when network,
arguments, size and threads match.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .spec import atomic_write_json

__all__ = ["benchmark_networks_cached", "measure_network"]


def measure_network(
    name: str, kwargs: dict[str, Any], size: Sequence[int], threads: int, repeats: int = 20
) -> dict[str, Any]:
    """``{"params_m", "gflops", "cpu_latency_ms", "size"}`` of one network (random weights, 3-channel input, batch 1).

    The network is built with the comparison's ``kwargs`` (``scripts.benchmarking.network_costs.build`` takes the
    registry defaults only); GFLOPs come from ``scripts.benchmarking.network_costs.count_gflops`` and the latency
    follows the benchmark's protocol: ``repeats`` forward passes in eval mode under ``torch.no_grad`` after 2
    warm-ups, with ``torch.set_num_threads(threads)``. ``cpu_latency_ms`` is the **minimum** (the benchmark's
    ``latency_ms_b1_min``): on a shared machine the median of a few tens of milliseconds swings by 10x with other jobs,
    the minimum much less; the median is kept as ``cpu_latency_ms_median``.
    """
    import statistics

    import torch

    import networks
    from scripts.benchmarking.network_costs import count_gflops, time_forward

    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        torch.manual_seed(0)
        net = networks.create_network(name, in_channels=3, out_channels=1, img_size=tuple(size), **kwargs).eval()
        x = torch.rand(1, 3, int(size[0]), int(size[1]))
        gflops = count_gflops(net, x)
        times = time_forward(net, x, repeats)
    finally:
        torch.set_num_threads(previous)
    return {
        "params_m": sum(p.numel() for p in net.parameters()) / 1e6,
        "gflops": gflops,
        "cpu_latency_ms": 1000.0 * min(times),
        "cpu_latency_ms_median": 1000.0 * statistics.median(times),
        "size": f"{size[0]}x{size[1]}",
    }


def benchmark_networks_cached(
    cache: str | os.PathLike,
    networks: Sequence[str],
    network_kwargs: dict[str, dict[str, Any]],
    size: Sequence[int],
    threads: int,
) -> dict[str, Any]:
    """Costs of every network (``{name: measure_network(...)}`` plus ``"_meta"``), measured once and cached."""
    cache = Path(cache)
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        stored = {}
    out: dict[str, Any] = {"_meta": {"size": f"{size[0]}x{size[1]}", "threads": threads, "batch": 1}}
    for name in networks:
        key = {"kwargs": network_kwargs.get(name, {}), "size": list(size), "threads": threads}
        entry = stored.get(name)
        if not (isinstance(entry, dict) and entry.get("key") == key):
            entry = {"key": key, **measure_network(name, network_kwargs.get(name, {}), size, threads)}
            stored[name] = entry
            atomic_write_json(cache, stored)
        out[name] = {k: v for k, v in entry.items() if k != "key"}
    return out
