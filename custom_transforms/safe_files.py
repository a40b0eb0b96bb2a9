# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Writing outputs safely: atomic files, build-aside folders, outputs that never overlap inputs, skip lists.

One definition for every command and for the bundle (this package is copied into an exported bundle, so the bundle's
configs can use it too):

- :func:`atomic_write_text` / :func:`atomic_write_bytes` / :func:`atomic_write_json`: a reader sees the old file or
  the new one, never half of one.
- :func:`make_build_dir` and :func:`swap_in_folder`: build a folder beside its destination, then rename it in place.
- Files and folders made through :mod:`tempfile` are ``0600``/``0700`` whatever the umask; :func:`apply_umask` gives
  them the permissions ``open``/``mkdir`` would have given (``0666``/``0777`` less the umask), which shared set-ups
  expect.
- :func:`check_output_separate`: an output that a command deletes or replaces may never be, contain or lie inside one
  of its inputs (``--out S --overwrite`` must not delete the studies in ``S``).
- :class:`SkipList`: the machine-readable ``skipped.json`` a command writes into its output folder when it processes
  a folder of inputs, one entry per input it could not use, with the reason.

The standard library has the pieces (``tempfile``, ``os.replace``) but no atomic write that keeps the umask, and
neither MONAI nor Ignite has one, hence this module.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "OutputFolderError",
    "OutputOverlapError",
    "SKIPPED_FILE",
    "SkipList",
    "apply_umask",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_output_folder",
    "check_output_separate",
    "make_build_dir",
    "swap_in_folder",
    "write_files_together",
]

#: name of the skip list written into an output folder.
SKIPPED_FILE = "skipped.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def apply_umask(path: str | os.PathLike, folder: bool | None = None) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would have: ``0666`` (file) or ``0777`` (folder) less the
    umask.

    Args:
        path: file or folder made through :mod:`tempfile` (mode ``0600``/``0700``).
        folder: whether it is a folder; ``None`` looks it up.
    """
    p = Path(path)
    is_dir = p.is_dir() if folder is None else folder
    os.chmod(p, (0o777 if is_dir else 0o666) & ~_umask())


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace`` (umask permissions)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        apply_umask(tmp, folder=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, allow_nan: bool = False) -> None:
    """Write ``obj`` as indented, strict JSON (no NaN unless ``allow_nan``) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=allow_nan) + "\n")


def make_build_dir(final: str | os.PathLike) -> Path:
    """A new empty folder beside ``final`` (same file system, hidden name) to build ``final``'s content in.

    The folder gets umask permissions, not :func:`tempfile.mkdtemp`'s ``0700``. Move it in place with
    :func:`swap_in_folder`; delete it on failure.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    apply_umask(tmp, folder=True)
    return tmp


def swap_in_folder(built: str | os.PathLike, final: str | os.PathLike, backup: str | os.PathLike | None = None) -> None:
    """Rename the finished folder ``built`` to ``final``.

    An existing ``final`` is first renamed to ``backup`` (same file system, so both renames are atomic) and deleted
    once ``built`` is in place; ``final`` therefore always names a complete folder, old or new. If the second rename
    fails, the old folder is put back.

    Args:
        built: the finished folder (e.g. from :func:`make_build_dir`).
        final: its destination.
        backup: where the old ``final`` waits; defaults to a hidden name beside ``final``.
    """
    built, final = Path(built), Path(final)
    if not final.exists():
        os.replace(built, final)
        return
    backup = Path(backup) if backup is not None else final.with_name(f".{final.name}.old-{os.getpid()}")
    os.replace(final, backup)
    try:
        os.replace(built, final)
    except BaseException:
        os.replace(backup, final)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def write_files_together(
    folder: str | os.PathLike,
    names: Sequence[str],
    write: Callable[[dict[str, str]], None],
    stale: Sequence[str] = (),
) -> dict[str, str]:
    """Write several files of one result into ``folder`` so that they appear together or not at all.

    ``write`` gets ``{name: path}`` to write each file to. A new ``folder`` is built beside its final name and renamed
    into place (:func:`make_build_dir`, :func:`swap_in_folder`); in an existing ``folder`` each file goes to a
    temporary name and all are renamed into place only after ``write`` returned, so a failure leaves the earlier
    files untouched and no temporary file behind. After success, the ``stale`` names this result does not write (the
    files of an earlier, fuller run, e.g. DICOM objects of a run with ``--dicom``) are removed, so the folder never
    mixes two results. Files get umask permissions.

    Returns:
        ``{name: final path}``.
    """
    out = Path(folder)
    final = {name: str(out / name) for name in names}
    if not out.exists():
        build = make_build_dir(out)
        try:
            write({name: str(build / name) for name in names})
            swap_in_folder(build, out)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        return final
    tmp: dict[str, str] = {}
    try:
        for name in names:
            fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            os.close(fd)
            apply_umask(path, folder=False)
            tmp[name] = path
        write(tmp)
        for name, path in tmp.items():
            os.replace(path, out / name)
        tmp.clear()
        for name in stale:
            if name not in final:
                (out / name).unlink(missing_ok=True)
        return final
    finally:
        for path in tmp.values():
            Path(path).unlink(missing_ok=True)


class OutputOverlapError(ValueError):
    """An output folder that is, contains or lies inside an input; the message names both and the option."""


class OutputFolderError(ValueError):
    """An output folder that is a file, lies under one or cannot be written; the message names it and the option."""


def check_output_separate(
    out: str | os.PathLike,
    inputs: Iterable[str | os.PathLike | None],
    out_option: str = "--out",
    consequence: str = "it would be replaced",
) -> None:
    """Refuse an output that a command would delete or replace when it overlaps one of the inputs.

    Paths are compared after resolving symbolic links, so a link to the input folder is caught too.

    Args:
        out: the output folder (it need not exist yet).
        inputs: input files or folders (``None`` entries are ignored).
        out_option: the option's name for the message. Defaults to ``"--out"``.
        consequence: what would go wrong, for the message. Defaults to ``"it would be replaced"``.

    Raises:
        OutputOverlapError: ``out`` equals an input, is a folder above one, or lies inside an input folder.
    """
    out_path = Path(out).resolve()
    for item in inputs:
        if item is None:
            continue
        inp = Path(item).resolve()
        if out_path == inp:
            how = "is the input"
        elif out_path in inp.parents:
            how = "contains the input"
        elif inp in out_path.parents:
            how = "lies inside the input"
        else:
            continue
        raise OutputOverlapError(
            f"{out}: {out_option} {how} {item}; {consequence}, so choose a folder outside the inputs"
        )


def check_output_folder(out: str | os.PathLike, out_option: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be one: it is a file, lies under a file, or cannot be
    written (the nearest existing folder above it is not writable).

    Raises:
        OutputFolderError: one line naming ``out`` and the option.
    """
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise OutputFolderError(f"{out}: {out_option} exists and is not a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise OutputFolderError(f"{out}: {out_option} is not writable")
        return
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputFolderError(f"{out}: {out_option} cannot be created: {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputFolderError(f"{out}: {out_option} cannot be created: {parent} is not writable")


class SkipList:
    """The inputs a command could not use, written as ``skipped.json`` into its output folder.

    The file is written on every run that processes a folder, empty list included, so that a script can always read
    it: ``{"command": ..., "inputs": N, "done": N - len(skipped), "skipped": [{"input": path, "reason": text}]}``.

    Args:
        command: the command's name (e.g. ``"prepare_dataset"``).
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self.entries: list[dict[str, str]] = []
        self.inputs = 0

    def add(self, input_path: str | os.PathLike, reason: str) -> None:
        """Record one unusable input and why (the reason names the file, as :class:`RenogramInputError` does)."""
        self.entries.append({"input": os.fspath(input_path), "reason": str(reason)})

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:  # an empty list is still a list (``if skip_list:`` would read as "any skipped")
        return True

    def as_dict(self) -> dict[str, Any]:
        """The content of ``skipped.json``."""
        return {
            "command": self.command,
            "inputs": self.inputs,
            "done": max(self.inputs - len(self.entries), 0),
            "skipped": list(self.entries),
        }

    def write(self, out_dir: str | os.PathLike) -> Path:
        """Write ``out_dir/skipped.json`` atomically and return its path."""
        path = Path(out_dir) / SKIPPED_FILE
        atomic_write_json(path, self.as_dict())
        return path
