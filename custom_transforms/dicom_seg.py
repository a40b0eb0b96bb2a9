# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""DICOM Segmentation (SEG) of a dynamic NM study's kidney masks, built with highdicom: the one SEG builder.

Used by the bundle's inference (:class:`SaveDicomSegd`, option ``save_dicom_seg`` of ``inference.json``: one segment,
the network's renal parenchyma) and by the clinical report (``scripts.clinical.dicom_outputs``: left/right parenchyma
and whole kidney). highdicom is imported inside the functions only, so the bundle's configs parse without it (MONAI
Label's environment has no highdicom); only writing a SEG needs it.

What the SEG holds:

- the source study's patient and study modules (copied by highdicom from the NM header), a new series and instance;
- one BINARY frame per segment on the NM matrix (rows and columns as stored, like every mask of the project);
- per segment: label, category SCT 91723000 *Anatomical Structure*, type SCT 64033007 *Kidney* (whole kidney) or
  SCT 91772007 *Organ parenchyma* with anatomic region *Kidney* (parenchyma), the patient side as
  ``SegmentedPropertyTypeModifierCodeSequence`` and ``AnatomicRegionModifierSequence`` (SCT 7771000 *Left* /
  24028007 *Right*), the algorithm type (AUTOMATIC with the bundle's name and version, SEMIAUTOMATIC or MANUAL) and a
  display colour;
- the reference to the source NM instance. **Which frames**: the ROI applies to every frame of the detector read,
  since the renogram curves are the ROI's counts in each frame (the fused image the model saw is only how the ROI
  was found). So each SEG frame references the frames of that detector and energy window: no
  ``ReferencedFrameNumber`` when that is every frame of the file (the standard's meaning of "all frames"), the list of
  frame numbers otherwise (a two-detector file: the posterior detector's frames).

highdicom builds SEGs of images with a patient coordinate system (enhanced multi-frame functional groups, or a
single frame with ``ImagePositionPatient``) or of single frames without one. A planar NM dynamic study is neither: a
legacy multi-frame image whose frames are times, not planes, with no position per frame. highdicom is therefore given
a *view* of the NM header (:func:`planar_source_view`, never written anywhere): one frame, no frame of reference,
empty Type 2 patient and study attributes where the file lacks them, the pixel spacing as a shared functional group
(which the constructor requires; it is removed from the SEG, whose pixels match the source's one for one). The SEG
then has no frame of reference and one plane; the frame references above are set on it afterwards. The source file
is only read, never written.

dciodvfy reports no error for the SEG (tests/clinical/test_dicom_outputs.py); the warnings left are explained in
:data:`EXPECTED_SEG_WARNINGS`.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import sys
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from monai.config import KeysCollection
from monai.transforms import MapTransform, Transform

from custom_transforms.errors import RenogramInputError

__all__ = [
    "check_seg_writer",
    "SIDE_COLOURS",
    "EXPECTED_SEG_WARNINGS",
    "SegmentSpec",
    "AlgorithmInfo",
    "is_dicom_source",
    "read_source_header",
    "planar_source_view",
    "bundle_algorithm",
    "build_segmentation",
    "frames_read",
    "write_dicom",
    "read_segments",
    "SaveDicomSeg",
    "SaveDicomSegd",
    "SaveDicomSegD",
    "SaveDicomSegDict",
]

logger = logging.getLogger(__name__)

#: display colours (RGB 0-255) of the patient sides, as on ``report.png``; ``None``: both kidneys in one segment.
SIDE_COLOURS: dict[str | None, tuple[int, int, int]] = {"left": (31, 95, 214), "right": (214, 39, 40),
                                                         None: (255, 165, 0)}
#: dciodvfy warnings a SEG of this module may carry (regular expressions) and why each is left:
#: none so far; a warning that appears must be added here with its reason.
EXPECTED_SEG_WARNINGS: tuple[str, ...] = ()

_SCT = "SCT"
_CODES = {
    "category": ("91723000", "Anatomical Structure"),
    "kidney": ("64033007", "Kidney"),
    "parenchyma": ("91772007", "Organ parenchyma"),
    "left": ("7771000", "Left"),
    "right": ("24028007", "Right"),
}
_ALGORITHM_FAMILY = ("123110", "DCM", "Artificial Intelligence")
#: Type 2 attributes of the Patient and General Study modules that highdicom copies from the source (a vendor file
#: may lack some: the view gets them empty).
_TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                 "ReferringPhysicianName", "StudyID", "AccessionNumber")
_MANUFACTURER = "Renogram parenchyma bundle contributors"


@dataclass(frozen=True)
class SegmentSpec:
    """One segment: what it is and how it was made.

    Attributes:
        label: segment label shown by viewers (e.g. ``"Left kidney parenchyma"``).
        structure: ``"kidney"`` (whole kidney: parenchyma with the hilum filled) or ``"parenchyma"``.
        side: the patient's ``"left"`` / ``"right"``, or None (both kidneys, as the bundle's one class).
        algorithm_type: ``"AUTOMATIC"``, ``"SEMIAUTOMATIC"`` or ``"MANUAL"``.
    """

    label: str
    structure: str
    side: str | None
    algorithm_type: str = "AUTOMATIC"


@dataclass(frozen=True)
class AlgorithmInfo:
    """The algorithm of AUTOMATIC/SEMIAUTOMATIC segments (``AlgorithmIdentificationSequence``): name and version."""

    name: str
    version: str


def is_dicom_source(path: str | os.PathLike) -> bool:
    """Whether a study path is read as DICOM (the rule of :func:`custom_transforms.io.read_dynamic_study`: not a
    folder of frames, not ``*.nii``/``*.nii.gz``)."""
    p = Path(path)
    return not p.is_dir() and not p.name.lower().endswith((".nii", ".nii.gz"))


def read_source_header(path: str | os.PathLike) -> Any:
    """The source study's DICOM header (no pixel data; the file is only read).

    Raises:
        RenogramInputError: not a DICOM file (the file is named).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    p = Path(path)
    try:
        return pydicom.dcmread(p, stop_before_pixels=True)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RenogramInputError(p, f"cannot read the DICOM header for the DICOM outputs ({exc})") from None


def planar_source_view(header: Any) -> Any:
    """A copy of an NM header that highdicom accepts as the SEG's source (see the module docstring): one frame, no
    frame of reference, ``PixelSpacing`` as a shared pixel-measures group. Never written to disk."""
    from pydicom.dataset import Dataset

    view = copy.deepcopy(header)
    view.NumberOfFrames = 1
    for keyword in ("FrameOfReferenceUID", "PositionReferenceIndicator", "ImagePositionPatient",
                    "ImageOrientationPatient", "PerFrameFunctionalGroupsSequence"):
        if keyword in view:
            delattr(view, keyword)
    shared = Dataset()
    if header.get("PixelSpacing") is not None:
        measures = Dataset()
        measures.PixelSpacing = header.PixelSpacing
        shared.PixelMeasuresSequence = [measures]
    view.SharedFunctionalGroupsSequence = [shared]
    for keyword in _TYPE2_COPIED:  # highdicom copies them and needs them present; empty is what Type 2 allows
        if keyword not in view:
            setattr(view, keyword, "")
    return view


def bundle_algorithm(bundle_root: str | os.PathLike) -> AlgorithmInfo:
    """Name and version of the bundle (``configs/metadata.json``) whose model made the masks."""
    meta_file = Path(bundle_root) / "configs" / "metadata.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return AlgorithmInfo("renal parenchyma bundle", "unknown")
    return AlgorithmInfo(str(meta.get("name", "renal parenchyma bundle"))[:64], str(meta.get("version", "unknown")))


def _code(key: str) -> Any:
    from pydicom.sr.coding import Code

    value, meaning = _CODES[key]
    return Code(value, _SCT, meaning)


def _coded(key: str) -> Any:
    from highdicom.sr import CodedConcept

    value, meaning = _CODES[key]
    return CodedConcept(value, _SCT, meaning)


def _patient_orientation(header: Any, source_frames: Sequence[int] | None = None) -> list[str]:
    """``PatientOrientation`` of the planar image (row and column directions, e.g. ``["R", "F"]`` for a posterior
    view) from the source's own value or the ``ImageOrientationPatient`` of the detector read (found through
    ``DetectorVector`` at the first of ``source_frames``; the first detector otherwise); empty when neither says."""
    own = [str(v) for v in (header.get("PatientOrientation") or []) if str(v)]
    if len(own) == 2:
        return own
    items = header.get("DetectorInformationSequence") or []
    detector = 1
    vector = header.get("DetectorVector")
    if source_frames and vector is not None:
        values = [int(v) for v in np.atleast_1d(np.asarray(vector, dtype=np.int64))]
        first = int(min(source_frames)) - 1
        if 0 <= first < len(values):
            detector = values[first]
    iop = items[detector - 1].get("ImageOrientationPatient") if 0 < detector <= len(items) else None
    if iop is None or len(iop) != 6:
        return []
    letters = (("L", "R"), ("P", "A"), ("H", "F"))  # +x patient left, +y posterior, +z head

    def direction(cosines: Sequence[float]) -> str:
        axis = int(np.argmax(np.abs(cosines)))
        return letters[axis][0 if cosines[axis] > 0 else 1]

    return [direction([float(v) for v in iop[:3]]), direction([float(v) for v in iop[3:]])]


def _segment_description(number: int, spec: SegmentSpec, algorithm: AlgorithmInfo | None) -> Any:
    import highdicom as hd
    from pydicom.dataset import Dataset

    identification = None
    if spec.algorithm_type != "MANUAL":
        info = algorithm or AlgorithmInfo("renal parenchyma bundle", "unknown")
        identification = hd.AlgorithmIdentificationSequence(
            name=info.name, version=info.version, family=hd.sr.CodedConcept(*_ALGORITHM_FAMILY)
        )
    desc = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=spec.label,
        segmented_property_category=_code("category"),
        segmented_property_type=_code(spec.structure),
        algorithm_type=spec.algorithm_type,
        algorithm_identification=identification,
        anatomic_regions=[_code("kidney")] if spec.structure == "parenchyma" else None,
        display_color=hd.color.CIELabColor(*_lab(SIDE_COLOURS[spec.side])),
    )
    if spec.side is not None:
        desc.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [_coded(spec.side)]
        if "AnatomicRegionSequence" not in desc:
            region = Dataset()
            region.update(_coded("kidney"))
            desc.AnatomicRegionSequence = [region]
        desc.AnatomicRegionSequence[0].AnatomicRegionModifierSequence = [_coded(spec.side)]
    return desc


def _lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """CIELab (D65) of an sRGB colour, as ``CIELabColor`` takes it (L 0-100, a and b -128-127)."""
    from highdicom.color import CIELabColor

    return tuple(float(v) for v in CIELabColor.from_rgb(*rgb).lab)  # type: ignore[return-value]


def build_segmentation(
    header: Any,
    segments: Sequence[tuple[SegmentSpec, np.ndarray]],
    algorithm: AlgorithmInfo | None = None,
    source_frames: Sequence[int] | None = None,
    series_number: int = 900,
    series_description: str = "Renal ROIs (DICOM SEG)",
) -> Any:
    """A BINARY DICOM Segmentation of the source NM study with one segment per ``(spec, mask)``.

    Args:
        header: the source's DICOM header (:func:`read_source_header`); not modified.
        segments: ``(spec, (H, W) mask)`` pairs on the source matrix, numbered 1.. in this order; empty masks are
            refused (leave a segment out instead).
        algorithm: name and version for AUTOMATIC/SEMIAUTOMATIC segments (e.g. :func:`bundle_algorithm`).
        source_frames: 1-based frame numbers the ROIs apply to (the reader's ``source_frames``); None or every frame of
            the file: the whole instance is referenced without frame numbers.
        series_number, series_description: of the new series.

    Returns:
        The highdicom ``Segmentation`` (a pydicom Dataset).

    Raises:
        ValueError: no segment, a mask of another shape than the source matrix, or an empty mask.
    """
    import highdicom as hd

    if not segments:
        raise ValueError("a DICOM SEG needs at least one segment")
    shape = (int(header.Rows), int(header.Columns))
    planes = []
    for spec, mask in segments:
        m = np.asarray(mask).astype(bool)
        if m.shape != shape:
            raise ValueError(f"segment {spec.label!r}: mask shape {m.shape} differs from the source matrix {shape}")
        if not m.any():
            raise ValueError(f"segment {spec.label!r} is empty")
        planes.append(m)
    pixels = np.stack(planes, axis=-1)[None].astype(np.uint8)  # (1 plane, H, W, segments)
    descriptions = [_segment_description(i + 1, spec, algorithm) for i, (spec, _) in enumerate(segments)]
    seg = hd.seg.Segmentation(
        source_images=[planar_source_view(header)],
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=_MANUFACTURER,
        manufacturer_model_name="renal parenchyma bundle",
        software_versions=algorithm.version if algorithm else "unknown",
        device_serial_number="none",
        series_description=series_description,
    )
    # no Pixel Measures: without a frame of reference the SEG is aligned to its source pixel for pixel, and the
    # macro would need a SliceThickness (Type 1C, dciodvfy and highdicom's reader ask for it) that a planar
    # projection does not have; the source's PixelSpacing was only lent to highdicom's constructor
    shared = seg.SharedFunctionalGroupsSequence[0]
    if "PixelMeasuresSequence" in shared:
        del shared.PixelMeasuresSequence
    # PatientOrientation (General Image, Type 2C: required without a frame of reference) as the planar source says
    seg.PatientOrientation = _patient_orientation(header, source_frames)
    n_frames = int(header.get("NumberOfFrames", 1) or 1)
    frames = sorted({int(f) for f in source_frames}) if source_frames is not None else []
    if frames and frames != list(range(1, n_frames + 1)):
        # one Source Image item per frame (a multi-valued ReferencedFrameNumber is valid DICOM, but highdicom's
        # reader cannot index it)
        for item in seg.PerFrameFunctionalGroupsSequence:
            for derivation in item.DerivationImageSequence:
                template = derivation.SourceImageSequence[0]
                items = []
                for frame in frames:
                    source = copy.deepcopy(template)
                    source.ReferencedFrameNumber = frame
                    items.append(source)
                derivation.SourceImageSequence = items
    return seg


def write_dicom(dataset: Any, path: str | os.PathLike) -> None:
    """Write a DICOM dataset to ``path`` atomically (:func:`custom_transforms.safe_files.atomic_write_bytes`)."""
    from custom_transforms.safe_files import atomic_write_bytes

    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    atomic_write_bytes(path, buffer.getvalue())


def read_segments(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a SEG back with highdicom: segment label -> ``(H, W)`` bool mask."""
    import highdicom as hd

    seg = hd.seg.segread(path)
    out: dict[str, np.ndarray] = {}
    pixels = seg.pixel_array.reshape(-1, int(seg.Rows), int(seg.Columns))
    shared = seg.SharedFunctionalGroupsSequence[0]
    for frame, item in zip(pixels, seg.PerFrameFunctionalGroupsSequence, strict=True):
        ident = item.get("SegmentIdentificationSequence") or shared.SegmentIdentificationSequence  # 1 frame: shared
        number = int(ident[0].ReferencedSegmentNumber)
        label = str(seg.get_segment_description(number).SegmentLabel)
        out[label] = out.get(label, np.zeros(frame.shape, bool)) | frame.astype(bool)
    return out


def frames_read(header: Any, path: str | os.PathLike, view: str | int | None = None) -> list[int] | None:
    """The 1-based frames of ``path`` that :func:`custom_transforms.io.read_dynamic_study` reads with ``view``; None
    (every frame) for a file with one detector and one energy window, told from ``header`` without reading pixels."""
    n_det = int(header.get("NumberOfDetectors", 1) or 1)
    n_ew = int(header.get("NumberOfEnergyWindows", 1) or 1)
    if n_det * n_ew == 1:
        return None
    from custom_transforms.io import read_dynamic_study

    return list(read_dynamic_study(path, view=view)[1]["source_frames"])


def check_seg_writer(enabled: Any) -> None:
    """Before a run that writes DICOM SEGs (``save_dicom_seg``, ``renal_function --dicom``): refuse it in one line
    when highdicom is not installed (every SEG would fail alike, after the first outputs were written).

    Raises:
        RenogramInputError: ``enabled`` and highdicom cannot be imported.
    """
    if str(enabled).lower() not in ("true", "1"):
        return
    try:
        import highdicom  # noqa: F401
    except ImportError as exc:
        raise RenogramInputError(
            "save_dicom_seg", f"needs highdicom ({exc}); pip install highdicom, or turn it off"
        ) from None


class SaveDicomSeg(Transform):
    """Write a mask predicted on a DICOM study as ``<output_dir>/<stem>_<postfix>.dcm`` beside ``<stem>_mask.png``
    (one segment: the renal parenchyma of both kidneys, as the network's one class; AUTOMATIC, with the bundle's
    name and version).

    Input: ``(1, H, W)`` or ``(H, W)`` 0/1 mask on the study's native matrix, rows and columns as stored, and the
    study's metadata (``filename_or_obj``; ``source_format`` or ``format``; ``source_frames`` if known, else told by
    :func:`frames_read`). A source that is not DICOM (a fused PNG, a NIfTI or frame-folder study) has nothing to
    reference: it is passed over with one warning line (its mask PNG is still written). An empty mask gets no SEG
    (a SEG needs a segment), with a warning. Returns the mask unchanged.

    Args:
        output_dir: folder of the SEG files. output_postfix: file name postfix. Defaults to ``"seg"``.
        bundle_root: bundle whose ``configs/metadata.json`` names the algorithm. Defaults to ``"."``.
        view: the bundle's ``view`` (which detector of a multi-detector file was segmented). Defaults to None.
    """

    def __init__(self, output_dir: str | os.PathLike, output_postfix: str = "seg", bundle_root: str | os.PathLike = ".",
                 view: str | int | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.output_postfix = output_postfix
        self.view = view
        self.algorithm = bundle_algorithm(bundle_root)

    def __call__(self, mask: Any, meta: Mapping[str, Any]) -> Any:
        source = meta.get("filename_or_obj")
        source = source[0] if isinstance(source, (list, tuple)) else source
        fmt = meta.get("source_format", meta.get("format"))
        fmt = fmt[0] if isinstance(fmt, (list, tuple)) else fmt
        if not source or fmt != "dicom":
            logger.warning("save_dicom_seg: %s is not a DICOM study (%s): no SEG, only the mask PNG", source, fmt)
            return mask
        array = np.asarray(mask.detach().cpu().numpy() if hasattr(mask, "detach") else mask)
        array = array.reshape(array.shape[-2:])
        if not array.any():
            logger.warning("save_dicom_seg: %s: empty mask, no SEG", source)
            return mask
        from custom_transforms.datalists import _output_stem  # the stem SaveImaged gives <stem>_mask.png

        target = self.output_dir / f"{_output_stem(Path(source))}_{self.output_postfix}.dcm"
        try:  # one study whose header a SEG cannot be built from must not stop the folder: its mask is written
            header = read_source_header(source)
            frames = meta.get("source_frames")
            frames = frames_read(header, source, self.view) if frames is None else frames
            spec = SegmentSpec("Renal parenchyma", "parenchyma", None, "AUTOMATIC")
            seg = build_segmentation(header, [(spec, array)], self.algorithm, frames,
                                     series_description="Renal parenchyma (bundle inference)")
            self.output_dir.mkdir(parents=True, exist_ok=True)
            write_dicom(seg, target)
        except ImportError:
            raise  # no highdicom: every SEG would fail alike (checked before the run; see check_seg_writer)
        except (ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
            print(f"warning: {source}: no {target.name} written, its mask is ({type(exc).__name__}: {exc})",
                  file=sys.stderr, flush=True)
        return mask


class SaveDicomSegd(MapTransform):
    """Dictionary-based wrapper of :class:`SaveDicomSeg`: the mask under ``keys``, the metadata from the mask's own
    MetaTensor (or ``meta_key``'s). Returns the data unchanged.

    Args:
        keys: mask keys. output_dir, output_postfix, bundle_root, view: see :class:`SaveDicomSeg`.
        meta_key: key whose MetaTensor gives the source's metadata when the mask has none. Defaults to ``"image"``.
    """

    def __init__(self, keys: KeysCollection, output_dir: str | os.PathLike, output_postfix: str = "seg",
                 bundle_root: str | os.PathLike = ".", view: str | int | None = None, meta_key: str = "image") -> None:
        super().__init__(keys)
        self.meta_key = meta_key
        self.saver = SaveDicomSeg(output_dir, output_postfix, bundle_root, view)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            meta = getattr(d[key], "meta", None) or getattr(d.get(self.meta_key), "meta", None) or {}
            self.saver(d[key], meta)
        return d


SaveDicomSegD = SaveDicomSegDict = SaveDicomSegd
