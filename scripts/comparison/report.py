# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Aggregate finished runs into the comparison table (``table.csv``, ``table.md``).

One row per (network, augmentation). Segmentation metrics come from the bundle's per-image evaluation CSV of each
seed's best checkpoint on the test split:

- ``<metric>_mean``: mean over all test images of all seeds (equal image counts, so also the mean of seed means);
- ``<metric>_std``: standard deviation over test images (sample SD, ddof=1; pooled over seeds as the square root
  of the mean per-seed variance);
- ``<metric>_seed_std``: sample SD of the per-seed means (empty with one seed).

Metrics: Dice, precision, recall, accuracy, Jaccard on the network's input grid (``image_size``) and the same five on
the native label grid where the bundle reports them (``<metric>_native_mean`` / ``_std``; the Markdown table gives
the native Dice with its SD and the other four native means in one cell). Cost columns come from
``scripts.benchmark_networks`` (parameters, forward GFLOPs, minimum CPU latency at batch 1) and from training
(seconds, CPU seconds, epochs run, epoch of the best validation Dice, mean over seeds).

Uncertainty and subgroups (:mod:`.uncertainty`, :mod:`.worst_subgroup`):

- ``n_seeds``, ``<metric>_ci95_low`` / ``<metric>_ci95_high`` (and ``<metric>_native_ci95_*``): the 95 % Student-t
  interval of the mean over seeds, from the per-seed mean of each seed's test images (empty with one seed). The
  Markdown Dice cell reads "0.934 ± 0.004 (95 % CI over 3 seeds)": the mean of the per-seed means ± the half-width.
- ``dice_diff_vs_tu``, ``dice_diff_vs_tu_ci95_low`` / ``_high``, ``p_vs_tu``, ``n_paired_images``,
  ``paired_seeds``: each network against :data:`REFERENCE_NETWORK` with the same augmentation on the same test
  images (matched by image file name): per image the Dice averaged over the seeds the two share, the mean paired
  difference (network - reference) with its 95 % t interval over images, and the two-sided Wilcoxon signed-rank
  p value (empty on the reference's own rows and without a shared seed).
- ``worst_subgroup_dice``, ``worst_subgroup`` (``fact=value``), ``worst_subgroup_n``, ``worst_subgroup_grid``: the
  lowest native-grid (network-grid where native is missing) mean Dice among the bundle's evaluation subgroups with
  at least 10 test images.

Where the rows come from (:mod:`.reference_row` adds rows of models the comparison did not train):

- ``origin``: ``comparison`` (trained here), or ``reference`` (``--reference-row``: one model, read from its own
  evaluation folder, no seed interval);
- ``network_grid``: the network input grid of the row's network-grid columns (``128x128``); a reference row is on
  its own grid, and network-grid Dice is not comparable across grids (the native-grid Dice is);
- ``paired_grid``: the grid of the Dice the paired test pairs: ``network`` for the comparison's rows (all on the
  same grid), ``native`` for reference rows; empty without a paired test.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .spec import run_name
from .uncertainty import paired_test, paired_values, t_interval
from .worst_subgroup import worst_subgroup

__all__ = [
    "METRICS",
    "NATIVE_METRICS",
    "PAPER_TABLE2",
    "REFERENCE_NETWORK",
    "RunResult",
    "TABLE_COLUMNS",
    "aggregate",
    "read_image_ids",
    "read_per_image_metrics",
    "table_csv",
    "table_markdown",
]

#: segmentation metrics of the table, in the paper's Table 2 order (Dice first)
METRICS = ("dice", "precision", "recall", "accuracy", "jaccard")
#: metrics also reported on the native label grid (what a clinical ROI uses): all of them
NATIVE_METRICS = METRICS

#: the reproduced paper's Table 2 figures known to this project (test set, 384x384, its own clinical data)
PAPER_TABLE2: dict[str, dict[str, float]] = {
    "paper's network (transformer UNet)": {"dice": 0.951, "precision": 0.957, "recall": 0.956},
    "U-Net": {"dice": 0.912},
}

#: the network every other one is paired against (``*_vs_tu`` columns): the reproduced paper's network
REFERENCE_NETWORK = "transformer_unet"

_STAT_COLUMNS = [f"{m}_{s}" for m in METRICS for s in ("mean", "std", "seed_std")]
_NATIVE_COLUMNS = [f"{m}_native_{s}" for m in NATIVE_METRICS for s in ("mean", "std")]
_CI_KEYS = [*METRICS, *(f"{m}_native" for m in NATIVE_METRICS)]
_CI_COLUMNS = [f"{k}_ci95_{b}" for k in _CI_KEYS for b in ("low", "high")]
_PAIRED_COLUMNS = [
    "dice_diff_vs_tu",
    "dice_diff_vs_tu_ci95_low",
    "dice_diff_vs_tu_ci95_high",
    "p_vs_tu",
    "n_paired_images",
    "paired_seeds",
]
_SUBGROUP_COLUMNS = ["worst_subgroup_dice", "worst_subgroup", "worst_subgroup_n", "worst_subgroup_grid"]

#: columns of table.csv, in order
TABLE_COLUMNS = [
    "network",
    "augmentation",
    "seeds",
    "n_seeds",
    "n_test_images",
    *_STAT_COLUMNS,
    *_NATIVE_COLUMNS,
    *_CI_COLUMNS,
    *_PAIRED_COLUMNS,
    *_SUBGROUP_COLUMNS,
    "params_m",
    "gflops",
    "cpu_latency_ms",
    "benchmark_size",
    "train_time_s",
    "train_cpu_s",
    "epochs_run",
    "epochs_to_best",
    "best_val_dice",
    "stop_reason",
    "origin",
    "network_grid",
    "paired_grid",
]

_ALIASES = {"iou": "jaccard", "meaniou": "jaccard", "meandice": "dice", "acc": "accuracy", "ppv": "precision"}
_ALIASES.update({"sensitivity": "recall", "tpr": "recall"})


def _canonical(column: str) -> tuple[str, bool] | None:
    """Map a per-image CSV column to ``(metric, native)``, or None when it is not a metric column."""
    words = [w for w in re.split(r"[^a-z0-9]+", column.lower()) if w]
    native = "native" in words
    words = [w for w in words if w not in ("native", "network", "mean", "val", "test", "grid", "input")]
    name = "".join(words)
    name = _ALIASES.get(name, name)
    return (name, native) if name in METRICS else None


def read_per_image_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """Per-image metrics of one evaluation CSV, keyed ``dice``..``jaccard`` and ``<metric>_native`` (all five).

    Column names are matched loosely (``Dice``, ``dice``, ``val_mean_dice``, ``jaccard_native``, ``iou``...), so the
    table does not break on a renamed CSV column; a file without a Dice column is an error naming the file.
    Empty cells and ``nan`` read as NaN (excluded from means, nnU-Net's rule for empty-empty cases).
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: per-image metrics CSV has no rows")
    out: dict[str, list[float]] = {}
    for column in rows[0]:
        key = _canonical(column or "")
        if key is None:
            continue
        name = f"{key[0]}_native" if key[1] else key[0]
        if name in out:
            continue
        values = []
        for row in rows:
            try:
                values.append(float(row[column]))
            except (TypeError, ValueError):
                values.append(math.nan)
        out[name] = values
    if "dice" not in out:
        raise ValueError(f"{path}: no Dice column among {list(rows[0])}")
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def read_image_ids(path: str | Path) -> tuple[str, ...]:
    """The test image ids of one evaluation CSV, in row order: the file name of each row's ``image`` column.

    The paired test matches images across runs by these ids (a moved dataset folder does not change them). A CSV
    without an ``image`` column gives ``()`` (the run then takes no part in a paired test).
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "image" not in rows[0]:
        return ()
    return tuple(Path(str(row.get("image") or "")).name for row in rows)


@dataclass
class RunResult:
    """Everything the table needs from one finished run.

    Attributes:
        network: registry name.
        augment: flip augmentation on.
        seed: the run's seed.
        per_image: per-image test metrics (:func:`read_per_image_metrics`).
        train: the worker's ``train_summary.json``.
        benchmark: ``{"params_m", "gflops", "cpu_latency_ms", "size"}`` of the network (may be empty).
        image_ids: the test image id of each ``per_image`` entry (:func:`read_image_ids`); ``()`` leaves the run out
            of the paired test.
        subgroups: the run's subgroup means (:func:`scripts.comparison.worst_subgroup.run_subgroups`); may be empty.
        name: the run's folder name, for messages; ``""`` names it by :func:`scripts.comparison.spec.run_name`.
    """

    network: str
    augment: bool
    seed: int
    per_image: dict[str, np.ndarray]
    train: dict[str, Any]
    benchmark: dict[str, Any] = field(default_factory=dict)
    image_ids: tuple[str, ...] = ()
    subgroups: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    @property
    def label(self) -> str:
        """The run's folder name (``name``, else ``<network>__<aug|noaug>__seed<k>``)."""
        return self.name or run_name(self.network, self.augment, self.seed)


def _nanstd(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    return float(np.std(v, ddof=1)) if v.size > 1 else math.nan


def _nanmean(values: Iterable[float]) -> float:
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan


def aggregate(
    results: Sequence[RunResult], order: Sequence[str] | None = None, reference: str = REFERENCE_NETWORK
) -> list[dict[str, Any]]:
    """Table rows (dicts with :data:`TABLE_COLUMNS`), one per (network, augmentation), networks in ``order``.

    Raises:
        scripts.comparison.uncertainty.TestSetMismatch: two runs to be paired (a network's and the ``reference``'s
            with the same augmentation, or two seeds of one) hold different test images; the message names both.
    """
    groups: dict[tuple[str, bool], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.network, r.augment), []).append(r)
    rank = {n: i for i, n in enumerate(order or [])}
    rows = []
    for (network, augment), runs in sorted(groups.items(), key=lambda kv: (rank.get(kv[0][0], len(rank)), kv[0])):
        runs = sorted(runs, key=lambda r: r.seed)
        row: dict[str, Any] = {
            "network": network,
            "augmentation": "flip" if augment else "none",
            "seeds": " ".join(str(r.seed) for r in runs),
            "n_seeds": len(runs),
            "n_test_images": int(np.mean([len(r.per_image["dice"]) for r in runs])),
            "origin": "comparison",
            "network_grid": "",
        }
        for m in METRICS:
            per_seed = [r.per_image[m] for r in runs if m in r.per_image]
            if not per_seed:
                row.update({f"{m}_mean": math.nan, f"{m}_std": math.nan, f"{m}_seed_std": math.nan})
                continue
            seed_means = np.array([_nanmean(v) for v in per_seed])
            variances = np.array([_nanstd(v) ** 2 for v in per_seed])
            row[f"{m}_mean"] = _nanmean(np.concatenate(per_seed))
            row[f"{m}_std"] = float(np.sqrt(np.nanmean(variances))) if np.isfinite(variances).any() else math.nan
            row[f"{m}_seed_std"] = _nanstd(seed_means)
        for key in _CI_KEYS:
            _, low, high, _ = t_interval([_nanmean(r.per_image[key]) for r in runs if key in r.per_image])
            row[f"{key}_ci95_low"], row[f"{key}_ci95_high"] = low, high
        row.update(_paired_columns(runs, groups.get((reference, augment), []), network == reference))
        row["paired_grid"] = "network" if row["n_paired_images"] != "" else ""  # per_image["dice"]: network grid
        row.update(_worst_subgroup_columns(runs))
        for m in NATIVE_METRICS:
            per_seed = [r.per_image[f"{m}_native"] for r in runs if f"{m}_native" in r.per_image]
            joined = np.concatenate(per_seed) if per_seed else np.array([])
            row[f"{m}_native_mean"] = _nanmean(joined)
            row[f"{m}_native_std"] = _nanstd(joined)
        bench = runs[0].benchmark or {}
        row["params_m"] = bench.get("params_m", math.nan)
        row["gflops"] = bench.get("gflops", math.nan)
        row["cpu_latency_ms"] = bench.get("cpu_latency_ms", math.nan)
        row["benchmark_size"] = bench.get("size", "")
        for key in ("train_time_s", "train_cpu_s", "epochs_run", "epochs_to_best", "best_val_dice"):
            row[key] = _nanmean(float(r.train.get(key)) if r.train.get(key) is not None else math.nan for r in runs)
        row["stop_reason"] = " ".join(sorted({str(r.train.get("stop_reason", "")) for r in runs}))
        rows.append(row)
    return rows


def _native_means_cell(row: dict[str, Any]) -> str:
    """``"0.931 / 0.925 / 0.998 / 0.862"``: the native-grid means of every metric but Dice, ``–`` where missing."""
    return " / ".join(_fmt(row.get(f"{m}_native_mean"), 3) or "–" for m in NATIVE_METRICS if m != "dice")


def _per_seed(runs: Sequence[RunResult]) -> dict[int, tuple[tuple[str, ...], np.ndarray]]:
    return {r.seed: (r.image_ids, r.per_image["dice"]) for r in runs if r.image_ids}


def _paired_columns(runs: Sequence[RunResult], reference: Sequence[RunResult], is_reference: bool) -> dict[str, Any]:
    """The ``*_vs_tu`` columns of one row (NaN/empty on the reference's own rows and without shared seeds)."""
    empty = {c: math.nan for c in _PAIRED_COLUMNS}
    empty.update({"n_paired_images": "", "paired_seeds": ""})
    mine = _per_seed(runs)
    if mine:  # the seeds of one network must share their test images too (raises otherwise)
        paired_values({r.label: mine[r.seed] for r in runs if r.seed in mine})
    if is_reference or not reference:
        return empty
    ref_labels = {r.seed: r.label for r in reference}
    labels = {r.seed: (r.label, ref_labels.get(r.seed, "")) for r in runs}
    test = paired_test(mine, _per_seed(reference), labels)
    if not test.seeds:
        return empty
    return paired_columns(test, test.seeds)


def paired_columns(test: Any, seeds: Any) -> dict[str, Any]:
    """The table's paired-test columns of one row from a :func:`paired_test` result and the seeds it paired."""
    return {
        "dice_diff_vs_tu": test.mean_diff,
        "dice_diff_vs_tu_ci95_low": test.ci_low,
        "dice_diff_vs_tu_ci95_high": test.ci_high,
        "p_vs_tu": test.p_value,
        "n_paired_images": test.n_images,
        "paired_seeds": " ".join(str(s) for s in seeds),
    }


def _worst_subgroup_columns(runs: Sequence[RunResult]) -> dict[str, Any]:
    worst = worst_subgroup([r.subgroups for r in runs])
    if worst is None:
        return {"worst_subgroup_dice": math.nan, **{c: "" for c in _SUBGROUP_COLUMNS[1:]}}
    return {
        "worst_subgroup_dice": worst.dice,
        "worst_subgroup": worst.label,
        "worst_subgroup_n": worst.n_images,
        "worst_subgroup_grid": worst.grid,
    }


def _fmt(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


_CSV_DIGITS = {"train_time_s": 1, "train_cpu_s": 1, "epochs_run": 1, "epochs_to_best": 1, "cpu_latency_ms": 2}


def _csv_cell(column: str, value: Any) -> str:
    if column in ("epochs_run", "epochs_to_best") and isinstance(value, float) and value.is_integer():
        return str(int(value))
    if column == "p_vs_tu" and isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"  # small p values keep their digits
    return _fmt(value, _CSV_DIGITS.get(column, 4))


def table_csv(rows: Sequence[dict[str, Any]]) -> str:
    """``table.csv`` text: :data:`TABLE_COLUMNS`, metrics to 4 decimals, NaN as an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TABLE_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(c, row.get(c)) for c in TABLE_COLUMNS])
    return buf.getvalue()


def _pm(row: dict[str, Any], metric: str) -> str:
    mean, std, seed_std = row.get(f"{metric}_mean"), row.get(f"{metric}_std"), row.get(f"{metric}_seed_std")
    if mean is None or not math.isfinite(mean):
        return "–"
    text = f"{mean:.3f}"
    if std is not None and math.isfinite(std):
        text += f" ± {std:.3f}"
    if seed_std is not None and math.isfinite(seed_std):
        text += f" (seeds ± {seed_std:.3f})"
    return text


def _seed_ci(row: dict[str, Any], key: str) -> str:
    """"0.934 ± 0.004 (95 % CI over 3 seeds)", or "0.934 (1 seed: no interval)"."""
    low, high, n = row.get(f"{key}_ci95_low"), row.get(f"{key}_ci95_high"), row.get("n_seeds")
    if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
        return f"{(low + high) / 2:.3f} ± {(high - low) / 2:.3f} (95 % CI over {n} seeds)"
    mean = row.get(f"{key}_mean")
    if mean is None or not math.isfinite(mean):
        return "–"
    return f"{mean:.3f} ({n} seed{'s' if n != 1 else ''}: no interval)"


def _paired_cells(row: dict[str, Any]) -> list[str]:
    diff, low, high, p = (row.get(c) for c in ("dice_diff_vs_tu", "dice_diff_vs_tu_ci95_low",
                                               "dice_diff_vs_tu_ci95_high", "p_vs_tu"))
    if diff is None or not math.isfinite(diff):
        return ["–", "–"]
    text = f"{diff:+.3f}"
    if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
        text += f" [{low:+.3f}, {high:+.3f}]"
    if p is None or not math.isfinite(p):
        p_text = "–"
    else:
        p_text = "< 0.001" if p < 0.001 else f"{p:.3f}"
    return [text, f"{p_text} (n={row.get('n_paired_images')})"]


def _worst_cell(row: dict[str, Any]) -> str:
    dice, label = row.get("worst_subgroup_dice"), str(row.get("worst_subgroup") or "")
    if dice is None or not math.isfinite(dice):
        return "–"
    fact, _, value = label.partition("=")
    return f"{dice:.3f} ({fact.replace('_', ' ')}: {value})"


def _reference_dice(row: dict[str, Any]) -> str:
    """"0.941 (384x384 grid; one model: no interval)": a reference row's network-grid Dice names its grid."""
    mean = row.get("dice_mean")
    if mean is None or not math.isfinite(mean):
        return "–"
    grid = str(row.get("network_grid") or "")
    return f"{mean:.3f} ({grid + ' grid' if grid else 'own grid'}; one model: no interval)"


def table_markdown(rows: Sequence[dict[str, Any]], caption: str = "", grid: str = "") -> str:
    """``table.md`` text: one GitHub table.

    Dice as the mean over seeds ± the half-width of its 95 % interval (or "1 seed: no interval"), with the SD over
    test images beside it; the paired difference to :data:`REFERENCE_NETWORK` (95 % interval over images) and its
    Wilcoxon p value; the worst subgroup; the other metrics as mean ± SD over test images (and over seeds where
    several). ``grid`` (e.g. ``128x128``) names the comparison's network grid in the Dice header; a reference row
    (``origin`` ``reference``) is named as not trained here and its Dice cell names its own grid.
    """
    head = [
        "Network",
        "Aug.",
        f"Dice ({grid} grid)" if grid else "Dice",
        "Dice SD (images)",
        f"Δ Dice vs `{REFERENCE_NETWORK}` [95 % CI]",
        "p (Wilcoxon)",
        "Worst subgroup Dice",
        "Precision",
        "Recall",
        "Accuracy",
        "Jaccard",
        "Dice (native grid)",
        "Precision / recall / accuracy / Jaccard (native grid)",
        "Params (M)",
        "GFLOPs",
        "CPU latency (ms)",
        "Train time (s)",
        "Train CPU (h)",
        "Epochs (best / run)",
    ]
    lines = ([caption, ""] if caption else []) + ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        reference = row.get("origin") == "reference"
        paired = _paired_cells(row)
        if reference and row.get("paired_grid") == "native" and paired[0] != "–":
            paired[0] += " (native grid)"
        cells = [
            f"{row['network']} (not trained here)" if reference else f"`{row['network']}`",
            row["augmentation"],
            _reference_dice(row) if reference else _seed_ci(row, "dice"),
            _fmt(row.get("dice_std"), 3) or "–",
            *paired,
            _worst_cell(row),
            *(_pm(row, m) for m in METRICS[1:]),
            _pm({"x_mean": row.get("dice_native_mean"), "x_std": row.get("dice_native_std")}, "x"),
            _native_means_cell(row),
            _fmt(row.get("params_m"), 2) or "–",
            _fmt(row.get("gflops"), 2) or "–",
            _fmt(row.get("cpu_latency_ms"), 1) or "–",
            _fmt(row.get("train_time_s"), 0) or "–",
            _fmt(row.get("train_cpu_s") / 3600.0 if row.get("train_cpu_s") is not None else None, 2) or "–",
            f"{_fmt(row.get('epochs_to_best'), 0) or '–'} / {_fmt(row.get('epochs_run'), 0) or '–'}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
