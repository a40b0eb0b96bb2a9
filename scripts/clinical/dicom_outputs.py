# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The report's DICOM objects, beside ``report.json``: ``seg.dcm`` (the ROIs) and ``report.dcm`` (the report page).

Both go into the source study (same ``StudyInstanceUID``, patient and study modules copied from the NM header), each
in a new series with new instance UIDs; the source file is only read (header only, no pixel data).

- ``seg.dcm``: a BINARY DICOM Segmentation (:func:`custom_transforms.dicom_seg.build_segmentation`, the one SEG
  builder, shared with the bundle's inference) with the report's ROIs as segments: *Left kidney parenchyma*, *Right
  kidney parenchyma*, *Left kidney*, *Right kidney* (a kidney that was not found has no segments; with
  ``--mask-kind kidney`` there is no separate parenchyma, so only the whole-kidney segments). Segments of the model
  are AUTOMATIC, named by the bundle's ``metadata.json`` (name, version); from a ``--mask`` file the parenchyma is
  MANUAL and the whole kidney (the hilum filled in by :func:`scripts.clinical.rois.whole_kidney`) SEMIAUTOMATIC.
  It references the frames of the detector the report read (every frame: see :mod:`custom_transforms.dicom_seg`).
- ``report.dcm``: a Secondary Capture (RGB, 8 bit, uncompressed) whose pixels are those of ``report.png``. Chosen
  over an Encapsulated PDF because every PACS viewer displays an SC image, while a PDF needs a viewer with
  encapsulated-document support; because it needs no second rendering of the page (``report.png`` is already drawn);
  and because its content can be checked pixel for pixel against ``report.png``. Its cost: the page's fixed
  resolution (1170 x 828) and about 2.9 MB per study.

The objects are written by :func:`scripts.clinical.report.write_report` into the report folder being built, so they
appear with the rest of the report or not at all. highdicom is imported only when they are written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from custom_transforms.dicom_seg import (
    AlgorithmInfo,
    SegmentSpec,
    build_segmentation,
    planar_source_view,
    read_source_header,
    write_dicom,
)
from custom_transforms.errors import RenogramInputError
from scripts.clinical.analysis import RenalAnalysis
from scripts.clinical.report import OPTIONAL_DICOM_FILES
from scripts.clinical.rois import SIDES

__all__ = ["DICOM_FILES", "SEG_SERIES_NUMBER", "REPORT_SERIES_NUMBER", "EXPECTED_REPORT_WARNINGS", "DicomOutputs",
           "report_segments", "build_report_capture"]

#: the files written beside report.json (named once, in :mod:`scripts.clinical.report`).
DICOM_FILES = OPTIONAL_DICOM_FILES
#: series numbers of the new series (the source NM is usually series 1).
SEG_SERIES_NUMBER = 901
REPORT_SERIES_NUMBER = 902
#: dciodvfy warnings ``report.dcm`` may carry (regular expressions): none (both kidneys are said by
#: ``ImageLaterality`` B, so the R-or-L ``Laterality`` is not needed).
EXPECTED_REPORT_WARNINGS: tuple[str, ...] = ()
#: Patient Study attributes copied to ``report.dcm`` (highdicom's Secondary Capture copies Patient and General Study).
_PATIENT_STUDY = ("PatientAge", "PatientSize", "PatientWeight")


def report_segments(result: RenalAnalysis, from_mask_file: bool) -> list[tuple[SegmentSpec, np.ndarray]]:
    """The report's ROIs as SEG segments, parenchyma first, then whole kidney, left before right (found sides only).

    Args:
        result: the analysis. from_mask_file: the mask came from a file (``--mask``), not from the model.
    """
    rois = result.rois
    separate_parenchyma = result.report["settings"].get("mask_kind", "parenchyma") == "parenchyma"
    segments: list[tuple[SegmentSpec, np.ndarray]] = []
    if separate_parenchyma:
        for side in SIDES:
            if rois.parenchyma[side] is not None and rois.parenchyma[side].any():
                kind = "MANUAL" if from_mask_file else "AUTOMATIC"
                segments.append((SegmentSpec(f"{side.capitalize()} kidney parenchyma", "parenchyma", side, kind),
                                 rois.parenchyma[side]))
    for side in SIDES:
        if rois.kidney[side] is not None and rois.kidney[side].any():
            kind = ("SEMIAUTOMATIC" if separate_parenchyma else "MANUAL") if from_mask_file else "AUTOMATIC"
            segments.append((SegmentSpec(f"{side.capitalize()} kidney", "kidney", side, kind), rois.kidney[side]))
    return segments


def build_report_capture(header: Any, png_path: str | os.PathLike, software_version: str = "unknown") -> Any:
    """A Secondary Capture of ``report.png`` (RGB pixels as in the PNG) in the source's study, new series."""
    import highdicom as hd
    from PIL import Image

    with Image.open(png_path) as image:
        pixels = np.asarray(image.convert("RGB"))
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=header,
        pixel_array=pixels,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=hd.UID(),
        series_number=REPORT_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="Renogram parenchyma bundle contributors",
        patient_orientation=("L", "F"),  # required by highdicom for PATIENT; emptied below
        transfer_syntax_uid=hd.UID("1.2.840.10008.1.2.1"),  # explicit VR little endian, uncompressed
        series_description="Renogram report",
        software_versions=software_version,
    )
    # the whole Patient, Clinical Trial Subject, General Study, Patient Study and Clinical Trial Study modules, as
    # the SEG carries them (from_ref_dataset copies only a few patient and study attributes)
    sc.copy_patient_and_study_information(planar_source_view(header))
    for keyword in _PATIENT_STUDY:
        if keyword in header:
            setattr(sc, keyword, header.get(keyword))
    sc.PatientOrientation = ""  # a report page has no patient orientation (Type 2C: present, empty)
    # the page shows both kidneys: ImageLaterality B (both), as the simulator's NM says; Laterality (R or L only) is
    # then not required (an empty Laterality draws a dciodvfy warning, a missing one without ImageLaterality an error)
    sc.ImageLaterality = "B"
    sc.BurnedInAnnotation = "YES"  # the page names the study and the patient's age
    sc.ImageType = ["DERIVED", "SECONDARY"]
    return sc


@dataclass
class DicomOutputs:
    """Writes ``seg.dcm`` and ``report.dcm`` of one study (called by :func:`scripts.clinical.report.write_report`).

    Attributes:
        source: the study's DICOM file (only read).
        algorithm: name and version of the bundle (its model made the mask, or its code filled the hilum of a
            ``--mask`` parenchyma).
        from_mask_file: the mask came from ``--mask`` (MANUAL/SEMIAUTOMATIC segments).
        source_frames: 1-based frames of the file the report used (the reader's ``source_frames``); None: all.
    """

    source: str | os.PathLike
    algorithm: AlgorithmInfo | None = None
    from_mask_file: bool = False
    source_frames: list[int] | None = None

    files = DICOM_FILES

    def write(self, result: RenalAnalysis, paths: dict[str, str]) -> None:
        """Write ``paths["seg.dcm"]`` and ``paths["report.dcm"]``; ``paths["report.png"]`` must be written already.

        Raises:
            RenogramInputError: the source's header cannot be read (the file is named).
        """
        header = read_source_header(self.source)
        missing = [k for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID") if not header.get(k)]
        if missing:  # the objects must join the source's study and reference its instance
            raise RenogramInputError(self.source, f"--dicom needs the source's {', '.join(missing)}, which it lacks")
        version = self.algorithm.version if self.algorithm else "unknown"
        try:
            seg = build_segmentation(header, report_segments(result, self.from_mask_file), self.algorithm,
                                     self.source_frames, series_number=SEG_SERIES_NUMBER,
                                     series_description="Renogram ROIs (kidney, parenchyma)")
            capture = build_report_capture(header, paths["report.png"], version)
        except (AttributeError, TypeError, KeyError) as exc:  # highdicom's refusal of an odd header: name the study
            raise RenogramInputError(
                self.source, f"no DICOM objects can be built from its header ({type(exc).__name__}: {exc})"
            ) from None
        write_dicom(seg, paths["seg.dcm"])
        write_dicom(capture, paths["report.dcm"])

