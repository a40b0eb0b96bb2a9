# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Ignite handlers the comparison adds to the bundle's trainer from outside the bundle's configs.

- :class:`EpochTimeBudget` stops training at an epoch boundary before a wall-clock budget would be exceeded.
  Why own code: ignite's ``TimeLimit`` counts from its construction (config parsing and data set-up included),
  takes whole seconds and only stops *after* the limit has passed; fired on ``ITERATION_COMPLETED`` it cuts the
  last epoch short, which skips that epoch's validation and can leave no best checkpoint at all. This handler
  counts from ``Events.STARTED``, always finishes at least one epoch (so ``model.pt`` exists) and stops when the
  mean epoch time says the next epoch would not fit.
- :class:`EpochProgressLog` writes one CSV row per epoch (mean training loss, the evaluator's metrics, elapsed
  seconds), the per-epoch validation Dice log that the learning curves are drawn from. Why own code: MONAI's
  ``StatsHandler``/``TensorBoardStatsHandler`` write logs or event files, not a table readable without TensorBoard.

Both must be attached after the bundle's trainer has been built, so that on ``EPOCH_COMPLETED`` they run after the
bundle's ``ValidationHandler`` (Ignite fires handlers in registration order).
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events
from monai.handlers import from_engine

from .spec import atomic_write_text

__all__ = ["EpochProgressLog", "EpochTimeBudget"]


class EpochTimeBudget:
    """Terminate training at the end of an epoch when the next epoch would overrun a wall-clock budget.

    Args:
        seconds: budget in seconds from ``Events.STARTED`` (validation time included).
        min_epochs: epochs always completed, whatever the budget. Defaults to 1.
        clock: the clock the budget is counted on: ``time.perf_counter`` (wall clock, the default) or
            ``time.process_time`` (CPU seconds of this process, all its threads: on a shared machine every network
            then gets the same compute whatever the other load; DataLoader worker processes are not counted).

    Attributes:
        stopped: True once the budget stopped the run (False when it ended for another reason).
        elapsed_s: seconds from start to the last completed epoch.
    """

    def __init__(self, seconds: float, min_epochs: int = 1, clock: Callable[[], float] = time.perf_counter) -> None:
        if not seconds > 0:
            raise ValueError(f"time budget must be positive, got {seconds} s.")
        if min_epochs < 1:
            raise ValueError(f"min_epochs must be >= 1, got {min_epochs}.")
        self.seconds = float(seconds)
        self.min_epochs = int(min_epochs)
        self.clock = clock
        self.stopped = False
        self.elapsed_s = 0.0
        self._t0 = 0.0
        self._epoch0 = 0

    def attach(self, engine: Engine) -> None:
        """Register on ``engine`` (``STARTED`` and ``EPOCH_COMPLETED``)."""
        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def _start(self, engine: Engine) -> None:
        self._t0 = self.clock()
        self._epoch0 = engine.state.epoch  # non-zero when the trainer resumed from a checkpoint

    def __call__(self, engine: Engine) -> None:
        self.elapsed_s = self.clock() - self._t0
        done = engine.state.epoch - self._epoch0
        if done < self.min_epochs:
            return
        if self.elapsed_s + self.elapsed_s / done > self.seconds:
            self.stopped = True
            engine.logger.info(
                f"time budget: {self.elapsed_s:.0f} s used of {self.seconds:.0f} s after {done} epochs; "
                "the next epoch would not fit, stopping."
            )
            engine.terminate()


class EpochProgressLog:
    """Write ``path`` (CSV) with one row per training epoch, rewritten atomically after each epoch.

    Columns: ``epoch``, ``elapsed_s`` (seconds since ``STARTED``, validation included), ``train_loss`` (mean of the
    iteration losses of the epoch), then every metric in ``evaluator.state.metrics`` (e.g. ``val_mean_dice``) when
    the evaluator ran for this epoch, else empty.

    Args:
        path: CSV file to write.
        evaluator: the validation engine run by the bundle's ``ValidationHandler``; None for loss only.
        loss_transform: maps ``engine.state.output`` to the scalar loss.
            Defaults to ``from_engine(["loss"], first=True)``.
    """

    def __init__(self, path: str | os.PathLike, evaluator: Engine | None = None, loss_transform: Any = None) -> None:
        self.path = Path(path)
        self.evaluator = evaluator
        self.loss_transform = loss_transform or from_engine(["loss"], first=True)
        self.rows: list[dict[str, Any]] = []
        self._losses: list[float] = []
        self._t0 = 0.0

    def attach(self, engine: Engine) -> None:
        """Register on ``engine`` (``STARTED``, ``EPOCH_STARTED``, ``ITERATION_COMPLETED``, ``EPOCH_COMPLETED``)."""
        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(Events.EPOCH_STARTED, self._epoch_start)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def _start(self, engine: Engine) -> None:
        self._t0 = time.perf_counter()

    def _epoch_start(self, engine: Engine) -> None:
        self._losses = []

    def _iteration(self, engine: Engine) -> None:
        loss = self.loss_transform(engine.state.output)
        if isinstance(loss, (tuple, list)):  # from_engine gives a 1-tuple for a single (not decollated) dict
            loss = loss[0]
        self._losses.append(float(loss.item() if hasattr(loss, "item") else loss))

    def __call__(self, engine: Engine) -> None:
        row: dict[str, Any] = {
            "epoch": engine.state.epoch,
            "elapsed_s": round(time.perf_counter() - self._t0, 3),
            "train_loss": sum(self._losses) / len(self._losses) if self._losses else math.nan,
        }
        ev = self.evaluator
        if ev is not None and ev.state is not None and ev.state.epoch == engine.state.epoch:
            for key, value in ev.state.metrics.items():
                if isinstance(value, (int, float)):
                    row[key] = float(value)
                elif hasattr(value, "item") and getattr(value, "numel", lambda: 0)() == 1:
                    row[key] = float(value.item())
        self.rows.append(row)
        self.write()

    def write(self) -> None:
        """Rewrite the CSV from :attr:`rows` (columns: union of keys in first-seen order)."""
        columns: list[str] = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buf.getvalue())
