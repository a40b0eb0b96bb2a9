# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Compare segmentation networks through the bundle's own training and evaluation configs (the paper's Table 2).

``python -m scripts.compare_networks --dataset DATASET --out RESULTS`` trains every network with
``bundle/configs/train.json`` (one ``network_name`` override each, the same split, budget and seed), evaluates each
best checkpoint with ``evaluate.json`` on the test split, measures parameters / GFLOPs / CPU latency with
``scripts.benchmark_networks``, and writes

- ``RESULTS/table.md``, ``RESULTS/table.csv``: Dice, precision, recall, accuracy, Jaccard (mean ± SD over test
  images, and over seeds where several), Dice/Jaccard on the native label grid, parameters, GFLOPs, CPU latency,
  training time, epochs run and epoch of the best validation Dice; Dice as the mean over seeds with its 95 % interval,
  the paired difference to ``transformer_unet`` on the same test images (Wilcoxon p value) and the worst subgroup's
  Dice (columns: ``scripts.comparison.report``); the caption gives the training CPU-hours, total and per network;
- ``RESULTS/figure.png``: the same test images with each network's mask outline and the ground truth (Figure 6);
- ``RESULTS/curves.png``: validation Dice per epoch and per training minute for each network;
- ``RESULTS/comparison.json``: the rows, per-run details, benchmark, versions, host and the exact command;
- ``RESULTS/runs/<network>__<aug|noaug>__seed<k>/``: one folder per run (layout: ``scripts.comparison.spec``).

With ``--lr-search LR [LR ...]`` every network first trains one short run per learning rate (seed 0, no
augmentation, ``--lr-search-epochs`` epochs, in ``RESULTS/runs/lrsearch/``), and its runs then use the learning
rate of the best validation Dice (``scripts.comparison.lr_search``; run folders ``...__seed<k>__lr<value>``); the
search table goes to ``comparison.json``, ``lr_search.md`` and ``table.md``.

With ``--reference-row LABEL=EVAL_DIR`` the table gets a row for a model the comparison did not train (e.g. the
shipped 384² model: ``bundle/docs/results``), read from its bundle evaluation folder by the same readers; its
network-grid columns are on its own grid and its paired test uses the native-grid Dice
(``scripts.comparison.reference_row``; ``--reference-train LABEL=JSON``: its training figures as a source states them).

Runs with a ``done.json`` marker are skipped, so an interrupted comparison is resumed by running the same command
again; unfinished runs (a ``spec.json`` but no ``done.json``) are deleted and retrained from scratch. A
``runs/<name>`` folder without ``spec.json`` was not written by a comparison and is never deleted: the command
refuses it, as it refuses an ``--out`` that is, contains or lies inside ``--dataset`` or ``--bundle`` (exit code 2,
one line on stderr, before anything is trained). Each run trains in its own process
(``python -m scripts.comparison.worker``), logging to ``runs/<run>/worker.log``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["ComparisonError", "Plan", "main", "make_plan", "run_comparison", "train_and_evaluate"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NETWORKS = ("transformer_unet", "fcn8s", "segnet", "unet", "deeplabv3plus", "segresnet", "unetr")


class ComparisonError(Exception):
    """Bad input to the comparison (dataset, network name or arguments, bundle configs); the message says which."""


class _OneLineParser(argparse.ArgumentParser):
    """argparse with the house rule for command-line errors: one line on stderr, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass
class Plan:
    """The validated comparison: run specs in training order plus what the report needs."""

    specs: list[Any]
    networks: list[str]
    network_kwargs: dict[str, dict[str, Any]]
    image_size: tuple[int, int]
    benchmark_size: tuple[int, int] | None
    benchmark_threads: int
    out: Path
    #: the learning-rate search (``scripts.comparison.lr_search.SearchRun``), empty without ``--lr-search``
    search_runs: list[Any] = field(default_factory=list)
    lr_search_epochs: int | None = None
    #: the ``--reference-row`` models (``scripts.comparison.reference_row.ReferenceModel``)
    references: list[Any] = field(default_factory=list)


def _parser() -> argparse.ArgumentParser:
    p = _OneLineParser(
        prog="python -m scripts.compare_networks",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--dataset", required=True, help="dataset folder from scripts.prepare_dataset (datalist.json)")
    p.add_argument("--out", required=True, help="results folder (created; reused to resume)")
    p.add_argument("--networks", nargs="+", default=list(DEFAULT_NETWORKS), help="registry names to compare")
    p.add_argument(
        "--network-kwargs",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help='extra arguments of one network, e.g. \'unetr={"hidden_size": 384, "mlp_dim": 1536, "num_heads": 6}\'; '
        "repeatable",
    )
    p.add_argument("--epochs", type=int, default=None, help="max epochs per run (default: the bundle's max_epochs)")
    p.add_argument("--minutes", type=float, default=None, help="training budget per run, minutes (see --budget-clock)")
    p.add_argument(
        "--budget-clock",
        choices=("wall", "cpu"),
        default="wall",
        help="count --minutes on the wall clock, or in CPU minutes of the training process (fairer on a shared "
        "machine; use with --num-workers 0 so that data loading is counted)",
    )
    p.add_argument("--patience", type=int, default=None, help="early-stop patience (default: the bundle's)")
    p.add_argument(
        "--augment", choices=("off", "on", "both"), default="both", help="flip augmentation (bundle augment_flip)"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (same split for all)")
    p.add_argument(
        "--lr-search",
        type=float,
        nargs="+",
        default=None,
        metavar="LR",
        help="choose each network's learning rate among these by the best validation Dice of one short run per "
        "network and lr (seed 0, no augmentation, the same budget for all) before the real runs; without it every "
        "network keeps the bundle's learning rate",
    )
    p.add_argument(
        "--lr-search-epochs",
        type=int,
        default=None,
        metavar="N",
        help="epochs of each --lr-search run (3 when not given)",
    )
    p.add_argument("--image-size", type=int, nargs="+", default=None, help="network input S or H W (default: bundle's)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the bundle's")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu, cuda, cuda:1 (default: bundle's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per run (default: torch's)")
    p.add_argument("--num-workers", type=int, default=None, help="DataLoader workers (default: bundle's)")
    p.add_argument("--figure-images", type=int, default=4, help="test images shown in figure.png")
    p.add_argument("--benchmark-size", type=int, nargs="+", default=None, help="S or H W (default: --image-size)")
    p.add_argument("--benchmark-threads", type=int, default=2, help="CPU threads of the latency benchmark")
    p.add_argument("--no-benchmark", action="store_true", help="skip parameters/GFLOPs/latency (columns left empty)")
    p.add_argument(
        "--bundle", default=str(REPO_ROOT / "bundle"), help="bundle folder (configs/train.json, configs/evaluate.json)"
    )
    p.add_argument("--retrain", action="store_true", help="retrain runs even when done.json says they finished")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: write the table and figures from the runs that have finished (others are left out)",
    )
    p.add_argument(
        "--reference-row",
        action="append",
        default=[],
        metavar="LABEL=EVAL_DIR",
        help="add a row for a model this comparison did not train, from its bundle evaluation folder (summary.json, "
        "metrics_per_image.csv), e.g. 'shipped model (384², bundle recipe)=bundle/docs/results'; its Δ Dice pairs "
        "native-grid Dice (scripts.comparison.reference_row); repeatable",
    )
    p.add_argument(
        "--reference-train",
        action="append",
        default=[],
        metavar="LABEL=JSON",
        help="training figures of a --reference-row as a source states them, e.g. 'LABEL={\"train_cpu_h\": 3.8, "
        "\"epochs_run\": 101, \"source\": \"bundle/docs/README.md\"}' (keys: train_cpu_h, train_time_s, "
        "epochs_run, epochs_to_best, source); without it those cells are empty; repeatable",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def _size(values: list[int] | None, what: str) -> tuple[int, int] | None:
    if values is None:
        return None
    if len(values) not in (1, 2) or min(values) < 8:
        raise ComparisonError(f"{what} takes S or H W, each at least 8 (got {values})")
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _parse_kwargs(items: list[str], networks: list[str]) -> dict[str, dict[str, Any]]:
    from scripts.comparison.labelled import json_object, split_labelled

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        try:
            name, text = split_labelled(item, "--network-kwargs", "JSON")
            kwargs = json_object(text, "--network-kwargs", name)
        except ValueError as exc:
            raise ComparisonError(str(exc)) from None
        if name not in networks:
            raise ComparisonError(f"--network-kwargs {item!r}: {name!r} is not among --networks {networks}")
        out.setdefault(name, {}).update(kwargs)
    return out


def _bundle_image_size(bundle: Path) -> tuple[int, int]:
    cfg = json.loads((bundle / "configs" / "train.json").read_text(encoding="utf-8"))
    size = cfg.get("image_size", [384, 384])
    return (int(size[0]), int(size[-1])) if isinstance(size, list) else (int(size), int(size))


def _check_dataset(dataset: Path) -> dict[str, int]:
    datalist = dataset / "datalist.json"
    if not datalist.is_file():
        raise ComparisonError(f"{datalist}: not found (build it with python -m scripts.prepare_dataset)")
    try:
        data = json.loads(datalist.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ComparisonError(f"{datalist}: unreadable ({exc})") from None
    counts = {}
    for split in ("training", "validation", "test"):
        items = data.get(split) if isinstance(data, dict) else None
        if not items:
            raise ComparisonError(f"{datalist}: split {split!r} is missing or empty (the comparison needs all three)")
        counts[split] = len(items)
    return counts


def make_plan(args: argparse.Namespace) -> Plan:
    """Validate every input and build the run specs; raises :class:`ComparisonError` before anything is trained.

    Every network is built once at the training size with its ``--network-kwargs``, so an unknown name or a bad
    argument (e.g. a size the network cannot take) fails here, not after other networks have trained.
    """
    import networks as registry
    from custom_transforms.safe_files import OutputOverlapError, check_output_separate
    from scripts.comparison.spec import RunSpec

    if args.report_only and args.retrain:
        raise ComparisonError("--report-only trains nothing; it cannot be combined with --retrain")
    names = list(dict.fromkeys(args.networks))
    unknown = [n for n in names if n not in registry.available_networks()]
    if unknown:
        raise ComparisonError(
            f"unknown network(s) {', '.join(unknown)}; valid names: {', '.join(registry.available_networks())}"
        )
    bundle = Path(args.bundle).resolve()
    for cfg in ("train.json", "evaluate.json"):
        if not (bundle / "configs" / cfg).is_file():
            raise ComparisonError(f"{bundle / 'configs' / cfg}: bundle config not found (--bundle)")
    dataset = Path(args.dataset).resolve()
    _check_dataset(dataset)
    try:  # unfinished runs under --out are deleted and retrained: never let that reach an input
        # the bundle's inputs are its configs and weights: results may go under bundle/docs/results
        check_output_separate(
            args.out, [args.dataset, Path(bundle) / "configs", Path(bundle) / "models"],
            consequence="its run folders would be replaced",
        )
    except OutputOverlapError as exc:
        raise ComparisonError(str(exc)) from None
    out = Path(args.out)
    above = next((p for p in (out, *out.parents) if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ComparisonError(f"{args.out}: --out cannot be a results folder, {above} is a file")
    if args.epochs is not None and args.epochs < 1:
        raise ComparisonError(f"--epochs must be >= 1, got {args.epochs}")
    if args.minutes is not None and not args.minutes > 0:
        raise ComparisonError(f"--minutes must be positive, got {args.minutes}")
    if args.lr_search is not None:
        bad = [x for x in args.lr_search if not (math.isfinite(x) and x > 0)]
        if bad:
            raise ComparisonError(f"--lr-search takes positive learning rates, got {bad[0]:g}")
    if args.lr_search_epochs is not None:
        if args.lr_search is None:
            raise ComparisonError("--lr-search-epochs has no effect without --lr-search")
        if args.lr_search_epochs < 1:
            raise ComparisonError(f"--lr-search-epochs must be >= 1, got {args.lr_search_epochs}")
    if args.figure_images < 1:
        raise ComparisonError(f"--figure-images must be >= 1, got {args.figure_images}")
    if args.device is not None:
        import torch

        try:
            torch.device(args.device)
        except RuntimeError as exc:
            raise ComparisonError(f"--device {args.device!r}: {exc}") from None
    kwargs = _parse_kwargs(args.network_kwargs, names)
    references = _reference_models(args, names)
    image_size = _size(args.image_size, "--image-size") or _bundle_image_size(bundle)
    for name in names:
        try:
            registry.create_network(name, in_channels=3, out_channels=1, img_size=image_size, **kwargs.get(name, {}))
        except (ValueError, TypeError) as exc:
            raise ComparisonError(f"network {name!r} at {image_size[0]}x{image_size[1]}: {exc}") from None
    augments = {"off": [False], "on": [True], "both": [False, True]}[args.augment]
    specs = [
        RunSpec(
            network=name,
            augment=aug,
            seed=seed,
            dataset=str(dataset),
            bundle_dir=str(bundle),
            max_epochs=args.epochs,
            minutes=args.minutes,
            budget_clock=args.budget_clock,
            image_size=_size(args.image_size, "--image-size"),
            batch_size=args.batch_size,
            patience=args.patience,
            network_kwargs=kwargs.get(name, {}),
            figure_images=args.figure_images,
            device=args.device,
            threads=args.threads,
            num_workers=args.num_workers,
        )
        for seed in dict.fromkeys(args.seeds)
        for aug in augments
        for name in names
    ]
    search, search_epochs = [], None
    if args.lr_search is not None:
        from scripts.comparison.lr_search import DEFAULT_SEARCH_EPOCHS, search_runs

        search_epochs = args.lr_search_epochs or DEFAULT_SEARCH_EPOCHS
        templates = [next(s for s in specs if s.network == name) for name in names]
        search = search_runs(templates, args.lr_search, search_epochs)
    return Plan(
        specs=specs,
        networks=names,
        network_kwargs=kwargs,
        image_size=image_size,
        benchmark_size=None if args.no_benchmark else (_size(args.benchmark_size, "--benchmark-size") or image_size),
        benchmark_threads=args.benchmark_threads,
        out=Path(args.out).resolve(),
        search_runs=search,
        lr_search_epochs=search_epochs,
        references=references,
    )


def _reference_models(args: argparse.Namespace, networks: list[str]) -> list[Any]:
    """The ``--reference-row`` models, each evaluation folder read once here so that a bad one fails before training."""
    from scripts.comparison.reference_row import parse_reference_rows

    try:
        models = parse_reference_rows(args.reference_row, args.reference_train, networks)
    except ValueError as exc:
        raise ComparisonError(str(exc)) from None
    for model in models:
        _read_evaluation(model.per_image_csv, model.summary_json, "restore it, or fix --reference-row")
    return models


def _read_evaluation(per_image_csv: Path, summary_json: Path, remedy: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(per-image metrics, summary)`` of one bundle evaluation folder; a lost or damaged file is one line naming it.

    Used for the comparison's finished runs (``remedy``: retrain) and for ``--reference-row`` folders.
    """
    from scripts.comparison.report import read_per_image_metrics

    try:  # a finished run whose evaluation files were lost or damaged: named, before any output is replaced
        per_image = read_per_image_metrics(per_image_csv)
        summary = json.loads(summary_json.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ComparisonError(
            f"{exc.filename or per_image_csv.parent}: an evaluation file cannot be read ({exc.strerror}); {remedy}"
        ) from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError; the CSV reader's errors name the file
        where = "" if str(per_image_csv) in str(exc) else f"{summary_json}: "
        raise ComparisonError(f"{where}{exc}; {remedy}") from None
    if not isinstance(summary, dict):
        raise ComparisonError(f"{summary_json}: not a JSON object (an evaluation summary.json); {remedy}")
    return per_image, summary


def _log(quiet: bool, message: str) -> None:
    if not quiet:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] compare_networks: {message}", flush=True)


def train_and_evaluate(spec: Any, run_dir: Path, retrain: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Bring one run to completion: skip it when finished, else (re)train and evaluate it in a worker process.

    Returns:
        ``{"name", "status": "done" | "skipped" | "failed", "seconds", "log", ...}``.
    """
    from scripts.comparison.spec import SPEC_FILE, atomic_write_json, read_done, write_done

    done = read_done(run_dir)
    if done is not None and not retrain:
        if done.get("spec") != spec.identity():
            raise ComparisonError(
                f"{run_dir}: finished with different settings than this command asks for; use another --out, "
                "or --retrain to replace it"
            )
        _log(quiet, f"{spec.name}: finished earlier, skipped")
        return {"name": spec.name, "status": "skipped", **done}
    if run_dir.exists():
        if _foreign_run_folder(run_dir):
            raise ComparisonError(f"{run_dir}: not a comparison run folder (no {SPEC_FILE}), so it is not replaced")
        shutil.rmtree(run_dir)  # unfinished (or --retrain): start again from scratch
    run_dir.mkdir(parents=True)
    atomic_write_json(run_dir / SPEC_FILE, spec.to_dict())
    _log(quiet, f"{spec.name}: training (log: {run_dir / 'worker.log'})")
    t0 = time.perf_counter()
    with open(run_dir / "worker.log", "w", encoding="utf-8") as log:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.run(
            [sys.executable, "-m", "scripts.comparison.worker", str(run_dir)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    seconds = round(time.perf_counter() - t0, 1)
    if proc.returncode != 0:
        tail = (run_dir / "worker.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        _log(quiet, f"{spec.name}: FAILED after {seconds} s (exit {proc.returncode}): {' '.join(tail)}")
        return {"name": spec.name, "status": "failed", "seconds": seconds, "returncode": proc.returncode}
    train = json.loads((run_dir / "train_summary.json").read_text(encoding="utf-8"))
    outputs = json.loads((run_dir / "eval_outputs.json").read_text(encoding="utf-8"))
    record = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": seconds,
        "train": train,
        "eval_outputs": {k: os.path.relpath(v, run_dir) for k, v in outputs.items()},
    }
    write_done(run_dir, spec, record)
    _log(
        quiet,
        f"{spec.name}: done in {seconds} s ({train['epochs_run']} epochs, best val Dice "
        f"{train['best_val_dice']:.3f} at epoch {train['epochs_to_best']}, {train['stop_reason']})",
    )
    return {"name": spec.name, "status": "done", "spec": spec.identity(), **record}


def finished_record(spec: Any, run_dir: Path) -> dict[str, Any]:
    """The record of a finished run for ``--report-only`` (status ``"missing"`` when it has no ``done.json``)."""
    from scripts.comparison.spec import read_done

    done = read_done(run_dir)
    if done is None:
        return {"name": spec.name, "status": "missing"}
    if done.get("spec") != spec.identity():
        raise ComparisonError(f"{run_dir}: finished with different settings than this command asks for")
    return {"name": spec.name, "status": "skipped", **done}


def _environment(threads: int | None) -> dict[str, Any]:
    """``scripts.benchmarking.host.host_record`` (host, CPU, versions, load) plus ignite, NumPy and GPU."""
    import ignite
    import numpy
    import torch

    from scripts.benchmarking.host import host_record

    env = host_record(threads if threads is not None else torch.get_num_threads())
    env.update(
        {
            "pytorch_ignite": ignite.__version__,
            "numpy": numpy.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        }
    )
    return env


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def _write_outputs(
    plan: Plan,
    records: list[dict[str, Any]],
    bench: dict[str, Any],
    command: str,
    wall_s: float,
    search: dict[str, Any] | None = None,
) -> None:
    from scripts.comparison.cpu_time import cpu_hours
    from scripts.comparison.figures import plot_curves, read_progress
    from scripts.comparison.lr_search import search_table_markdown
    from scripts.comparison.reference_row import reference_caption
    from scripts.comparison.report import (
        PAPER_TABLE2,
        REFERENCE_NETWORK,
        RunResult,
        aggregate,
        read_image_ids,
        table_csv,
        table_markdown,
    )
    from scripts.comparison.spec import atomic_write_json, atomic_write_text
    from scripts.comparison.uncertainty import TestSetMismatch
    from scripts.comparison.worst_subgroup import run_subgroups

    runs_dir = plan.out / "runs"
    finished = [(s, r) for s, r in zip(plan.specs, records, strict=True) if r["status"] in ("done", "skipped")]
    results, curves, per_run = [], [], []
    for spec, rec in finished:
        run_dir = runs_dir / spec.name
        per_image_csv = run_dir / rec["eval_outputs"]["per_image"]
        summary_json = run_dir / rec["eval_outputs"]["summary"]
        per_image, summary = _read_evaluation(
            per_image_csv, summary_json, "restore it, or train the run again with --retrain"
        )
        cost = bench.get(spec.network, {})
        results.append(
            RunResult(
                spec.network,
                spec.augment,
                spec.seed,
                per_image,
                rec["train"],
                cost,
                image_ids=read_image_ids(per_image_csv),
                subgroups=run_subgroups(summary, per_image_csv),
                name=spec.name,
            )
        )
        progress = read_progress(run_dir / "progress.csv")
        curves.append((spec.network, "flip" if spec.augment else "none", progress))
        per_run.append(
            {
                "name": spec.name,
                "spec": spec.to_dict(),
                "train": rec["train"],
                "wall_s": rec.get("wall_s"),
                "test_mean": summary.get("mean", {}),
                "per_image": {k: _json_floats(v) for k, v in per_image.items()},
                "progress": {k: _json_floats(v) for k, v in progress.items()},
            }
        )
    try:
        rows = aggregate(results, order=plan.networks)
    except TestSetMismatch as exc:
        raise ComparisonError(str(exc)) from None
    size = f"{plan.image_size[0]}x{plan.image_size[1]}"
    for row in rows:
        row["network_grid"] = size
    reference_rows, reference_notes = _reference_rows(plan, results)
    rows += reference_rows
    hours = cpu_hours((s.network, rec["train"]) for s, rec in finished)
    search_hours = None
    if search is not None:
        search_hours = cpu_hours((network, train) for network, _, train in search["trains"] if train)
    spec0 = plan.specs[0]
    budget = []
    if spec0.minutes is not None:
        budget.append(f"{spec0.minutes:g} min {'CPU' if spec0.budget_clock == 'cpu' else 'wall-clock'} per run")
    if spec0.max_epochs is not None:
        budget.append(f"at most {spec0.max_epochs} epochs")
    seeds = " ".join(str(s) for s in sorted({s.seed for s in plan.specs}))
    costs = (
        f"{bench.get('_meta', {}).get('size', '')} input, batch 1, {plan.benchmark_threads} CPU threads, latency = "
        "minimum of 20 forward passes"
        if plan.benchmark_size
        else "not measured"
    )
    per_network = ", ".join(f"{n} {h:.2f}" for n, h in hours["per_network"].items())
    cpu_text = f"Training CPU time: {hours['total']:.2f} CPU-hours over {hours['runs']} runs ({per_network})"
    if search_hours is not None:
        cpu_text += (
            f", plus {search_hours['total']:.2f} CPU-hours of learning-rate search ({search_hours['runs']} runs)"
        )
    lr_text = "each network's learning rate chosen by the search below" if search is not None else "the bundle's lr"
    caption = (
        f"Test split, input {size}; metrics mean ± SD over test images (seeds: {seeds}); training budget: "
        f"{', '.join(budget) or 'the bundle defaults'}; {lr_text}; best checkpoint by validation Dice. Dice: mean "
        f"over seeds ± half-width of the 95 % Student-t interval of the per-seed means; Δ Dice: paired difference "
        f"of the network-grid ({size}) Dice to `{REFERENCE_NETWORK}` (same augmentation) on the same test images, "
        f"each image's Dice averaged over the seeds both have, mean with 95 % t interval over images, two-sided "
        f"Wilcoxon signed-rank p; worst subgroup: "
        f"lowest native-grid mean Dice among the evaluation's subgroups with >= 10 test images. {cpu_text}. "
        f"Costs: {costs}."
    )
    if plan.network_kwargs:  # what the rows' names do not say: arguments beyond the registry's defaults
        given = "; ".join(f"`{n}` {json.dumps(kw, sort_keys=True)}" for n, kw in sorted(plan.network_kwargs.items()))
        caption += f" Network arguments beyond the registry's defaults (--network-kwargs): {given}."
    if reference_rows:
        caption += " " + reference_caption(reference_rows, reference_notes)
    markdown = table_markdown(rows, caption, grid=size)
    if search is not None:
        search_md = search_table_markdown(search["runs"], search["epochs"])
        atomic_write_text(plan.out / "lr_search.md", search_md)
        markdown += "\n" + search_md
    atomic_write_text(plan.out / "table.csv", table_csv(rows))
    atomic_write_text(plan.out / "table.md", markdown)
    if curves:
        plot_curves(plan.out / "curves.png", curves)
    _figure(plan, finished)
    failed = [r["name"] for r in records if r["status"] == "failed"]
    report = {
        "command": command,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "environment": _environment(plan.specs[0].threads),
        "options": {
            "networks": plan.networks,
            "network_kwargs": plan.network_kwargs,
            "image_size": list(plan.image_size),
            "benchmark_size": list(plan.benchmark_size) if plan.benchmark_size else None,
            "benchmark_threads": plan.benchmark_threads,
            "run_spec_common": {
                k: v
                for k, v in plan.specs[0].to_dict().items()
                if k not in ("network", "augment", "seed", "network_kwargs", "learning_rate")
            },
            "learning_rates": {s.network: s.learning_rate for s in plan.specs},  # None: the bundle's
        },
        "invocation_wall_s": round(wall_s, 1),  # this command only (a resumed comparison skips finished runs)
        "runs_wall_s_total": round(sum(float(r.get("wall_s") or 0.0) for r in per_run), 1),
        "cpu_hours": hours,  # training CPU time of the table's runs (train_cpu_s), total and per network
        "lr_search": None
        if search is None
        else {
            **{k: v for k, v in search.items() if k != "trains"},
            "cpu_hours": search_hours,
        },
        "paired_reference": REFERENCE_NETWORK,
        "reference_rows": reference_notes,  # --reference-row: what was read and measured per label
        "failed_runs": failed,
        "missing_runs": [r["name"] for r in records if r["status"] == "missing"],
        "table": rows,
        "benchmark": bench,
        "runs": per_run,
        "paper_table2": PAPER_TABLE2,
    }
    atomic_write_json(plan.out / "comparison.json", _strict_json(report))


def _reference_rows(plan: Plan, results: list[Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """The ``--reference-row`` table rows and, per label, what was read and measured (for the caption and JSON)."""
    from scripts.comparison.reference_row import (
        checkpoint_costs,
        checkpoint_path,
        network_grid,
        reference_row,
    )
    from scripts.comparison.report import read_image_ids
    from scripts.comparison.uncertainty import TestSetMismatch
    from scripts.comparison.worst_subgroup import run_subgroups

    rows, notes = [], {}
    for model in plan.references:
        remedy = "restore it, or fix --reference-row"
        per_image, summary = _read_evaluation(model.per_image_csv, model.summary_json, remedy)
        checkpoint = checkpoint_path(summary)
        costs, cost_note = {}, "not measured (--no-benchmark)"
        if plan.benchmark_size is not None:
            costs, cost_note = checkpoint_costs(checkpoint, plan.benchmark_threads)
        try:
            row = reference_row(model, per_image, read_image_ids(model.per_image_csv),
                                run_subgroups(summary, model.per_image_csv), results, costs, network_grid(checkpoint))
        except TestSetMismatch as exc:
            raise ComparisonError(str(exc)) from None
        rows.append(row)
        info = summary.get("info") if isinstance(summary.get("info"), dict) else {}
        notes[model.label] = {"eval_dir": str(model.eval_dir), "checkpoint": str(info.get("checkpoint") or ""),
                              "costs": cost_note, "source": model.source}  # paths as given: the table is committed
    return rows, notes


def _strict_json(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None, so the JSON file is strict (no ``NaN`` tokens)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict_json(v) for v in obj]
    return obj


def _json_floats(values: Any) -> list[float | None]:
    """Array -> list of floats with NaN as None (strict JSON)."""
    return [x if math.isfinite(x) else None for x in values.tolist()]


def _figure(plan: Plan, finished: list) -> None:
    """figure.png from the runs' ``figure_masks.npz`` (first seed; every run must show the same test images).

    Columns: ground truth, then one per network. Rows: the test images; with both augmentation settings, two rows
    per image (no augmentation, then flip), so the grid stays about square.
    """
    import numpy as np

    from scripts.comparison.figures import plot_mask_grid

    seed0 = min((s.seed for s, _ in finished), default=None)
    masks: dict[tuple[str, bool], np.ndarray] = {}
    base = None
    for spec, _ in finished:
        if spec.seed != seed0:
            continue
        path = plan.out / "runs" / spec.name / "figure_masks.npz"
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
        if base is None:
            base = data
        elif list(data["names"]) != list(base["names"]):
            raise ComparisonError(f"{path}: figure images differ from the other runs' ({list(base['names'])})")
        masks[(spec.network, spec.augment)] = data["preds"]
    if base is None or not len(base["names"]):
        return
    augments = sorted({aug for _, aug in masks})
    rows = [(i, aug) for i in range(len(base["names"])) for aug in augments]
    names = [
        str(base["names"][i]) + ("" if len(augments) == 1 else ("\nflip" if aug else "\nno aug")) for i, aug in rows
    ]
    empty = np.zeros_like(base["labels"][0])
    panels = [
        (network, np.stack([masks[(network, aug)][i] if (network, aug) in masks else empty for i, aug in rows]))
        for network in dict.fromkeys(n for n, _ in masks)
    ]
    images = np.stack([base["images"][i] for i, _ in rows])
    labels = np.stack([base["labels"][i] for i, _ in rows])
    plot_mask_grid(plan.out / "figure.png", names, images, labels, panels)


def _foreign_run_folder(run_dir: Path) -> bool:
    """True when ``run_dir`` exists but was not made by a comparison (no ``spec.json``, not empty)."""
    from scripts.comparison.spec import SPEC_FILE

    if not (run_dir.exists() or run_dir.is_symlink()) or (run_dir / SPEC_FILE).is_file():
        return False
    return not run_dir.is_dir() or any(run_dir.iterdir())


def _check_run_folders(plan: Plan, folders: list[str] | None = None) -> None:
    """Refuse, before anything is trained, a ``runs/<name>`` that this command would delete but did not write.

    ``folders`` (relative to ``runs/``) defaults to the plan's runs and its learning-rate search runs.
    """
    if folders is None:
        folders = [s.name for s in plan.specs] + [r.folder for r in plan.search_runs]
    for folder in folders:
        run_dir = plan.out / "runs" / folder
        if _foreign_run_folder(run_dir):
            raise ComparisonError(
                f"{run_dir}: not a comparison run folder (no spec.json), so it is not replaced; move it or use "
                "another --out"
            )


def _run_lr_search(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    """Run (or, with ``--report-only``, read) the learning-rate search; returns its record for comparison.json.

    With ``--report-only`` a network whose search is not complete gets no learning rate (its runs are left out):
    choosing among part of the candidates could name another learning rate than the finished search.
    """
    from scripts.comparison.lr_search import choose_learning_rates, search_table

    t0 = time.perf_counter()
    results, incomplete = [], set()
    for i, run in enumerate(plan.search_runs, 1):
        run_dir = plan.out / "runs" / run.folder
        if args.report_only:
            rec = finished_record(run.spec, run_dir)
        else:
            _log(args.quiet, f"learning-rate search run {i}/{len(plan.search_runs)} ({run.folder})")
            rec = train_and_evaluate(run.spec, run_dir, args.retrain, args.quiet)
        if rec["status"] == "missing":
            incomplete.add(run.spec.network)
        train = rec.get("train") if rec["status"] in ("done", "skipped") else None
        results.append((run.spec.network, float(run.spec.learning_rate), train))
    chosen = choose_learning_rates(results)
    chosen.update({n: None for n in incomplete})
    for network, lr in chosen.items():
        _log(args.quiet, f"{network}: learning rate {lr:g}" if lr is not None else f"{network}: no lr chosen")
    return {
        "learning_rates": list(dict.fromkeys(float(lr) for _, lr, _ in results)),
        "epochs": plan.lr_search_epochs,
        "criterion": "highest best validation Dice of the short run (seed 0, no augmentation); ties: smaller lr",
        "chosen": chosen,
        "runs": search_table(results, chosen),
        "trains": results,
        "invocation_wall_s": round(time.perf_counter() - t0, 1),
    }


def run_comparison(plan: Plan, args: argparse.Namespace, command: str) -> int:
    """Run every spec (resuming), benchmark the networks, write the outputs; returns 0, or 1 if a run failed.

    With a learning-rate search in the plan, the search runs come first; each network's runs then carry the chosen
    learning rate (a network without one: its runs are failed, or left out with ``--report-only``).
    """
    from scripts.comparison.costs import benchmark_networks_cached

    if not args.report_only:
        _check_run_folders(plan, [r.folder for r in plan.search_runs])
    t0 = time.perf_counter()
    (plan.out / "runs").mkdir(parents=True, exist_ok=True)
    search = _run_lr_search(plan, args) if plan.search_runs else None
    undecided: set[str] = set()
    if search is not None:
        undecided = {n for n, lr in search["chosen"].items() if lr is None}
        plan.specs = [
            replace(s, learning_rate=search["chosen"][s.network]) if s.network not in undecided else s
            for s in plan.specs
        ]
    if not args.report_only:
        _check_run_folders(plan, [s.name for s in plan.specs if s.network not in undecided])
    records = []
    for i, spec in enumerate(plan.specs, 1):
        if spec.network in undecided:
            why = "the learning-rate search gave no finite validation Dice"
            if args.report_only:
                why = "its learning-rate search has not finished"
            _log(args.quiet, f"{spec.name}: not run ({why})")
            records.append({"name": spec.name, "status": "missing" if args.report_only else "failed", "reason": why})
            continue
        if args.report_only:
            records.append(finished_record(spec, plan.out / "runs" / spec.name))
            continue
        _log(args.quiet, f"run {i}/{len(plan.specs)}")
        records.append(train_and_evaluate(spec, plan.out / "runs" / spec.name, args.retrain, args.quiet))
    bench: dict[str, Any] = {}
    if plan.benchmark_size is not None:
        _log(args.quiet, f"benchmarking {len(plan.networks)} networks at {plan.benchmark_size}")
        bench = benchmark_networks_cached(
            plan.out / "benchmark.json", plan.networks, plan.network_kwargs, plan.benchmark_size, plan.benchmark_threads
        )
    _write_outputs(plan, records, bench, command, time.perf_counter() - t0, search)
    failed = [r["name"] for r in records if r["status"] == "failed"]
    missing = [r["name"] for r in records if r["status"] == "missing"]
    _log(
        args.quiet,
        f"wrote {plan.out / 'table.md'}"
        + (f"; FAILED runs: {', '.join(failed)}" if failed else "")
        + (f"; not run yet (left out): {', '.join(missing)}" if missing else ""),
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (0 done, 1 a run failed, 2 bad input: one line on stderr)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    command = shlex.join([sys.executable.split("/")[-1], "-m", "scripts.compare_networks", *argv])
    try:
        plan = make_plan(args)
        return run_comparison(plan, args, command)
    except ComparisonError as exc:
        print(f"compare_networks: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
