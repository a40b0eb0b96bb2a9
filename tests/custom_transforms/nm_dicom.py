# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Hand-built NM DICOM dynamic studies for the loader tests (plain pydicom; highdicom does not model NM).

Besides the standard layout, :func:`write_nm_dicom` writes the vendor variants the reader must accept (a
``TimeSliceVector`` counting on across phases, no ``PhaseDelay``, ``PatientSize`` in cm, ``FrameTime`` only, several
energy windows and detectors) and the contradictions it must refuse (explicit vectors of any content).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

__all__ = ["Phase", "PHANTOM_PHASES", "write_nm_dicom", "ramp_frames", "phantom_study"]

NM_STORAGE = "1.2.840.10008.5.1.4.1.1.20"


class Phase:
    """One acquisition phase: ``frames`` x ``duration_ms``, after ``delay_ms``, ``pause_ms`` between frames.

    ``delay_ms=None`` leaves ``PhaseDelay`` out of the phase item (a vendor variant; the standard says 0 then).
    """

    def __init__(
        self, frames: int, duration_ms: int, delay_ms: int | None = 0, pause_ms: int = 0, image_id: str = ""
    ) -> None:
        self.frames, self.duration_ms, self.delay_ms, self.pause_ms, self.image_id = (
            frames,
            duration_ms,
            delay_ms,
            pause_ms,
            image_id,
        )


def ramp_frames(n_frames: int, shape: tuple[int, int] = (8, 8), dtype=np.uint16) -> np.ndarray:
    """Frame t is filled with the value t + 1 (plus a column gradient), so sums and orders are checkable."""
    base = np.arange(1, n_frames + 1, dtype=np.int64)[:, None, None] * np.ones((1, *shape), dtype=np.int64)
    base[:, :, -1] += 1000  # last column brighter: a left/right marker
    return base.astype(dtype)


#: the phantom's protocol: 30 x 2 s, then 21 x 20 s (3 fused images of 7 frames after the first minute).
PHANTOM_PHASES = (Phase(30, 2000), Phase(21, 20000))


def phantom_study(seed: int = 0, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A tiny renogram for end-to-end tests: two elliptic kidneys whose uptake peaks at 3 min, on a Poisson background.

    Returns:
        ``(frames, label)``: ``(51, size, size)`` uint16 counts for :data:`PHANTOM_PHASES` and the ``(size, size)``
        uint8 0/1 kidney mask.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    label = np.zeros((size, size), np.uint8)
    for cx in (size * 0.3, size * 0.7):
        label[((yy - size / 2) / (size * 0.22)) ** 2 + ((xx - cx) / (size * 0.1)) ** 2 <= 1] = 1
    durations = np.repeat([ph.duration_ms / 1000.0 for ph in PHANTOM_PHASES], [ph.frames for ph in PHANTOM_PHASES])
    mid = np.cumsum(durations) - durations / 2
    uptake = (mid / 180.0) * np.exp(1 - mid / 180.0)
    rate = 0.5 + label[None] * 20.0 * uptake[:, None, None]  # counts per 5 s
    return rng.poisson(rate * durations[:, None, None] / 5.0).astype(np.uint16), label


def write_nm_dicom(
    path: str | Path,
    frames: np.ndarray,
    phases: Sequence[Phase] | None = None,
    frame_time_ms: float | None = None,
    detector_views: Sequence[str] | None = None,
    slope: float | None = None,
    intercept: float | None = None,
    charset: str | None = None,
    pixel_spacing: tuple[float, float] = (4.0, 3.0),
    modality: str = "NM",
    sop_class: str = NM_STORAGE,
    age: str | None = "006Y",
    tracer: str = "MAG3",
    patient_id: str = "P1",
    vectors: bool = True,
    number_of_frames: int | None = None,
    series_description: str = "",
    time_slices: str | Sequence[int] = "per_phase",
    phase_vector: Sequence[int] | None = None,
    energy_windows: int = 1,
    patient_size: str | float | None = None,
    patient_weight: str | float | None = None,
) -> Path:
    """Write ``frames`` (F, H, W) as an NM multi-frame file. int16 frames give signed pixels.

    Frames nest as the standard's default order: ``energy_windows`` blocks (slowest), each of D detector blocks
    (``detector_views`` of length D, else 1), each of ``sum(phase frames)`` frames in phase order.

    Args:
        time_slices: ``TimeSliceVector`` (with ``vectors``): ``"per_phase"`` restarts at 1 in each phase (the
            standard), ``"cumulative"`` counts 1..N over the phases of each detector/energy window (a vendor
            variant), ``"global"`` counts 1..F over the whole file, or an explicit per-frame list.
        phase_vector: an explicit ``PhaseVector`` (with ``vectors``) instead of the one the phases imply.
        energy_windows: ``NumberOfEnergyWindows``; ``EnergyWindowVector`` follows.
        patient_size: ``PatientSize`` as written (metres by the standard; vendors write cm too), or absent.
        patient_weight: ``PatientWeight`` (kg), or absent.
    """
    frames = np.asarray(frames)
    n_det = len(detector_views) if detector_views else 1
    n_ew = int(energy_windows)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.ImageType = ["ORIGINAL", "PRIMARY", "DYNAMIC", "EMISSION"]
    ds.PatientName = "Тестов^Иван" if charset == "ISO_IR 144" else "TEST^PATIENT"
    ds.PatientID = patient_id
    if age is not None:
        ds.PatientAge = age
    ds.StudyDate = "20240101"
    if patient_size is not None:
        ds.PatientSize = str(patient_size)
    if patient_weight is not None:
        ds.PatientWeight = str(patient_weight)
    ds.SeriesDescription = series_description
    if charset == "ISO_IR 144":
        ds.Manufacturer = "Электрон"
        ds.ProtocolName = "Почки технемаг 128"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.NumberOfFrames = number_of_frames if number_of_frames is not None else frames.shape[0]
    ds.Rows, ds.Columns = int(frames.shape[1]), int(frames.shape[2])
    ds.PixelSpacing = [pixel_spacing[0], pixel_spacing[1]]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if frames.dtype == np.int16 else 0
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    ds.NumberOfEnergyWindows = n_ew
    ds.NumberOfDetectors = n_det
    if tracer:
        item = Dataset()
        item.Radiopharmaceutical = tracer
        ds.RadiopharmaceuticalInformationSequence = DicomSequence([item])
    det_items = []
    for view in detector_views or []:
        det = Dataset()
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "X", "99TEST", view
        det.ViewCodeSequence = DicomSequence([code])
        det_items.append(det)
    if det_items:
        ds.DetectorInformationSequence = DicomSequence(det_items)
    if phases:
        ds.NumberOfPhases = len(phases)
        items = []
        for ph in phases:
            it = Dataset()
            it.ActualFrameDuration = ph.duration_ms
            it.NumberOfFramesInPhase = ph.frames
            if ph.delay_ms is not None:
                it.PhaseDelay = ph.delay_ms
            it.PauseBetweenFrames = ph.pause_ms
            if ph.image_id:
                it.ImageID = ph.image_id
            items.append(it)
        ds.PhaseInformationSequence = DicomSequence(items)
        if vectors:
            per_det = sum(ph.frames for ph in phases)
            blocks = n_ew * n_det
            ds.FrameIncrementPointer = [0x00540010, 0x00540020, 0x00540030, 0x00540100]
            ds.EnergyWindowVector = [e + 1 for e in range(n_ew) for _ in range(n_det * per_det)]
            ds.DetectorVector = [d + 1 for _ in range(n_ew) for d in range(n_det) for _ in range(per_det)]
            if phase_vector is not None:
                ds.PhaseVector = list(phase_vector)
            else:
                ds.PhaseVector = [i + 1 for _ in range(blocks) for i, ph in enumerate(phases) for _ in range(ph.frames)]
            if time_slices == "per_phase":
                ds.TimeSliceVector = [k + 1 for _ in range(blocks) for ph in phases for k in range(ph.frames)]
            elif time_slices == "cumulative":
                ds.TimeSliceVector = [k + 1 for _ in range(blocks) for k in range(per_det)]
            elif time_slices == "global":
                ds.TimeSliceVector = list(range(1, blocks * per_det + 1))
            else:
                ds.TimeSliceVector = list(time_slices)
    if frame_time_ms is not None:
        ds.FrameTime = frame_time_ms
    ds.add_new(0x00390010, "LO", "TEST PRIVATE")
    ds.add_new(0x00391000, "OB", b"\x01\x02\x03\x04")
    ds.PixelData = np.ascontiguousarray(frames.astype("<i2" if frames.dtype == np.int16 else "<u2")).tobytes()
    path = Path(path)
    ds.save_as(path, enforce_file_format=True)
    return path
