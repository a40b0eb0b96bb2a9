# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Run ``dciodvfy`` (dicom3tools) on a DICOM file and parse its report into errors and warnings.

``dciodvfy FILE`` checks the object against the IOD its SOP class names (modules, Type 1/2/1C/2C attributes,
value representations, defined terms) and writes, on stderr, the IOD's name (``NMImage``) followed by one line per
finding. Lines look like::

    Error - Missing attribute Type 2 Required Element=<ReferringPhysicianName> Module=<GeneralStudy>
    Warning - CodingSchemeDesignator is deprecated - attribute <CodingSchemeDesignator> = <SRT>
    (0x0019,0x1000)  ?  - Warning - Unrecognized tag - explicit value representation is UN
    Abort - File open for read failed - "/missing.dcm"

``Error`` and ``Abort`` lines are errors; ``Warning`` lines are warnings (a leading ``(gggg,eeee) VR -`` is kept as
part of the message text); other lines name the IOD. The exit status is not used: dicom3tools returns 1 for
warnings too. Versions read: dicom3tools 1.00 snapshot 20220618 (Debian bookworm).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DciodvfyNotFound", "DicomValidation", "find_dciodvfy", "parse_dciodvfy_output", "validate_dicom"]

#: ``[(gggg,eeee) VR  -] Level - message``; the level is Error, Warning or Abort.
_LINE = re.compile(r"^(?P<tag>\(0x[0-9a-fA-F]{4},0x[0-9a-fA-F]{4}\)\s+\S+\s+-\s+)?(?P<level>Error|Warning|Abort) - "
                   r"(?P<text>.*)$")


class DciodvfyNotFound(RuntimeError):
    """``dciodvfy`` is not installed (Debian/Ubuntu: ``apt-get install dicom3tools``)."""


@dataclass(frozen=True)
class DicomValidation:
    """What ``dciodvfy`` said about one file.

    Args:
        path: the file validated (as given).
        iod: the IOD the validator checked against (``'NMImage'``, ``'Segmentation'``, ...), ``None`` if it named none.
        errors: error (and abort) messages, in the validator's order, without the ``Error - `` prefix.
        warnings: warning messages, in order, without the ``Warning - `` prefix (a tag prefix is kept).
    """

    path: str
    iod: str | None
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """``True`` when the validator reported no error."""
        return not self.errors

    def unexpected_warnings(self, allowed: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
        """The warnings that no pattern of ``allowed`` (regular expressions, :func:`re.search`) matches."""
        patterns = [re.compile(p) for p in allowed]
        return tuple(w for w in self.warnings if not any(p.search(w) for p in patterns))

    def summary(self) -> str:
        """``path (IOD): N error(s), M warning(s)`` followed by one indented line per message."""
        lines = [f"{self.path} ({self.iod or 'no IOD'}): {len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        lines += [f"  Error - {e}" for e in self.errors] + [f"  Warning - {w}" for w in self.warnings]
        return "\n".join(lines)


def find_dciodvfy() -> str | None:
    """The path of the ``dciodvfy`` executable on ``PATH``, or ``None`` when dicom3tools is not installed."""
    return shutil.which("dciodvfy")


def parse_dciodvfy_output(text: str, path: str | os.PathLike = "") -> DicomValidation:
    """Parse the report ``dciodvfy`` wrote (its stderr) into a :class:`DicomValidation`.

    Args:
        text: the validator's output.
        path: the file it was about (kept in the result). Defaults to ``""``.
    """
    iod, errors, warnings = None, [], []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            if iod is None:
                iod = line.strip()
            continue
        message = f"{m['tag'] or ''}{m['text']}".strip()
        (warnings if m["level"] == "Warning" else errors).append(message)
    return DicomValidation(str(path), iod, tuple(errors), tuple(warnings))


def validate_dicom(
    path: str | os.PathLike, executable: str | None = None, timeout_s: float = 120.0
) -> DicomValidation:
    """Validate one DICOM file with ``dciodvfy``.

    Args:
        path: the DICOM file (Part 10, with its meta header).
        executable: the validator to run. Defaults to ``dciodvfy`` on ``PATH``.
        timeout_s: seconds before the validator is stopped (:class:`subprocess.TimeoutExpired`). Defaults to 120.

    Raises:
        DciodvfyNotFound: the validator is not installed.
        FileNotFoundError: ``path`` is not a file (checked here: dciodvfy would report it as an abort).
    """
    exe = executable or find_dciodvfy()
    if exe is None:
        raise DciodvfyNotFound("dciodvfy is not installed (Debian/Ubuntu package dicom3tools)")
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    proc = subprocess.run(
        [exe, os.fspath(path)], capture_output=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL
    )
    text = proc.stderr.decode("latin-1") + proc.stdout.decode("latin-1")  # values may be in any character set
    result = parse_dciodvfy_output(text, path)
    # its exit status is 1 for warnings alone, so only a crash (a signal) or a report that names no IOD (the format
    # changed, nothing was checked) counts: either must never read as a pass
    if proc.returncode < 0 or result.iod is None:
        problem = f"dciodvfy ended with status {proc.returncode} and named no IOD: {text.strip()[-300:]!r}"
        result = DicomValidation(result.path, result.iod, (*result.errors, problem), result.warnings)
    return result
