# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Small helpers the bundle configs call where MONAI has no component: datalists and input folders with clear
errors, a non-finite-loss stop, and checkpoint bookkeeping at the end of a finished run.

They live in this package (not in ``bundle/scripts``) because the bundle configs name top-level packages only and
``scripts.export_bundle`` copies this package next to ``configs/``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events

from custom_transforms.errors import RenogramInputError
from custom_transforms.renogram_image import IMAGE_SUFFIXES
from custom_transforms.safe_files import check_output_separate
from custom_transforms.skip_bad_inputs import SKIPPED_KEY

__all__ = [
    "STUDY_SUFFIXES",
    "EPOCH_CHECKPOINT_PATTERN",
    "load_datalist",
    "find_inputs",
    "latest_epoch_checkpoint",
    "check_checkpoint",
    "keep_final_checkpoint",
    "StopOnNonFiniteLoss",
    "METRIC_NAMES",
    "metrics_from_confusion",
    "write_summary",
]

#: suffixes of dynamic-study files picked up by :func:`find_inputs` (besides :data:`IMAGE_SUFFIXES`).
STUDY_SUFFIXES = (".dcm", ".nii", ".nii.gz")
#: file names of the per-epoch resume checkpoints written by the bundle's ``train#epoch_saver`` (MONAI/Ignite naming).
EPOCH_CHECKPOINT_PATTERN = re.compile(r"checkpoint_epoch=(\d+)\.pt")


def load_datalist(datalist_file: str | os.PathLike, split: str, base_dir: str | os.PathLike) -> list[dict]:
    """Read one split of a decathlon-style datalist, paths made absolute against ``base_dir``.

    ``image``/``label`` are joined to ``base_dir`` always, other string values (``label_native``) when the joined path
    exists (MONAI's :func:`monai.data.load_decathlon_datalist` rules).

    Args:
        datalist_file: the JSON file (``scripts.prepare_dataset`` writes ``<dataset>/datalist.json``).
        split: ``"training"``, ``"validation"`` or ``"test"``.
        base_dir: folder the relative paths start from (the dataset folder).

    Returns:
        The split's items (non-empty).

    Raises:
        RenogramInputError: the file is missing or unreadable, or the split is absent or empty; the message names the
            file and the split.
    """
    from monai.data import load_decathlon_datalist

    path = Path(datalist_file)
    if not path.is_file():
        where = Path(base_dir)
        state = "does not exist" if not where.exists() else "holds no datalist.json"
        raise RenogramInputError(
            path,
            f"datalist not found (dataset_dir {where} {state}); build it with "
            "`python -m scripts.prepare_dataset --studies STUDIES --out DATASET` and pass --dataset_dir DATASET",
        )
    try:
        items = load_decathlon_datalist(str(path), is_segmentation=True, data_list_key=split, base_dir=str(base_dir))
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise RenogramInputError(path, f"cannot read split {split!r} ({exc})") from None
    if not items:
        raise RenogramInputError(path, f"split {split!r} is empty")
    return items


def _output_stem(path: Path) -> str:
    """The name ``SaveImaged`` gives an input's outputs (``<stem>_mask.png``): the file name without its extension."""
    stem, ext = os.path.splitext(path.name)
    return os.path.splitext(stem)[0] if ext.lower() == ".gz" else stem


def find_inputs(folder: str | os.PathLike, output_dir: str | os.PathLike | None = None) -> list[dict[str, str]]:
    """Inference inputs in ``folder``, sorted by name, as ``{"image": path}``: fused images, dynamic-study files, and
    sub-folders of frames (those holding ``timing.json`` or ``timing.csv``).

    Everything else is not an input and is left alone: hidden names (``.x``), other files (a README, the
    ``skipped.json`` of an earlier run), other sub-folders (``labels/``). Two inputs whose outputs would have the same
    name (``s1.dcm`` and ``s1.png`` both give ``s1_mask.png``): the first by name is used, the later ones carry a
    reason under :data:`~custom_transforms.skip_bad_inputs.SKIPPED_KEY`, so that
    :class:`~custom_transforms.skip_bad_inputs.SkipBadInputsDataset` skips them instead of overwriting a mask.

    Args:
        folder: the input folder (``dataset_dir``).
        output_dir: where the masks go; when given, it may not be, contain or lie inside ``folder``
            (:func:`custom_transforms.safe_files.check_output_separate`): masks mixed with the inputs would be taken
            as inputs by the next run, and an input named like ``<stem>_mask.png`` would be overwritten.

    Raises:
        RenogramInputError: the folder is missing or holds no input (the message says what it holds instead).
        OutputOverlapError: ``output_dir`` overlaps ``folder``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise RenogramInputError(root, "dataset_dir is not a folder" if root.exists() else "dataset_dir does not exist")
    if output_dir is not None:
        check_output_separate(
            output_dir, [root], out_option="--output_dir",
            consequence="masks written there would mix with the inputs (and could overwrite an input named like "
            "<stem>_mask.png)",
        )
    suffixes = IMAGE_SUFFIXES + STUDY_SUFFIXES
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    files = [
        p
        for p in entries
        if (p.is_file() and p.name.lower().endswith(suffixes))
        or (p.is_dir() and any((p / t).is_file() for t in ("timing.json", "timing.csv")))
    ]
    if not files:
        noun = "entry" if len(entries) == 1 else "entries"
        others = f"; it holds {len(entries)} other {noun}, e.g. {entries[0].name}" if entries else " (it is empty)"
        raise RenogramInputError(
            root,
            f"dataset_dir holds no input ({', '.join(suffixes)} files, or frame folders with timing.json){others}",
        )
    items: list[dict[str, str]] = []
    first_of: dict[str, Path] = {}
    for p in files:
        item = {"image": str(p)}
        stem = _output_stem(p)
        if stem in first_of:
            item[SKIPPED_KEY] = (
                f"{p}: its mask would be {stem}_mask.png, the same as that of {first_of[stem].name} (used instead); "
                "rename one of them"
            )
        else:
            first_of[stem] = p
        items.append(item)
    return items


def latest_epoch_checkpoint(ckpt_dir: str | os.PathLike) -> str:
    """Path of the highest-epoch ``checkpoint_epoch=<N>.pt`` in ``ckpt_dir``, or ``""`` when there is none."""
    best, best_epoch = "", -1
    root = Path(ckpt_dir)
    if root.is_dir():
        for p in root.iterdir():
            m = EPOCH_CHECKPOINT_PATTERN.fullmatch(p.name)
            if m and int(m.group(1)) > best_epoch:
                best, best_epoch = str(p), int(m.group(1))
    return best


def check_checkpoint(
    path: str | os.PathLike, network: torch.nn.Module, net_id: str = "network_def", missing_hint: str | None = None
) -> None:
    """Check before a run that ``path`` holds weights that load strictly into ``network``; say which file and why not.

    MONAI's ``CheckpointLoader`` reports a mismatch as a bare ``load_state_dict`` error that names neither the file nor
    the config id. Accepts a plain ``state_dict`` or ``{"model": state_dict}``; a ``DistributedDataParallel`` wrapper
    is looked through.

    Args:
        path: the checkpoint file.
        network: the network it must fit.
        net_id: the config id named in messages. Defaults to ``"network_def"``.
        missing_hint: what to tell the user when the file does not exist. Defaults to "train the bundle first, or
            pass --ckpt_dir" (the inference/evaluation case).

    Raises:
        RenogramInputError: the file is missing, unreadable, or its keys/shapes differ from ``net_id``'s.
    """
    p = Path(path)
    if not p.is_file():
        hint = missing_hint or "train the bundle first, or pass --ckpt_dir"
        raise RenogramInputError(p, f"no trained weights for {net_id} ({hint})")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for truncated or foreign files
        raise RenogramInputError(p, f"cannot be read as a PyTorch checkpoint ({exc})") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    net = network.module if isinstance(network, torch.nn.parallel.DistributedDataParallel) else network
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        examples = (missing[:2] + unexpected[:2] + shapes[:2])[:3]
        raise RenogramInputError(
            p,
            f"weights do not fit {net_id} ({type(net).__name__}): {len(missing)} missing, {len(unexpected)} "
            f"unexpected, {len(shapes)} shape-mismatched tensors, e.g. {'; '.join(examples)}. Was it trained with "
            "another network_name/network_def, in_channels or image_size?",
        )


def keep_final_checkpoint(ckpt_dir: str | os.PathLike, final_name: str = "checkpoint_final.pt") -> str:
    """After a finished run: rename the latest per-epoch checkpoint to ``final_name`` and delete older ones.

    A finished run therefore leaves no ``checkpoint_epoch=*.pt``, and the next training run starts fresh instead of
    resuming; an interrupted run (no ``finalize``) keeps its checkpoint and resumes. Only rank 0 touches the files.

    Returns:
        The final checkpoint path, or ``""`` when there was no per-epoch checkpoint.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return ""
    latest = latest_epoch_checkpoint(ckpt_dir)
    if not latest:
        return ""
    final = Path(ckpt_dir) / final_name
    os.replace(latest, final)
    for p in Path(ckpt_dir).iterdir():
        if EPOCH_CHECKPOINT_PATTERN.fullmatch(p.name):
            p.unlink(missing_ok=True)
    return str(final)


class StopOnNonFiniteLoss:
    """Ignite handler: raise as soon as a training iteration's loss is NaN or infinite.

    Raising (rather than Ignite's ``TerminateOnNan``, which ends the run quietly with exit status 0) stops
    ``python -m monai.bundle run`` with an error, before the epoch's checkpoint or a validation could run on broken
    weights: the best model (``models/model.pt``) and the last per-epoch checkpoint stay as they were.

    Args:
        loss_id: config id named in the message. Defaults to ``"loss"``.
    """

    def __init__(self, loss_id: str = "loss") -> None:
        self.loss_id = loss_id

    def attach(self, engine: Engine) -> None:
        """Register on ``ITERATION_COMPLETED`` of the trainer."""
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        output = engine.state.output
        item = output[0] if isinstance(output, Sequence) and output else output
        loss = item.get("loss") if isinstance(item, dict) else None
        if loss is None:
            return
        value = float(loss.detach().float().mean()) if isinstance(loss, torch.Tensor) else float(loss)
        if math.isfinite(value):
            return
        raise FloatingPointError(
            f"{self.loss_id}: training loss is {value} at epoch {engine.state.epoch}, iteration "
            f"{engine.state.iteration} (batch: {', '.join(_batch_files(engine.state.batch)) or 'unknown files'}); "
            "stopped before any checkpoint was written from these weights. Lower learning_rate or check the inputs."
        )


def _batch_files(batch: Any) -> list[str]:
    items = batch if isinstance(batch, list) else [batch]
    names: list[str] = []
    for item in items:
        image = item.get("image") if isinstance(item, dict) else None
        meta = getattr(image, "meta", None) or {}
        name = meta.get("filename_or_obj")
        if isinstance(name, str | os.PathLike):
            names.append(os.fspath(name))
        elif isinstance(name, Sequence):
            names.extend(str(n) for n in name)
    return names


#: per-image metrics of :func:`write_summary`, in CSV column order.
METRIC_NAMES = ("dice", "jaccard", "precision", "recall", "accuracy")


def metrics_from_confusion(tp: float, fp: float, tn: float, fn: float) -> dict[str, float]:
    """Dice, Jaccard, precision, recall and accuracy of one binary mask pair from its pixel counts.

    nnU-Net conventions: a ratio whose denominator is 0 is NaN (empty reference and empty prediction give Dice NaN,
    excluded from means); an empty reference with a non-empty prediction gives Dice 0, never 1.
    """

    def ratio(num: float, den: float) -> float:
        return float(num) / float(den) if den > 0 else math.nan

    return {
        "dice": ratio(2 * tp, 2 * tp + fp + fn),
        "jaccard": ratio(tp, tp + fp + fn),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "accuracy": ratio(tp + tn, tp + fp + tn + fn),
    }


def _confusion_rows(details: Any) -> np.ndarray:
    """``(N, 4)`` tp/fp/tn/fn from a MONAI ``ConfusionMatrix`` buffer ``(N, C, 4)`` (channel 0: the only class)."""
    arr = details.detach().cpu().numpy() if isinstance(details, torch.Tensor) else np.asarray(details)
    return arr.reshape(arr.shape[0], -1, 4)[:, 0, :].astype(np.float64)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_summary(
    evaluator: Engine,
    summary_file: str | os.PathLike,
    items: Sequence[dict],
    grids: dict[str, str] | None = None,
    **info: Any,
) -> dict[str, Any]:
    """Write ``summary.json`` and ``metrics_per_image.csv`` from a finished evaluator's confusion-matrix details.

    The per-image values come from the ``ConfusionMatrix`` handlers' buffers (``engine.state.metric_details``), one
    per grid, and are recomputed with :func:`metrics_from_confusion` (nnU-Net conventions); means skip NaN. The
    evaluator must iterate ``items`` in order (no shuffling, one process).

    Args:
        evaluator: the evaluator after ``run()``.
        summary_file: JSON path; the CSV goes next to it.
        items: the evaluated datalist items (for file names), in loader order.
        grids: grid name -> metric-details key of a ``ConfusionMatrix`` handler. Defaults to
            ``{"network": "val_precision", "native": "native_precision"}``.
        info: extra facts recorded under ``"info"`` (network, checkpoint, datalist, ...).

    Returns:
        The summary dict (``mean`` per grid and metric, ``n_images``, ``n_nan``, ``metric_per_image``, ``info``).
    """
    grids = grids or {"network": "val_precision", "native": "native_precision"}
    details = getattr(evaluator.state, "metric_details", {}) or {}
    per_image: list[dict[str, Any]] = [
        {"image": str(it.get("image", "")), "study": str(it.get("study", ""))} for it in items
    ]
    summary: dict[str, Any] = {"mean": {}, "n_nan": {}, "n_images": len(per_image)}
    for grid, key in grids.items():
        if key not in details:
            continue
        rows = _confusion_rows(details[key])
        if len(rows) != len(per_image):
            raise ValueError(f"{key}: {len(rows)} confusion rows for {len(per_image)} datalist items")
        values = [metrics_from_confusion(*r) for r in rows]
        for rec, val, r in zip(per_image, values, rows, strict=True):
            rec.update({f"{grid}_{m}": val[m] for m in METRIC_NAMES})
            rec.update({f"{grid}_n_ref": int(r[0] + r[3]), f"{grid}_n_pred": int(r[0] + r[1])})
        for m in METRIC_NAMES:
            col = np.array([v[m] for v in values], dtype=np.float64)
            finite = col[~np.isnan(col)]
            summary["mean"][f"{grid}_{m}"] = float(finite.mean()) if finite.size else math.nan
            summary["n_nan"][f"{grid}_{m}"] = int(np.isnan(col).sum())
    summary["engine_metrics"] = {k: float(v) for k, v in evaluator.state.metrics.items() if _is_number(v)}
    summary["info"] = {k: str(v) for k, v in info.items()}
    summary["metric_per_image"] = per_image
    path = Path(summary_file)
    _atomic_write(path, json.dumps(summary, indent=2, sort_keys=True, allow_nan=True) + "\n")
    columns = list(per_image[0].keys()) if per_image else ["image"]
    lines: list[str] = []

    class _Sink:
        def write(self, text: str) -> None:
            lines.append(text)

    writer = csv.DictWriter(_Sink(), fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(per_image)
    _atomic_write(path.with_name("metrics_per_image.csv"), "".join(lines))
    return summary


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
