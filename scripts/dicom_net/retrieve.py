# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Fetch a whole study from a node (C-FIND to check it is there, then C-GET) into ``OUT/<StudyInstanceUID>/``.

C-GET, not C-MOVE: the node sends the instances back over our own association (we take the SCP role for the storage
SOP classes of :data:`RETRIEVE_SOP_CLASSES`), so the node needs no address of ours and no port of ours is opened.
The instances are written into a folder built beside ``OUT/<uid>`` and renamed into place once every instance has
arrived (:mod:`custom_transforms.safe_files`); a study that is not on the node, a refused association or a lost
connection leave nothing behind.

File names: the study's one NM instance is ``study.dcm`` (the simulator's layout, so ``python -m
scripts.renal_function OUT`` reports every fetched study, each under its StudyInstanceUID); every other instance
(and each NM instance of a study that has several) is ``<Modality>-<SOPInstanceUID>.dcm``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from custom_transforms.safe_files import make_build_dir, swap_in_folder
from scripts.dicom_net.node import DicomNetError, DicomNode, DicomNodeError, associate, status_text
from scripts.dicom_net.query import find

__all__ = ["RETRIEVE_SOP_CLASSES", "fetch_study", "instance_file_name"]

#: storage SOP classes we accept in a C-GET: the project's NM studies and results (SEG, Encapsulated PDF, Secondary
#: Capture, structured reports) and the images a renal work-up may hold besides. An instance of another class is
#: not sent by the node, and the fetch of its study fails naming the count of instances not received.
RETRIEVE_SOP_CLASSES = (
    "NuclearMedicineImageStorage",
    "SegmentationStorage",
    "EncapsulatedPDFStorage",
    "SecondaryCaptureImageStorage",
    "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
    "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
    "MultiFrameTrueColorSecondaryCaptureImageStorage",
    "BasicTextSRStorage",
    "EnhancedSRStorage",
    "ComprehensiveSRStorage",
    "Comprehensive3DSRStorage",
    "KeyObjectSelectionDocumentStorage",
    "GrayscaleSoftcopyPresentationStateStorage",
    "PositronEmissionTomographyImageStorage",
    "CTImageStorage",
    "MRImageStorage",
    "UltrasoundImageStorage",
    "UltrasoundMultiFrameImageStorage",
    "ComputedRadiographyImageStorage",
    "DigitalXRayImageStorageForPresentation",
)
#: NM file name in the simulator's layout.
_STUDY_FILE = "study.dcm"


def instance_file_name(modality: str, sop_instance_uid: str) -> str:
    """``<Modality>-<SOPInstanceUID>.dcm`` (characters outside ``[A-Za-z0-9.]`` replaced by ``_``)."""
    def safe(text: str) -> str:
        return "".join(c if c.isalnum() or c == "." else "_" for c in text)

    return f"{safe(modality or 'OT')}-{safe(sop_instance_uid)}.dcm"


def fetch_study(node: DicomNode, study_uid: str, out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fetch every instance of ``study_uid`` into ``out_dir/<study_uid>/`` (built aside, renamed when complete).

    Args:
        node: the node that holds the study.
        study_uid: its StudyInstanceUID.
        out_dir: the folder that receives ``<study_uid>/``.
        overwrite: replace an existing ``out_dir/<study_uid>/``. Defaults to False (refused).

    Returns:
        The study's folder.

    Raises:
        DicomNetError: the folder exists (without ``overwrite``), the study is not on the node, no association, or
            not every instance arrived (the message starts with the study UID or the node).
    """
    from pynetdicom import evt
    from pynetdicom import sop_class as sc
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GetModel

    final = Path(out_dir) / study_uid
    if final.exists() and not overwrite:
        raise DicomNetError(f"{study_uid}: {final} exists already (--overwrite replaces it)")
    try:
        matches = find(node, "study", study_uid=study_uid)
    except DicomNodeError:
        raise
    except DicomNetError as exc:  # the node answered but refused the query: name the study
        raise DicomNetError(f"{study_uid}: {exc}") from None
    if not matches:
        raise DicomNetError(f"{study_uid}: study not found on {node}")
    expected = matches[0].get("NumberOfStudyRelatedInstances", "")
    build = make_build_dir(final)
    received: list[tuple[str, Path]] = []
    write_errors: list[str] = []

    def on_store(event: Any) -> int:
        try:
            ds = event.dataset
            path = build / instance_file_name(str(ds.get("Modality", "")), str(ds.SOPInstanceUID))
            path.write_bytes(event.encoded_dataset())
        except Exception as exc:  # noqa: BLE001 - any failure here is reported to the node as "out of resources"
            write_errors.append(str(exc))
            return 0xA700
        received.append((str(ds.get("Modality", "")), path))
        return 0x0000

    storage = [getattr(sc, name) for name in RETRIEVE_SOP_CLASSES]
    syntaxes = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]  # explicit, implicit VR little endian
    query = _get_query(study_uid)
    try:
        with associate(node, [(GetModel, None), *((uid, syntaxes) for uid in storage)], roles=storage,
                       handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
            final_status = None
            for status, _ in assoc.send_c_get(query, GetModel):
                final_status = status
            code = int(final_status.Status) if final_status and "Status" in final_status else None
            failed = int(final_status.get("NumberOfFailedSubOperations", 0) or 0) if final_status else 0
        if code is None:
            raise DicomNetError(f"{study_uid}: C-GET from {node} got {status_text(final_status)}")
        if write_errors:
            raise DicomNetError(f"{study_uid}: {len(write_errors)} instance(s) could not be written "
                                f"({write_errors[0]})")
        if code != 0x0000 or failed:
            raise DicomNetError(f"{study_uid}: C-GET from {node} ended with {status_text(final_status)}, {failed} "
                                "instance(s) not received (SOP class not among the accepted ones?)")
        if not received or (expected.isdigit() and len(received) < int(expected)):
            raise DicomNetError(f"{study_uid}: {len(received)} of {expected or '?'} instance(s) received from {node}")
        nm = [path for modality, path in received if modality == "NM"]
        if len(nm) == 1:
            nm[0].rename(build / _STUDY_FILE)
        swap_in_folder(build, final)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return final


def _get_query(study_uid: str) -> Any:
    from pydicom import Dataset

    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    return query
