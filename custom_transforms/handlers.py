# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Ignite handlers the bundle's training attaches where MONAI and Ignite have none that stops with an error."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import torch
from ignite.engine import Engine, Events

__all__ = ["StopOnNonFiniteLoss"]


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
