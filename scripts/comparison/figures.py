# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The comparison's figures: mask outlines on the same test images (the paper's Figure 6) and validation curves.

Images are ``(H, W, 3)`` uint8 pseudocolor on the network's input grid (rows top to bottom); masks ``(H, W)`` 0/1 on
the same grid. Figures are written atomically (:func:`custom_transforms.safe_files.atomic_write_bytes`).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from custom_transforms.safe_files import atomic_write_bytes  # noqa: E402

__all__ = ["MaskPanel", "plot_curves", "plot_mask_grid", "read_progress"]

#: one column of the mask grid: title and per-image masks (None draws the ground-truth column)
MaskPanel = tuple[str, "np.ndarray | None"]


def _save(fig: plt.Figure, out: Path) -> None:
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=Path(out).suffix.lstrip(".") or "png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())


def plot_mask_grid(
    out: str | os.PathLike,
    names: Sequence[str],
    images: np.ndarray,
    labels: np.ndarray,
    panels: Sequence[tuple[str, np.ndarray]],
) -> None:
    """Grid of test images (rows) x [ground truth, each network] (columns), outlines over the pseudocolor image.

    The ground-truth column outlines the label in white; each network column outlines the network's mask in white
    and the ground truth in dashed black, so misses and false positives are visible in every panel.

    Args:
        out: PNG path.
        names: image names (row titles), length N.
        images: ``(N, H, W, 3)`` uint8 pseudocolor images.
        labels: ``(N, H, W)`` ground-truth masks.
        panels: ``(title, masks (N, H, W))`` per network column.
    """
    n, ncols = len(names), 1 + len(panels)
    fig, axes = plt.subplots(n, ncols, figsize=(1.7 * ncols, 1.8 * n), squeeze=False)
    for i in range(n):
        columns = [("ground truth", None)] + list(panels)
        for j, (title, masks) in enumerate(columns):
            ax = axes[i, j]
            ax.imshow(images[i], interpolation="nearest")
            if masks is None:
                _outline(ax, labels[i], "white", "solid")
            else:
                _outline(ax, labels[i], "black", "dashed")
                _outline(ax, masks[i], "white", "solid")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=7)
            if j == 0:
                ax.set_ylabel(names[i], fontsize=6)
    fig.suptitle("Test images: network mask (white) vs ground truth (dashed black)", fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()), h_pad=0.3, w_pad=0.3)
    _save(fig, Path(out))


def _outline(ax: plt.Axes, mask: np.ndarray, color: str, style: str) -> None:
    mask = np.asarray(mask, dtype=float)
    if mask.max() > 0.5 and mask.min() < 0.5:
        ax.contour(mask, levels=[0.5], colors=color, linewidths=0.8, linestyles=style)


def read_progress(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Columns of a run's ``progress.csv`` as float arrays (empty cells NaN)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cols: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            try:
                cols.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                cols.setdefault(key, []).append(math.nan)
    return {k: np.asarray(v) for k, v in cols.items()}


def plot_curves(
    out: str | os.PathLike, curves: Sequence[tuple[str, str, dict[str, np.ndarray]]], key: str = "val_mean_dice"
) -> None:
    """Validation Dice per epoch (top) and against training wall-clock minutes (bottom), one panel per augmentation.

    Args:
        out: PNG path.
        curves: ``(network label, augmentation label, progress columns)`` per run; seeds of one network share a colour.
        key: progress column to plot. Defaults to the bundle's key metric ``val_mean_dice``.
    """
    augs = sorted({a for _, a, _ in curves}, key=lambda a: (a != "none", a))  # no augmentation first
    networks = list(dict.fromkeys(n for n, _, _ in curves))
    colors = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(networks)}
    fig, axes = plt.subplots(2, len(augs), figsize=(5.0 * len(augs), 6.5), squeeze=False)
    for j, aug in enumerate(augs):
        seen = set()
        for network, a, prog in curves:
            if a != aug or key not in prog:
                continue
            label = network if network not in seen else None
            seen.add(network)
            ok = np.isfinite(prog[key])
            x_epoch, x_min, y = prog["epoch"][ok], prog["elapsed_s"][ok] / 60.0, prog[key][ok]
            axes[0, j].plot(x_epoch, y, "-o", ms=2, lw=1, color=colors[network], label=label)
            axes[1, j].plot(x_min, y, "-o", ms=2, lw=1, color=colors[network])
        axes[0, j].set_title(f"augmentation: {aug}", fontsize=9)
        axes[0, j].set_xlabel("epoch")
        axes[1, j].set_xlabel("training wall-clock (min)")
        for ax in axes[:, j]:
            ax.set_ylabel("validation Dice")
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
        axes[0, j].legend(fontsize=7, loc="lower right")
    _save(fig, Path(out))
