# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The comparison's learning-rate search (``--lr-search LR [LR ...]``): the same small search for every network.

Issue 15: "where a network needs a different learning rate, choose every network's learning rate by the same small
search on the validation split". Before the real runs, every network trains one short run per candidate learning
rate with the same settings and budget for all: seed 0, no augmentation, ``--lr-search-epochs`` epochs (default 3,
no time budget, so that the machine's load cannot give one network more epochs than another), the comparison's
other settings (input size, batch size, patience, network arguments) unchanged. Each network's learning rate is the
candidate with the highest best validation Dice of its short run (``train_summary.json["best_val_dice"]``; a tie
goes to the smaller learning rate; a run that failed or never produced a finite validation Dice is not a
candidate). The test split is not looked at: search runs are trained only (``RunSpec.evaluate_test`` false).

Search runs live in ``RESULTS/runs/lrsearch/<network>__lr<value>/`` (layout of :mod:`.spec`) and are kept and
resumed like the comparison's own runs. The search table (network x learning rate -> best validation Dice, epoch of
the best, training CPU seconds, chosen) goes to ``comparison.json["lr_search"]``, ``lr_search.md`` and
``table.md``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .spec import RunSpec, lr_text

__all__ = [
    "DEFAULT_SEARCH_EPOCHS",
    "LR_SEARCH_DIR",
    "SearchRun",
    "choose_learning_rates",
    "search_run_name",
    "search_runs",
    "search_table",
    "search_table_markdown",
]

#: epochs of each search run unless ``--lr-search-epochs`` says otherwise
DEFAULT_SEARCH_EPOCHS = 3
#: folder of the search runs under ``RESULTS/runs/``
LR_SEARCH_DIR = "lrsearch"


def search_run_name(network: str, learning_rate: float) -> str:
    """Folder name of one search run under ``runs/lrsearch/``: ``<network>__lr<value>``."""
    return f"{network}__lr{lr_text(learning_rate)}"


@dataclasses.dataclass(frozen=True)
class SearchRun:
    """One short run of the search.

    Attributes:
        spec: what it trains (seed 0, no augmentation, the search's epochs, its learning rate, no test evaluation).
        folder: its folder relative to ``RESULTS/runs`` (``lrsearch/<network>__lr<value>``).
    """

    spec: RunSpec
    folder: str


def search_runs(templates: Sequence[RunSpec], learning_rates: Sequence[float], epochs: int) -> list[SearchRun]:
    """The search runs, networks in ``templates`` order, then learning rates in the given order.

    Args:
        templates: one spec per network carrying the comparison's common settings (its first run's spec).
        learning_rates: the candidates (positive, duplicates dropped).
        epochs: epochs per search run.

    Returns:
        one :class:`SearchRun` per network x learning rate.
    """
    out = []
    for template in templates:
        for lr in dict.fromkeys(float(x) for x in learning_rates):
            spec = dataclasses.replace(
                template, augment=False, seed=0, max_epochs=int(epochs), minutes=None, learning_rate=lr,
                evaluate_test=False,
            )
            out.append(SearchRun(spec, f"{LR_SEARCH_DIR}/{search_run_name(template.network, lr)}"))
    return out


def _best_val_dice(train: Mapping[str, Any] | None) -> float:
    try:
        value = float((train or {}).get("best_val_dice"))
    except (TypeError, ValueError):
        return math.nan
    return value


def choose_learning_rates(
    results: Sequence[tuple[str, float, Mapping[str, Any] | None]],
) -> dict[str, float | None]:
    """Each network's learning rate: the candidate with the highest best validation Dice (ties: the smaller lr).

    Args:
        results: ``(network, learning rate, train_summary or None)`` per search run (None: failed or not run).

    Returns:
        ``{network: learning rate}``, None for a network none of whose runs gave a finite validation Dice.
    """
    best: dict[str, tuple[float, float] | None] = {}
    for network, lr, train in results:
        best.setdefault(network, None)
        dice = _best_val_dice(train)
        if not math.isfinite(dice):
            continue
        current = best[network]
        if current is None or dice > current[0] or (dice == current[0] and lr < current[1]):
            best[network] = (dice, float(lr))
    return {network: (None if b is None else b[1]) for network, b in best.items()}


def search_table(
    results: Sequence[tuple[str, float, Mapping[str, Any] | None]], chosen: Mapping[str, float | None]
) -> list[dict[str, Any]]:
    """Rows of the search table (``comparison.json["lr_search"]["runs"]``), in ``results`` order."""
    rows = []
    for network, lr, train in results:
        train = train or {}
        rows.append(
            {
                "network": network,
                "learning_rate": float(lr),
                "status": "done" if train else "failed or not run",
                "best_val_dice": _best_val_dice(train),
                "epochs_to_best": train.get("epochs_to_best"),
                "epochs_run": train.get("epochs_run"),
                "train_cpu_s": train.get("train_cpu_s"),
                "chosen": chosen.get(network) is not None and float(lr) == chosen.get(network),
            }
        )
    return rows


def search_table_markdown(rows: Sequence[Mapping[str, Any]], epochs: int) -> str:
    """The search table as Markdown: one row per network, one column per learning rate (best validation Dice,
    the chosen one in bold), then the chosen learning rate."""
    lrs = list(dict.fromkeys(float(r["learning_rate"]) for r in rows))
    networks = list(dict.fromkeys(str(r["network"]) for r in rows))
    cell = {(str(r["network"]), float(r["learning_rate"])): r for r in rows}
    lines = [
        f"Learning-rate search: best validation Dice of one {epochs}-epoch run per network and learning rate "
        "(seed 0, no augmentation, the same settings for every network); the highest is chosen (bold).",
        "",
        "| Network | " + " | ".join(f"lr {lr_text(lr)}" for lr in lrs) + " | chosen lr |",
        "|" + "---|" * (len(lrs) + 2),
    ]
    for network in networks:
        cells, chosen = [], "–"
        for lr in lrs:
            r = cell.get((network, lr))
            dice = r["best_val_dice"] if r else math.nan
            text = "failed" if r is None or not math.isfinite(dice) else f"{dice:.3f}"
            if r is not None and r.get("chosen"):
                text, chosen = f"**{text}**", lr_text(lr)
            cells.append(text)
        lines.append(f"| `{network}` | " + " | ".join(cells) + f" | {chosen} |")
    return "\n".join(lines) + "\n"
