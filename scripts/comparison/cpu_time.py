# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The comparison's training cost in CPU-hours: ``train_cpu_s`` of every run, in total and per network.

``train_cpu_s`` is the CPU time of the training process over the bundle's training (``time.process_time``, all
threads; data loading included with ``--num-workers 0``), written by the worker to ``train_summary.json``. It counts
what the comparison cost the machine, independent of how busy the machine was (unlike wall-clock time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["cpu_hours"]


def cpu_hours(runs: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """CPU-hours of training, summed over runs.

    Args:
        runs: ``(network, train_summary)`` per finished run.

    Returns:
        ``{"total": hours, "per_network": {network: hours}, "runs": n counted, "runs_without_cpu_time": n}``; a
        run whose summary lacks ``train_cpu_s`` is counted under ``runs_without_cpu_time`` and adds nothing.
    """
    per_network: dict[str, float] = {}
    counted = missing = 0
    for network, train in runs:
        per_network.setdefault(network, 0.0)
        try:
            seconds = float(train.get("train_cpu_s"))
        except (TypeError, ValueError):
            missing += 1
            continue
        per_network[network] += seconds / 3600.0
        counted += 1
    return {
        "total": sum(per_network.values()),
        "per_network": per_network,
        "runs": counted,
        "runs_without_cpu_time": missing,
    }
