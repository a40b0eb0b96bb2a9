# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fixtures of the renogram-report tests: tiny simulated studies, a tiny bundle, and broken copies of a study.

The tiny bundle is the project's ``bundle/configs`` with ``network_def`` replaced by
:class:`tests.bundle.bundle_fixtures.ThresholdNet` (a fixed "network": logits from the jet colormap's red channel, so
the brightest parenchyma is segmented and kidneys are found) on a 64x64 grid on the CPU, and its weights in
``models/model.pt``; one study takes well under a second.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "REPO",
    "BUNDLE_CONFIGS",
    "THRESHOLD_NET",
    "HAVE_SIMULATOR",
    "simulate",
    "make_tiny_bundle",
    "truncated_copy",
    "non_nm_copy",
    "all_zero_copy",
]

REPO = Path(__file__).resolve().parents[2]
BUNDLE_CONFIGS = REPO / "bundle" / "configs"
#: config of the stand-in network (importable from the repository root, which pytest and ``python -m`` put first).
THRESHOLD_NET: dict[str, Any] = {"_target_": "tests.bundle.bundle_fixtures.ThresholdNet"}

try:
    from scripts.simulation import sample_study_config, simulate_study, write_study

    HAVE_SIMULATOR = True
except ImportError:  # pragma: no cover - the simulator lives in another package of this repo
    HAVE_SIMULATOR = False


def simulate(root: str | os.PathLike, name: str, index: int = 0, pathology: str = "normal") -> Path:
    """Write a 64x64 paper-protocol MAG3 study as ``root/name/{study.dcm, parenchyma.png, ...}``; returns the folder."""
    cfg = sample_study_config(np.random.default_rng(100 + index), matrix=64, protocol="paper136", tracer="MAG3",
                              pathology=pathology, injection_site=False, motion=False, seed=100, index=index)
    return write_study(simulate_study(cfg), Path(root), name)


def make_tiny_bundle(
    root: str | os.PathLike, image_size: int = 64, overrides: dict[str, Any] | None = None, record_rule: bool = False
) -> Path:
    """A bundle folder with the project's configs, ``inference.json`` set to the threshold network, and its weights.

    Args:
        root: the bundle folder to create.
        image_size: the network grid (``image_size`` of the config). Defaults to 64.
        overrides: more top-level ids to set in ``inference.json``. Defaults to None.
        record_rule: save the weights with the training rule of that ``inference.json`` (as ``train.json`` writes
            them), so no "could not be checked" warning is logged. Defaults to False (the layout of old weights).
    """
    import torch

    from tests.bundle.bundle_fixtures import ThresholdNet

    root = Path(root)
    shutil.copytree(BUNDLE_CONFIGS, root / "configs")
    config = root / "configs" / "inference.json"
    cfg = json.loads(config.read_text(encoding="utf-8"))
    cfg.update({"network_def": THRESHOLD_NET, "image_size": [image_size, image_size], "device": "$torch.device('cpu')"})
    cfg.update(overrides or {})
    config.write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    (root / "models").mkdir()
    state: Any = ThresholdNet().state_dict()
    if record_rule:
        from custom_transforms.checkpoints import TRAINING_RULE_IDS
        from custom_transforms.resume import TrainingSettings

        state = {"model": state, "settings": TrainingSettings({k: cfg[k] for k in TRAINING_RULE_IDS}).state_dict()}
    torch.save(state, root / "models" / "model.pt")
    return root


def truncated_copy(study: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """The first half of a DICOM file (pixel data cut short)."""
    data = Path(study).read_bytes()
    Path(dest).write_bytes(data[: len(data) // 2])
    return Path(dest)


def non_nm_copy(study: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """The study relabelled as CT (Modality and SOP class): a DICOM file that is not a nuclear-medicine image."""
    import pydicom

    ds = pydicom.dcmread(study)
    ds.Modality = "CT"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.save_as(dest)
    return Path(dest)


def all_zero_copy(study: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """The study with every pixel 0 (no counts)."""
    import pydicom

    ds = pydicom.dcmread(study)
    ds.PixelData = np.zeros_like(ds.pixel_array).tobytes()
    ds.save_as(dest)
    return Path(dest)
