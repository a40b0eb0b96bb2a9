# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""A DICOM SEG of a simulated study's true kidneys, built with highdicom, for the network tests (independent of the
project's own SEG writer), and the masks read back from a SEG file.

highdicom builds a SEG of a source without a patient coordinate system only from a single frame, so the SEG is
built on a one-frame view of the NM header (first frame, no frame of reference, the pixel spacing as a shared
functional group); it lands in the source study (same StudyInstanceUID and patient), in a new series.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

__all__ = ["HAVE_HIGHDICOM", "make_seg", "read_seg_masks"]

try:
    import highdicom  # noqa: F401

    HAVE_HIGHDICOM = True
except ImportError:  # pragma: no cover - highdicom is in the requirements
    HAVE_HIGHDICOM = False

_SIDES = ("left", "right")


def make_seg(study: str | os.PathLike, labels: np.ndarray, dest: str | os.PathLike) -> Path:
    """Write ``dest``: a BINARY SEG of ``study`` with segments 1 ``left kidney`` (label 1), 2 ``right kidney`` (2)."""
    import highdicom as hd
    import pydicom
    from pydicom import Dataset

    nm = pydicom.dcmread(study)
    view = copy.deepcopy(nm)
    view.NumberOfFrames = 1
    view.PixelData = nm.PixelData[: nm.Rows * nm.Columns * nm.BitsAllocated // 8]
    if "FrameOfReferenceUID" in view:
        del view.FrameOfReferenceUID
    measures = Dataset()
    measures.PixelSpacing = nm.PixelSpacing
    measures.SliceThickness = 1
    groups = Dataset()
    groups.PixelMeasuresSequence = [measures]
    view.SharedFunctionalGroupsSequence = [groups]
    kidney = hd.sr.CodedConcept("64033007", "SCT", "Kidney")
    anatomy = hd.sr.CodedConcept("91723000", "SCT", "Anatomical Structure")
    segments = [
        hd.seg.SegmentDescription(
            segment_number=i + 1, segment_label=f"{side} kidney", segmented_property_category=anatomy,
            segmented_property_type=kidney, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for i, side in enumerate(_SIDES)
    ]
    mask = np.stack([labels == 1, labels == 2], axis=-1)[None]
    seg = hd.seg.Segmentation(
        source_images=[view], pixel_array=mask, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segments, series_instance_uid=hd.UID(), series_number=900, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="renogram tests", manufacturer_model_name="seg_fixture",
        software_versions="1", device_serial_number="0",
    )
    seg.save_as(dest)
    return Path(dest)


def read_seg_masks(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{segment label: boolean mask}`` of a BINARY SEG file, read with highdicom."""
    import highdicom as hd

    seg = hd.seg.segread(path)
    frames = seg.pixel_array.reshape(-1, seg.Rows, seg.Columns)
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    masks = {}
    for frame, groups in zip(frames, seg.PerFrameFunctionalGroupsSequence, strict=True):
        number = int(groups.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        masks[labels[number]] = frame.astype(bool)
    return masks
