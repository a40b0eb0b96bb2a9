# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The unittest helper every DICOM writer's tests call: :func:`assert_valid_dicom`.

>>> from scripts.dicom_validation.testing import assert_valid_dicom
>>> result = assert_valid_dicom(self, "seg.dcm", allowed_warnings=[r"^CodingSchemeDesignator"])  # doctest: +SKIP

Without ``dciodvfy`` the test is skipped with a reason; with ``RENOGRAM_REQUIRE_DICOM_TOOLS=1`` in the environment
(CI, ``.ci/run``) a missing validator fails instead, so CI never skips silently.
"""

from __future__ import annotations

import os
import unittest
from collections.abc import Iterable

from .dciodvfy import DicomValidation, find_dciodvfy, validate_dicom

__all__ = ["REQUIRE_ENV", "assert_valid_dicom", "require_dciodvfy"]

#: environment variable that turns "validator not installed" from a skip into a failure.
REQUIRE_ENV = "RENOGRAM_REQUIRE_DICOM_TOOLS"


def require_dciodvfy(case: unittest.TestCase) -> str:
    """The validator's path; skips ``case`` (or fails it under ``RENOGRAM_REQUIRE_DICOM_TOOLS=1``) without one."""
    exe = find_dciodvfy()
    if exe is None:
        reason = "dciodvfy is not installed (Debian package dicom3tools)"
        if os.environ.get(REQUIRE_ENV) == "1":
            case.fail(f"{reason}, and {REQUIRE_ENV}=1 requires it")
        raise unittest.SkipTest(reason)
    return exe


def assert_valid_dicom(
    case: unittest.TestCase, path: str | os.PathLike, allowed_warnings: Iterable[str] = ()
) -> DicomValidation:
    """Fail ``case`` when ``dciodvfy`` reports an error, or a warning that no pattern of ``allowed_warnings`` matches.

    Args:
        case: the running test.
        path: the DICOM file to validate.
        allowed_warnings: regular expressions (:func:`re.search` on the message text, without ``Warning - ``); each
            warning the writer leaves must match one and be explained in the writer's code. Defaults to none allowed.

    Returns:
        The validation result (to check ``iod`` for instance).
    """
    result = validate_dicom(path, executable=require_dciodvfy(case))
    unexpected = result.unexpected_warnings(tuple(allowed_warnings))
    if result.errors or unexpected:
        case.fail(f"dciodvfy: {len(result.errors)} error(s), {len(unexpected)} unexpected warning(s)\n"
                  f"{result.summary()}")
    return result
