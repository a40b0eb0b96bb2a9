# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The machine a measurement ran on: host, CPU, library versions, threads and load, recorded next to the numbers."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["host_record"]


def host_record(threads: int) -> dict:
    """Host, CPU and library versions, and the thread count used."""
    import monai
    import torch

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "monai": monai.__version__,
        "load_average_at_start": os.getloadavg(),
    }
