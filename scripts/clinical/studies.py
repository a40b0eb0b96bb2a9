# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Finding the dynamic studies in a folder and naming them, for commands that report on many studies.

A folder's studies are its ``*.dcm``, ``*.nii`` and ``*.nii.gz`` files, its sub-folders in the simulator's layout
(``<id>/study.dcm``), its frame folders (sub-folders holding ``timing.json`` or ``timing.csv``), and the study files
of any other sub-folder, one level down (``<uid>/NM-<sop>.dcm`` as ``scripts.pacs fetch`` writes a study with several
NM instances: each file is tried, and one that is not a dynamic study is reported with its reason, never dropped
silently); hidden entries
(a name starting with ``.``, such as the simulator's ``.sim-tmp-*`` folders being written) are not studies. The
study suffixes are :data:`custom_transforms.datalists.STUDY_SUFFIXES`, the ones the bundle's
:func:`~custom_transforms.datalists.find_inputs` reads (fused PNG images are not dynamic studies, so they are
left out here).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from custom_transforms.datalists import STUDY_SUFFIXES
from custom_transforms.errors import RenogramInputError

__all__ = ["SIMULATOR_STUDY_FILE", "TIMING_FILES", "is_frame_folder", "is_study_folder", "find_studies",
           "study_id", "unique_study_ids"]

#: file name of a study in the simulator's layout (``<id>/study.dcm``).
SIMULATOR_STUDY_FILE = "study.dcm"
#: files that make a folder a folder of frames (one study).
TIMING_FILES = ("timing.json", "timing.csv")


def is_frame_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder of frames (one study: it holds ``timing.json`` or ``timing.csv``)."""
    p = Path(path)
    return p.is_dir() and any((p / t).is_file() for t in TIMING_FILES)


def is_study_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder of studies (a folder that is not itself a folder of frames)."""
    return Path(path).is_dir() and not is_frame_folder(path)


def find_studies(folder: str | os.PathLike) -> list[Path]:
    """The studies in ``folder``, sorted by name (see the module docstring).

    Raises:
        RenogramInputError: ``folder`` does not exist, is not a folder, or holds no study (the folder is named).
    """
    root = Path(folder)
    if not root.exists():
        raise RenogramInputError(root, "no such folder")
    if not root.is_dir():
        raise RenogramInputError(root, "not a folder")
    found = []
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_file() and p.name.lower().endswith(STUDY_SUFFIXES):
            found.append(p)
        elif p.is_dir() and (p / SIMULATOR_STUDY_FILE).is_file():
            found.append(p / SIMULATOR_STUDY_FILE)
        elif is_frame_folder(p):
            found.append(p)
        elif p.is_dir():
            found.extend(q for q in sorted(p.iterdir())
                         if q.is_file() and not q.name.startswith(".") and q.name.lower().endswith(STUDY_SUFFIXES))
    if not found:
        raise RenogramInputError(
            root,
            f"holds no study ({', '.join('*' + s for s in STUDY_SUFFIXES)} files, <id>/{SIMULATOR_STUDY_FILE} "
            f"folders or frame folders with {' or '.join(TIMING_FILES)})",
        )
    return found


def study_id(path: str | os.PathLike) -> str:
    """A file-name-safe id of a study: ``<id>`` for ``<id>/study.dcm``, else the name without its study suffix."""
    p = Path(path)
    name = p.name
    if name.lower() == SIMULATOR_STUDY_FILE and p.parent.name:
        name = p.parent.name
    else:
        for suffix in sorted(STUDY_SUFFIXES, key=len, reverse=True):
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "study"


def unique_study_ids(paths: Iterable[str | os.PathLike], reserved: Iterable[str] = ()) -> list[str]:
    """:func:`study_id` of each path, with ``-2``, ``-3``, ... appended to repeats, so each study gets its own folder.

    Args:
        paths: the study paths, in order.
        reserved: names that are taken already (e.g. ``skipped.json`` in the output folder); compared ignoring case.
    """
    ids: list[str] = []
    used = {r.lower() for r in reserved}
    for p in paths:
        base = study_id(p)
        sid, n = base, 1
        while sid.lower() in used:
            n += 1
            sid = f"{base}-{n}"
        used.add(sid.lower())
        ids.append(sid)
    return ids
