# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Train and evaluate one comparison run through the bundle's own configs (run in its own process).

``python -m scripts.comparison.worker RUN_DIR`` reads ``RUN_DIR/spec.json`` (a :class:`RunSpec`) and

1. trains with ``bundle/configs/train.json`` + ``paper.json`` (the paper's set-up: BCE, Adam, lr 0.002 constant, fp32)
   through :class:`monai.bundle.ConfigWorkflow`, overriding only ids the
   bundle exposes (``network_name``, ``network_kwargs``, ``augment_flip``, ``seed``, ``dataset_dir``,
   ``ckpt_dir``, ``output_dir``, ``max_epochs``, ``image_size``, ``batch_size``, ``early_stop_patience``,
   ``num_workers``, ``device``, ``resume``, ``learning_rate``) and adding two handlers from outside
   (:mod:`.handlers`: per-epoch log, wall-clock budget);
2. evaluates the best checkpoint (``models/model.pt``) with ``train.json`` + ``evaluate.json`` on the test split;
3. predicts the masks of a few test images (the same ones for every network) for the figure.

Steps 2 and 3 are skipped for a spec with ``evaluate_test`` false (the learning-rate search: validation only);
``eval_outputs.json`` is then ``{}``.

One process per run keeps runs independent (fresh determinism state, memory returned to the OS, a crash loses
one run only). Outputs are listed in :mod:`.spec`; ``done.json`` is written by the parent after this exits 0.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.handlers import Checkpoint
from monai.bundle import ConfigParser, ConfigWorkflow

from custom_transforms.safe_files import atomic_write_bytes

from .handlers import EpochProgressLog, EpochTimeBudget
from .spec import SPEC_FILE, RunSpec, atomic_write_json

__all__ = [
    "TRAIN_CONFIG",
    "EVAL_CONFIG",
    "PAPER_CONFIG",
    "bundle_overrides",
    "evaluate_run",
    "figure_indices",
    "main",
    "predict_figure_masks",
    "train_run",
]

TRAIN_CONFIG = "configs/train.json"
#: the paper's training set-up (BCE, Adam, lr 0.002 constant, fp32, no cache), merged over train.json for every run:
#: the comparison reproduces the paper's table, whatever recipe train.json ships with (skipped if a bundle lacks it).
PAPER_CONFIG = "configs/paper.json"
EVAL_CONFIG = "configs/evaluate.json"

logger = logging.getLogger("compare_networks.worker")


def bundle_overrides(spec: RunSpec, run_dir: Path, stage: str) -> dict[str, Any]:
    """Config overrides of one run (``stage`` ``"train"`` or ``"eval"``); ids are the bundle's documented ones."""
    ov: dict[str, Any] = {
        "bundle_root": spec.bundle_dir,
        "dataset_dir": spec.dataset,
        "ckpt_dir": str(run_dir / "models"),
        "output_dir": str(run_dir / ("logs" if stage == "train" else "eval")),
        "seed": int(spec.seed),
        "network_name": spec.network,
        "network_kwargs": dict(spec.network_kwargs),
        "augment_flip": bool(spec.augment),
        # the paper's tables: without augmentation, or with its flips only (the bundle's affine is its own recipe)
        "augment_affine": False,
        "resume": False,  # an unfinished run is retrained from scratch (see spec.py)
    }
    optional = {
        "max_epochs": spec.max_epochs,
        "image_size": list(spec.image_size) if spec.image_size is not None else None,
        "batch_size": spec.batch_size,
        "early_stop_patience": spec.patience,
        "num_workers": spec.num_workers,
        "learning_rate": spec.learning_rate,
    }
    ov.update({k: v for k, v in optional.items() if v is not None})
    if spec.device is not None:
        ov["device"] = f"$torch.device({spec.device!r})"
    return ov


def _workflow(spec: RunSpec, configs: list[str], overrides: dict[str, Any]) -> ConfigWorkflow:
    bundle = Path(spec.bundle_dir)
    meta = bundle / "configs" / "metadata.json"
    logging_conf = bundle / "configs" / "logging.conf"
    return ConfigWorkflow(
        config_file=[str(bundle / c) for c in configs] if len(configs) > 1 else str(bundle / configs[0]),
        meta_file=str(meta) if meta.is_file() else None,
        logging_file=str(logging_conf) if logging_conf.is_file() else False,
        workflow_type=None,  # the bundle's own tests check its properties; here only the run matters
        **overrides,
    )


def _key_metric_name(parser: ConfigParser) -> str:
    key_metric = parser.get("validate#key_metric") or {}
    return next(iter(key_metric), "val_mean_dice")


def train_run(spec: RunSpec, run_dir: Path) -> dict[str, Any]:
    """Train one run; returns the training summary (also written to ``train_summary.json``)."""
    configs = [TRAIN_CONFIG] + ([PAPER_CONFIG] if (Path(spec.bundle_dir) / PAPER_CONFIG).is_file() else [])
    wf = _workflow(spec, configs, bundle_overrides(spec, run_dir, "train"))
    ConfigParser.export_config_file(wf.parser.get(), str(run_dir / "config_train.json"), fmt="json", indent=2)
    wf.initialize()
    trainer = wf.parser.get_parsed_content("train#trainer")
    evaluator = wf.parser.get_parsed_content("validate#evaluator")
    key_metric = _key_metric_name(wf.parser)
    progress = EpochProgressLog(run_dir / "progress.csv", evaluator)
    progress.attach(trainer)
    budget = None
    if spec.minutes is not None:
        clock = time.process_time if spec.budget_clock == "cpu" else time.perf_counter
        budget = EpochTimeBudget(60.0 * spec.minutes, clock=clock)
        budget.attach(trainer)
    load_start = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    wf.run()
    train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    wf.finalize()

    rows = progress.rows
    dice = [r.get(key_metric, math.nan) for r in rows]
    finite = [(d, r["epoch"]) for d, r in zip(dice, rows, strict=True) if isinstance(d, float) and math.isfinite(d)]
    best_dice, best_epoch = max(finite, key=lambda t: (t[0], -t[1])) if finite else (math.nan, None)
    max_epochs = int(trainer.state.max_epochs)
    if budget is not None and budget.stopped:
        reason = "time_budget"
    elif trainer.state.epoch < max_epochs:
        reason = "early_stopping"
    else:
        reason = "max_epochs"
    summary = {
        "network": spec.network,
        "augment": spec.augment,
        "seed": spec.seed,
        "key_metric": key_metric,
        "epochs_run": int(trainer.state.epoch),
        "max_epochs": max_epochs,
        "epochs_to_best": best_epoch,
        "best_val_dice": best_dice,
        "train_time_s": round(train_s, 2),
        "train_cpu_s": round(train_cpu_s, 2),
        "time_budget_s": None if spec.minutes is None else 60.0 * spec.minutes,
        "budget_clock": spec.budget_clock,
        "stop_reason": reason,
        "train_images": len(trainer.data_loader.dataset),
        "val_images": len(evaluator.data_loader.dataset),
        "device": str(trainer.state.device if hasattr(trainer.state, "device") else trainer.device),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],  # at start and end of training
    }
    if not (run_dir / "models" / "model.pt").is_file():
        raise RuntimeError(f"{run_dir.name}: training ended without a best checkpoint models/model.pt")
    atomic_write_json(run_dir / "train_summary.json", summary)
    return summary


def _find_eval_outputs(wf: ConfigWorkflow, eval_dir: Path) -> dict[str, str]:
    """The bundle's evaluation outputs: ``summary_file`` (summary JSON) and ``metrics_per_image.csv`` next to it."""
    summary = Path(wf.parser.get_parsed_content("summary_file")) if "summary_file" in wf.parser else None
    if summary is None or not summary.is_file():
        found = sorted(eval_dir.rglob("summary*.json"))
        summary = found[0] if found else None
    per_image = summary.with_name("metrics_per_image.csv") if summary is not None else None
    if summary is None or per_image is None or not per_image.is_file():
        raise RuntimeError(f"the bundle's evaluation wrote no summary.json + metrics_per_image.csv under {eval_dir}")
    return {"summary": str(summary), "per_image": str(per_image)}


def figure_indices(n_items: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``n_items`` test items (all of them when ``k >= n_items``)."""
    if n_items <= 0 or k <= 0:
        return []
    return sorted({int(round(i)) for i in np.linspace(0, n_items - 1, min(k, n_items))})


def predict_figure_masks(wf: ConfigWorkflow, ckpt: Path, k: int, out: Path) -> None:
    """Predict ``k`` test images with the best checkpoint; save image (uint8 RGB), label and mask to ``out`` (npz)."""
    parser = wf.parser
    network = parser.get_parsed_content("network")
    device = parser.get_parsed_content("device")
    Checkpoint.load_objects(to_load={"model": network}, checkpoint=torch.load(ckpt, map_location=device))
    network.eval()
    items = parser.get_parsed_content("validate#datalist")
    preprocessing = parser.get_parsed_content("validate#preprocessing")
    names, images, labels, preds = [], [], [], []
    with torch.no_grad():
        for i in figure_indices(len(items), k):
            d = preprocessing(dict(items[i]))
            img = d["image"]
            img = (img.as_tensor() if hasattr(img, "as_tensor") else torch.as_tensor(img)).float()  # plain tensor
            logits = network(img[None].to(device))
            pred = (torch.sigmoid(logits[0, 0]) > 0.5).cpu().numpy().astype(np.uint8)
            rgb = img.cpu().numpy()
            rgb = np.repeat(rgb, 3, axis=0) if rgb.shape[0] == 1 else rgb[:3]
            names.append(Path(str(items[i]["image"])).name)
            images.append(np.clip(np.moveaxis(rgb, 0, -1) * 255.0 + 0.5, 0, 255).astype(np.uint8))
            labels.append((np.asarray(d["label"])[0] > 0.5).astype(np.uint8))
            preds.append(pred)
    arrays = {"names": names, "images": images, "labels": labels, "preds": preds}
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.array(v) for k, v in arrays.items()})
    atomic_write_bytes(out, buf.getvalue())


def evaluate_run(spec: RunSpec, run_dir: Path) -> dict[str, Any]:
    """Evaluate ``models/model.pt`` with train.json + evaluate.json; returns the paths of the bundle's outputs."""
    wf = _workflow(spec, [TRAIN_CONFIG, EVAL_CONFIG], bundle_overrides(spec, run_dir, "eval"))
    ConfigParser.export_config_file(wf.parser.get(), str(run_dir / "config_eval.json"), fmt="json", indent=2)
    wf.initialize()
    wf.run()
    wf.finalize()
    outputs = _find_eval_outputs(wf, run_dir / "eval")
    predict_figure_masks(wf, run_dir / "models" / "model.pt", spec.figure_images, run_dir / "figure_masks.npz")
    return outputs


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m scripts.comparison.worker RUN_DIR``."""
    ap = argparse.ArgumentParser(prog="python -m scripts.comparison.worker", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="run folder holding spec.json")
    args = ap.parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    spec = RunSpec.from_dict(json.loads((run_dir / SPEC_FILE).read_text(encoding="utf-8")))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    if spec.threads is not None:
        torch.set_num_threads(int(spec.threads))
    summary = train_run(spec, run_dir)
    epochs, seconds, reason = summary["epochs_run"], summary["train_time_s"], summary["stop_reason"]
    logger.info(f"{spec.name}: trained {epochs} epochs in {seconds} s ({reason})")
    if not spec.evaluate_test:  # the learning-rate search chooses on validation Dice alone
        atomic_write_json(run_dir / "eval_outputs.json", {})
        logger.info(f"{spec.name}: not evaluated on the test split (evaluate_test false)")
        return 0
    outputs = evaluate_run(spec, run_dir)
    atomic_write_json(run_dir / "eval_outputs.json", outputs)
    logger.info(f"{spec.name}: evaluated, outputs {outputs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
