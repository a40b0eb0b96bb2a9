# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Validate written DICOM objects with an independent validator, ``dciodvfy`` (Debian package ``dicom3tools``).

Every DICOM object the project writes (the simulator's NM files, DICOM SEG, the report object) must give no errors;
each warning left is explained in the writer's code. Two modules:

- :mod:`scripts.dicom_validation.dciodvfy`: run the validator and parse its output (library code, usable by a
  command's ``--validate`` option too).

  >>> from scripts.dicom_validation import validate_dicom
  >>> result = validate_dicom("study.dcm")        # doctest: +SKIP
  >>> result.ok, result.iod, result.errors, result.warnings   # doctest: +SKIP
  (True, 'NMImage', (), ('CodingSchemeDesignator is deprecated - ...',))

  ``validate_dicom(path, executable=None, timeout_s=120.0) -> DicomValidation`` (frozen dataclass: ``path``,
  ``iod`` (the IOD the validator recognised, e.g. ``'NMImage'``, ``'Segmentation'``), ``errors``, ``warnings``
  (tuples of message texts without the ``Error - ``/``Warning - `` prefix), ``ok`` (no errors),
  ``unexpected_warnings(allowed)``, ``summary()``); raises :class:`DciodvfyNotFound` when the validator is not
  installed. ``parse_dciodvfy_output(text, path="") -> DicomValidation`` parses captured output (no validator
  needed); ``find_dciodvfy()`` gives the executable's path or ``None``.

- :mod:`scripts.dicom_validation.testing`: the unittest helper the tests of every DICOM writer call.

  >>> from scripts.dicom_validation.testing import assert_valid_dicom
  >>> allowed = [r"^CodingSchemeDesignator is deprecated - attribute <CodingSchemeDesignator> = <SRT>"]
  >>> assert_valid_dicom(self, out / "seg.dcm", allowed_warnings=allowed)  # doctest: +SKIP

  ``assert_valid_dicom(case, path, allowed_warnings=())`` fails the test on any error and on any warning that no
  pattern of ``allowed_warnings`` (regular expressions, :func:`re.search` on the message text) matches; it returns
  the :class:`DicomValidation`. Without ``dciodvfy`` it skips the test with a reason, unless the environment sets
  ``RENOGRAM_REQUIRE_DICOM_TOOLS=1`` (CI does, in ``.ci/run``): then a missing validator fails the test.
"""

from __future__ import annotations

from .dciodvfy import DciodvfyNotFound, DicomValidation, find_dciodvfy, parse_dciodvfy_output, validate_dicom

__all__ = ["DciodvfyNotFound", "DicomValidation", "find_dciodvfy", "parse_dciodvfy_output", "validate_dicom"]
