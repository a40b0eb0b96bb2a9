# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Ask a node what it holds (C-FIND, Study Root information model) at study or series level.

At study level the keys are PatientID, StudyInstanceUID and ModalitiesInStudy (``modality``); at series level
PatientID, StudyInstanceUID and Modality. An empty key matches everything (a universal match), ``*`` and ``?``
are wildcards, as DICOM defines them (PS3.4 C.2.2.2). The answers are plain dictionaries of the return keys.
"""

from __future__ import annotations

from typing import Any

from scripts.dicom_net.node import DicomNetError, DicomNode, associate, status_text

__all__ = ["LEVELS", "RETURN_KEYS", "find"]

#: the query levels this module asks at.
LEVELS = ("study", "series")
#: the keys returned per level, in the order a table shows them.
RETURN_KEYS = {
    "study": ("PatientID", "PatientName", "StudyInstanceUID", "StudyDate", "StudyDescription", "ModalitiesInStudy",
              "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"),
    "series": ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
               "NumberOfSeriesRelatedInstances"),
}
_PENDING = {0xFF00, 0xFF01}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def find(node: DicomNode, level: str = "study", patient_id: str = "", study_uid: str = "",
         modality: str = "") -> list[dict[str, str]]:
    """C-FIND at ``level``; returns one dictionary of :data:`RETURN_KEYS` per match (empty strings where absent).

    Args:
        node: the node to ask.
        level: ``"study"`` or ``"series"``. Defaults to ``"study"``.
        patient_id: PatientID to match. Defaults to any.
        study_uid: StudyInstanceUID to match. Defaults to any.
        modality: Modality (series) or ModalitiesInStudy (study) to match, e.g. ``"SEG"``. Defaults to any.

    Raises:
        ValueError: unknown level.
        DicomNetError: no association, or the node answered the query with a failure status.
    """
    from pydicom import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FindModel

    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    query = Dataset()
    query.QueryRetrieveLevel = level.upper()
    for key in RETURN_KEYS[level]:
        setattr(query, key, "")
    query.PatientID = patient_id
    query.StudyInstanceUID = study_uid
    setattr(query, "ModalitiesInStudy" if level == "study" else "Modality", modality)
    matches: list[dict[str, str]] = []
    with associate(node, [(FindModel, None)]) as assoc:
        for status, identifier in assoc.send_c_find(query, FindModel):
            code = int(status.Status) if status and "Status" in status else None
            if code in _PENDING and identifier is not None:
                matches.append({key: _text(identifier.get(key)) for key in RETURN_KEYS[level]})
            elif code != 0x0000:
                raise DicomNetError(f"{node}: C-FIND at {level} level failed ({status_text(status)})")
    return matches
