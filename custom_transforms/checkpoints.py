# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Checkpoint bookkeeping of bundle runs: the latest per-epoch checkpoint, a strict fit check, the final checkpoint.

``train.json`` resumes from :func:`latest_epoch_checkpoint` and ends a finished run with :func:`keep_final_checkpoint`;
``train.json`` (``--initial_weights``), ``evaluate.json`` and ``inference.json`` check their weights with
:func:`check_checkpoint` before anything runs, so that a wrong file is named instead of failing in
``load_state_dict``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from custom_transforms.errors import RenogramInputError

__all__ = ["EPOCH_CHECKPOINT_PATTERN", "latest_epoch_checkpoint", "check_checkpoint", "keep_final_checkpoint"]

#: file names of the per-epoch resume checkpoints written by the bundle's ``train#epoch_saver`` (MONAI/Ignite naming).
EPOCH_CHECKPOINT_PATTERN = re.compile(r"checkpoint_epoch=(\d+)\.pt")


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
