# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""One comparison run (network x augmentation x seed): its specification, folder name and ``done.json`` marker.

Folder layout (nnU-Net style, one folder per run under ``RESULTS/runs/``)::

    <network>__<aug|noaug>__seed<k>/      (``__lr<value>`` appended when the run's learning rate is set)
        spec.json            what was asked (written first)
        config_train.json    the bundle config with this run's overrides applied (``ConfigParser`` dump)
        config_eval.json     the same for train.json + evaluate.json
        models/              the bundle's checkpoints (model.pt = best validation Dice)
        logs/                TensorBoard events (bundle's output_dir during training)
        eval/                the bundle's evaluation outputs (per-image CSV, summary JSON)
        progress.csv         one row per epoch: train loss, validation metrics, elapsed seconds
        train_summary.json   epochs run, epochs to best, best validation Dice, training seconds, stop reason
        figure_masks.npz     image, ground truth and predicted mask of the figure's test images
        worker.log           stdout/stderr of the worker process
        done.json            written last, atomically: the run is complete and is skipped on resume

The learning-rate search of ``--lr-search`` (:mod:`.lr_search`) keeps its short runs in the same layout under
``RESULTS/runs/lrsearch/<network>__lr<value>/`` (trained only: no test evaluation, ``evaluate_test`` false).

A run without ``done.json`` is unfinished: a resumed comparison deletes its folder and retrains it from scratch (a
time budget cannot be split over two sessions fairly, so the bundle's own epoch resume is switched off).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from custom_transforms.safe_files import atomic_write_text

__all__ = [
    "DONE_FILE",
    "RunSpec",
    "SPEC_FILE",
    "atomic_write_json",
    "atomic_write_text",
    "lr_text",
    "read_done",
    "run_name",
    "write_done",
]

DONE_FILE = "done.json"
SPEC_FILE = "spec.json"

#: fields that do not change what a run computes (where and how fast it runs); ignored when matching a finished run
_EXECUTION_FIELDS = ("device", "threads", "num_workers")
#: fields added after the first comparisons ran, with their defaults: left out of :meth:`RunSpec.identity` while at
#: the default, so that a run finished before the field existed (its ``done.json`` lacks it) still matches
_LATER_FIELDS = {"learning_rate": None, "evaluate_test": True}


def lr_text(learning_rate: float) -> str:
    """A learning rate as written in folder names and tables: ``0.002``, ``0.0005``, ``1e-05`` (``%g``)."""
    return f"{float(learning_rate):g}"


def run_name(network: str, augment: bool, seed: int, learning_rate: float | None = None) -> str:
    """Folder name of one run: ``<network>__<aug|noaug>__seed<k>``, plus ``__lr<value>`` when its lr is set.

    The learning rate is in the name (not only in the identity) so that a changed lr (e.g. another outcome of the
    ``--lr-search``) trains new runs beside the old ones instead of replacing finished runs.
    """
    name = f"{network}__{'aug' if augment else 'noaug'}__seed{int(seed)}"
    return name if learning_rate is None else f"{name}__lr{lr_text(learning_rate)}"


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What one run trains and evaluates.

    Attributes:
        network: registry name (``networks.available_networks()``).
        augment: the bundle's flip augmentation on (``augment_flip``).
        seed: ``set_determinism`` seed of the bundle (``seed``); the split is the dataset's, never re-drawn.
        dataset: dataset folder (``datalist.json`` + PNGs), absolute path.
        bundle_dir: bundle folder holding ``configs/train.json`` and ``configs/evaluate.json``, absolute path.
        max_epochs: epoch cap (``max_epochs``); None keeps the bundle's.
        minutes: training budget in minutes (None: no budget); see ``EpochTimeBudget``.
        budget_clock: ``"wall"`` (wall-clock minutes) or ``"cpu"`` (CPU minutes of the training process).
        image_size: network input ``[H, W]`` in pixels (``image_size``); None keeps the bundle's.
        batch_size: None keeps the bundle's.
        patience: early-stopping patience in epochs (``early_stop_patience``); None keeps the bundle's.
        network_kwargs: extra network arguments (``network_kwargs``), e.g. a smaller transformer.
        figure_images: number of test images whose predicted masks are kept for the figure.
        device: torch device string; None keeps the bundle's (CUDA when available).
        threads: torch intra-op threads in the worker; None keeps torch's default.
        num_workers: DataLoader workers; None keeps the bundle's.
        learning_rate: optimiser learning rate (the bundle's ``learning_rate``); None keeps the bundle's
            (``paper.json``: 0.002). Part of the identity and of the folder name when set.
        evaluate_test: evaluate the best checkpoint on the test split (and keep the figure masks); false for the
            learning-rate search, which must not look at the test split.
    """

    network: str
    augment: bool
    seed: int
    dataset: str
    bundle_dir: str
    max_epochs: int | None = None
    minutes: float | None = None
    budget_clock: str = "wall"
    image_size: tuple[int, int] | None = None
    batch_size: int | None = None
    patience: int | None = None
    network_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    figure_images: int = 4
    device: str | None = None
    threads: int | None = None
    num_workers: int | None = None
    learning_rate: float | None = None
    evaluate_test: bool = True

    @property
    def name(self) -> str:
        """The run folder name."""
        return run_name(self.network, self.augment, self.seed, self.learning_rate)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        d = dataclasses.asdict(self)
        d["image_size"] = list(self.image_size) if self.image_size is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_dict` (unknown keys are an error, so a stale spec is noticed)."""
        d = dict(d)
        if d.get("image_size") is not None:
            d["image_size"] = tuple(int(s) for s in d["image_size"])
        return cls(**d)

    def identity(self) -> dict[str, Any]:
        """The fields that decide the result (execution fields such as device or threads removed)."""
        d = self.to_dict()
        for key in _EXECUTION_FIELDS:
            d.pop(key)
        for key, default in _LATER_FIELDS.items():
            if d.get(key) == default:
                d.pop(key)
        return d


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """:func:`custom_transforms.safe_files.atomic_write_text` of indented JSON (NaN written as ``NaN``, as Python's
    json does; other objects through ``str``), so the run files keep their form."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def write_done(run_dir: str | os.PathLike, spec: RunSpec, record: dict[str, Any]) -> None:
    """Mark a run complete: ``done.json`` with the spec identity and ``record``, written atomically and last."""
    atomic_write_json(Path(run_dir) / DONE_FILE, {"spec": spec.identity(), **record})


def read_done(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The ``done.json`` of a finished run, or None when the run is unfinished (absent or unreadable marker)."""
    path = Path(run_dir) / DONE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
