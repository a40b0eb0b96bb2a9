# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Parenchyma masks for dynamic studies from the project's MONAI bundle (``bundle/configs/inference.json``).

The bundle's own inference workflow is run through :class:`monai.bundle.ConfigWorkflow` (no second copy of the
preprocessing): the studies are linked into a temporary input folder, ``dataset_dir``/``output_dir``/``fused_index``
are overridden, and the ``<name>_mask.png`` files it writes (0/1 on the study's native matrix) are read back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from custom_transforms.errors import RenogramInputError

__all__ = ["MissingModelError", "segment_study", "segment_studies"]


class MissingModelError(RenogramInputError):
    """The bundle has no inference config or no trained weights (the message suggests ``--mask``)."""


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else (path.suffix.lower() if path.suffix else ".dcm")


def segment_studies(
    study_paths: Sequence[str | os.PathLike],
    bundle_dir: str | os.PathLike = "bundle",
    fused_index: int = 1,
    overrides: dict[str, Any] | None = None,
) -> list[np.ndarray]:
    """Segment several studies in one bundle run.

    Args:
        study_paths: dynamic study files (DICOM, NIfTI).
        bundle_dir: bundle folder holding ``configs/inference.json`` and ``models/model.pt``. Defaults to ``bundle``.
        fused_index: 0-based fused image the model segments. Defaults to 1 (the paper's 2nd fused image).
        overrides: extra config overrides (e.g. ``network_def`` for a non-default network).

    Returns:
        One ``(H, W)`` uint8 0/1 mask per study, in order, on the study's native matrix.

    Raises:
        MissingModelError: no ``inference.json`` or no ``models/model.pt`` in ``bundle_dir``.
        RenogramInputError: a study could not be segmented (named).
    """
    from monai.bundle import ConfigWorkflow

    root = Path(bundle_dir)
    config = root / "configs" / "inference.json"
    weights = root / "models" / "model.pt"
    if not config.is_file():
        raise MissingModelError(config, "bundle inference config not found; pass a mask file with --mask")
    if not weights.is_file():
        raise MissingModelError(
            weights, "no trained model in the bundle (train it first, see the README); or pass a mask file with --mask"
        )
    paths = [Path(p) for p in study_paths]
    for p in paths:
        if not p.exists():
            raise RenogramInputError(p, "no such file")
    tmp = Path(tempfile.mkdtemp(prefix="renal_segment_"))
    try:
        inputs, outputs = tmp / "in", tmp / "out"
        inputs.mkdir()
        names = []
        for i, p in enumerate(paths):
            name = f"s{i:05d}"
            target = inputs / f"{name}{_suffix(p)}"
            try:
                os.symlink(p.resolve(), target)
            except OSError:
                shutil.copy2(p, target)
            names.append(name)
        meta = root / "configs" / "metadata.json"
        logging_conf = root / "configs" / "logging.conf"
        wf = ConfigWorkflow(
            config_file=str(config),
            meta_file=str(meta) if meta.is_file() else None,
            logging_file=str(logging_conf) if logging_conf.is_file() else None,
            workflow_type="infer",
            bundle_root=str(root),
            dataset_dir=str(inputs),
            output_dir=str(outputs),
            fused_index=int(fused_index),
            save_overlay=False,
            **(overrides or {}),
        )
        wf.initialize()
        wf.run()
        wf.finalize()
        from scripts.clinical.rois import read_mask

        masks = []
        for p, name in zip(paths, names, strict=True):
            out = outputs / f"{name}_mask.png"
            if not out.is_file():
                raise RenogramInputError(p, f"the bundle wrote no mask for this study (expected {out.name})")
            masks.append((read_mask(out) > 0).astype(np.uint8))
        return masks
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def segment_study(
    study_path: str | os.PathLike,
    bundle_dir: str | os.PathLike = "bundle",
    fused_index: int = 1,
    overrides: dict[str, Any] | None = None,
) -> np.ndarray:
    """Parenchyma mask ``(H, W)`` uint8 0/1 of one study from the bundle's model (see :func:`segment_studies`)."""
    return segment_studies([study_path], bundle_dir, fused_index, overrides)[0]
