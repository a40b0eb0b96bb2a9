# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Send DICOM files to a node (C-STORE), checked first so that a bad file is never sent half.

:func:`collect_files` expands the arguments (a folder gives every ``*.dcm`` below it: a folder of report folders
gives their ``seg.dcm`` and ``report.dcm``, a simulator folder its ``<id>/study.dcm``, a fetched folder its
instances). :func:`check_file` reads each file whole before anything is sent: not a DICOM file, no SOP class,
instance or study UID, or pixel data shorter than its header promises (a truncated copy) make it a bad input.
:func:`store_files` then sends the good ones over one association (one presentation context per SOP class and
transfer syntax, so each file goes as it is, without re-encoding) and records, file by file, what the node stored.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scripts.dicom_net.node import DicomNetError, DicomNode, associate, status_text

__all__ = ["StoreResult", "check_file", "collect_files", "store_files"]

#: C-STORE statuses that mean "stored" (0x0000 success; 0xB000, 0xB006, 0xB007 stored with a warning).
_STORED = {0x0000, 0xB000, 0xB006, 0xB007}
#: presentation contexts per association (the DICOM upper layer allows 128).
_MAX_CONTEXTS = 128


@dataclass
class StoreResult:
    """What :func:`store_files` did, file by file.

    Attributes:
        stored: ``{"file", "sop_instance_uid", "study_instance_uid", "sop_class_uid"}`` per file the node stored.
        failed: ``{"input", "reason"}`` per file that was not stored (bad file or refused by the node).
    """

    stored: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def collect_files(
    paths: Iterable[str | os.PathLike], pattern: str = "*.dcm"
) -> tuple[list[Path], list[dict[str, str]]]:
    """The files to send: files as given, folders expanded to their ``pattern`` files (hidden names left out).

    Args:
        paths: files and folders.
        pattern: the files taken from a folder (searched recursively). Defaults to ``"*.dcm"``.

    Returns:
        The files (each once, in argument order, a folder's sorted) and ``{"input", "reason"}`` for each argument
        that is missing or is a folder without such files.
    """
    files: list[Path] = []
    bad: list[dict[str, str]] = []
    for item in map(Path, paths):
        if item.is_dir():
            found = sorted(p for p in item.rglob(pattern)
                           if p.is_file() and not any(part.startswith(".") for part in p.relative_to(item).parts))
            if not found:
                bad.append({"input": os.fspath(item), "reason": f"{item}: folder holds no {pattern} file"})
            files += found
        elif item.is_file():
            files.append(item)
        else:
            bad.append({"input": os.fspath(item), "reason": f"{item}: no such file or folder"})
    seen: set[Path] = set()
    unique = [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]
    return unique, bad


def check_file(path: str | os.PathLike) -> tuple[str, str, str, str]:
    """Read ``path`` whole and return its ``(SOP class, SOP instance, study instance, transfer syntax)`` UIDs.

    Raises:
        ValueError: the message starts with the path: not a DICOM file, a missing UID, or truncated pixel data.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels.utils import get_expected_length

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise ValueError(f"{path}: not a DICOM file (no DICM preamble)") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: cannot be read as DICOM ({exc})") from None
    meta = getattr(ds, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")
    uids = [str(ds.get(k, "") or "") for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID")]
    missing = [k for k, v in zip(("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID"), uids, strict=True) if not v]
    if missing or not syntax:
        raise ValueError(f"{path}: not a storable DICOM instance (no {', '.join(missing or ['TransferSyntaxUID'])})")
    if "PixelData" in ds and not pydicom.uid.UID(syntax).is_compressed:
        try:
            expected = get_expected_length(ds)
        except (AttributeError, ValueError, KeyError, TypeError):
            expected = 0
        if len(ds.PixelData) < expected:
            raise ValueError(f"{path}: truncated (pixel data has {len(ds.PixelData)} of {expected} bytes)")
    return uids[0], uids[1], uids[2], syntax


def _chunks(files: Sequence[tuple[Path, tuple[str, str, str, str]]]) -> list[list[tuple[Path, tuple[str, ...]]]]:
    """Files grouped so that each group needs at most 128 presentation contexts (one association each)."""
    groups: list[list[tuple[Path, tuple[str, ...]]]] = []
    contexts: set[tuple[str, str]] = set()
    for path, uids in files:
        key = (uids[0], uids[3])
        if not groups or (key not in contexts and len(contexts) == _MAX_CONTEXTS):
            groups.append([])
            contexts = set()
        contexts.add(key)
        groups[-1].append((path, uids))
    return groups


def store_files(node: DicomNode, files: Iterable[str | os.PathLike]) -> StoreResult:
    """Check every file, then send the good ones to ``node`` and record what it stored.

    Args:
        node: the receiving node.
        files: DICOM files (see :func:`collect_files` for folders).

    Returns:
        The stored and the failed files. A bad file is never sent; a file the node refuses, or that could not be
        sent because the connection was lost, is in ``failed`` with the reason.

    Raises:
        DicomNetError: the first association could not be established (so nothing was stored).
    """
    result = StoreResult()
    good: list[tuple[Path, tuple[str, str, str, str]]] = []
    for path in map(Path, files):
        try:
            good.append((path, check_file(path)))
        except ValueError as exc:
            result.failed.append({"input": os.fspath(path), "reason": str(exc)})
    for number, group in enumerate(_chunks(good)):
        contexts = sorted({(uids[0], uids[3]) for _, uids in group})
        try:
            with associate(node, [(sop, [syntax]) for sop, syntax in contexts]) as assoc:
                accepted = {(cx.abstract_syntax, cx.transfer_syntax[0]) for cx in assoc.accepted_contexts}
                for index, (path, uids) in enumerate(group):
                    if (uids[0], uids[3]) not in accepted:
                        reason = f"{path}: {node} does not accept SOP class {uids[0]} in transfer syntax {uids[3]}"
                        result.failed.append({"input": os.fspath(path), "reason": reason})
                        continue
                    status = assoc.send_c_store(path) if assoc.is_established else None
                    code = int(status.Status) if status and "Status" in status else None
                    if code in _STORED:
                        result.stored.append({"file": os.fspath(path), "sop_instance_uid": uids[1],
                                              "study_instance_uid": uids[2], "sop_class_uid": uids[0]})
                    elif code is None:  # connection lost: this file and the rest of the group are not stored
                        for rest, _ in group[index:]:
                            result.failed.append({"input": os.fspath(rest),
                                                  "reason": f"{rest}: not stored, {node}: {status_text(status)}"})
                        break
                    else:
                        result.failed.append({"input": os.fspath(path),
                                              "reason": f"{path}: {node} refused it ({status_text(status)})"})
        except DicomNetError as exc:
            if number == 0 and not result.stored:
                raise
            for path, _ in group:
                result.failed.append({"input": os.fspath(path), "reason": f"{path}: not stored, {exc}"})
    return result
