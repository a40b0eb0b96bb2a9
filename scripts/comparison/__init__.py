# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Library behind ``python -m scripts.compare_networks``: run specifications and folders, the training/evaluation
worker that drives the bundle's own configs, Ignite handlers (wall-clock budget, per-epoch progress log), and the
table/figure writers."""

from __future__ import annotations

from .handlers import EpochProgressLog, EpochTimeBudget
from .spec import RunSpec, atomic_write_json, atomic_write_text, read_done, run_name, write_done

__all__ = [
    "EpochProgressLog",
    "EpochTimeBudget",
    "RunSpec",
    "atomic_write_json",
    "atomic_write_text",
    "read_done",
    "run_name",
    "write_done",
]
