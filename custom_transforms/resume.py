# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Resuming a bundle training run so that it does what the command asked, or says why it cannot.

``bundle/configs/train.json`` resumes from the latest ``checkpoint_epoch=<N>.pt`` in ``ckpt_dir``. MONAI's
``CheckpointLoader`` restores the network, the optimizer (learning rate included), the trainer's epoch and the
best-model saver; on its own it would silently keep the checkpoint's learning rate over ``--learning_rate``, restart the
early-stopping counter, count "best at epoch N" from the restart, and resume a run whose network, input size, batch
size or dataset has changed. The pieces here close those gaps; each is an Ignite-saveable object (``state_dict`` /
``load_state_dict``) stored in the epoch checkpoint next to MONAI's entries:

- :class:`TrainingSettings` (checkpoint key ``settings``): the settings the run was started with.
- :class:`EarlyStoppingState` (``early_stopping``): the early-stopping counter and best score.
- :class:`BestMetricRecord` (``best_metrics``): the trainer's and the evaluator's best key metric and its epoch
  (the ``Key metric: ... best value ... at epoch N`` log line), counted from the first epoch of the first run.
- :class:`ResumeGuard`: before anything runs, compares the checkpoint's settings with the configured ones and either
  refuses (one :class:`~custom_transforms.errors.RenogramInputError` naming the checkpoint, every setting that differs
  with its old and new value, and how to start fresh) or lets the resume go on; once the checkpoint is loaded it
  applies the settings that can change (the learning rate is set on the optimizer's param groups) and logs each one.

What happens to each setting on resume (:data:`REFUSE_ON_CHANGE`, :data:`APPLY_ON_CHANGE`), with the reason, is the
table in ``bundle/docs/README.md``. The module imports nothing from the commands; it is copied into exported bundles
with the rest of this package.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events

from custom_transforms.checkpoints import EPOCH_CHECKPOINT_PATTERN, SETTINGS_KEY
from custom_transforms.errors import RenogramInputError

__all__ = [
    "SETTINGS_KEY",
    "REFUSE_ON_CHANGE",
    "APPLY_ON_CHANGE",
    "network_layout",
    "dataset_record",
    "TrainingSettings",
    "EarlyStoppingState",
    "BestMetricRecord",
    "ResumeGuard",
    "check_resume",
    "ABANDONED_PREFIX",
    "set_aside_epoch_checkpoints",
]

logger = logging.getLogger(__name__)

#: settings whose change makes a resume meaningless, with the reason given in the refusal.
REFUSE_ON_CHANGE: dict[str, str] = {
    "network_name": "the checkpoint holds the weights of another network",
    "network_kwargs": "the checkpoint holds the weights of another network configuration",
    "network_def": "the checkpoint's weights do not fit the configured network",
    "in_channels": "the network was trained on another number of input channels",
    "image_size": "the network was trained on another input size",
    "colormap": "the network was trained on another pseudocolor",
    "fused_index": "the network was trained on another fused image",
    "view": "the network was trained on the other detector's images",
    "min_start_s": "the network was trained on fused images that start at another time",
    "group_size": "the network was trained on fused images of another number of frames",
    "window_s": "the network was trained on fused images of another time window",
    "drop_partial": "the network was trained with another rule for the last, partial fused image",
    "percentile": "the network was trained on images scaled to another percentile",
    "batch_size": "an epoch would hold another number of iterations than the restored trainer counts",
    "dataset": "the run would continue on other training or validation images",
    "optimizer": "the restored optimizer state belongs to another optimizer",
    "initial_weights": "a resume continues from the checkpoint's weights, so other initial weights cannot apply",
}
#: settings that a resume applies as configured (logged when they differ from the checkpoint's).
APPLY_ON_CHANGE: dict[str, str] = {
    "learning_rate": "set on the optimizer's param groups after its state is restored",
    "max_epochs": (
        "training continues to the configured max_epochs (a cosine lr_schedule is re-planned to reach 0 there: from "
        "the restored epoch on the learning rate follows the new curve)"
    ),
    "weight_decay": "set on the optimizer's param groups after its state is restored",
    "lr_schedule": "the learning rate follows the configured schedule from the restored epoch on",
    "warmup_epochs": "the learning rate follows the configured schedule from the restored epoch on",
    "loss_name": "the loss is built from the config",
    "autocast_dtype": "the training step's precision follows the config (the weights are float32 either way)",
    "channels_last": "the training step's memory format follows the config (the weights' values do not depend on it)",
    "cache_rate": "the datasets are built from the config",
    "early_stop_patience": "the restored early-stopping counter is compared with the new patience",
    "val_interval": "validations follow the new interval",
    "augment_flip": "the training transforms are built from the config",
    "augment_affine": "the training transforms are built from the config",
    "loss": "the loss is built from the config",
    "seed": "set_determinism uses the configured seed (a resumed run is not bit-identical to an uninterrupted one)",
}
#: prefix given to the epoch checkpoints of an abandoned run when a new run starts fresh in the same ``ckpt_dir``.
ABANDONED_PREFIX = "abandoned_"
#: settings of :data:`REFUSE_ON_CHANGE` that describe the network; ``network_def`` is only reported when none of them
#: differs (its layout follows from them).
_NETWORK_SETTINGS = ("network_name", "network_kwargs", "in_channels", "image_size")


def _plain(value: Any) -> Any:
    """A JSON-comparable copy (tuples -> lists, paths and other objects -> strings)."""
    return json.loads(json.dumps(value, default=str))


def _as_bool(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _unwrap(network: torch.nn.Module) -> torch.nn.Module:
    wrapped = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
    return network.module if isinstance(network, wrapped) else network


def network_layout(network: torch.nn.Module) -> str:
    """``"<class> (<n> parameters, layout <digest>)"``: what a checkpoint's weights must fit.

    The digest covers the ``state_dict`` keys and shapes (not the values), so two networks have the same layout
    exactly when one's weights load strictly into the other. A ``DistributedDataParallel`` wrapper is looked through.
    """
    net = _unwrap(network)
    state = net.state_dict()
    text = ";".join(f"{k}:{tuple(v.shape)}" for k, v in state.items() if hasattr(v, "shape"))
    n_params = sum(p.numel() for p in net.parameters())
    return f"{type(net).__name__} ({n_params} parameters, layout {hashlib.sha256(text.encode()).hexdigest()[:12]})"


def _relative(value: Any, base: Path | None) -> Any:
    if not isinstance(value, str | os.PathLike):
        return _plain(value)
    path = Path(value)
    if base is not None:
        try:
            return path.resolve().relative_to(base).as_posix()
        except (ValueError, OSError):
            pass
    return os.fspath(path)


def _size(value: Any) -> int:
    try:
        return os.path.getsize(value) if isinstance(value, str | os.PathLike) else -1
    except OSError:
        return -1


def dataset_record(
    train_items: Sequence[Mapping[str, Any]],
    val_items: Sequence[Mapping[str, Any]],
    base_dir: str | os.PathLike | None = None,
) -> str:
    """``"<n> training + <m> validation items (digest <d>)"``: which images a run trains and validates on.

    The digest covers each item's ``image`` and ``label`` (relative to ``base_dir`` when inside it, so a dataset folder
    that moved keeps its digest) and the files' sizes (so a rebuilt dataset with the same names but other images
    differs), in datalist order.

    Args:
        train_items: the training datalist (``train#dataset#data``).
        val_items: the validation datalist (``validate#dataset#data``).
        base_dir: the dataset folder (``dataset_dir``). Defaults to None (paths as given).
    """
    base = Path(base_dir).resolve() if base_dir is not None else None
    rows = []
    for split, items in (("training", train_items), ("validation", val_items)):
        for item in items:
            row = {"split": split}
            for key in ("image", "label"):
                if isinstance(item, Mapping) and key in item:
                    row[key] = _relative(item[key], base)
                    row[f"{key}_size"] = _size(item[key])
            rows.append(row)
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:12]
    return f"{len(train_items)} training + {len(val_items)} validation items (digest {digest})"


class TrainingSettings:
    """The settings a training run was started with, saved in each epoch checkpoint under :data:`SETTINGS_KEY`.

    ``state_dict()`` is the current record (plain JSON values, loadable with ``torch.load(weights_only=True)``);
    ``load_state_dict()`` keeps the checkpoint's record in :attr:`restored` and changes nothing else.

    Args:
        settings: config values by setting name (``network_name``, ``image_size``, ``learning_rate``, ...; see
            :data:`REFUSE_ON_CHANGE` and :data:`APPLY_ON_CHANGE`).
        network: the network (its :func:`network_layout` is recorded as ``network_def``). Defaults to None.
        optimizer: the optimizer (its class is recorded as ``optimizer``). Defaults to None.
        loss: the loss (its class is recorded as ``loss``). Defaults to None.
        train_items: the training datalist, recorded with ``val_items`` as ``dataset`` (:func:`dataset_record`).
            Defaults to None.
        val_items: the validation datalist. Defaults to None.
        dataset_dir: the dataset folder. Defaults to None.
    """

    def __init__(
        self,
        settings: Mapping[str, Any],
        network: torch.nn.Module | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        loss: Any = None,
        train_items: Sequence[Mapping[str, Any]] | None = None,
        val_items: Sequence[Mapping[str, Any]] | None = None,
        dataset_dir: str | os.PathLike | None = None,
    ) -> None:
        record = {k: _plain(v) for k, v in settings.items()}
        for key in ("learning_rate", "weight_decay", "cache_rate"):
            if key in record:
                record[key] = float(record[key])
        for key in ("batch_size", "max_epochs", "early_stop_patience", "val_interval", "in_channels", "seed",
                    "warmup_epochs"):
            if key in record:
                record[key] = int(record[key])
        for key in ("augment_flip", "augment_affine", "channels_last"):
            if key in record:
                record[key] = _as_bool(record[key])
        for key in ("lr_schedule", "loss_name"):
            if key in record:
                record[key] = str(record[key]).strip().lower()
        if record.get("initial_weights"):
            record["initial_weights"] = os.path.abspath(os.fspath(record["initial_weights"]))
        if network is not None:
            record["network_def"] = network_layout(network)
        if optimizer is not None:
            record["optimizer"] = type(optimizer).__name__
        if loss is not None:
            record["loss"] = type(loss).__name__
        if train_items is not None and val_items is not None:
            record["dataset"] = dataset_record(train_items, val_items, dataset_dir)
        self.current: dict[str, Any] = record
        self.restored: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        """The current record (what a checkpoint saves)."""
        return dict(self.current)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Keep the checkpoint's record in :attr:`restored`."""
        self.restored = dict(state_dict)

    def differences(self, restored: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        """``{setting: (checkpoint's value, current value)}`` for the settings both records hold and that differ."""
        return {
            k: (restored[k], v)
            for k, v in self.current.items()
            if k in restored and _plain(restored[k]) != _plain(v)
        }


def _early_stopping(handler: Any) -> Any:
    """Ignite's ``EarlyStopping`` behind MONAI's ``EarlyStopHandler`` (made by ``set_trainer``), or ``handler``."""
    return getattr(handler, "_handler", handler)


class EarlyStoppingState:
    """The early-stopping counter and best score as an Ignite-saveable object (checkpoint key ``early_stopping``).

    MONAI's ``EarlyStopHandler`` builds Ignite's ``EarlyStopping`` only in ``set_trainer``, after the config has made
    the checkpoint's object list; this wrapper reaches it when the checkpoint is saved or loaded.

    Args:
        handler: MONAI's ``EarlyStopHandler`` (``validate#early_stopper``) or an Ignite ``EarlyStopping``.
    """

    def __init__(self, handler: Any) -> None:
        self.handler = handler

    def state_dict(self) -> dict[str, Any]:
        """``{"counter": int, "best_score": float | None}`` (zeros before ``set_trainer``)."""
        stopper = _early_stopping(self.handler)
        if stopper is None:
            return {"counter": 0, "best_score": None}
        best = stopper.best_score
        return {"counter": int(stopper.counter), "best_score": None if best is None else float(best)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the counter and best score.

        Raises:
            RuntimeError: the ``EarlyStopHandler`` has no trainer yet (``set_trainer`` must run first).
        """
        stopper = _early_stopping(self.handler)
        if stopper is None:
            raise RuntimeError("early stopping state restored before EarlyStopHandler.set_trainer()")
        stopper.counter = int(state_dict.get("counter", 0))
        best = state_dict.get("best_score")
        stopper.best_score = None if best is None else float(best)


class BestMetricRecord:
    """The best key metric and its epoch of each engine (``engine.state.best_metric``/``best_metric_epoch``).

    MONAI's workflows keep them in the engine state, which a checkpoint does not save; after a resume the log's
    "best value ... at epoch N" would count from the restart. Saved under the checkpoint key ``best_metrics``.

    Args:
        engines: name -> engine, e.g. ``{"trainer": trainer, "evaluator": evaluator}``.
    """

    def __init__(self, engines: Mapping[str, Engine]) -> None:
        self.engines = dict(engines)

    def state_dict(self) -> dict[str, dict[str, float | int]]:
        """``{name: {"best_metric": float, "best_metric_epoch": int}}`` (MONAI's ``-1`` when none yet)."""
        out = {}
        for name, engine in self.engines.items():
            best = getattr(engine.state, "best_metric", -1)
            best = float(best.item() if isinstance(best, torch.Tensor) else best)
            out[name] = {"best_metric": best, "best_metric_epoch": int(getattr(engine.state, "best_metric_epoch", -1))}
        return out

    def load_state_dict(self, state_dict: Mapping[str, Mapping[str, Any]]) -> None:
        """Set each engine's ``best_metric`` and ``best_metric_epoch`` from the checkpoint."""
        for name, engine in self.engines.items():
            if name in state_dict:
                engine.state.best_metric = float(state_dict[name]["best_metric"])
                engine.state.best_metric_epoch = int(state_dict[name]["best_metric_epoch"])


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


class ResumeGuard:
    """Resume from ``checkpoint`` only when it makes sense, and apply what the configuration changed.

    :meth:`attach` (one config step, before anything is trained) reads the checkpoint, refuses a resume whose
    settings differ in a :data:`REFUSE_ON_CHANGE` setting or whose epochs exceed ``max_epochs``, then attaches
    ``loader`` (MONAI's ``CheckpointLoader``, which restores on the trainer's ``STARTED`` event) and, after it, its own
    ``STARTED`` handler. That handler sets the configured ``learning_rate`` (and ``weight_decay``) on every param group
    of the restored optimizer and logs each :data:`APPLY_ON_CHANGE` setting that differs, plus where the run continues.
    With a restored ``lr_scheduler`` (a ``LambdaLR``, :mod:`custom_transforms.lr_schedule`) the configured learning
    rate becomes the schedule's base (peak) rate and each group's rate is the configured schedule's value at the
    restored epoch, so a changed ``max_epochs``, ``warmup_epochs`` or ``lr_schedule`` takes effect at once.

    Args:
        checkpoint: the epoch checkpoint to resume from (``train#last_checkpoint``).
        loader: the ``CheckpointLoader`` of that checkpoint (``train#resume_loader``); None for :meth:`check` only.
        settings: the run's :class:`TrainingSettings` (``train#settings``).
        optimizer: the optimizer whose learning rate is applied. Defaults to None (not applied).
        learning_rate: the configured learning rate. Defaults to None (not applied).
        lr_scheduler: the restored ``LambdaLR`` of the run (``lr_scheduler``). Defaults to None (no schedule).
        weight_decay: the configured weight decay. Defaults to None (not applied).
        early_stopping: the :class:`EarlyStoppingState`, for the log line. Defaults to None.
        best_metrics: the :class:`BestMetricRecord`, for the log line. Defaults to None.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike,
        loader: Any,
        settings: TrainingSettings,
        optimizer: torch.optim.Optimizer | None = None,
        learning_rate: float | None = None,
        early_stopping: EarlyStoppingState | None = None,
        best_metrics: BestMetricRecord | None = None,
        lr_scheduler: torch.optim.lr_scheduler.LambdaLR | None = None,
        weight_decay: float | None = None,
    ) -> None:
        self.checkpoint = Path(checkpoint)
        self.loader = loader
        self.settings = settings
        self.optimizer = optimizer
        self.learning_rate = None if learning_rate is None else float(learning_rate)
        self.lr_scheduler = lr_scheduler
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.early_stopping = early_stopping
        self.best_metrics = best_metrics
        self.applied: dict[str, tuple[Any, Any]] = {}
        self.epochs_done = 0

    def _fresh(self) -> str:
        ckpt_dir = self.checkpoint.parent
        return (
            f"start fresh with --resume false (it replaces {ckpt_dir}/model.pt; add --initial_weights "
            f"{ckpt_dir}/model.pt to start from its best weights) or with a new --ckpt_dir"
        )

    def _read(self) -> Mapping[str, Any]:
        try:
            state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many types for truncated or foreign files
            raise RenogramInputError(
                self.checkpoint,
                f"cannot resume: not a readable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                f"delete it, or {self._fresh()}",
            ) from None
        if not isinstance(state, Mapping) or "trainer" not in state:
            raise RenogramInputError(
                self.checkpoint, f"cannot resume: not an epoch checkpoint of this bundle (no trainer state); "
                f"{self._fresh()}"
            )
        return state

    def check(self, max_epochs: int | None = None) -> dict[str, tuple[Any, Any]]:
        """Compare the checkpoint with the configuration; returns the :data:`APPLY_ON_CHANGE` settings that differ.

        Args:
            max_epochs: the configured ``max_epochs``. Defaults to None (not checked).

        Raises:
            RenogramInputError: the checkpoint is unreadable or holds no settings record (written before this check
                existed), a :data:`REFUSE_ON_CHANGE` setting differs, or it has more epochs done than ``max_epochs``;
                one message names the checkpoint, each such setting with its old and new value, and how to start
                fresh.
        """
        state = self._read()
        restored = state.get(SETTINGS_KEY)
        if not isinstance(restored, Mapping):
            raise RenogramInputError(
                self.checkpoint,
                "cannot resume: the checkpoint records no training settings (written by an older version of the "
                f"bundle), so a changed network, input or dataset could not be detected; {self._fresh()}",
            )
        if "lr_schedule" in self.settings.current and "lr_schedule" not in restored:
            raise RenogramInputError(
                self.checkpoint,
                "cannot resume: the checkpoint records no learning-rate schedule (written by an older version of the "
                f"bundle, before lr_schedule existed); {self._fresh()}",
            )
        diffs = self.settings.differences(restored)
        refused = [k for k in REFUSE_ON_CHANGE if k in diffs]
        if "network_def" in refused and any(k in refused for k in _NETWORK_SETTINGS):
            refused.remove("network_def")
        problems = [
            f"{k} was {_show(diffs[k][0])} for this checkpoint and is {_show(diffs[k][1])} now "
            f"({REFUSE_ON_CHANGE[k]})"
            for k in refused
        ]
        trainer = state["trainer"]
        done = int(trainer.get("iteration", 0)) // max(int(trainer.get("epoch_length") or 1), 1)
        if max_epochs is not None and done > int(max_epochs):
            problems.append(
                f"max_epochs is {int(max_epochs)} but the checkpoint has {done} epochs done (pass --max_epochs "
                f"{done} or more to continue it)"
            )
        if problems:
            raise RenogramInputError(self.checkpoint, f"cannot resume: {'; '.join(problems)}; {self._fresh()}")
        self.epochs_done = done
        self.applied = {k: diffs[k] for k in APPLY_ON_CHANGE if k in diffs}
        return self.applied

    def attach(self, trainer: Engine) -> None:
        """Check (see :meth:`check`), then attach the checkpoint loader and the after-load handler to ``trainer``.

        Raises:
            RenogramInputError: the resume is refused (nothing is attached).
        """
        self.check(max_epochs=trainer.state.max_epochs)
        if self.loader is not None:
            self.loader.attach(trainer)
        trainer.add_event_handler(Events.STARTED, self._after_load)

    def _after_load(self, engine: Engine) -> None:
        if self.optimizer is not None and self.weight_decay is not None:
            for group in self.optimizer.param_groups:
                group["weight_decay"] = self.weight_decay
        if self.optimizer is not None and self.learning_rate is not None:
            scheduler = self.lr_scheduler
            if scheduler is not None:
                restored = sorted({float(b) for b in scheduler.base_lrs})
                scheduler.base_lrs = [self.learning_rate] * len(self.optimizer.param_groups)
                for group, factor in zip(self.optimizer.param_groups, scheduler.lr_lambdas, strict=True):
                    group["initial_lr"] = self.learning_rate
                    group["lr"] = self.learning_rate * factor(scheduler.last_epoch)
                scheduler._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]  # what get_last_lr() reads
            else:
                restored = sorted({float(g["lr"]) for g in self.optimizer.param_groups})
                for group in self.optimizer.param_groups:
                    group["lr"] = self.learning_rate
            if restored != [self.learning_rate]:
                old = restored[0] if len(restored) == 1 else restored
                self.applied["learning_rate"] = (old, self.learning_rate)
        for key, (old, new) in self.applied.items():
            logger.info(
                f"resume: {key} was {_show(old)} for {self.checkpoint.name} and is {_show(new)} now: applied "
                f"({APPLY_ON_CHANGE[key]})"
            )
        parts = [f"resumed {self.checkpoint} after epoch {engine.state.epoch} of max_epochs {engine.state.max_epochs}"]
        if self.optimizer is not None:
            parts.append(f"lr {self.optimizer.param_groups[0]['lr']:.3g}")
        if self.early_stopping is not None:
            stopper = _early_stopping(self.early_stopping.handler)
            if stopper is not None:
                parts.append(f"early stopping at {stopper.counter}/{stopper.patience} validations without improvement")
        if self.best_metrics is not None:
            for name, rec in self.best_metrics.state_dict().items():
                if rec["best_metric_epoch"] >= 0 and math.isfinite(rec["best_metric"]):
                    parts.append(f"{name} best {rec['best_metric']:.4f} at epoch {rec['best_metric_epoch']}")
        logger.info("; ".join(parts))


def check_resume(
    checkpoint: str | os.PathLike, settings: TrainingSettings, max_epochs: int | None = None
) -> dict[str, tuple[Any, Any]]:
    """:meth:`ResumeGuard.check` on its own, for the config step that runs before the trainer is built.

    Building the trainer already writes (its TensorBoard handler opens an event file in ``output_dir``), so the
    config checks the checkpoint first: a refused resume leaves nothing behind.

    Returns:
        The :data:`APPLY_ON_CHANGE` settings that differ, ``{setting: (checkpoint's value, current value)}``.

    Raises:
        RenogramInputError: the resume is refused (see :meth:`ResumeGuard.check`).
    """
    return ResumeGuard(checkpoint, None, settings).check(max_epochs=max_epochs)


def set_aside_epoch_checkpoints(ckpt_dir: str | os.PathLike) -> list[str]:
    """Before a fresh run (``resume: false``): rename the ``checkpoint_epoch=<N>.pt`` left by an earlier, unfinished
    run to ``abandoned_checkpoint_epoch=<N>.pt``.

    Otherwise the new run's own epoch checkpoints would sit beside them: a later resume or ``finalize`` picks the
    highest epoch, which could be the abandoned run's. Renamed, not deleted: the files stay for the user. Only rank 0
    renames under ``torch.distributed``.

    Returns:
        The new paths (empty when there was nothing to set aside).
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return []
    root = Path(ckpt_dir)
    moved: list[str] = []
    if not root.is_dir():
        return moved
    for path in sorted(root.iterdir()):
        if EPOCH_CHECKPOINT_PATTERN.fullmatch(path.name):
            target = path.with_name(ABANDONED_PREFIX + path.name)
            os.replace(path, target)
            moved.append(str(target))
            logger.info(f"fresh start (resume: false): set {path.name} of an earlier run aside as {target.name}")
    return moved
