# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The training's learning-rate schedule per epoch: ``"constant"`` (the paper) or ``"cosine"`` (warmup + cosine).

``bundle/configs/train.json`` builds the scheduler with :func:`create_lr_scheduler` (a ``torch.optim.lr_scheduler
.LambdaLR``) and steps it once per epoch with MONAI's ``LrScheduleHandler``. The scheduler's state (its epoch count and
base learning rates) is saved in every epoch checkpoint under ``lr_scheduler`` and restored on resume; the curve
itself is rebuilt from the config, so a resume with another ``max_epochs`` or ``warmup_epochs`` follows the new
curve from the restored epoch on (the learning rate may jump to the new curve's value), and another ``learning_rate``
becomes the new peak (:class:`custom_transforms.resume.ResumeGuard`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["LR_SCHEDULES", "lr_factor", "create_lr_scheduler"]

#: the schedules ``lr_schedule`` accepts.
LR_SCHEDULES = ("constant", "cosine")


def lr_factor(schedule: str, warmup_epochs: int, max_epochs: int) -> Callable[[int], float]:
    """The multiplier of the base learning rate after ``epoch`` completed epochs (``LambdaLR``'s ``lr_lambda``).

    ``"constant"``: 1. ``"cosine"``: a linear warmup over ``warmup_epochs`` epochs (epoch ``e < warmup_epochs`` trains
    at ``(e + 1) / (warmup_epochs + 1)``), then a half cosine from 1 to 0 at ``max_epochs``:
    ``0.5 * (1 + cos(pi * (e - warmup_epochs) / (max_epochs - warmup_epochs)))``; 0 from ``max_epochs`` on.

    Args:
        schedule: one of :data:`LR_SCHEDULES`.
        warmup_epochs: epochs of linear warmup (cosine only), 0 or more.
        max_epochs: the epoch at which the cosine reaches 0.

    Raises:
        ValueError: an unknown schedule or a negative ``warmup_epochs``.
    """
    name = str(schedule).strip().lower()
    if name not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule {schedule!r} is not one of {list(LR_SCHEDULES)}")
    warmup, total = int(warmup_epochs), int(max_epochs)
    if warmup < 0:
        raise ValueError(f"warmup_epochs must be 0 or more, got {warmup_epochs!r}")
    if name == "constant":
        return lambda epoch: 1.0

    # a closure, not a callable object: LambdaLR would save an object's attributes and restore the old max_epochs
    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        span = max(total - warmup, 1)
        progress = min(max(epoch - warmup, 0) / span, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def create_lr_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str = "constant", warmup_epochs: int = 0, max_epochs: int = 1
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` over ``optimizer`` following :func:`lr_factor`; step it once per epoch.

    Args:
        optimizer: the training optimizer (its configured learning rate is the peak).
        schedule: ``"constant"`` or ``"cosine"``. Defaults to ``"constant"``.
        warmup_epochs: linear warmup epochs of ``"cosine"``. Defaults to 0.
        max_epochs: the epoch at which ``"cosine"`` reaches 0. Defaults to 1.
    """
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(schedule, warmup_epochs, max_epochs))
