# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Reference rows of the comparison table: a model the comparison did not train, read from its evaluation folder.

``--reference-row LABEL=EVAL_DIR`` (repeatable) adds one table row per model, e.g. the shipped 384² model
(``"shipped model (384², bundle recipe)=bundle/docs/results"``). ``EVAL_DIR`` is what the bundle's ``evaluate.json``
writes (:func:`custom_transforms.summary.write_summary`): ``summary.json`` and ``metrics_per_image.csv``, the same
files a comparison run keeps in ``runs/<run>/eval/``; they are read by the same readers
(:func:`scripts.comparison.report.read_per_image_metrics`, :func:`~scripts.comparison.report.read_image_ids`,
:func:`scripts.comparison.worst_subgroup.run_subgroups`) and the row is built by the same
:func:`scripts.comparison.report.aggregate`, as a network with one run. What differs from a comparison row:

- ``origin`` is ``"reference"`` and ``seeds`` is empty: one model, not a seed of this comparison, so no interval;
  ``augmentation`` is ``"own recipe"``.
- ``network_grid``: the network input size recorded with the weights (``summary.json["info"]["checkpoint"]``,
  :func:`custom_transforms.checkpoints.recorded_training_rule`), empty when the checkpoint is not there. The
  network-grid columns (Dice, precision, recall, accuracy, Jaccard) are on that grid: network-grid Dice is not
  comparable across grids (a coarser grid blurs the outline differently); the native-grid Dice is.
- the paired test against ``transformer_unet`` (:func:`scripts.comparison.uncertainty.paired_test`) pairs the
  **native-grid** Dice (``paired_grid`` ``"native"``; the comparison's own rows pair their common network grid),
  each image's native Dice of ``transformer_unet`` averaged over all its seeds without augmentation
  (``paired_seeds``); images matched by file name, different test sets refused
  (:class:`~scripts.comparison.uncertainty.TestSetMismatch`).
- worst subgroup: from the model's own ``summary.json`` subgroups (or per-image rows), as for a run.
- parameters, GFLOPs, CPU latency: measured from the checkpoint (the network and size it records, after a strict
  load check, :func:`custom_transforms.checkpoints.check_checkpoint`) by the comparison's
  :func:`scripts.comparison.costs.measure_network`; ``–`` without ``--no-benchmark``'s measurement or a readable
  checkpoint, and the caption says why.
- training time, CPU time and epochs: not measured here; ``--reference-train LABEL=JSON`` gives the figures a
  source states (:data:`TRAIN_KEYS`, e.g. the model card's CPU-hours), else ``–``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .labelled import json_object, split_labelled
from .report import REFERENCE_NETWORK, RunResult, aggregate, paired_columns
from .uncertainty import paired_test, paired_values

__all__ = [
    "EVAL_FILES",
    "ReferenceModel",
    "TRAIN_KEYS",
    "checkpoint_costs",
    "checkpoint_path",
    "network_grid",
    "parse_reference_rows",
    "reference_caption",
    "reference_row",
]

#: the evaluation files of ``EVAL_DIR`` (names written by ``custom_transforms.summary.write_summary``)
EVAL_FILES = {"summary": "summary.json", "per_image": "metrics_per_image.csv"}

#: ``--reference-train`` keys: numbers in the units the table shows, and ``source`` (where they are stated)
TRAIN_KEYS = ("train_cpu_h", "train_time_s", "epochs_run", "epochs_to_best", "source")


@dataclass(frozen=True)
class ReferenceModel:
    """One ``--reference-row``.

    Attributes:
        label: the row's name in the table (the ``network`` column), e.g. ``"shipped model (384², bundle recipe)"``.
        eval_dir: the evaluation folder (``summary.json``, ``metrics_per_image.csv``).
        train: training figures in ``train_summary.json`` keys (``train_cpu_s``, ``train_time_s``, ``epochs_run``,
            ``epochs_to_best``), from ``--reference-train``; may be empty.
        source: where ``train`` is stated (``--reference-train``'s ``source``), ``""`` when not given.
    """

    label: str
    eval_dir: Path
    train: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def summary_json(self) -> Path:
        """``EVAL_DIR/summary.json``."""
        return self.eval_dir / EVAL_FILES["summary"]

    @property
    def per_image_csv(self) -> Path:
        """``EVAL_DIR/metrics_per_image.csv``."""
        return self.eval_dir / EVAL_FILES["per_image"]


def _train_figures(label: str, text: str) -> tuple[dict[str, Any], str]:
    given = json_object(text, "--reference-train", label)
    unknown = sorted(set(given) - set(TRAIN_KEYS))
    if unknown:
        raise ValueError(
            f"--reference-train {label}: unknown key(s) {', '.join(unknown)}; known: {', '.join(TRAIN_KEYS)}"
        )
    train: dict[str, Any] = {}
    for key, value in given.items():
        if key == "source":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"--reference-train {label}: {key} must be a number >= 0, got {value!r}")
        if key == "train_cpu_h":
            train["train_cpu_s"] = float(value) * 3600.0  # the table's CPU column is train_cpu_s / 3600
        else:
            train[key] = float(value)
    return train, str(given.get("source", ""))


def parse_reference_rows(
    rows: Sequence[str], trains: Sequence[str] = (), networks: Sequence[str] = ()
) -> list[ReferenceModel]:
    """The ``--reference-row LABEL=EVAL_DIR`` models with their ``--reference-train LABEL=JSON`` figures.

    Args:
        rows: the ``--reference-row`` values.
        trains: the ``--reference-train`` values (each label must be one of ``rows``').
        networks: the compared networks (a label may not be one of them: the table's rows are keyed by name).

    Returns:
        one :class:`ReferenceModel` per row, in the given order.

    Raises:
        ValueError: a malformed value, a repeated or clashing label, an ``EVAL_DIR`` that is not a folder, or
            ``--reference-train`` for an unknown label or with bad figures; the message names the value or folder.
    """
    models: dict[str, ReferenceModel] = {}
    for item in rows:
        label, folder = split_labelled(item, "--reference-row", "EVAL_DIR")
        if label in models:
            raise ValueError(f"--reference-row {label!r} is given twice")
        if label in networks:
            raise ValueError(f"--reference-row {label!r}: the label is a compared network's name; choose another")
        eval_dir = Path(folder)
        if not eval_dir.is_dir():
            what = "not found" if not eval_dir.exists() else "not a folder"
            raise ValueError(f"{eval_dir}: {what} (--reference-row {label}: an evaluation folder with "
                             f"{EVAL_FILES['summary']} and {EVAL_FILES['per_image']})")
        models[label] = ReferenceModel(label, eval_dir)
    for item in trains:
        label, text = split_labelled(item, "--reference-train", "JSON")
        if label not in models:
            known = ", ".join(models) or "none"
            raise ValueError(f"--reference-train {label!r}: not a --reference-row label ({known})")
        train, source = _train_figures(label, text)
        models[label] = ReferenceModel(label, models[label].eval_dir, train, source)
    return list(models.values())


def checkpoint_path(summary: Mapping[str, Any], cwd: str | os.PathLike | None = None) -> Path | None:
    """The weights the evaluation names (``summary["info"]["checkpoint"]``; relative: to ``cwd``), or None."""
    info = summary.get("info") if isinstance(summary, Mapping) else None
    name = info.get("checkpoint") if isinstance(info, Mapping) else None
    if not name:
        return None
    path = Path(str(name))
    return path if path.is_absolute() else Path(cwd or os.getcwd()) / path


def network_grid(checkpoint: Path | None) -> tuple[int, int] | None:
    """``(H, W)`` of the network input recorded with the weights, or None (no file, no record, no size)."""
    from custom_transforms.checkpoints import recorded_training_rule

    if checkpoint is None or not checkpoint.is_file():
        return None
    size = (recorded_training_rule(checkpoint) or {}).get("image_size")
    if isinstance(size, (int, float)) and not isinstance(size, bool):
        return int(size), int(size)
    if isinstance(size, list) and size and all(isinstance(s, (int, float)) for s in size):
        return int(size[0]), int(size[-1])
    return None


def checkpoint_costs(checkpoint: Path | None, threads: int) -> tuple[dict[str, Any], str]:
    """Parameters, GFLOPs and CPU latency of the network the weights in ``checkpoint`` fit.

    The network (registry name, arguments, input size) is the one recorded with the weights; it is built, the
    weights must load strictly (:func:`custom_transforms.checkpoints.check_checkpoint`), and it is costed by
    :func:`scripts.comparison.costs.measure_network` like the compared networks (random weights: the costs do not
    depend on the weights' values).

    Returns:
        ``(costs, note)``: ``costs`` as :func:`~scripts.comparison.costs.measure_network` returns them, or ``{}``
        with ``note`` saying why nothing was measured.
    """
    import networks as registry
    from custom_transforms.checkpoints import check_checkpoint, recorded_training_rule
    from custom_transforms.errors import RenogramInputError

    from .costs import measure_network

    if checkpoint is None:
        return {}, "not measured: the evaluation's summary.json names no checkpoint"
    if not checkpoint.is_file():
        return {}, f"not measured: checkpoint {checkpoint} not found"
    rule = recorded_training_rule(checkpoint) or {}
    name, kwargs, size = rule.get("network_name"), rule.get("network_kwargs") or {}, network_grid(checkpoint)
    if not name or size is None or not isinstance(kwargs, dict):
        return {}, f"not measured: {checkpoint} records no network_name/image_size"
    try:
        net = registry.create_network(name, in_channels=int(rule.get("in_channels", 3)), out_channels=1,
                                      img_size=size, **kwargs)
        check_checkpoint(checkpoint, net)
    except (RenogramInputError, ValueError, TypeError) as exc:
        return {}, f"not measured: {exc}"
    return measure_network(name, kwargs, size, threads), f"measured from {checkpoint} ({name} at {size[0]}x{size[1]})"


def _native_pairing(model: ReferenceModel, per_image: Mapping[str, np.ndarray], image_ids: Sequence[str],
                    compared: Sequence[RunResult]) -> dict[str, Any]:
    """The ``*_vs_tu`` columns of a reference row: native-grid Dice against the reference network's seeds."""
    seeds = sorted((r for r in compared if r.network == REFERENCE_NETWORK and not r.augment), key=lambda r: r.seed)
    seeds = [r for r in seeds if r.image_ids and "dice_native" in r.per_image]
    if not seeds or not image_ids or "dice_native" not in per_image:
        return {}
    # the reference network's native Dice per image, averaged over its seeds (raises on different test sets)
    names, mean = paired_values({r.label: (r.image_ids, r.per_image["dice_native"]) for r in seeds})
    tu_label = " + ".join(r.label for r in seeds)
    test = paired_test({0: (tuple(image_ids), per_image["dice_native"])}, {0: (tuple(names), mean)},
                       {0: (str(model.eval_dir), tu_label)})
    return {**paired_columns(test, [r.seed for r in seeds]), "paired_grid": "native"}


def reference_row(
    model: ReferenceModel,
    per_image: Mapping[str, np.ndarray],
    image_ids: Sequence[str],
    subgroups: Mapping[str, Any],
    compared: Sequence[RunResult],
    costs: Mapping[str, Any] | None = None,
    grid: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The table row (:data:`scripts.comparison.report.TABLE_COLUMNS`) of one reference model.

    Args:
        model: the ``--reference-row``.
        per_image: its per-image metrics (:func:`scripts.comparison.report.read_per_image_metrics`).
        image_ids: its image ids (:func:`scripts.comparison.report.read_image_ids`).
        subgroups: its subgroup means (:func:`scripts.comparison.worst_subgroup.run_subgroups`).
        compared: the comparison's finished runs (the paired test uses ``transformer_unet``'s, no augmentation).
        costs: :func:`checkpoint_costs`'s costs (empty: not measured).
        grid: its network grid (:func:`network_grid`).

    Raises:
        scripts.comparison.uncertainty.TestSetMismatch: its test images are not ``transformer_unet``'s.
    """
    run = RunResult(model.label, False, 0, dict(per_image), dict(model.train), dict(costs or {}),
                    tuple(image_ids), dict(subgroups), name=str(model.eval_dir))
    row = aggregate([run])[0]  # alone: no paired columns from aggregate (they would pair the network grid)
    row.update(_native_pairing(model, per_image, image_ids, compared))
    row.update({"augmentation": "own recipe", "seeds": "", "origin": "reference",
                "network_grid": f"{grid[0]}x{grid[1]}" if grid else ""})
    return row


def reference_caption(rows: Sequence[Mapping[str, Any]], notes: Mapping[str, Mapping[str, str]]) -> str:
    """The caption's sentence on the reference rows (``""`` without any).

    Args:
        rows: the reference rows (:func:`reference_row`).
        notes: per label, ``{"eval_dir", "checkpoint", "costs", "source"}`` (what was read and measured).
    """
    if not rows:
        return ""
    parts = []
    for row in rows:
        label, note = str(row["network"]), notes.get(str(row["network"]), {})
        grid = str(row.get("network_grid") or "")
        grid_text = f"its own {grid} grid" if grid else "its own grid (size not recorded: no readable checkpoint)"
        if row.get("paired_grid") == "native":
            paired = (f"Δ Dice and p pair its native-grid Dice with `{REFERENCE_NETWORK}`'s (no augmentation, each "
                      f"image averaged over seeds {row.get('paired_seeds')}) on the same {row.get('n_paired_images')} "
                      "test images")
        else:
            paired = f"no paired test (no `{REFERENCE_NETWORK}` run without augmentation, or no native-grid Dice)"
        source = note.get("source") or ""
        train = f"training figures as stated in {source}" if source else "training figures not stated (–)"
        if not source and row.get("train_cpu_s") is not None and math.isfinite(float(row["train_cpu_s"])):
            train = "training figures as given by --reference-train (no source named)"
        parts.append(
            f"{label}: evaluation {note.get('eval_dir', '')}, weights {note.get('checkpoint') or 'not named'}; "
            f"network-grid columns (Dice, precision, recall, accuracy, Jaccard) on {grid_text}; {paired}; "
            f"costs {note.get('costs', 'not measured')}; {train}"
        )
    return (
        "Reference rows (not trained by this comparison, one model each: no seed interval; network-grid Dice is not "
        "comparable across grids, the native-grid Dice is): " + "; ".join(parts) + "."
    )
