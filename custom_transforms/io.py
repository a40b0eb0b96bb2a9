# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Reading a dynamic renal study (NM DICOM, NIfTI 2D+t, or a folder of frames) into ``(T, H, W)`` counts plus timing.

Array convention, for every format: ``frames[t, row, col]``, float32 counts after the file's rescale. Rows run top to
bottom and columns left to right exactly as the file stores them (DICOM: as stored; nothing is flipped), so for the
usual posterior view the patient's left is on the image left.

Metadata keys returned by :func:`read_dynamic_study` (and carried in ``MetaTensor.meta`` by :class:`LoadDynamicStudy`):

- ``frame_start_s``: T floats, seconds from acquisition start (PhaseDelay and PauseBetweenFrames included).
- ``frame_duration_s``: T floats, seconds.
- ``frame_phase``: T ints, 0-based phase of each frame (0 everywhere when the format has no phases).
- ``pixel_spacing_mm``: ``[row, col]`` floats (NaN when the file does not say).
- ``view``: ``"posterior"``, ``"anterior"`` or ``"unknown"``; ``detector``: 1-based detector number read (DICOM).
- ``source_frames`` (DICOM only): T ints, the 1-based frame numbers in the file of the frames read, in time order
  (what a DICOM SEG of the study references).
- ``tracer``: radiopharmaceutical name or ``""``; ``patient_age_years``: float or NaN; ``patient_id``: str or ``""``.
- ``patient_size_m``: the patient's height in metres (DICOM ``PatientSize``; a value over 3 is taken as cm and
  converted) or NaN.
- ``reader_notes``: one string, ``""`` for a file read exactly as the standard says, else ``"; "``-separated notes on
  the vendor variants read (cumulative ``TimeSliceVector``, ``PatientSize`` in cm, ``FrameTime`` timing, no
  ``PhaseDelay``), so that a reader's interpretation is on record.
- ``filename_or_obj``: the path (str); ``format``: ``"dicom"``, ``"nifti"`` or ``"frames"``.

Every reader refuses, with a :class:`~custom_transforms.errors.RenogramInputError` naming the file, pixel values that
cannot be counts (:func:`check_counts`): NaN or infinite values, negative values after the rescale, a study whose every
pixel is 0, and a study whose pixels are nearly constant in every frame.

:func:`frame_timing` is the one reading of ``frame_start_s``/``frame_duration_s`` for everything downstream.

MONAI bookkeeping (set by :class:`custom_transforms.loading.LoadDynamicStudy` only): ``spatial_shape`` ``(H, W)``,
``original_channel_dim`` 0 (the frame axis is MONAI's channel axis) and a 4x4 affine ``diag(row_mm, col_mm, 1, 1)``,
the form MONAI's own 2D ``LoadImage`` uses, so ``Resized`` + ``Invertd`` work downstream. This module imports no MONAI.

Why own code: MONAI's ``PydicomReader`` stacks frames but does not interpret NM ``PhaseInformationSequence`` timing,
detector/view vectors or ``PatientAge``; this module does exactly that on top of pydicom, nibabel and OpenCV.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from custom_transforms.errors import RenogramInputError

__all__ = [
    "FRAME_SUFFIXES",
    "NM_SOP_CLASS_UIDS",
    "read_dynamic_study",
    "frame_timing",
    "read_dicom_study",
    "read_nifti_study",
    "read_frame_folder",
    "read_timing_sidecar",
    "parse_view",
    "parse_dicom_age",
    "check_counts",
    "FLAT_SPREAD",
]

#: NM Image Storage and the retired NM Image Storage SOP classes.
NM_SOP_CLASS_UIDS = ("1.2.840.10008.5.1.4.1.1.20", "1.2.840.10008.5.1.4.1.1.5")
#: image files accepted in a folder of frames (one 2D frame per file, sorted by natural name order).
FRAME_SUFFIXES = (".png", ".tif", ".tiff")
_TIMING_NAMES = ("timing.json", "timing.csv")
_POSTERIOR_WORDS = {"POSTERIOR", "POST", "POSTERO", "PA", "P"}
_ANTERIOR_WORDS = {"ANTERIOR", "ANT", "ANTERO", "AP", "A"}
#: a study is "nearly constant" when every frame's pixel values span at most this fraction of the frame's maximum.
FLAT_SPREAD = 0.01
#: ``PatientSize`` above this many metres is read as centimetres (no patient is 3 m tall; no child is 3 cm tall).
_SIZE_CM_ABOVE = 3.0


def read_dynamic_study(path: str | os.PathLike, view: str | int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Read one dynamic study into ``(T, H, W)`` float32 counts and a metadata dict.

    The format follows the path: a folder is a folder of frames (:func:`read_frame_folder`), ``*.nii``/``*.nii.gz`` is
    NIfTI 2D+t (:func:`read_nifti_study`), anything else is read as DICOM (:func:`read_dicom_study`; DICOM files often
    have no extension).

    Args:
        path: study file or folder.
        view: which detector/view to read from a file holding several: ``"posterior"``, ``"anterior"`` or a 1-based
            detector number. ``None`` takes the posterior one (or the only one). Ignored by formats with one view.
            Defaults to None.

    Returns:
        ``(frames, meta)``: frames ``(T, H, W)`` float32 counts, T >= 2; meta with the keys listed in the module
        docstring.

    Raises:
        RenogramInputError: the file is missing, unreadable, not a dynamic study, its timing is missing or
            inconsistent, or its pixel values are not counts (:func:`check_counts`: NaN or infinite, negative, all 0,
            or every frame spanning at most 1 % of its maximum). The message starts with the path.
    """
    p = Path(path)
    if not p.exists():
        raise RenogramInputError(p, "no such file or folder")
    if p.is_dir():
        return read_frame_folder(p)
    if p.name.lower().endswith((".nii", ".nii.gz")):
        return read_nifti_study(p)
    return read_dicom_study(p, view=view)


def frame_timing(
    meta: Mapping[str, Any], n_frames: int, source: str | os.PathLike | None
) -> tuple[np.ndarray, np.ndarray]:
    """Frame starts and durations (s) of a read study, from its metadata, validated: the one reading of study timing.

    Every consumer of a study's timing (the array transforms, the renogram analysis, the previews) takes it from the
    ``frame_start_s`` / ``frame_duration_s`` lists :func:`read_dynamic_study` returns, through this function.

    Args:
        meta: the reader's metadata (or a MetaTensor's ``.meta``) with ``frame_start_s`` and ``frame_duration_s``.
        n_frames: frames the timing must describe.
        source: the file named in errors.

    Returns:
        ``(starts, durations)``: float64 arrays of length ``n_frames``, seconds.

    Raises:
        RenogramInputError: timing missing, of the wrong length, non-finite, non-positive durations, or decreasing
            starts; the message names the file.
    """
    starts, durs = meta.get("frame_start_s"), meta.get("frame_duration_s")
    if starts is None or durs is None:
        raise RenogramInputError(source, "frames have no timing (frame_start_s/frame_duration_s missing)")
    starts, durs = np.asarray(starts, np.float64).reshape(-1), np.asarray(durs, np.float64).reshape(-1)
    if starts.size != n_frames or durs.size != n_frames:
        raise RenogramInputError(
            source, f"timing lists {starts.size} starts and {durs.size} durations for {n_frames} frames"
        )
    if not (np.all(np.isfinite(starts)) and np.all(np.isfinite(durs))):
        raise RenogramInputError(source, "frame timing contains NaN or infinite values")
    if np.any(durs <= 0):
        raise RenogramInputError(source, "frame durations must be positive")
    if np.any(np.diff(starts) < 0):
        raise RenogramInputError(source, "frame start times are not in increasing order")
    return starts, durs


def check_counts(frames: np.ndarray, path: str | os.PathLike | None) -> None:
    """Refuse pixel values that cannot be the counts of a gamma-camera study; every reader calls it.

    Criteria, in this order (the first that applies is reported):

    - NaN or infinite values: ``"holds NaN or infinite pixel values (N of M)"``.
    - Negative values after the rescale: counts are never negative (``"holds negative counts after rescale ..."``).
    - Every pixel 0: ``"holds no counts (every pixel is 0)"``.
    - Nearly constant: in *every* frame, ``max - min <= FLAT_SPREAD * max`` (1 %; all-zero frames count as constant):
      ``"pixel values are nearly constant (...): not a count image"``. This can never reject a real renogram: counts
      are Poisson, so even a perfectly uniform source has a relative spread of about ``6 / sqrt(n)`` across a frame at
      ``n`` counts per pixel, and a spread of 1 % would need more than 300 000 counts in every pixel of every frame,
      beyond what a 16-bit pixel holds. Real studies hold at most a few hundred counts in their hottest pixel, and
      their frames span from about 0 (outside the body or the detector's field) to that hottest pixel: a spread of
      about 100 %. A frame with a few hot pixels is not constant, so a study is refused only when all frames are.

    Args:
        frames: ``(T, H, W)`` counts after the rescale.
        path: the file named in the error.

    Raises:
        RenogramInputError: one of the criteria above.
    """
    arr = np.asarray(frames)
    finite = np.isfinite(arr)
    if not finite.all():
        raise RenogramInputError(path, f"holds NaN or infinite pixel values ({int((~finite).sum())} of {arr.size})")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0:
        raise RenogramInputError(
            path, f"holds negative counts after rescale (minimum {lo:g}); counts per pixel are never negative"
        )
    if hi == 0:
        raise RenogramInputError(path, "holds no counts (every pixel is 0)")
    flat2d = arr.reshape(arr.shape[0], -1)
    frame_max, frame_min = flat2d.max(axis=1), flat2d.min(axis=1)
    if np.all(frame_max - frame_min <= FLAT_SPREAD * frame_max):
        raise RenogramInputError(
            path,
            f"pixel values are nearly constant ({lo:g}..{hi:g}; every frame spans at most {FLAT_SPREAD:.0%} of its "
            "maximum): not a count image",
        )


# ----------------------------------------------------------------------------------------------------------- DICOM


def read_dicom_study(path: str | os.PathLike, view: str | int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a multi-frame NM DICOM dynamic study (see :func:`read_dynamic_study` for arguments and returns).

    Timing comes from ``PhaseInformationSequence`` (per phase: ``NumberOfFramesInPhase``, ``ActualFrameDuration`` ms,
    ``PhaseDelay`` ms measured from the end of the previous phase, ``PauseBetweenFrames`` ms), mapped to frames through
    ``PhaseVector``/``TimeSliceVector`` when present. Without the sequence, ``FrameTime`` (ms, contiguous frames) is
    used, as one phase. Pixels are decoded by pydicom (signed or unsigned as ``PixelRepresentation`` says) and
    rescaled with ``RescaleSlope``/``RescaleIntercept``. With several detectors (``DetectorVector``) the one whose view
    matches ``view`` is kept; with several energy windows, window 1 is kept.

    Vendor variants read (each noted in ``meta["reader_notes"]``), because the file says unambiguously which frame is
    which:

    - ``TimeSliceVector`` counting 1..N over all phases of each detector/energy window (cumulative) instead of
      restarting at 1 in each phase (the standard). "Cumulative" restarts for each detector and energy window, since
      they record the same time slices side by side; a vector counting on across detectors is refused.
    - No ``PhaseDelay`` in a phase item: 0 ms (phases back to back).
    - ``PatientSize`` in cm instead of metres (a value over 3): converted to metres.
    - ``FrameTime`` only, no ``PhaseInformationSequence``.

    Contradictions are refused: a ``PhaseVector`` that gives a phase (per detector/energy window) another number of
    frames than its ``NumberOfFramesInPhase``; a ``TimeSliceVector`` with a value below 1, that is neither per-phase
    nor cumulative, repeats a time slice within a phase, or does not increase within a phase in file order.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    p = Path(path)
    try:
        ds = pydicom.dcmread(p)
    except InvalidDicomError:
        raise RenogramInputError(p, "not a DICOM file (no DICM preamble/prefix)") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RenogramInputError(p, f"cannot be parsed as DICOM, it may be truncated ({exc})") from None
    try:
        return _dicom_to_study(ds, p, view)
    except RenogramInputError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:  # malformed attribute values
        raise RenogramInputError(p, f"malformed DICOM attribute ({type(exc).__name__}: {exc})") from None


def _dicom_to_study(ds: Any, p: Path, view: str | int | None) -> tuple[np.ndarray, dict[str, Any]]:
    sop = str(ds.get("SOPClassUID", ""))
    modality = str(ds.get("Modality", "")).strip().upper()
    if modality != "NM" and sop not in NM_SOP_CLASS_UIDS:
        raise RenogramInputError(
            p, f"not a nuclear-medicine image (Modality={modality or 'missing'}, SOPClassUID={sop})"
        )
    if "PixelData" not in ds:
        raise RenogramInputError(p, "has no pixel data")
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    if n_frames < 2:
        raise RenogramInputError(p, f"is a single-frame image (NumberOfFrames={n_frames}), not a dynamic study")
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    if len(image_type) >= 3 and image_type[2] not in ("DYNAMIC", ""):
        raise RenogramInputError(p, f"ImageType is {'/'.join(image_type)}, not a DYNAMIC acquisition")

    n_det = int(ds.get("NumberOfDetectors", 1) or 1)
    n_ew = int(ds.get("NumberOfEnergyWindows", 1) or 1)
    det_vec = _frame_vector(ds, "DetectorVector", n_frames, p, _default_vector(n_frames, n_ew, n_det, level=1))
    ew_vec = _frame_vector(ds, "EnergyWindowVector", n_frames, p, _default_vector(n_frames, n_ew, n_det, level=0))
    notes: list[str] = []
    starts, durs, phase, _ = _dicom_frame_timing(ds, p, n_frames, n_det * n_ew, (ew_vec, det_vec), notes)

    det_views = _detector_views(ds, n_det)
    detector = _choose_detector(p, det_views, view, sorted(set(det_vec.tolist())))
    keep = np.flatnonzero((det_vec == detector) & (ew_vec == ew_vec.min()))
    if keep.size < 2:
        raise RenogramInputError(p, f"detector {detector} holds {keep.size} frame(s); a dynamic study needs at least 2")
    keep = keep[np.argsort(starts[keep], kind="stable")]

    try:
        pixels = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for truncated or odd pixel data
        raise RenogramInputError(
            p, f"pixel data cannot be decoded: truncated file or unsupported compression ({exc})"
        ) from None
    if pixels.ndim != 3 or pixels.shape[0] != n_frames:
        raise RenogramInputError(p, f"pixel data has shape {pixels.shape}, expected ({n_frames}, rows, columns)")
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    frames = pixels[keep].astype(np.float32)
    if slope != 1.0 or intercept != 0.0:
        frames = frames * np.float32(slope) + np.float32(intercept)
    check_counts(frames, p)

    spacing = [math.nan, math.nan]
    if ds.get("PixelSpacing") is not None and len(ds.PixelSpacing) == 2:
        spacing = [float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1])]
    view_name = det_views.get(detector, "unknown")
    if view_name == "unknown" and len(det_views) <= 1:
        view_name = _single_view_fallback(ds)
    meta = {
        "frame_start_s": starts[keep].tolist(),
        "frame_duration_s": durs[keep].tolist(),
        "frame_phase": phase[keep].astype(int).tolist(),
        "pixel_spacing_mm": spacing,
        "view": view_name,
        "detector": int(detector),
        "source_frames": (keep + 1).astype(int).tolist(),
        "tracer": _dicom_tracer(ds),
        "patient_age_years": parse_dicom_age(ds),
        "patient_id": str(ds.get("PatientID", "") or "").strip(),
        "patient_size_m": _patient_size_m(ds, notes),
        "reader_notes": "; ".join(notes),
        "filename_or_obj": str(p),
        "format": "dicom",
    }
    return np.ascontiguousarray(frames), meta


def _dicom_frame_timing(
    ds: Any, p: Path, n_frames: int, n_repeats: int, groups: tuple[np.ndarray, np.ndarray], notes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start (s), duration (s), 0-based phase and 0-based time slice (within its phase) of every frame in the file.

    Args:
        ds: the dataset.
        p: its path, for errors.
        n_frames: ``NumberOfFrames``.
        n_repeats: detectors x energy windows; each records every phase's frames once.
        groups: ``(EnergyWindowVector, DetectorVector)``: frames of one (window, detector) pair form one time series.
        notes: list the vendor variants read are appended to.
    """
    phases = ds.get("PhaseInformationSequence")
    if phases:
        n_declared = ds.get("NumberOfPhases")
        if n_declared is not None and int(n_declared) != len(phases):
            raise RenogramInputError(
                p, f"NumberOfPhases is {int(n_declared)} but PhaseInformationSequence has {len(phases)} items"
            )
        counts, phase_starts, durations, steps = [], [], [], []
        t_ms = 0.0
        no_delay = []
        for i, item in enumerate(phases, start=1):
            if item.get("NumberOfFramesInPhase") is None or item.get("ActualFrameDuration") is None:
                raise RenogramInputError(p, f"phase {i} lacks NumberOfFramesInPhase or ActualFrameDuration")
            count = int(item.NumberOfFramesInPhase)
            dur_ms = float(item.ActualFrameDuration)
            if item.get("PhaseDelay") is None or str(item.PhaseDelay).strip() == "":
                no_delay.append(i)
            delay_ms = float(item.get("PhaseDelay", 0) or 0)
            pause_ms = float(item.get("PauseBetweenFrames", 0) or 0)
            if count < 1 or not dur_ms > 0 or delay_ms < 0 or pause_ms < 0:
                raise RenogramInputError(
                    p,
                    f"phase {i} has invalid timing (frames={count}, ActualFrameDuration={dur_ms} ms, "
                    f"PhaseDelay={delay_ms} ms, PauseBetweenFrames={pause_ms} ms)",
                )
            t_ms += delay_ms  # PhaseDelay counts from the end of the previous phase (acquisition start for phase 1)
            counts.append(count)
            phase_starts.append(t_ms)
            durations.append(dur_ms)
            steps.append(dur_ms + pause_ms)
            t_ms += (count - 1) * (dur_ms + pause_ms) + dur_ms
        if no_delay:
            notes.append(f"no PhaseDelay in phase(s) {', '.join(map(str, no_delay))}: taken as 0 ms")
        if sum(counts) * n_repeats != n_frames:
            extra = f" x {n_repeats} detector/energy-window combinations" if n_repeats > 1 else ""
            raise RenogramInputError(
                p, f"phase frame counts {counts} sum to {sum(counts)}{extra}, but NumberOfFrames is {n_frames}"
            )
    else:
        frame_time = ds.get("FrameTime")
        if frame_time is None or str(frame_time).strip() == "":
            raise RenogramInputError(p, "no frame timing: neither PhaseInformationSequence nor FrameTime is present")
        dur_ms = float(frame_time)
        if not dur_ms > 0:
            raise RenogramInputError(p, f"FrameTime is {dur_ms} ms; it must be positive")
        if n_frames % n_repeats:
            raise RenogramInputError(p, f"NumberOfFrames {n_frames} is not a multiple of {n_repeats} detectors/windows")
        counts, phase_starts, durations, steps = [n_frames // n_repeats], [0.0], [dur_ms], [dur_ms]
        notes.append("no PhaseInformationSequence: frames timed by FrameTime, back to back")
    phase, slice_idx = _phase_and_slice(ds, p, n_frames, counts, groups, notes)
    starts_ms = np.asarray(phase_starts)[phase] + slice_idx * np.asarray(steps)[phase]
    durs_ms = np.asarray(durations)[phase]
    return np.round(starts_ms / 1000.0, 6), np.round(durs_ms / 1000.0, 6), phase, slice_idx


def _phase_and_slice(
    ds: Any,
    p: Path,
    n_frames: int,
    counts: list[int],
    groups: tuple[np.ndarray, np.ndarray],
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """0-based phase and 0-based time slice within the phase of every frame, from ``PhaseVector``/``TimeSliceVector``.

    Without ``PhaseVector``, the frames of each detector/energy window run phase by phase in file order; without
    ``TimeSliceVector``, time slices follow file order within each detector/energy window and phase.
    ``TimeSliceVector`` may restart at 1 in each phase (the standard) or count 1..N over the phases of each
    detector/energy window (cumulative); the one that fits every frame is used (with one phase they coincide).
    """
    n_phases = len(counts)
    ew_vec, det_vec = groups
    group_keys = sorted(set(zip(ew_vec.tolist(), det_vec.tolist(), strict=True)))
    group_of = {key: g for g, key in enumerate(group_keys)}
    group = np.asarray([group_of[key] for key in zip(ew_vec.tolist(), det_vec.tolist(), strict=True)], dtype=np.int64)
    # defaults: the frames of each detector/energy window, in file order, run phase by phase
    default_phase = np.zeros(n_frames, dtype=np.int64)
    in_order = np.repeat(np.arange(n_phases), counts)
    for g in range(len(group_keys)):
        members = np.flatnonzero(group == g)
        default_phase[members] = in_order[: members.size] if members.size <= in_order.size else -1
    phase = _frame_vector(ds, "PhaseVector", n_frames, p, default_phase + 1) - 1
    if phase.min() < 0 or phase.max() >= n_phases:
        if ds.get("PhaseVector") is None:
            raise RenogramInputError(p, f"a detector/energy window holds more than the {in_order.size} phase frames")
        raise RenogramInputError(p, f"PhaseVector values must lie in 1..{n_phases}")

    def where(g: int) -> str:
        return f" of detector {group_keys[g][1]}, energy window {group_keys[g][0]}" if len(group_keys) > 1 else ""

    for g in range(len(group_keys)):
        found = np.bincount(phase[group == g], minlength=n_phases)
        for k in range(n_phases):
            if found[k] != counts[k]:
                source = "PhaseVector gives" if ds.get("PhaseVector") is not None else "the file holds"
                raise RenogramInputError(
                    p,
                    f"{source} phase {k + 1}{where(g)} {found[k]} frame(s), but its NumberOfFramesInPhase "
                    f"is {counts[k]}",
                )
    if ds.get("TimeSliceVector") is None:  # time slices in file order within each detector/energy window and phase
        slice_idx = np.zeros(n_frames, dtype=np.int64)
        for g in range(len(group_keys)):
            for k in range(n_phases):
                members = np.flatnonzero((group == g) & (phase == k))
                slice_idx[members] = np.arange(members.size)
        return phase, slice_idx
    raw = _frame_vector(ds, "TimeSliceVector", n_frames, p, np.ones(n_frames))
    if raw.min() < 1:
        raise RenogramInputError(p, f"TimeSliceVector holds {int(raw.min())}; time slices count from 1")
    limits = np.asarray(counts)[phase]
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])[phase]
    if np.all(raw <= limits):
        slice_idx = raw - 1
    elif np.all((raw > offsets) & (raw <= offsets + limits)):
        slice_idx = raw - offsets - 1
        notes.append("TimeSliceVector counts 1..N across the phases (cumulative), read as time slices per phase")
    else:
        scope = "each detector/energy window" if len(group_keys) > 1 else "the study"
        raise RenogramInputError(
            p,
            "TimeSliceVector is neither per-phase (1..n in each phase) nor cumulative (1..N over the phases of "
            f"{scope}); it does not say which frame is which",
        )
    for g in range(len(group_keys)):
        for k in range(n_phases):
            seq = slice_idx[(group == g) & (phase == k)]  # in file order
            if np.unique(seq).size != seq.size:
                raise RenogramInputError(p, f"TimeSliceVector repeats a time slice in phase {k + 1}{where(g)}")
            if np.any(np.diff(seq) <= 0):
                raise RenogramInputError(
                    p, f"TimeSliceVector does not increase within phase {k + 1}{where(g)} (frames out of order)"
                )
    return phase, slice_idx


def _default_vector(n_frames: int, n_ew: int, n_det: int, level: int) -> np.ndarray:
    """1-based energy-window (level 0) or detector (level 1) index per frame, in the standard nesting order
    (energy window slowest, then detector, then phase, then time slice)."""
    per_ew = n_frames // max(n_ew, 1)
    per_det = per_ew // max(n_det, 1)
    idx = np.arange(n_frames)
    if level == 0:
        return idx // max(per_ew, 1) + 1
    return (idx % max(per_ew, 1)) // max(per_det, 1) + 1


def _frame_vector(ds: Any, keyword: str, n_frames: int, p: Path, default: np.ndarray) -> np.ndarray:
    value = ds.get(keyword)
    if value is None:
        return np.asarray(default, dtype=np.int64)
    arr = np.atleast_1d(np.asarray(value, dtype=np.int64))
    if arr.size != n_frames:
        raise RenogramInputError(p, f"{keyword} has {arr.size} entries but NumberOfFrames is {n_frames}")
    return arr


def parse_view(text: str | None) -> str:
    """Map a view label to ``"posterior"``, ``"anterior"`` or ``"unknown"`` by its first word.

    ``POSTERIOR``/``POST``/``PA`` (the NM posterior-detector label, e.g. ``ImageID='PA'``) give posterior;
    ``ANTERIOR``/``ANT``/``AP`` give anterior; ``"posterior oblique"`` is posterior, ``"LEFT LATERAL"`` is unknown.
    """
    words = re.findall(r"[A-Za-z]+", str(text or ""))
    if not words:
        return "unknown"
    first = words[0].upper()
    if first in _POSTERIOR_WORDS:
        return "posterior"
    if first in _ANTERIOR_WORDS:
        return "anterior"
    return "unknown"


def _detector_views(ds: Any, n_det: int) -> dict[int, str]:
    views: dict[int, str] = {}
    for i, item in enumerate(ds.get("DetectorInformationSequence") or [], start=1):
        name = "unknown"
        for code in item.get("ViewCodeSequence") or []:
            name = parse_view(code.get("CodeMeaning", ""))
        views[i] = name
    for i in range(1, n_det + 1):
        views.setdefault(i, "unknown")
    return views


def _single_view_fallback(ds: Any) -> str:
    ids = {parse_view(item.get("ImageID", "")) for item in ds.get("PhaseInformationSequence") or []} - {"unknown"}
    if len(ids) == 1:
        return ids.pop()
    for keyword in ("SeriesDescription", "ProtocolName"):
        name = parse_view(ds.get(keyword, ""))
        if name != "unknown":
            return name
    return "unknown"


def _choose_detector(p: Path, views: dict[int, str], view: str | int | None, present: list[int]) -> int:
    if isinstance(view, (int, np.integer)) and not isinstance(view, bool):
        if int(view) not in present:
            raise RenogramInputError(p, f"detector {view} asked for, but the file holds detectors {present}")
        return int(view)
    if len(present) == 1:
        only = present[0]
        if view is not None and views.get(only, "unknown") not in (view, "unknown"):
            raise RenogramInputError(p, f"{view} view asked for, but the file holds only a {views[only]} view")
        return only
    wanted = "posterior" if view is None else str(view).lower()
    if wanted not in ("posterior", "anterior"):
        raise RenogramInputError(p, f"view must be 'posterior', 'anterior' or a detector number, got {view!r}")
    matches = [d for d in present if views.get(d) == wanted]
    if len(matches) != 1:
        listed = ", ".join(f"{d}={views.get(d, 'unknown')}" for d in present)
        raise RenogramInputError(
            p, f"cannot tell which of detectors {present} is {wanted} ({listed}); pass view=<detector number>"
        )
    return matches[0]


def _dicom_tracer(ds: Any) -> str:
    for item in ds.get("RadiopharmaceuticalInformationSequence") or []:
        name = str(item.get("Radiopharmaceutical", "") or "").strip()
        if not name:
            for code in item.get("RadiopharmaceuticalCodeSequence") or []:
                name = str(code.get("CodeMeaning", "") or "").strip()
        if name:
            return name
    return ""


def parse_dicom_age(ds: Any) -> float:
    """Patient age in years from ``PatientAge`` (``nnnD/W/M/Y``), else from birth and study dates, else NaN."""
    age = str(ds.get("PatientAge", "") or "").strip().upper()
    match = re.fullmatch(r"(\d{1,3})([DWMY])", age)
    if match:
        per_year = {"D": 365.25, "W": 365.25 / 7.0, "M": 12.0, "Y": 1.0}[match.group(2)]
        return float(match.group(1)) / per_year
    birth = _parse_da(ds.get("PatientBirthDate"))
    when = next((d for d in (_parse_da(ds.get(k)) for k in ("AcquisitionDate", "StudyDate", "SeriesDate")) if d), None)
    if birth and when and when >= birth:
        return (when - birth).days / 365.25
    return math.nan


def _patient_size_m(ds: Any, notes: list[str]) -> float:
    """``PatientSize`` in metres (the standard's unit); a value over 3 is centimetres, converted (and noted)."""
    text = str(ds.get("PatientSize", "") or "").strip()
    if not text:  # absent, empty or 0 (the usual "not recorded")
        return math.nan
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and 0 < value <= _SIZE_CM_ABOVE:
        return value
    if math.isfinite(value) and _SIZE_CM_ABOVE < value <= 100 * _SIZE_CM_ABOVE:
        notes.append(f"PatientSize {text} read as cm ({value / 100.0:.2f} m)")
        return value / 100.0
    notes.append(f"PatientSize {text!r} ignored (not a height in m or cm)")
    return math.nan


def _parse_da(value: Any) -> datetime.date | None:
    text = str(value or "").strip()
    try:
        return datetime.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------- sidecar timing


def read_timing_sidecar(path: str | os.PathLike, n_frames: int, study: str | os.PathLike) -> dict[str, Any]:
    """Frame timing and study facts from a JSON (or CSV) file that accompanies a NIfTI study or a frame folder.

    JSON keys (seconds): ``frame_durations_s`` (or ``frame_duration_s``, or PET-BIDS ``FrameDuration``), required;
    ``frame_start_s`` (or PET-BIDS ``FrameTimesStart``), optional, default back-to-back frames from 0. Optional facts:
    ``pixel_spacing_mm`` ([row, col] or one number), ``tracer``, ``age_years`` (or ``patient_age_years``), ``view``,
    ``patient_id``. CSV: a header row with ``duration_s`` and optionally ``start_s``, one row per frame.

    Args:
        path: the timing file.
        n_frames: frames in the study; the timing must list exactly this many.
        study: the study path, named in errors.

    Returns:
        dict with ``frame_start_s``, ``frame_duration_s`` (lists of floats) and the optional facts found.
    """
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            import csv

            with p.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            info: dict[str, Any] = {"frame_durations_s": [r["duration_s"] for r in rows]}
            if rows and "start_s" in rows[0]:
                info["frame_start_s"] = [r["start_s"] for r in rows]
        else:
            info = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RenogramInputError(study, f"timing file {p} is missing") from None
    except (OSError, ValueError, KeyError) as exc:
        raise RenogramInputError(study, f"timing file {p} cannot be read ({exc})") from None
    if not isinstance(info, dict):
        raise RenogramInputError(study, f"timing file {p} must hold a JSON object")
    durs = _first(info, ("frame_durations_s", "frame_duration_s", "FrameDuration"))
    if durs is None:
        raise RenogramInputError(study, f"timing file {p} has no frame_durations_s (or FrameDuration)")
    try:
        durs_a = np.asarray(durs, dtype=np.float64).reshape(-1)
        starts = _first(info, ("frame_start_s", "FrameTimesStart"))
        starts_a = None if starts is None else np.asarray(starts, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise RenogramInputError(study, f"timing file {p} holds non-numeric timing ({exc})") from None
    if durs_a.size != n_frames:
        raise RenogramInputError(study, f"timing file {p} lists {durs_a.size} frame durations for {n_frames} frames")
    if not np.all(np.isfinite(durs_a)) or np.any(durs_a <= 0):
        raise RenogramInputError(study, f"timing file {p} has non-positive or non-finite frame durations")
    if starts_a is None:
        starts_a = np.concatenate([[0.0], np.cumsum(durs_a)[:-1]])
    if starts_a.size != n_frames or not np.all(np.isfinite(starts_a)) or np.any(np.diff(starts_a) < 0):
        raise RenogramInputError(study, f"timing file {p} has frame start times that are missing or not increasing")
    out: dict[str, Any] = {"frame_start_s": starts_a.tolist(), "frame_duration_s": durs_a.tolist()}
    spacing = info.get("pixel_spacing_mm")
    if spacing is not None:
        sp = np.atleast_1d(np.asarray(spacing, dtype=float))
        out["pixel_spacing_mm"] = [float(sp[0]), float(sp[-1])]
    if _first(info, ("tracer", "Radiopharmaceutical")) is not None:
        out["tracer"] = str(_first(info, ("tracer", "Radiopharmaceutical")))
    age = _first(info, ("age_years", "patient_age_years"))
    if age is not None:
        out["patient_age_years"] = float(age)
    if info.get("view") is not None:
        out["view"] = parse_view(info["view"])
    if info.get("patient_id") is not None:
        out["patient_id"] = str(info["patient_id"])
    return out


def _first(info: dict[str, Any], keys: Sequence[str]) -> Any:
    return next((info[k] for k in keys if k in info and info[k] is not None), None)


def _assemble(frames: np.ndarray, timing: dict[str, Any], path: Path, fmt: str, spacing: list[float]) -> dict:
    meta = {
        "frame_start_s": timing["frame_start_s"],
        "frame_duration_s": timing["frame_duration_s"],
        "frame_phase": [0] * frames.shape[0],
        "pixel_spacing_mm": timing.get("pixel_spacing_mm", spacing),
        "view": timing.get("view", "unknown"),
        "detector": 1,
        "tracer": timing.get("tracer", ""),
        "patient_age_years": timing.get("patient_age_years", math.nan),
        "patient_id": timing.get("patient_id", ""),
        "patient_size_m": math.nan,
        "reader_notes": "",
        "filename_or_obj": str(path),
        "format": fmt,
    }
    return meta


# ----------------------------------------------------------------------------------------------------------- NIfTI


def read_nifti_study(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a NIfTI 2D+t study with nibabel; timing from the sidecar ``<stem>.json`` (:func:`read_timing_sidecar`).

    The data array is ``(i, j, t)`` or ``(i, j, 1, t)`` with ``i`` along image columns and ``j`` along image rows,
    row 0 at the top, i.e. the array written by ``nib.Nifti1Image(frames.transpose(2, 1, 0), affine)``. It is
    returned transposed to ``(T, H, W)``. Pixel spacing comes from the header zooms (``[zoom_j, zoom_i]``) unless
    the sidecar gives ``pixel_spacing_mm``. The header's scale slope/intercept are applied.
    """
    import nibabel as nib

    p = Path(path)
    try:
        img = nib.load(str(p))
        data = np.asarray(img.get_fdata(dtype=np.float32))
    except Exception as exc:  # noqa: BLE001 - nibabel raises several types for bad or truncated files
        raise RenogramInputError(p, f"cannot be read as NIfTI ({exc})") from None
    if data.ndim == 4 and data.shape[2] == 1:
        data = data[:, :, 0, :]
    if data.ndim != 3 or data.shape[2] < 2:
        raise RenogramInputError(p, f"NIfTI data shape {data.shape} is not 2D+t (columns, rows, frames>=2)")
    frames = np.ascontiguousarray(data.transpose(2, 1, 0))
    check_counts(frames, p)
    stem = p.name[: -len(".nii.gz")] if p.name.lower().endswith(".nii.gz") else p.stem
    timing = read_timing_sidecar(p.with_name(stem + ".json"), frames.shape[0], p)
    zooms = img.header.get_zooms()
    spacing = [float(zooms[1]), float(zooms[0])]
    return frames, _assemble(frames, timing, p, "nifti", spacing)


# -------------------------------------------------------------------------------------------------- frame folder


def _natural_key(name: str) -> list[Any]:
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def read_frame_folder(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a folder of single-frame PNG/TIFF images (one frame per file) plus ``timing.json`` or ``timing.csv``.

    Frames are ordered by natural name order (``f2.png`` before ``f10.png``), read unchanged with OpenCV (8- or
    16-bit, one channel, rows top to bottom) and must share one shape.
    """
    import cv2

    p = Path(path)
    files = sorted((f for f in p.iterdir() if f.suffix.lower() in FRAME_SUFFIXES), key=lambda f: _natural_key(f.name))
    if not files:
        raise RenogramInputError(p, f"folder holds no frame images ({', '.join(FRAME_SUFFIXES)})")
    if len(files) < 2:
        raise RenogramInputError(p, "folder holds a single frame; a dynamic study needs at least 2")
    frames = []
    for f in files:
        arr = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise RenogramInputError(f, "cannot be read as an image")
        if arr.ndim != 2:
            raise RenogramInputError(f, f"frame has shape {arr.shape}; frames must be one-channel (rows, columns)")
        if frames and arr.shape != frames[0].shape:
            raise RenogramInputError(f, f"frame shape {arr.shape} differs from the first frame's {frames[0].shape}")
        frames.append(arr)
    stack = np.stack(frames).astype(np.float32)
    check_counts(stack, p)
    timing_file = next((p / n for n in _TIMING_NAMES if (p / n).exists()), p / _TIMING_NAMES[0])
    timing = read_timing_sidecar(timing_file, stack.shape[0], p)
    return stack, _assemble(stack, timing, p, "frames", [math.nan, math.nan])
