# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Build a PNG segmentation dataset (fused pseudocolor images + binary parenchyma labels) from dynamic renal studies.

Usage::

    python -m scripts.prepare_dataset --studies STUDIES --out DATASET                 # the bundle's rule: minutes 1-3
    python -m scripts.prepare_dataset --studies STUDIES --out DATASET --rule paper    # 7 frames, 2nd and 3rd image
    python -m scripts.prepare_dataset --studies STUDIES --out DATASET --split 0.8 0.2 0.0   # the paper's 80/20
    python -m scripts.prepare_dataset --studies NEW --out DATASET2 --splits DATASET/splits.json   # reuse a frozen split

Each study goes through the one preprocessing chain (:mod:`custom_transforms.pipeline`):
:func:`~custom_transforms.pipeline.dynamic_study_transforms` (load, drop the first ``--min-start-s``, fuse
``--group-size`` frames or ``--window-s`` windows, ``--keep-partial``) and, per labelled fused image ``k``,
:func:`~custom_transforms.pipeline.fused_image_transforms` (select, pseudocolor ``--colormap`` at ``--percentile``,
MONAI ``Resized`` bilinear to ``--size``): the chain the bundle runs on DICOM input, so the PNGs equal the bundle's
tensors within uint8 quantisation. ``bundle_args.json`` holds the bundle config overrides that select the same chain
(:func:`custom_transforms.pipeline.bundle_overrides` of ``datalist.json["options"]``)::

    python -m monai.bundle run --config_file bundle/configs/inference.json --args_file DATASET/bundle_args.json \
        --dataset_dir MY_STUDIES --output_dir MY_MASKS

Input layouts (both may be mixed in one ``--studies`` folder):

- Simulator: ``STUDIES/<study_id>/study.dcm`` + ``parenchyma.png`` (uint8 label map on the native matrix: 0
  background, 1 patient-left, 2 patient-right kidney), optional ``truth.json`` / ``STUDIES/studies.csv`` with a
  ``patient_id``.
- User: ``STUDIES/<stem>.dcm`` (or ``.nii``/``.nii.gz`` with its ``<stem>.json`` timing sidecar) + a label PNG on the
  native matrix, looked up in this order: ``<stem>_f<k>_label.png``, ``labels/<stem>_f<k>.png`` (for fused image k
  only), then ``<stem>_label.png``, ``labels/<stem>.png`` (for every fused image). Values 0/1, 0/1/2 or 0/255; any
  non-zero value is parenchyma.

Output (``DATASET``, built in a hidden ``.DATASET.tmp-XXXX`` beside it and renamed at the end, so no half-written
dataset is left; with ``--overwrite`` the old one is replaced only once the new one is complete):

- ``images/<study_id>_f<k>.png``: RGB uint8 (``--colormap none``: 8-bit grayscale), ``--size`` pixels; rows are image
  rows top to bottom, columns left to right, as the DICOM stores them (posterior view: patient left on image left).
- ``labels/<study_id>_f<k>.png``: uint8 0/1 parenchyma, same size. ``--label-resize outline`` (default): a
  simulated study's own label on that grid, ``parenchyma_<size>.png`` (the simulator draws the kidney's analytic
  outline at 384x384 by the native labels' >= 50 % area rule), and for any other study ``bilinear``: the native mask
  resampled like the image (MONAI ``Resize``, bilinear) and kept where >= 0.5, a smooth line through the native
  pixels' edges, as a reader would draw it on the enlarged image (on a 64x64 matrix it keeps each native pixel's
  6-pixel staircase, which the network's smooth output cannot follow); ``nearest``: each native pixel a block (the
  datasets before 0.5.0; a smooth prediction loses about 2 Dice points against the blocks). Each item's
  ``label_source`` says which one it got.
- ``labels_native/<study_id>_f<k>.png``: uint8 0/1 on the study's native matrix.
- ``labels_kidneys/<study_id>_f<k>.png``: uint8 0/1/2 on the native matrix, 1 patient-left, 2 patient-right kidney
  (per-kidney evaluation): the simulator's values; a user's label with a value 2 as it is, a binary one split at the
  vertical midline of its bounding box (:func:`custom_transforms.metrics.kidney_sides`).
- ``datalist.json``: MONAI decathlon form (``training``/``validation``/``test`` lists of ``{"image", "label",
  "label_native", "label_kidneys", "study", "patient", "fused_index", ...}`` with paths relative to DATASET), the
  ``options`` used, the ``skipped`` studies with reasons, the ``LoadImaged`` arguments that read the PNGs back, and
  ``study_facts``: ``{study_id: {fact: value}}`` for evaluation by subgroup (:mod:`custom_transforms.subgroups`). A
  simulated study's facts are the scalar fields of its ``truth.json`` (one level of nesting flattened as
  ``<parent>_<key>``; else its ``studies.csv`` row) plus ``pathology``, the study-level pathology (the affected
  kidney's, ``normal`` when both are; two different ones joined by ``+``); a user's study's are what the header says:
  ``matrix`` (rows), ``protocol`` (the frame timing's phases, e.g. ``60x1s+76x15s``), ``tracer``, ``age_years``,
  ``view`` when known (unknown facts are left out). They are kept out of the items so that items always batch.
- ``splits.json``: study ids per split (patient-level), reusable with ``--splits``.
- ``bundle_args.json``: the bundle config ids of the chain these options ran (``view``, ``min_start_s``,
  ``group_size``, ``window_s``, ``drop_partial``, ``fused_index`` = the first ``--fused``, ``colormap``,
  ``percentile``, ``image_size``, ``in_channels``), for ``monai.bundle run --args_file``.
- ``skipped.json``: the studies that could not be used, with the reason (``custom_transforms.safe_files.SkipList``
  form: ``{"command", "inputs", "done", "skipped": [{"input", "reason"}]}``; an empty list when every study was
  used). Studies left out on purpose because a frozen ``--splits`` does not list them are *excluded*, not skipped:
  they stay in ``datalist.json``'s ``skipped`` list with that reason but are not in ``skipped.json``.

Exit codes: 0 every study was used; 2 some studies were skipped (the dataset of the good ones is written, one line per
skipped study on stderr), or the build failed (one line on stderr, nothing written): no usable study, a bad option,
``--out`` not empty without ``--overwrite``, ``--out`` that is, contains or lies inside ``--studies`` or the
``--splits`` file, ``--out`` that cannot be created or written, or the first bad study with ``--on-error stop``.

Reading back in the array convention of the DICOM loader (``(C, H, W)``, rows first)::

    LoadImaged(keys=["image", "label"], reader="PILReader", reverse_indexing=False, ensure_channel_first=True,
               image_only=True)
    ScaleIntensityRanged(keys="image", a_min=0, a_max=255, b_min=0, b_max=1)

(MONAI's default ``reverse_indexing=True`` would transpose them to ``(C, W, H)``.)

The split is by patient (all studies of one patient on one side): patients are ordered by ``sha256(f"{seed}:{id}")``
and cut at the fractions (largest-remainder rounding, every non-zero fraction gets at least one patient when there are
enough). The order does not depend on file listing order, and adding a patient does not reorder the others.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from custom_transforms.datalists import STUDY_SUFFIXES
from custom_transforms.pipeline import BUNDLE_CHAIN, FUSION_RULES
from custom_transforms.safe_files import (
    SKIPPED_FILE,
    OutputOverlapError,
    SkipList,
    atomic_write_json,
    atomic_write_text,
    check_output_separate,
    make_build_dir,
    swap_in_folder,
)

__all__ = [
    "SPLIT_NAMES",
    "PNG_READ_ARGS",
    "BUNDLE_ARGS_FILE",
    "EXCLUDED_REASON",
    "BuildError",
    "BuildOptions",
    "StudyRecord",
    "discover_studies",
    "simulator_facts",
    "header_facts",
    "protocol_name",
    "split_patients",
    "build_dataset",
    "main",
]

SPLIT_NAMES = ("training", "validation", "test")
#: ``LoadImaged``/``LoadImage`` keyword arguments that read the written PNGs as ``(C, H, W)``, rows first.
PNG_READ_ARGS = {"reader": "PILReader", "reverse_indexing": False, "ensure_channel_first": True, "image_only": True}
#: the dataset's bundle config overrides (``monai.bundle run --args_file``) that run the chain it was built with.
BUNDLE_ARGS_FILE = "bundle_args.json"
#: how a native label is enlarged to the image size (see ``labels/`` in the module docstring).
LABEL_RESIZE_MODES = ("outline", "bilinear", "nearest")
#: a simulated study's parenchyma drawn on an N x N grid (``scripts.simulation.writer.NETWORK_LABEL_FILE`` at 384)
GRID_LABEL_PATTERN = re.compile(r"parenchyma_(\d+)\.png")

#: fused images labelled by default under a rule, where not only the rule's own (the paper labelled its 2nd and 3rd).
LABELLED_BY_RULE: dict[str, tuple[int, ...]] = {"paper": (1, 2)}
#: reason recorded in ``datalist.json`` ``skipped`` for a study a frozen ``--splits`` leaves out (not a failure).
EXCLUDED_REASON = "not in the frozen --splits"


@dataclass
class BuildOptions:
    """Options of :func:`build_dataset` (the CLI flags of the same names)."""

    size: tuple[int, int] = (384, 384)
    colormap: str | None = "jet"
    percentile: float = 99.5
    min_start_s: float = BUNDLE_CHAIN["min_start_s"]
    group_size: int = BUNDLE_CHAIN["group_size"]
    window_s: float | None = BUNDLE_CHAIN["window_s"]
    drop_partial: bool = BUNDLE_CHAIN["drop_partial"]
    fused: tuple[int, ...] = (BUNDLE_CHAIN["fused_index"],)
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    group_by: str = "patient"
    view: str | int | None = None
    splits_file: str | None = None
    on_error: str = "skip"
    overwrite: bool = False
    progress: bool = True
    label_resize: str = "outline"


@dataclass
class StudyRecord:
    """One study found under ``--studies``: id, file, label files (``None`` key: every fused image) and patient."""

    study_id: str
    path: Path
    labels: dict[int | None, Path] = field(default_factory=dict)
    patient_id: str = ""
    layout: str = "user"
    facts: dict[str, Any] = field(default_factory=dict)
    grid_labels: dict[tuple[int, int], Path] = field(default_factory=dict)


class BuildError(Exception):
    """A whole-build failure reported as one line on stderr (exit code 2)."""


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "study"


def _simulator_rows(root: Path) -> dict[str, dict[str, str]]:
    """``studies.csv`` rows by study id (``{}`` without the table or an id column)."""
    table = root / "studies.csv"
    if not table.exists():
        return {}
    with table.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    id_key = next((k for k in ("study_id", "study", "id") if rows and k in rows[0]), None)
    if id_key is None:
        return {}
    return {str(r[id_key]): r for r in rows}


def _simulator_patients(rows: dict[str, dict[str, str]]) -> dict[str, str]:
    return {sid: str(r["patient_id"]) for sid, r in rows.items() if r.get("patient_id")}


def _fact_value(value: Any) -> Any:
    """A study fact for JSON: finite numbers, short strings (numeric ones as numbers) and booleans; else ``None``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and value.strip() and len(value) <= 80:
        text = value.strip()
        for cast in (int, float):
            try:
                number = cast(text)
            except ValueError:
                continue
            return number if math.isfinite(number) else None
        return text
    return None


def _study_pathology(left: Any, right: Any) -> str | None:
    """The study-level pathology: the affected kidney's, ``normal`` when both are, two different ones joined by +."""
    if left is None and right is None:
        return None
    abnormal = sorted({str(v) for v in (left, right) if v is not None and str(v) != "normal"})
    return "+".join(abnormal) if abnormal else "normal"


def simulator_facts(truth: dict[str, Any] | None, row: dict[str, str] | None = None) -> dict[str, Any]:
    """The study facts of a simulated study (see the module docstring), read generically from ``truth.json``.

    Args:
        truth: the parsed ``truth.json`` (``None``: not there or unreadable).
        row: the study's ``studies.csv`` row, used when there is no ``truth``.

    Returns:
        ``{fact: value}``: scalar fields, one level of nesting flattened as ``<parent>_<key>``, ``pathology``, and
        ``furosemide`` ``"none"`` where the simulator recorded no diuretic (``null``).
    """
    source: dict[str, Any] = truth if isinstance(truth, dict) else dict(row or {})
    facts: dict[str, Any] = {}
    for key, value in source.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                if (v := _fact_value(v)) is not None:
                    facts[f"{key}_{sub}"] = v
        elif (v := _fact_value(value)) is not None:
            facts[str(key)] = v
    if "furosemide" in source and source["furosemide"] in (None, ""):  # the simulator's None: no diuretic given
        facts["furosemide"] = "none"
    if isinstance(source.get("pathology"), str):  # a flat study-level pathology is used as it is
        facts["pathology"] = source["pathology"]
    else:
        pathology = _study_pathology(facts.get("pathology_left"), facts.get("pathology_right"))
        if pathology is not None:
            facts["pathology"] = pathology
    return facts


def protocol_name(durations_s: Any) -> str:
    """The frame timing as phases of equal frames, e.g. ``"60x1s+76x15s"`` (durations rounded to 0.01 s)."""
    phases: list[list[Any]] = []
    for d in np.round(np.asarray(durations_s, dtype=np.float64).reshape(-1), 2):
        if phases and phases[-1][1] == d:
            phases[-1][0] += 1
        else:
            phases.append([1, d])
    return "+".join(f"{n}x{d:g}s" for n, d in phases)


def header_facts(path: Path, native_shape: tuple[int, int], meta: dict[str, Any], view: str | int | None) -> dict:
    """The study facts of a user's study from what its file says (see the module docstring)."""
    from custom_transforms import RenogramInputError, read_dynamic_study

    facts: dict[str, Any] = {"matrix": int(native_shape[0])}
    try:  # the fused image's metadata has no frame timing left: read the study's once more
        _, study_meta = read_dynamic_study(path, view)
        facts["protocol"] = protocol_name(study_meta["frame_duration_s"])
    except (RenogramInputError, OSError, KeyError):  # a fact we cannot read is unknown, not a reason to drop a study
        pass
    for fact, key in (("tracer", "tracer"), ("age_years", "patient_age_years"), ("view", "view")):
        if (value := _fact_value(_scalar(meta.get(key)))) is not None and value != "unknown":
            facts[fact] = round(value, 2) if isinstance(value, float) else value
    return facts


def _scalar(value: Any) -> Any:
    """The one value of a MONAI-collated metadata entry (a 1-element list or array), else the value."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return value


def discover_studies(root: str | os.PathLike) -> list[StudyRecord]:
    """Find the studies and their label files under ``root`` (simulator and user layouts; see the module docstring).

    Returns:
        records sorted by study id. Studies without a label file are included with empty ``labels`` (the builder
        skips and reports them).

    Raises:
        BuildError: ``root`` is not a folder, holds no study, or two studies map to one id.
    """
    root = Path(root)
    if not root.is_dir():
        raise BuildError(f"{root}: --studies is not a folder")
    sim_rows = _simulator_rows(root)
    sim_patients = _simulator_patients(sim_rows)
    records: list[StudyRecord] = []
    # hidden folders (e.g. the simulator's ``.sim-tmp-*`` studies being written) are not studies
    subs = (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "study.dcm").exists())
    for sub in sorted(subs):
        labels = {None: sub / "parenchyma.png"} if (sub / "parenchyma.png").exists() else {}
        patient = sim_patients.get(sub.name, "")
        truth_file, truth = sub / "truth.json", None
        if truth_file.exists():
            try:
                truth = json.loads(truth_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                truth = None
        if not patient and isinstance(truth, dict):
            patient = str(truth.get("patient_id", "") or "")
        facts = simulator_facts(truth, sim_rows.get(sub.name))
        grid = {}
        for cand in sorted(sub.glob("parenchyma_*.png")):
            m = GRID_LABEL_PATTERN.fullmatch(cand.name)
            if m:
                grid[(int(m.group(1)), int(m.group(1)))] = cand
        records.append(
            StudyRecord(_safe_id(sub.name), sub / "study.dcm", labels, patient, "simulator", facts, grid)
        )
    for f in sorted(p for p in root.iterdir() if p.is_file() and p.name.lower().endswith(STUDY_SUFFIXES)):
        stem = f.name[: -len(".nii.gz")] if f.name.lower().endswith(".nii.gz") else f.stem
        labels: dict[int | None, Path] = {}
        for cand in (root / f"{stem}_label.png", root / "labels" / f"{stem}.png"):
            if cand.exists():
                labels[None] = cand
                break
        for cand in sorted(root.glob(f"{glob_escape(stem)}_f*_label.png")) + sorted(
            (root / "labels").glob(f"{glob_escape(stem)}_f*.png")
        ):
            m = re.fullmatch(re.escape(stem) + r"_f(\d+)(?:_label)?\.png", cand.name)
            if m:
                labels.setdefault(int(m.group(1)), cand)
        records.append(StudyRecord(_safe_id(stem), f, labels, "", "user"))
    if not records:
        raise BuildError(f"{root}: no studies found (<id>/study.dcm folders or *.dcm / *.nii[.gz] files)")
    seen: dict[str, Path] = {}
    for r in records:
        if r.study_id in seen:
            raise BuildError(f"{r.path}: study id {r.study_id!r} is also used by {seen[r.study_id]}")
        seen[r.study_id] = r.path
    return sorted(records, key=lambda r: r.study_id)


def glob_escape(text: str) -> str:
    """Escape glob metacharacters in a file stem."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _patient_key(seed: int, patient: str) -> str:
    return hashlib.sha256(f"{seed}:{patient}".encode()).hexdigest()


def split_patients(patients: list[str], fractions: tuple[float, ...], seed: int) -> dict[str, str]:
    """Assign each patient to ``training``/``validation``/``test`` by the fractions (see the module docstring).

    Args:
        patients: patient ids (duplicates are ignored).
        fractions: three non-negative fractions summing to 1.
        seed: ordering seed.

    Returns:
        ``{patient_id: split_name}``.
    """
    unique = sorted(set(patients), key=lambda p: (_patient_key(seed, p), p))
    n = len(unique)
    f = np.asarray(fractions, dtype=float)
    raw = f * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    if n >= int((f > 0).sum()):
        for i in np.flatnonzero((f > 0) & (counts == 0)):
            donor = int(np.argmax(counts))
            counts[donor] -= 1
            counts[i] += 1
    out: dict[str, str] = {}
    start = 0
    for name, c in zip(SPLIT_NAMES, counts, strict=True):
        for p in unique[start : start + c]:
            out[p] = name
        start += c
    return out


def _read_label(
    path: Path, native_shape: tuple[int, int], sides_known: bool = False, grid: str = "the study matrix"
) -> tuple[np.ndarray, np.ndarray]:
    """Binary ``(H, W)`` uint8 parenchyma mask and its 0/1/2 kidney map from a label PNG on the native matrix.

    ``grid`` names the grid ``native_shape`` is in the error message (e.g. ``"--size"`` for a network-grid label).

    ``sides_known`` (the simulator's labels): the values are the kidneys even without a value 2; else
    :func:`custom_transforms.metrics.kidney_sides` decides (a binary label is split at its bounding box's midline).
    """
    from PIL import Image, UnidentifiedImageError

    from custom_transforms import RenogramInputError
    from custom_transforms.metrics import kidney_sides

    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except (OSError, UnidentifiedImageError) as exc:
        raise RenogramInputError(path, f"label cannot be read as an image ({exc})") from None
    if arr.ndim == 3 and arr.shape[2] in (3, 4) and np.all(arr[..., :3] == arr[..., :1]):
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise RenogramInputError(path, f"label has shape {arr.shape}; expected one channel (rows, columns)")
    if arr.shape != tuple(native_shape):
        raise RenogramInputError(path, f"label is {arr.shape[0]}x{arr.shape[1]} but {grid} is {native_shape}")
    values = set(np.unique(arr).tolist())
    if not values <= {0, 1, 2, 255}:
        raise RenogramInputError(path, f"label values {sorted(values)} are not 0/1, 0/1/2 or 0/255")
    mask = (arr > 0).astype(np.uint8)
    if not mask.any():
        raise RenogramInputError(path, "label is empty (no parenchyma pixel)")
    return mask, kidney_sides(arr, sides_known=True if sides_known else None)


def _apply(transforms: list, data: dict) -> dict:
    """Apply MONAI dictionary transforms in turn (not via ``Compose``, which would wrap our errors in RuntimeError)."""
    for t in transforms:
        data = t(data)
    return data


def _save_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(array)).save(path)


def _process_study(rec: StudyRecord, out: Path, opts: BuildOptions) -> list[dict[str, Any]]:
    """Write the images and labels of one study into ``out``; return its datalist entries (without split)."""
    from monai.transforms import Resize

    from custom_transforms import RenogramInputError, dynamic_study_transforms, fused_image_transforms

    data = _apply(
        dynamic_study_transforms(
            "image", opts.view, opts.min_start_s, opts.group_size, opts.window_s, opts.drop_partial
        ),
        {"image": str(rec.path)},
    )
    fused = data["image"]
    n = int(fused.shape[0])
    missing = [k for k in opts.fused if not -n <= k < n]
    if missing:
        raise RenogramInputError(rec.path, f"has {n} fused images; fused image(s) {missing} asked for by --fused")
    native_shape = (int(fused.shape[1]), int(fused.shape[2]))
    if not rec.labels:
        raise RenogramInputError(rec.path, "no label file found (see the accepted label names in --help)")
    if opts.label_resize not in LABEL_RESIZE_MODES:
        raise ValueError(f"label_resize {opts.label_resize!r} is not one of {LABEL_RESIZE_MODES}")
    # "outline": the simulator's own label at --size where the study has one, else the native label enlarged bilinear
    grid_label = rec.grid_labels.get(tuple(opts.size)) if opts.label_resize == "outline" else None
    enlarge = "bilinear" if opts.label_resize == "outline" else opts.label_resize
    label_source = "outline" if grid_label is not None else enlarge
    resize_label = Resize(spatial_size=opts.size, mode=enlarge, anti_aliasing=False)
    # one network-grid label serves every fused image of the study: read it once
    big_outline = None if grid_label is None else _read_label(grid_label, tuple(opts.size), True, grid="--size")[0]
    entries = []
    pending: list[tuple[Path, np.ndarray]] = []
    for k_pos in dict.fromkeys(k % n for k in opts.fused):  # positive indices, duplicates (e.g. 3 and -1) once
        label_file = rec.labels.get(k_pos, rec.labels.get(None))
        if label_file is None:
            raise RenogramInputError(rec.path, f"no label file for fused image {k_pos}")
        mask, sides = _read_label(label_file, native_shape, sides_known=rec.layout == "simulator")
        img = _apply(
            fused_image_transforms("image", k_pos, opts.colormap, opts.percentile, opts.size), {"image": fused}
        )["image"]
        rgb = np.rint(img.detach().cpu().numpy() * 255.0).clip(0, 255).astype(np.uint8)
        rgb = rgb[0] if rgb.shape[0] == 1 else rgb.transpose(1, 2, 0)
        if big_outline is not None:
            big = big_outline
        else:
            big = resize_label(torch.from_numpy(mask)[None].float())
            big = np.asarray(big.detach().cpu().numpy()[0] > 0.5, dtype=np.uint8)
        name = f"{rec.study_id}_f{k_pos}.png"
        pending += [(out / "images" / name, rgb), (out / "labels" / name, big), (out / "labels_native" / name, mask)]
        pending.append((out / "labels_kidneys" / name, sides))
        entries.append(
            {
                "image": f"images/{name}",
                "label": f"labels/{name}",
                "label_native": f"labels_native/{name}",
                "label_kidneys": f"labels_kidneys/{name}",
                "label_source": label_source,
                "study": rec.study_id,
                "study_path": str(rec.path),
                "patient": "",
                "fused_index": k_pos,
                "fused_start_s": _json_float(img.meta.get("fused_start_s", [math.nan])[0]),
                "fused_end_s": _json_float(img.meta.get("fused_end_s", [math.nan])[0]),
                "native_shape": list(native_shape),
                "pixel_spacing_mm": [_json_float(v) for v in fused.meta.get("pixel_spacing_mm", [math.nan, math.nan])],
            }
        )
    for path, arr in pending:  # only written once every fused image of the study succeeded
        _save_png(path, arr)
    # simulator studies: studies.csv/truth.json only (a simulator may write one constant DICOM PatientID)
    patient = rec.patient_id or (str(fused.meta.get("patient_id", "") or "") if rec.layout == "user" else "")
    for e in entries:
        e["patient"] = patient or rec.study_id
    if rec.layout == "simulator":
        rec.facts = {"matrix": native_shape[0]} | rec.facts
    else:
        rec.facts = header_facts(rec.path, native_shape, dict(fused.meta), opts.view) | rec.facts
    return entries


def _json_float(value: Any) -> float | None:
    """A float for JSON: NaN/inf (unknown) become ``null`` so that strict JSON readers accept the datalist."""
    v = float(value)
    return v if math.isfinite(v) else None


def _frozen_split(path: str) -> dict[str, str]:
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
        assignment = {}
        for name in SPLIT_NAMES:
            for sid in info.get(name, []):
                if sid in assignment:
                    raise BuildError(f"{path}: study {sid!r} is listed in both {assignment[sid]} and {name}")
                assignment[str(sid)] = name
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise BuildError(f"{path}: --splits file cannot be read ({exc})") from None
    return assignment


def _finalise(tmp: Path, out: Path, overwrite: bool) -> None:
    """Move the finished ``tmp`` dataset to ``out`` (an old one is replaced only after the new one is in place)."""
    if out.exists():
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        elif not overwrite:
            raise BuildError(f"{out}: exists and is not empty (use --overwrite)")
    swap_in_folder(tmp, out)


def _check_out(out: Path, studies: Path, opts: BuildOptions) -> None:
    """Refuse, before anything is read or written, an ``--out`` that would destroy an input or cannot be a folder."""
    try:
        check_output_separate(out, [studies, opts.splits_file])
    except OutputOverlapError as exc:
        raise BuildError(str(exc)) from None
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise BuildError(f"{out}: --out is a file, not a folder")
        if not opts.overwrite and any(out.iterdir()):
            raise BuildError(f"{out}: exists and is not empty (use --overwrite)")
        return
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise BuildError(f"{out}: --out cannot be created, {parent} is a file")
            return


def _make_parents(out: Path) -> list[Path]:
    """Create the missing parent folders of ``out``; returns them, deepest first, to be removed if the build fails."""
    made = []
    for parent in out.parents:
        if parent.exists():
            break
        made.append(parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    return made


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


def build_dataset(studies: str | os.PathLike, out: str | os.PathLike, opts: BuildOptions | None = None) -> dict:
    """Build the dataset (see the module docstring) and return the datalist written to ``out/datalist.json``.

    Raises:
        BuildError: nothing usable, a bad option, ``out`` not empty without ``overwrite``, or a bad study with
            ``on_error="stop"``. Nothing is left in ``out`` (or next to it) in that case.
    """
    from custom_transforms import RenogramInputError, bundle_overrides

    opts = opts or BuildOptions()
    studies, out = Path(studies), Path(out)
    _check_out(out, studies, opts)
    if abs(sum(opts.split) - 1.0) > 1e-6 or min(opts.split) < 0 or len(opts.split) != 3:
        raise BuildError(f"--split needs three non-negative fractions summing to 1, got {list(opts.split)}")
    records = discover_studies(studies)
    frozen = _frozen_split(opts.splits_file) if opts.splits_file else None
    made: list[Path] = []
    tmp = None
    try:
        made = _make_parents(out)
        tmp = make_build_dir(out)
        for sub in ("images", "labels", "labels_native", "labels_kidneys"):
            (tmp / sub).mkdir()
        entries: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        failures = SkipList("prepare_dataset")
        iterator = records
        if opts.progress:
            from tqdm import tqdm

            iterator = tqdm(records, desc="prepare_dataset", unit="study", file=sys.stderr)
        for rec in iterator:
            if frozen is not None and rec.study_id not in frozen:  # excluded on purpose: not a failure
                skipped.append({"study": rec.study_id, "path": str(rec.path), "reason": EXCLUDED_REASON})
                continue
            failures.inputs += 1
            try:
                entries.extend(_process_study(rec, tmp, opts))
            except (RenogramInputError, OSError) as exc:
                if isinstance(exc, OSError):
                    target = Path(os.fsdecode(exc.filename)).resolve() if exc.filename is not None else None
                    if target is not None and target.is_relative_to(tmp.resolve()):
                        raise  # writing the output failed, not this study
                    exc = RenogramInputError(rec.path, f"cannot be read ({exc.strerror or exc})")
                if opts.on_error == "stop":
                    raise BuildError(str(exc)) from None
                skipped.append({"study": rec.study_id, "path": str(rec.path), "reason": str(exc)})
                failures.add(rec.path, str(exc))
        if not entries:
            raise BuildError(
                f"{studies}: no usable study ({len(skipped)} skipped: {skipped[0]['reason'] if skipped else ''})"
            )
        study_patient = {e["study"]: e["patient"] for e in entries}
        if frozen is not None:
            assignment = {sid: frozen[sid] for sid in study_patient}
            for pid in set(study_patient.values()):
                sides = {assignment[s] for s, p in study_patient.items() if p == pid}
                if len(sides) > 1:
                    raise BuildError(f"{opts.splits_file}: patient {pid!r} has studies in {sorted(sides)}")
        else:
            key = study_patient if opts.group_by == "patient" else {s: s for s in study_patient}
            by_patient = split_patients(list(key.values()), opts.split, opts.seed)
            assignment = {sid: by_patient[key[sid]] for sid in study_patient}
        datalist: dict[str, Any] = {
            "name": "renogram_parenchyma_png",
            "description": "Fused pseudocolor renogram images with binary parenchyma labels (scripts.prepare_dataset)",
            "labels": {"0": "background", "1": "parenchyma"},
            "image_read_args": PNG_READ_ARGS,
            "options": {k: v for k, v in asdict(opts).items() if k not in ("progress", "overwrite")}
            | {"studies": str(studies)},
        }
        for name in SPLIT_NAMES:
            datalist[name] = [e for e in entries if assignment[e["study"]] == name]
        datalist["skipped"] = skipped
        used = {e["study"] for e in entries}
        datalist["study_facts"] = {r.study_id: r.facts for r in records if r.study_id in used}
        datalist["warnings"] = _patient_warnings(study_patient) if frozen is None and opts.group_by == "patient" else []
        datalist["numTraining"] = len(datalist["training"])
        splits = {name: sorted(s for s, a in assignment.items() if a == name) for name in SPLIT_NAMES}
        splits |= {
            "by": "patient" if frozen is None and opts.group_by == "patient" else opts.group_by,
            "seed": opts.seed,
            "fractions": list(opts.split),
            "patients": study_patient,
        }
        atomic_write_json(tmp / "datalist.json", datalist)
        atomic_write_json(tmp / "splits.json", splits)
        atomic_write_json(tmp / BUNDLE_ARGS_FILE, bundle_overrides(datalist["options"]))
        atomic_write_text(tmp / "README.md", _dataset_readme(opts))
        failures.write(tmp)
        _finalise(tmp, out, opts.overwrite)
    except OSError as exc:  # the output side (reading inputs raises RenogramInputError): disk full, permissions
        _cleanup(tmp, made)
        raise BuildError(f"{out}: --out cannot be written ({exc.strerror or exc})") from None
    except BaseException:
        _cleanup(tmp, made)
        raise
    return datalist


def _cleanup(tmp: Path | None, made: list[Path]) -> None:
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    _remove_empty(made)


def _patient_warnings(study_patient: dict[str, str]) -> list[str]:
    """Flag a split that patient grouping made degenerate (e.g. anonymised files sharing one PatientID)."""
    counts: dict[str, int] = {}
    for pid in study_patient.values():
        counts[pid] = counts.get(pid, 0) + 1
    pid, top = max(counts.items(), key=lambda kv: kv[1])
    if len(study_patient) >= 4 and top > len(study_patient) / 2:
        return [
            f"{top} of {len(study_patient)} studies share patient id {pid!r}, so they fall in one split; "
            "if the ids were anonymised, use --group-by study"
        ]
    return []


def _dataset_readme(opts: BuildOptions) -> str:
    return (
        "# Renogram parenchyma PNG dataset (written by `python -m scripts.prepare_dataset`)\n\n"
        f"- images/: fused pseudocolor images ({opts.colormap or 'grayscale'}, {opts.size[0]}x{opts.size[1]}), "
        "uint8; rows = image rows top to bottom, columns left to right (as stored in the DICOM).\n"
        "- labels/: uint8 0/1 parenchyma at the image size ("
        + (
            "a simulated study's own label at that size where it has one, parenchyma_<size>.png; else the native "
            "mask resized bilinear, kept where >= 0.5"
            if opts.label_resize == "outline"
            else f"native mask resized {opts.label_resize}"
            + (", kept where >= 0.5" if opts.label_resize == "bilinear" else "")
        )
        + "; each item's label_source says which); "
        "labels_native/: the same on the native matrix.\n"
        "- labels_kidneys/: uint8 0/1/2 on the native matrix (1 patient-left, 2 patient-right kidney).\n"
        "- datalist.json: MONAI decathlon lists (training/validation/test), options, skipped studies.\n"
        "- splits.json: study ids per split (by patient); reuse with --splits.\n"
        "- bundle_args.json: bundle config overrides that run the same preprocessing on DICOM studies:\n"
        "  python -m monai.bundle run --config_file bundle/configs/inference.json --args_file bundle_args.json ...\n\n"
        "Read back as (C, H, W):\n\n"
        "    LoadImaged(keys=['image', 'label'], reader='PILReader', reverse_indexing=False,\n"
        "               ensure_channel_first=True, image_only=True)\n"
        "    ScaleIntensityRanged(keys='image', a_min=0, a_max=255, b_min=0, b_max=1)\n"
    )


def _parse_view(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scripts.prepare_dataset",
        description="Build a PNG dataset (fused pseudocolor images + binary parenchyma labels + datalist.json) "
        "from dynamic renal studies. Input layouts: <id>/study.dcm + parenchyma.png (simulator), or <stem>.dcm + "
        "<stem>_label.png / labels/<stem>.png (per fused image: <stem>_f<k>_label.png).",
        epilog="Every good study is used; the bad ones are printed (one line each) and listed with the reason in "
        "DATASET/skipped.json. Exit code 0: every study used; 2: some skipped (the dataset is written), or nothing "
        "written (bad option, no usable study, --out not empty without --overwrite, --out overlapping --studies or "
        "--splits, --out not writable, or --on-error stop at a bad study).",
    )
    p.add_argument("--studies", required=True, help="folder of studies (simulator or user layout)")
    p.add_argument(
        "--out",
        required=True,
        help="dataset folder to create (absent or empty unless --overwrite; never the --studies folder, above it or "
        "inside it)",
    )
    p.add_argument("--size", type=int, nargs="+", default=[384], help="output size: S or H W (default 384)")
    p.add_argument("--colormap", default="jet", help="OpenCV colormap name, or 'none' for grayscale (default jet)")
    p.add_argument("--percentile", type=float, default=99.5, help="image percentile taken as full scale (default 99.5)")
    p.add_argument(
        "--rule", choices=tuple(FUSION_RULES), default="time_window",
        help="fusion rule (custom_transforms.pipeline.FUSION_RULES): time_window (default, the bundle's: minutes 1-3, "
        "--window-s 120 --fused 0) or paper (7 frames after the first minute, --fused 1 2 as the paper labelled); "
        "the four options below override it",
    )
    p.add_argument("--min-start-s", type=float, default=None, help="drop frames starting before this (default 60 s)")
    p.add_argument("--group-size", type=int, default=None, help="frames summed per fused image (paper rule: 7)")
    p.add_argument("--window-s", type=float, default=None,
                   help="fuse fixed time windows of this many s (time_window rule: 120; 0 = groups of frames)")
    p.add_argument("--keep-partial", action="store_true", help="keep a partial last group/window (default: drop)")
    p.add_argument("--fused", type=int, nargs="+", default=None,
                   help="0-based fused images to label (time_window rule: 0; paper rule: 1 2)")
    p.add_argument(
        "--split",
        type=float,
        nargs=3,
        default=[0.8, 0.1, 0.1],
        metavar=("TRAIN", "VAL", "TEST"),
        help="split fractions by patient (default 0.8 0.1 0.1; the paper's 80/20: 0.8 0.2 0.0)",
    )
    p.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    p.add_argument(
        "--group-by",
        choices=("patient", "study"),
        default="patient",
        help="split unit: DICOM PatientID / studies.csv patient_id (default), or each study on its own",
    )
    p.add_argument("--splits", default=None, help="reuse a frozen splits.json (study ids per split)")
    p.add_argument("--view", default=None, type=_parse_view, help="posterior (default), anterior, or a detector number")
    p.add_argument(
        "--on-error",
        choices=("skip", "stop"),
        default="skip",
        help="bad study: skip it, list it in DATASET/skipped.json and exit 2 at the end (default), or stop at the "
        "first one (nothing written)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing non-empty --out (once the new one is complete)"
    )
    p.add_argument(
        "--label-resize", choices=LABEL_RESIZE_MODES, default="outline",
        help="the label at --size: outline (default: a simulated study's own parenchyma_<size>.png, the kidney's "
        "outline drawn on that grid; bilinear for any study without one), bilinear (the native label enlarged "
        "bilinear, kept where >= 0.5: a smooth line through the native pixels' edges) or nearest (blocks; the "
        "datasets before 0.5.0)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def options_from_args(args: argparse.Namespace, size: tuple[int, int], colormap: str | None) -> BuildOptions:
    """The :class:`BuildOptions` of parsed flags: the ``--rule``'s ids, overridden by the flags given."""
    rule = FUSION_RULES[args.rule]
    window_s = rule["window_s"] if args.window_s is None else (None if args.window_s == 0 else args.window_s)
    return BuildOptions(
        size=size,
        colormap=colormap,
        percentile=args.percentile,
        min_start_s=rule["min_start_s"] if args.min_start_s is None else args.min_start_s,
        group_size=rule["group_size"] if args.group_size is None else args.group_size,
        window_s=window_s,
        drop_partial=not args.keep_partial,
        fused=tuple(args.fused) if args.fused is not None else LABELLED_BY_RULE.get(args.rule, (rule["fused_index"],)),
        split=tuple(args.split),
        seed=args.seed,
        group_by=args.group_by,
        view=args.view,
        splits_file=args.splits,
        on_error=args.on_error,
        overwrite=args.overwrite,
        progress=not args.quiet,
        label_resize=args.label_resize,
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code.

    0: every study was used. 2: some studies were skipped (the dataset of the others is written; one line per skipped
    study on stderr, all in ``DATASET/skipped.json``), or the build failed (one line on stderr, nothing written).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if len(args.size) not in (1, 2) or min(args.size) < 8:
        parser.error("--size takes S or H W, each at least 8")
    size = (args.size[0], args.size[0]) if len(args.size) == 1 else tuple(args.size)
    colormap = None if args.colormap.lower() == "none" else args.colormap
    try:
        from custom_transforms import colormap_lut

        if colormap is not None:
            colormap_lut(colormap)
    except ValueError as exc:
        parser.error(str(exc))
    opts = options_from_args(args, size, colormap)
    try:
        datalist = build_dataset(args.studies, args.out, opts)
    except BuildError as exc:
        print(f"prepare_dataset: error: {exc}", file=sys.stderr)
        return 2
    n_studies = len({e["study"] for name in SPLIT_NAMES for e in datalist[name]})
    n_patients = len({e["patient"] for name in SPLIT_NAMES for e in datalist[name]})
    per_split = ", ".join(f"{name} {len(datalist[name])}" for name in SPLIT_NAMES)
    failed = [s for s in datalist["skipped"] if s["reason"] != EXCLUDED_REASON]
    excluded = len(datalist["skipped"]) - len(failed)
    for s in failed:
        print(f"prepare_dataset: skipped {s['reason']}", file=sys.stderr)
    for w in datalist["warnings"]:
        print(f"prepare_dataset: warning: {w}", file=sys.stderr)
    print(
        f"prepare_dataset: {n_studies} studies used ({n_patients} patients), {len(failed)} skipped"
        + (f" (listed in {Path(args.out) / SKIPPED_FILE})" if failed else "")
        + (f", {excluded} not in the frozen --splits" if excluded else "")
        + f"; images: {per_split} -> {args.out}"
    )
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
