# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Checkpoint bookkeeping of bundle runs: the latest per-epoch checkpoint, a strict fit check, the final checkpoint.

``train.json`` resumes from :func:`latest_epoch_checkpoint` and ends a finished run with :func:`keep_final_checkpoint`;
``train.json`` (``--initial_weights``), ``evaluate.json`` and ``inference.json`` check their weights with
:func:`check_checkpoint` before anything runs, so that a wrong file is named instead of failing in
``load_state_dict``.

Every checkpoint ``train.json`` writes (``model.pt``, the epoch and final checkpoints) holds, next to ``"model"``, the
run's :class:`custom_transforms.resume.TrainingSettings` record under ``"settings"``. :func:`recorded_training_rule`
reads the study -> network input rule from it (:data:`TRAINING_RULE_IDS`) and :func:`check_training_rule` refuses a
run whose ids differ, so that weights are never applied to images made by another rule (silently wrong masks).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from custom_transforms.errors import RenogramInputError

logger = logging.getLogger(__name__)

__all__ = [
    "EPOCH_CHECKPOINT_PATTERN",
    "SETTINGS_KEY",
    "TRAINING_RULE_IDS",
    "latest_epoch_checkpoint",
    "check_checkpoint",
    "recorded_training_rule",
    "check_training_rule",
    "keep_final_checkpoint",
]

#: file names of the per-epoch resume checkpoints written by the bundle's ``train#epoch_saver`` (MONAI/Ignite naming).
EPOCH_CHECKPOINT_PATTERN = re.compile(r"checkpoint_epoch=(\d+)\.pt")

#: checkpoint key of the :class:`custom_transforms.resume.TrainingSettings` record (next to ``"model"``).
SETTINGS_KEY = "settings"

#: config ids that turn a study into the network's input (the chain of ``custom_transforms.pipeline``) and build the
#: network: weights trained with one value of any of them give wrong masks on images made with another.
TRAINING_RULE_IDS = (
    "network_name",
    "network_kwargs",
    "in_channels",
    "image_size",
    "view",
    "min_start_s",
    "group_size",
    "window_s",
    "drop_partial",
    "fused_index",
    "colormap",
    "percentile",
)


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


def _read_record(path: Path) -> tuple[bool, dict[str, Any] | None]:
    """``(readable, rule)``: whether ``path`` is a readable checkpoint, and its recorded rule (None without one)."""
    if not path.is_file():
        return False, None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - unreadable: check_checkpoint names the file and the reason
        return False, None
    record = state.get(SETTINGS_KEY) if isinstance(state, Mapping) and "model" in state else None
    if not isinstance(record, Mapping):
        return True, None
    return True, {k: record[k] for k in TRAINING_RULE_IDS if k in record}


def recorded_training_rule(path: str | os.PathLike) -> dict[str, Any] | None:
    """The :data:`TRAINING_RULE_IDS` recorded with the weights in ``path`` by ``train.json``.

    Returns:
        ``{id: value}`` (plain JSON values, as :class:`~custom_transforms.resume.TrainingSettings` records them), or
        None when the file holds no record (weights written before the record existed, a plain ``state_dict``), is
        missing or cannot be read (:func:`check_checkpoint` names those).
    """
    return _read_record(Path(path))[1]


def _rule_values(ids: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`TRAINING_RULE_IDS` of ``ids`` as ``TrainingSettings`` records them: plain JSON, ``in_channels`` int.

    ``TrainingSettings`` itself is not used here: ``custom_transforms.resume`` imports this module.
    """
    out = {k: json.loads(json.dumps(ids[k], default=str)) for k in TRAINING_RULE_IDS if k in ids}
    if isinstance(out.get("in_channels"), (int, float, str)):
        out["in_channels"] = int(out["in_channels"])
    return out


def _show_id(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None or isinstance(value, (str, bool, int, float)):
        return str(value)
    return json.dumps(value)


def check_training_rule(path: str | os.PathLike, ids: Mapping[str, Any]) -> dict[str, Any] | None:
    """Check that this run makes the network's input by the rule the weights in ``path`` were trained with.

    Only the :data:`TRAINING_RULE_IDS` present both in ``ids`` and in the record are compared, after the same
    normalisation as :class:`~custom_transforms.resume.TrainingSettings` (tuples as lists, ``in_channels`` an int), so
    ``60`` and ``60.0`` are the same value. Weights without a record load as before: one warning (this module's
    logger) says the rule could not be checked. A missing or unreadable file is left to :func:`check_checkpoint`.

    Args:
        path: the weights file (``<ckpt_dir>/model.pt``).
        ids: the run's config values by id (extra ids are ignored), e.g. ``inference.json``'s ``training_rule``.

    Returns:
        The recorded rule, or None when the file has none.

    Raises:
        RenogramInputError: an id differs; one line names the weights file, each differing id with the value it was
            trained with and the run's value, and what to do.
    """
    p = Path(path)
    readable, rule = _read_record(p)
    if rule is None:
        if readable:
            # a warning, not an error line: the run goes on (in a bundle run it lands in the log, logging.conf)
            logger.warning(
                f"{p}: the weights record no training rule (written by an older version of the bundle); the "
                f"preprocessing ids ({', '.join(TRAINING_RULE_IDS)}) could not be checked against it"
            )
        return None
    trained = _rule_values(rule)
    diffs = {k: (trained[k], v) for k, v in _rule_values(ids).items() if k in trained and trained[k] != v}
    if diffs:
        was = ", ".join(f"{k}={_show_id(old)}" for k, (old, _) in diffs.items())
        now = ", ".join(f"{k}={_show_id(new)}" for k, (_, new) in diffs.items())
        raise RenogramInputError(p, f"was trained with {was}; this run has {now}: set the same ids, or retrain")
    return rule


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
