# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The shipped model's figures, written from one evaluation summary into every place that shows them.

One ``summary.json`` (written by ``evaluate.json``: means on both grids, per-kidney Dice, missed kidneys, subgroups)
is the source of:

- ``bundle/docs/results/summary.json``, ``metrics_per_image.csv``, ``subgroups.md`` (copies);
- ``bundle/configs/metadata.json`` ``eval_metrics`` (the means, rounded to 4 places);
- the blocks between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` in the README and the model card:
  ``segmentation`` (the two-grid table and the per-kidney line) and ``subgroups`` (the subgroup table).

:func:`rendered_blocks` gives the blocks' text, :func:`publish` writes everything (each file atomically, the block
files only where their markers are), :func:`stale_blocks` says which blocks of a file differ from a summary (the
test that keeps the documents in step with the shipped summary).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from custom_transforms.safe_files import atomic_write_text

__all__ = ["BLOCKS", "RESULT_FILES", "rendered_blocks", "replace_blocks", "stale_blocks", "eval_metrics", "publish"]

#: the block names the documents may carry.
BLOCKS = ("segmentation", "subgroups")
#: files copied from the evaluation's output folder into ``bundle/docs/results``.
RESULT_FILES = ("summary.json", "metrics_per_image.csv", "subgroups.md")
_METRICS = ("dice", "precision", "recall", "accuracy", "jaccard")


def _f(value: Any, digits: int = 4) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(v) else f"{v:.{digits}f}"


def eval_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """``metadata.json`` ``eval_metrics``: every finite mean of the summary, rounded to 4 places."""
    out = {}
    for key, value in sorted(summary.get("mean", {}).items()):
        if isinstance(value, int | float) and math.isfinite(value):
            out[key] = round(float(value), 4)
    return out


def rendered_blocks(summary: Mapping[str, Any]) -> dict[str, str]:
    """``{block name: Markdown}`` for a summary (see the module docstring)."""
    from custom_transforms.subgroups import subgroup_table  # bundle code; imported when rendering

    mean = summary.get("mean", {})
    native = sorted({str(v) for v in summary.get("subgroups", {}).get("matrix", {})},
                    key=lambda v: (0, float(v), "") if v.replace(".", "", 1).isdigit() else (1, 0.0, v))
    native_name = "study's native matrix" + (f" ({', '.join(f'{m}²' for m in native)})" if native else "")
    rows = [("network grid 384×384 (as the paper reports)", "network"), (native_name + " (what a clinical ROI uses)",
                                                                         "native")]
    lines = ["| grid | Dice | precision | recall | accuracy | Jaccard |", "| --- | --- | --- | --- | --- | --- |"]
    for label, grid in rows:
        lines.append(f"| {label} | " + " | ".join(_f(mean.get(f"{grid}_{m}")) for m in _METRICS) + " |")
    kid = summary.get("kidneys")
    if kid:
        left, right = kid.get("left", {}), kid.get("right", {})
        n_kidneys = int(left.get("n_images", 0)) + int(right.get("n_images", 0))
        lines += ["", f"{summary.get('n_images', '?')} test images. Per-kidney Dice on the native grid: left "
                  f"{_f(left.get('dice'), 3)} ({left.get('n_images', 0)} kidneys), right {_f(right.get('dice'), 3)} "
                  f"({right.get('n_images', 0)}); **missed kidneys** (a labelled kidney with Dice below "
                  f"{kid.get('missed_below_dice', 0.5)}): {kid.get('missed_kidneys', '?')} of {n_kidneys}."]
    return {"segmentation": "\n".join(lines) + "\n", "subgroups": subgroup_table(summary)}


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- results:{name} -->\n)(.*?)(<!-- /results:{name} -->)", re.DOTALL)


def replace_blocks(text: str, blocks: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with each marked block's body replaced; returns the new text and the names found."""
    found = []
    for name, body in blocks.items():
        pat = _pattern(name)
        if pat.search(text):
            found.append(name)
            text = pat.sub(lambda m, body=body: m.group(1) + body + m.group(3), text)
    return text, found


def stale_blocks(path: str | os.PathLike, summary: Mapping[str, Any]) -> list[str]:
    """Names of the marked blocks of a document that differ from what ``summary`` renders."""
    text = Path(path).read_text(encoding="utf-8")
    new, found = replace_blocks(text, rendered_blocks(summary))
    return [n for n in found if _pattern(n).search(text).group(2) != _pattern(n).search(new).group(2)]


def publish(
    eval_dir: str | os.PathLike,
    results_dir: str | os.PathLike,
    metadata_file: str | os.PathLike,
    documents: Iterable[str | os.PathLike],
) -> dict[str, Any]:
    """Copy the evaluation's result files, set ``eval_metrics`` and rewrite the documents' result blocks.

    Args:
        eval_dir: the evaluation's output folder (holds ``summary.json``; the CSV and ``subgroups.md`` if written).
        results_dir: where the shipped results live (``bundle/docs/results``).
        metadata_file: ``bundle/configs/metadata.json``.
        documents: Markdown files with result blocks (README.md, bundle/docs/README.md).

    Returns:
        ``{"copied": [...], "eval_metrics": {...}, "blocks": {document: [names]}}``.

    Raises:
        ValueError: ``summary.json`` is missing or not a summary (no ``mean``), or a document has no result block.
        OSError: a file cannot be read or written.
    """
    src = Path(eval_dir) / "summary.json"
    try:
        summary = json.loads(src.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{src}: no such file (run evaluate.json with --output_dir {eval_dir} first)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{src}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("mean"), dict):
        raise ValueError(f"{src}: not an evaluation summary (no 'mean' section)")
    blocks = rendered_blocks(summary)
    texts = {}
    for doc in documents:
        new, found = replace_blocks(Path(doc).read_text(encoding="utf-8"), blocks)
        if not found:
            raise ValueError(f"{doc}: holds no <!-- results:NAME --> block ({', '.join(BLOCKS)})")
        texts[Path(doc)] = (new, found)
    results = Path(results_dir)
    results.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in RESULT_FILES:
        f = Path(eval_dir) / name
        if f.is_file() and f.resolve() != (results / name).resolve():
            tmp = results / f".{name}.publish-tmp"
            shutil.copyfile(f, tmp)
            os.replace(tmp, results / name)
            copied.append(name)
    meta = json.loads(Path(metadata_file).read_text(encoding="utf-8"))
    meta["eval_metrics"] = eval_metrics(summary)
    atomic_write_text(metadata_file, json.dumps(meta, indent=4, ensure_ascii=False) + "\n")  # the file's own style
    for doc, (new, _) in texts.items():
        atomic_write_text(doc, new)
    return {"copied": copied, "eval_metrics": meta["eval_metrics"],
            "blocks": {str(d): found for d, (_, found) in texts.items()}}
