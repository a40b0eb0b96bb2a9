# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The machine a measurement ran on: host, CPU, library versions, threads and load, recorded next to the numbers."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["host_record"]


def host_record(threads: int) -> dict:
    """Host, CPU, library versions, the thread counts used and the load average, recorded next to the numbers.

    Args:
        threads: the thread count the measurement asked for (torch's actual count is recorded too).
    """
    import monai
    import numpy
    import pydicom
    import torch

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    record = {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "monai": monai.__version__,
        "numpy": numpy.__version__,
        "pydicom": pydicom.__version__,
        "load_average_at_start": os.getloadavg(),
    }
    try:  # OpenCV runs the pseudocolor; record its threads where it is installed
        import cv2

        record |= {"opencv": cv2.__version__, "opencv_threads": cv2.getNumThreads()}
    except ImportError:
        pass
    return record
