# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Write simulated studies to disk, atomically.

``OUT/<study_id>/`` holds ``study.dcm`` (NM DICOM), ``parenchyma.png``, ``kidney.png``, ``pelvis.png`` (uint8 label
maps, see :data:`scripts.simulation.LABEL_CONVENTION`), ``parenchyma_384.png`` (the parenchyma drawn on the
network's 384x384 grid of the same field, :data:`NETWORK_LABEL_FILE`) and ``truth.json``. Each study is written
into a hidden ``OUT/.sim-tmp-<study_id>-<pid>`` folder and renamed into place with ``os.replace``, so a study
folder always holds all its files. ``OUT/studies.csv`` (one row per study folder found in OUT) is written atomically
(:func:`custom_transforms.safe_files.atomic_write_text`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from custom_transforms.pipeline import DEFAULT_SPATIAL_SIZE
from custom_transforms.safe_files import atomic_write_text, swap_in_folder

from .dicom import write_nm_dicom
from .phantom import label_maps

if TYPE_CHECKING:
    from .study import SimulatedStudy

__all__ = ["STUDY_FILES", "NETWORK_LABEL_SIZE", "NETWORK_LABEL_FILE", "TMP_PREFIX", "CSV_COLUMNS", "study_id_for",
           "write_study", "write_studies_csv", "is_complete_study", "foreign_studies_csv"]

#: the grid of the network-grid label: the bundle's input size
NETWORK_LABEL_SIZE = int(DEFAULT_SPATIAL_SIZE[0])
#: the parenchyma on the network's grid, drawn from the analytic outline (``scripts.prepare_dataset`` uses it as
#: the 384x384 label instead of enlarging the native one, whose staircase a 64x64 matrix makes 6 pixels tall)
NETWORK_LABEL_FILE = f"parenchyma_{NETWORK_LABEL_SIZE}.png"
STUDY_FILES = ("study.dcm", "parenchyma.png", "kidney.png", "pelvis.png", NETWORK_LABEL_FILE, "truth.json")
TMP_PREFIX = ".sim-tmp-"
CSV_COLUMNS = (
    "study_id", "patient_id", "seed", "index", "age_years", "sex", "weight_kg", "height_cm", "tracer", "dose_mbq",
    "protocol", "n_frames", "matrix", "pixel_spacing_mm", "pathology_left", "pathology_right", "drf_left_percent",
    "tmax_left_min", "tmax_right_min", "t_half_left_min", "t_half_right_min", "furosemide", "injection_site",
    "motion", "collimator", "position_left", "position_right", "background_gain",
)


def study_id_for(seed: int, index: int) -> str:
    """The study id of study ``index`` of a run with ``seed``: ``sim_s{seed}_{index:05d}``."""
    return f"sim_s{seed}_{index:05d}"


def is_complete_study(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds every file of a written study."""
    p = Path(folder)
    return p.is_dir() and all((p / f).is_file() for f in STUDY_FILES)


def _save_png(labels: np.ndarray, path: Path) -> None:
    Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8), mode="L").save(path, format="PNG")


def write_study(study: SimulatedStudy, out_dir: str | os.PathLike, study_id: str, overwrite: bool = False) -> Path:
    """Write one study to ``out_dir/study_id`` atomically.

    Args:
        study: the simulated study.
        out_dir: output folder (created if missing).
        study_id: folder name and DICOM PatientID.
        overwrite: replace an existing ``out_dir/study_id``; otherwise an existing one raises.

    Returns:
        The study folder.

    Raises:
        FileExistsError: the study folder exists and ``overwrite`` is False.
        OSError: the output cannot be written (nothing is left behind).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = out / study_id
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final}: study folder already exists (use overwrite to replace it)")
    tmp = out / f"{TMP_PREFIX}{study_id}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        write_nm_dicom(study, tmp / "study.dcm", study_id)
        _save_png(study.parenchyma, tmp / "parenchyma.png")
        _save_png(study.kidney, tmp / "kidney.png")
        _save_png(study.pelvis, tmp / "pelvis.png")
        _save_png(label_maps(study.config, NETWORK_LABEL_SIZE)["parenchyma"], tmp / NETWORK_LABEL_FILE)
        truth = dict(study.truth, study_id=study_id, patient_id=study_id)
        (tmp / "truth.json").write_text(json.dumps(truth, indent=1, allow_nan=False) + "\n", encoding="utf-8")
        swap_in_folder(tmp, final, backup=out / f"{TMP_PREFIX}old-{study_id}-{os.getpid()}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _row(truth: dict[str, Any], folder: Path) -> dict[str, Any]:
    def fmt(v: Any) -> Any:
        return "" if v is None else v

    return {
        "study_id": folder.name,
        "patient_id": truth.get("patient_id", folder.name),
        "seed": fmt(truth.get("seed")),
        "index": fmt(truth.get("index")),
        "age_years": truth["age_years"],
        "sex": truth["sex"],
        "weight_kg": truth["weight_kg"],
        "height_cm": truth["height_cm"],
        "tracer": truth["tracer"],
        "dose_mbq": truth["dose_mbq"],
        "protocol": truth["protocol"],
        "n_frames": len(truth["frame_durations_s"]),
        "matrix": truth["matrix"],
        "pixel_spacing_mm": truth["pixel_spacing_mm"][0],
        "pathology_left": truth["pathology"]["left"],
        "pathology_right": truth["pathology"]["right"],
        "drf_left_percent": fmt(truth["drf_left_percent"]),
        "tmax_left_min": fmt(truth["tmax_min"]["left"]),
        "tmax_right_min": fmt(truth["tmax_min"]["right"]),
        "t_half_left_min": fmt(truth["t_half_min"]["left"]),
        "t_half_right_min": fmt(truth["t_half_min"]["right"]),
        "furosemide": fmt(truth.get("furosemide")),
        "injection_site": int(bool(truth["injection_site"]["in_field_of_view"])),
        "motion": int(truth.get("motion") is not None),
        # facts added in simulator 1.1 (older truth files: the values they implied)
        "collimator": truth.get("camera", {}).get("collimator", "LEHR"),
        "position_left": truth["kidneys"]["left"].get("position", "normal"),
        "position_right": truth["kidneys"]["right"].get("position", "normal"),
        "background_gain": truth.get("background", {}).get("tissue_gain", 1.0),
    }


def write_studies_csv(out_dir: str | os.PathLike) -> Path:
    """(Re)write ``out_dir/studies.csv`` from the complete study folders in ``out_dir``, sorted by id (atomic).

    Returns:
        The CSV path.

    Raises:
        ValueError: a study folder's ``truth.json`` cannot be read (the file is named).
    """
    out = Path(out_dir)
    rows = []
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not is_complete_study(folder):
            continue
        try:
            rows.append(_row(json.loads((folder / "truth.json").read_text(encoding="utf-8")), folder))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{folder / 'truth.json'}: not a readable simulator truth file ({exc!r})") from None
    path = out / "studies.csv"
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
    return path


def foreign_studies_csv(out_dir: str | os.PathLike) -> Path | None:
    """``out_dir/studies.csv`` when it exists and was not written by the simulator (no seed/index columns), else None.

    :func:`write_studies_csv` rewrites that file from the study folders, so a user's own table (e.g. the
    ``study_id,patient_id`` list that ``scripts.prepare_dataset`` reads) would be lost.
    """
    path = Path(out_dir) / "studies.csv"
    if not path.is_file():
        return None
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError):
        return path
    return None if {"study_id", "patient_id", "seed", "index"} <= set(header) else path  # tolerant to new columns
