# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared fixtures of the bundle tests: tiny PNG datasets, a tiny network override, a threshold network, helpers.

Sizes are tiny (64x64 images, a two-level UNet with 4/8 channels) so one training epoch takes about a second on CPU.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = [
    "REPO_ROOT",
    "BUNDLE",
    "CONFIGS",
    "SCHEMA_DIR",
    "TINY_NET",
    "TINY_OVERRIDES",
    "ThresholdNet",
    "make_png_dataset",
    "simulated_dataset",
    "error_text",
    "make_workflow",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLE = REPO_ROOT / "bundle"
CONFIGS = BUNDLE / "configs"
SCHEMA_DIR = REPO_ROOT.parent / "shared" / "monai_bundle_schema"

#: a two-level MONAI UNet standing in for the paper network (same 3 -> 1 channel contract).
TINY_NET = {
    "_target_": "monai.networks.nets.UNet",
    "spatial_dims": 2,
    "in_channels": "@in_channels",
    "out_channels": 1,
    "channels": [4, 8],
    "strides": [2],
    "num_res_units": 0,
}
#: overrides that make every workflow tiny: 64x64, batch 2, no worker processes, the tiny network.
TINY_OVERRIDES: dict[str, Any] = {
    "image_size": [64, 64],
    "batch_size": 2,
    "num_workers": 0,
    "device": "cpu",
    "network_def": TINY_NET,
}


class ThresholdNet(torch.nn.Module):
    """Logits ``scale * (red - 0.5)``: a fixed "network" whose mask is known (red channel > 0.5), for orientation tests.

    Args:
        in_channels: input channels (the red channel is channel 0). Defaults to 3.
        scale: logit gain. Defaults to 20.0.
    """

    def __init__(self, in_channels: int = 3, scale: float = 20.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.scale = torch.nn.Parameter(torch.tensor(float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * (x[:, :1] - 0.5)


def _kidney_label(h: int, w: int) -> np.ndarray:
    lab = np.zeros((h, w), np.uint8)
    lab[h // 3 : 2 * h // 3, w // 8 : w // 3] = 1  # image-left kidney, taller than wide
    lab[h // 3 + 2 : 2 * h // 3 + 4, 2 * w // 3 : 7 * w // 8] = 1  # image-right kidney, shifted down
    return lab


def make_png_dataset(
    root: str | os.PathLike, n_train: int = 4, n_val: int = 2, n_test: int = 2, size: int = 64
) -> Path:
    """Write ``images/``, ``labels/``, ``labels_native/`` (half size) and ``datalist.json`` as prepare_dataset does.

    Images are RGB: the label region is bright red on a dim noisy background, so a tiny net learns it in one epoch
    and :class:`ThresholdNet` segments it exactly.
    """
    root = Path(root)
    for sub in ("images", "labels", "labels_native"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    items = []
    for i in range(n_train + n_val + n_test):
        lab = _kidney_label(size, size)
        img = (rng.random((size, size, 3)) * 60).astype(np.uint8)
        img[lab > 0, 0] = 230
        name = f"case{i}_f1.png"
        Image.fromarray(img).save(root / "images" / name)
        Image.fromarray(lab).save(root / "labels" / name)
        Image.fromarray(_kidney_label(size // 2, size // 2)).save(root / "labels_native" / name)
        items.append(
            {"image": f"images/{name}", "label": f"labels/{name}", "label_native": f"labels_native/{name}",
             "study": f"case{i}", "fused_index": 1}
        )
    datalist = {
        "training": items[:n_train],
        "validation": items[n_train : n_train + n_val],
        "test": items[n_train + n_val :],
    }
    (root / "datalist.json").write_text(json.dumps(datalist, indent=2), encoding="utf-8")
    return root


@functools.lru_cache(maxsize=1)
def simulated_dataset() -> Path:
    """Simulate 4 studies (64x64 matrix) and build the PNG dataset at 96x96 with the project's commands, once per run.

    Returns the dataset folder; its ``datalist.json`` items carry ``study_path`` (the DICOM) and ``label_native``.
    """
    root = Path(tempfile.mkdtemp(prefix="bundle_sim_"))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    run = functools.partial(subprocess.run, cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True)
    run([sys.executable, "-m", "scripts.simulate", "--out", str(root / "studies"), "--studies", "4", "--seed", "1",
         "--matrix", "64", "--no-progress"])
    run([sys.executable, "-m", "scripts.prepare_dataset", "--studies", str(root / "studies"), "--out",
         str(root / "dataset"), "--size", "96", "--split", "0.5", "0.25", "0.25", "--quiet"])
    return root / "dataset"


def error_text(exc: BaseException) -> str:
    """All messages of an exception and its causes/contexts (MONAI wraps transform errors in RuntimeErrors)."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def make_workflow(configs: list[str], workflow_type: str, **overrides: Any):
    """A ``ConfigWorkflow`` over ``bundle/configs/<configs>`` with the bundle's metadata and logging config."""
    from monai.bundle import ConfigWorkflow

    return ConfigWorkflow(
        config_file=[str(CONFIGS / c) for c in configs],
        meta_file=str(CONFIGS / "metadata.json"),
        logging_file=str(CONFIGS / "logging.conf"),
        workflow_type=workflow_type,
        **overrides,
    )
