# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Write a simulated study as one multi-frame NM Image Storage DICOM object (plain pydicom).

Layout: SOP class 1.2.840.10008.5.1.4.1.1.20, Explicit VR Little Endian, ``ImageType``
``ORIGINAL\\PRIMARY\\DYNAMIC\\EMISSION``, uint16 counts (MONOCHROME2), one detector (posterior view, in
``DetectorInformationSequence.ViewCodeSequence``), one energy window (126-154 keV), timing in
``PhaseInformationSequence`` (``ActualFrameDuration`` ms, ``NumberOfFramesInPhase``, ``PhaseDelay`` = 0 ms,
``PauseBetweenFrames`` = 0 ms), and ``FrameIncrementPointer`` = EnergyWindowVector, DetectorVector, PhaseVector,
TimeSliceVector with those vectors. UIDs are derived from the study id and seed (``pydicom.uid.generate_uid`` with
entropy sources), and dates are fixed, so the same seed gives byte-identical files.

Validity: ``dciodvfy`` (dicom3tools) reports no error and no warning on these files
(``tests/simulation/test_dicom_validity.py``). Every Type 2 attribute of the NM IOD is present, empty where the
simulator has no value; codes are SNOMED CT (``SCT``: the ``SRT`` codes are deprecated). The patient's position is
given the NM way, by ``PatientOrientationCodeSequence`` (recumbent, supine) and
``PatientGantryRelationshipCodeSequence`` (headfirst), so ``PatientPosition`` is not written (the General Series
module forbids it when that sequence is present); ``BodyPartExamined`` ``KIDNEY`` with ``ImageLaterality`` ``B``
(both kidneys in one image).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

if TYPE_CHECKING:
    from .study import SimulatedStudy

__all__ = ["NM_IMAGE_STORAGE", "build_nm_dataset", "write_nm_dicom", "dicom_age"]

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
_STUDY_DATE = "20260101"
_STUDY_TIME = "080000"


def dicom_age(age_years: float) -> str:
    """DICOM ``PatientAge`` (AS): months (``008M``) below 2 years, else whole years (``006Y``)."""
    if age_years < 2.0:
        return f"{int(np.floor(age_years * 12.0 + 1e-9)):03d}M"
    return f"{int(np.floor(age_years + 1e-9)):03d}Y"


def _code(value: str, meaning: str, scheme: str = "SCT") -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def build_nm_dataset(study: SimulatedStudy, study_id: str) -> Dataset:
    """Build the NM dataset of a simulated study (see the module docstring for the layout).

    Args:
        study: the simulated study.
        study_id: its identifier (PatientID, StudyID and the UID entropy).
    """
    cfg, truth = study.config, study.truth
    frames = np.ascontiguousarray(study.frames, dtype="<u2")
    n_frames, rows, cols = frames.shape
    entropy = ["renogram-simulator", study_id, str(cfg.seed), str(cfg.index)]

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = NM_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=entropy + ["sop"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = generate_uid(entropy_srcs=["renogram-simulator-implementation"])
    meta.ImplementationVersionName = "RENOSIM_1"

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "DYNAMIC", "EMISSION"]
    ds.SOPClassUID = NM_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    for kw in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        setattr(ds, kw, _STUDY_DATE)
    for kw in ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime"):
        setattr(ds, kw, _STUDY_TIME)
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""  # Type 2 (General Study): a simulated study has no referring physician
    ds.Modality = "NM"
    ds.Manufacturer = "Renogram parenchyma bundle simulator"
    ds.ManufacturerModelName = "renogram-sim"
    ds.SoftwareVersions = str(truth.get("simulator_version", ""))
    ds.StudyDescription = "Dynamic renal scintigraphy (simulated)"
    ds.SeriesDescription = f"RENOGRAM {cfg.tracer} POST"
    ds.ProtocolName = cfg.protocol
    ds.PatientName = f"SIM^{study_id}"
    ds.PatientID = study_id
    ds.PatientBirthDate = ""
    ds.PatientSex = cfg.sex
    ds.PatientAge = dicom_age(cfg.age_years)
    ds.PatientWeight = f"{cfg.weight_kg:.1f}"
    ds.PatientSize = f"{cfg.height_cm / 100.0:.3f}"
    # NM/PET Patient Orientation module (Type 2): supine, head first. PatientPosition ("HFS") would say the same but
    # the General Series module forbids it when PatientOrientationCodeSequence is present (dciodvfy: an error).
    orientation = _code("102538003", "recumbent")
    orientation.PatientOrientationModifierCodeSequence = Sequence([_code("40199007", "supine")])
    ds.PatientOrientationCodeSequence = Sequence([orientation])
    ds.PatientGantryRelationshipCodeSequence = Sequence([_code("102540008", "headfirst")])
    # a paired body part, both sides in view: ImageLaterality (General Image) "B" makes the series' Laterality
    # (Type 2C, R or L only) not required; an empty Laterality would be a warning ("only when actually unknown")
    ds.BodyPartExamined = "KIDNEY"
    ds.ImageLaterality = "B"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=entropy + ["study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=entropy + ["series"])
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=entropy + ["frame-of-reference"])
    ds.PositionReferenceIndicator = ""  # Type 2 (Frame of Reference): no anatomical reference point is simulated
    ds.StudyID = study_id[-16:]
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1

    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = n_frames
    ds.FrameIncrementPointer = [0x00540010, 0x00540020, 0x00540030, 0x00540100]
    ds.Rows, ds.Columns = rows, cols
    ds.PixelSpacing = [f"{v:.4f}" for v in study.pixel_spacing_mm]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    # Type 2 (NM Image): every count of every frame; empty if it does not fit IS (a signed 32-bit integer)
    total = int(frames.sum(dtype=np.uint64))
    ds.CountsAccumulated = total if total <= 2**31 - 1 else None

    ew = Dataset()
    rng = Dataset()
    rng.EnergyWindowLowerLimit, rng.EnergyWindowUpperLimit = "126", "154"
    ew.EnergyWindowRangeSequence = Sequence([rng])
    ew.EnergyWindowName = "TC99M 140KEV 20%"
    ds.EnergyWindowVector = [1] * n_frames
    ds.NumberOfEnergyWindows = 1
    ds.EnergyWindowInformationSequence = Sequence([ew])

    rp = Dataset()
    rp.Radiopharmaceutical = cfg.tracer
    rp.RadiopharmaceuticalStartTime = _STUDY_TIME
    rp.RadionuclideTotalDose = f"{cfg.kinetics.dose_mbq:.2f}"  # MBq
    # the half-life (21636 s) is the radionuclide code's: RadionuclideHalfLife belongs to the PET isotope module only
    rp.RadionuclideCodeSequence = Sequence([_code("72454006", "^99m^Technetium")])
    ds.RadiopharmaceuticalInformationSequence = Sequence([rp])

    det = Dataset()
    det.CollimatorGridName = "LEHR"
    det.CollimatorType = "PARA"
    det.ZoomFactor = [f"{cfg.zoom:.3f}", f"{cfg.zoom:.3f}"]
    det.FieldOfViewShape = "RECTANGLE"
    det.FieldOfViewDimensions = [540, 400]
    # posterior view of a supine patient: columns run to the patient's right (-x), rows to the feet (-z)
    det.ImageOrientationPatient = [-1, 0, 0, 0, 0, -1]
    # Type 2: the first pixel's centre, with the field of view centred on the frame of reference's origin and the
    # projection in the coronal plane y = 0 (the simulator has no table or detector positions)
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)  # between rows (along a column), between columns
    det.ImagePositionPatient = [f"{(cols - 1) / 2.0 * col_mm:.4f}", "0", f"{(rows - 1) / 2.0 * row_mm:.4f}"]
    det.ViewCodeSequence = Sequence([_code("399001007", "Posterior projection")])  # CID 26
    ds.DetectorVector = [1] * n_frames
    ds.NumberOfDetectors = 1
    ds.DetectorInformationSequence = Sequence([det])

    proto_phases = []
    counts = []
    durs = np.asarray(study.frame_durations_s)
    # phases = runs of equal frame duration
    start = 0
    for i in range(1, n_frames + 1):
        if i == n_frames or abs(durs[i] - durs[start]) > 1e-9:
            counts.append(i - start)
            item = Dataset()
            item.ActualFrameDuration = int(round(durs[start] * 1000.0))
            item.NumberOfFramesInPhase = i - start
            item.PhaseDelay = 0
            item.PauseBetweenFrames = 0
            proto_phases.append(item)
            start = i
    ds.PhaseVector = [p + 1 for p, c in enumerate(counts) for _ in range(c)]
    ds.TimeSliceVector = [j + 1 for c in counts for j in range(c)]
    ds.NumberOfPhases = len(proto_phases)
    ds.PhaseInformationSequence = Sequence(proto_phases)

    ds.PixelData = frames.tobytes()
    ds["PixelData"].VR = "OW"
    return ds


def write_nm_dicom(study: SimulatedStudy, path: str | os.PathLike, study_id: str) -> None:
    """Write the study's NM DICOM file to ``path`` (overwrites)."""
    ds = build_nm_dataset(study, study_id)
    ds.save_as(path, enforce_file_format=True)
