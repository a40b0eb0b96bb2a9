# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Exchange with a DICOM node (a PACS) through pynetdicom: check it answers, send results, query, fetch studies.

Modules: :mod:`~scripts.dicom_net.node` (the node's address and AE titles, one association, C-ECHO, one-line
failures), :mod:`~scripts.dicom_net.store` (C-STORE of checked files), :mod:`~scripts.dicom_net.query` (C-FIND at
study or series level), :mod:`~scripts.dicom_net.retrieve` (C-GET of a whole study into a folder built aside).
pynetdicom and pydicom are imported inside the functions, so importing this package is cheap.

>>> from scripts.dicom_net import DicomNode, fetch_study, find, store_files
>>> node = DicomNode("127.0.0.1", 4242, called_aet="ORTHANC", aet="RENOGRAM")
>>> store_files(node, ["reports/s1/seg.dcm"]).stored                    # doctest: +SKIP
>>> find(node, "series", modality="SEG")                                   # doctest: +SKIP
>>> fetch_study(node, "1.2.826.0.1.3680043.8.498.1", "fetched")            # doctest: +SKIP
"""

from __future__ import annotations

from scripts.dicom_net.node import (
    DEFAULT_AET,
    DEFAULT_CALLED_AET,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DicomNetError,
    DicomNode,
    DicomNodeError,
    associate,
    echo,
)
from scripts.dicom_net.query import LEVELS, RETURN_KEYS, find
from scripts.dicom_net.retrieve import RETRIEVE_SOP_CLASSES, fetch_study, instance_file_name
from scripts.dicom_net.store import StoreResult, check_file, collect_files, store_files

__all__ = [
    "DEFAULT_AET",
    "DEFAULT_CALLED_AET",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LEVELS",
    "RETRIEVE_SOP_CLASSES",
    "RETURN_KEYS",
    "DicomNetError",
    "DicomNode",
    "DicomNodeError",
    "StoreResult",
    "associate",
    "check_file",
    "collect_files",
    "echo",
    "fetch_study",
    "find",
    "instance_file_name",
    "store_files",
]
