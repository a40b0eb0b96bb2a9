# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The dciodvfy output parser on captured validator output (no validator needed), the runner and
``assert_valid_dicom`` with a stand-in executable, and (where dicom3tools is installed) the real validator."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path
from unittest import mock

from parameterized import parameterized

from scripts.dicom_validation import DciodvfyNotFound, find_dciodvfy, parse_dciodvfy_output, validate_dicom
from scripts.dicom_validation import testing as dv_testing

# dicom3tools 1.00 (20220618) on a simulated NM file before the fix (stderr, verbatim; a trailing ``\`` joins a
# line split at 120 columns).
SIMULATOR_BEFORE = textwrap.dedent("""\
    NMImage
    Error - Missing attribute Type 2 Required Element=<ReferringPhysicianName> Module=<GeneralStudy>
    Error - Missing attribute Type 2C Conditional Element=<Laterality> Module=<GeneralSeries>
    Error - Missing attribute Type 2 Required Element=<PatientOrientationCodeSequence> Module=<NMPETPatientOrient\
ation>
    Error - Missing attribute Type 2 Required Element=<PatientGantryRelationshipCodeSequence> Module=<NMPETPatient\
Orientation>
    Error - Missing attribute Type 2 Required Element=<PositionReferenceIndicator> Module=<FrameOfReference>
    Error - Missing attribute Type 2 Required Element=<CountsAccumulated> Module=<NMImage>
    Warning - CodingSchemeDesignator is deprecated - attribute <CodingSchemeDesignator> = <SRT>
    Error - Missing attribute Type 2 Required Element=<ImagePositionPatient> Module=<NMDetector>
    Warning - CodingSchemeDesignator is deprecated - attribute <CodingSchemeDesignator> = <SRT>
    Warning - Attribute is not present in standard DICOM IOD - (0x0018,0x1075) DS Radionuclide Half Life 
    Warning - Attribute is not present in standard DICOM IOD - (0x0054,0x0400) SH Image ID 
    Warning - Attribute is not present in standard DICOM IOD - (0x0054,0x0400) SH Image ID 
    Warning - Dicom dataset contains attributes not present in standard DICOM IOD - this is a Standard Extended SOP \
Class
    """)

# the real vendor file: tag-prefixed warnings come before the IOD line.
VENDOR = textwrap.dedent("""\
    (0x0039,0x1000)  ?  - Warning - Unrecognized tag - explicit value representation is UN
    (0x0019,0x1000)  ?  - Warning - Unrecognized tag - explicit value representation is UN
    Error - Illegal root for UID - "112233" in (0x0020,0x000d) Study Instance UID
    Warning - Missing attribute or value that would be needed to build DICOMDIR - Patient ID
    Error - Dicom dataset contains invalid data values for Value Representations
    NMImage
    Error - Missing attribute Type 2C Conditional Element=<Laterality> Module=<GeneralSeries>
    Error - Shall not be present when PatientOrientationCodeSequence is present - attribute <PatientPosition>
    Warning - CodingSchemeDesignator is deprecated - attribute <CodingSchemeDesignator> = <SNM3>
    """)

CLEAN = "NMImage\n"

# a file dciodvfy cannot read at all.
NOT_DICOM = textwrap.dedent("""\
    Error - Value length read failed
    Error - Dicom dataset read failed
    Warning - Missing attribute or value that would be needed to build DICOMDIR - Patient ID
    Error - Information Object Not found
    """)

ABORT = 'Abort - File open for read failed - "/nonexistent.dcm"\n'

PARSE_CASES = [
    ("simulator_before", SIMULATOR_BEFORE, "NMImage", 7, 6),
    ("vendor", VENDOR, "NMImage", 4, 4),
    ("clean", CLEAN, "NMImage", 0, 0),
    ("not_dicom", NOT_DICOM, None, 3, 1),
    ("abort", ABORT, None, 1, 0),
    ("empty", "", None, 0, 0),
]


def _fake_validator(folder: Path, output: str) -> str:
    """A stand-in ``dciodvfy``: prints ``output`` on stderr and exits 1 (as dicom3tools does), whatever the file."""
    (folder / "out.txt").write_text(output, encoding="latin-1")
    exe = folder / "dciodvfy"
    exe.write_text(f"#!{sys.executable}\nimport pathlib, sys\n"
                   f"sys.stderr.write(pathlib.Path({str(folder / 'out.txt')!r}).read_text('latin-1'))\nsys.exit(1)\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


class TestParseDciodvfyOutput(unittest.TestCase):
    @parameterized.expand(PARSE_CASES)
    def test_counts(self, _name, text, iod, n_errors, n_warnings):
        result = parse_dciodvfy_output(text, "x.dcm")
        self.assertEqual(result.iod, iod)
        self.assertEqual((len(result.errors), len(result.warnings)), (n_errors, n_warnings))
        self.assertEqual(result.ok, n_errors == 0)
        self.assertEqual(result.path, "x.dcm")

    def test_messages_keep_order_and_drop_the_level(self):
        result = parse_dciodvfy_output(SIMULATOR_BEFORE)
        self.assertEqual(result.errors[0],
                         "Missing attribute Type 2 Required Element=<ReferringPhysicianName> Module=<GeneralStudy>")
        self.assertIn("ImagePositionPatient", result.errors[-1])
        self.assertEqual(result.warnings[0], "CodingSchemeDesignator is deprecated - attribute "
                                             "<CodingSchemeDesignator> = <SRT>")
        self.assertFalse(any(w.endswith(" ") for w in result.warnings))

    def test_tag_prefix_is_kept_in_the_message(self):
        result = parse_dciodvfy_output(VENDOR)
        self.assertTrue(result.warnings[0].startswith("(0x0039,0x1000)"))
        self.assertIn("Unrecognized tag", result.warnings[0])

    def test_abort_is_an_error(self):
        self.assertIn("File open for read failed", parse_dciodvfy_output(ABORT).errors[0])

    def test_unexpected_warnings(self):
        result = parse_dciodvfy_output(SIMULATOR_BEFORE)
        self.assertEqual(len(result.unexpected_warnings()), 6)
        left = result.unexpected_warnings([r"^CodingSchemeDesignator is deprecated", r"\(0x0054,0x0400\)"])
        self.assertEqual(len(left), 2)
        self.assertIn("Radionuclide Half Life", left[0])

    def test_summary_lists_every_message(self):
        text = parse_dciodvfy_output(SIMULATOR_BEFORE, "a.dcm").summary()
        self.assertTrue(text.startswith("a.dcm (NMImage): 7 error(s), 6 warning(s)"))
        self.assertEqual(len(text.splitlines()), 1 + 7 + 6)


class TestValidateDicom(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.file = self.tmp / "a.dcm"
        self.file.write_bytes(b"\0" * 132)

    def tearDown(self):
        self._tmp.cleanup()

    def test_runs_the_executable_and_parses_stderr(self):
        result = validate_dicom(self.file, executable=_fake_validator(self.tmp, SIMULATOR_BEFORE))
        self.assertEqual((result.iod, len(result.errors), len(result.warnings)), ("NMImage", 7, 6))
        self.assertEqual(result.path, str(self.file))

    def test_a_crash_or_a_report_without_iod_never_passes(self):
        crash = self.tmp / "crash"
        crash.mkdir()
        exe = crash / "dciodvfy"
        exe.write_text(f"#!{sys.executable}\nimport os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
        for executable in (str(exe), _fake_validator(self.tmp, "")):  # killed by a signal; printed nothing
            result = validate_dicom(self.file, executable=executable)
            self.assertFalse(result.ok)
            self.assertIn("named no IOD", result.errors[-1])

    def test_missing_validator_raises(self):
        with mock.patch("scripts.dicom_validation.dciodvfy.find_dciodvfy", return_value=None):
            with self.assertRaisesRegex(DciodvfyNotFound, "dicom3tools"):
                validate_dicom(self.file)

    def test_missing_file_raises(self):
        with self.assertRaisesRegex(FileNotFoundError, "missing.dcm"):
            validate_dicom(self.tmp / "missing.dcm", executable=_fake_validator(self.tmp, CLEAN))


class TestAssertValidDicom(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.file = self.tmp / "a.dcm"
        self.file.write_bytes(b"\0" * 132)

    def tearDown(self):
        self._tmp.cleanup()

    def _with_output(self, output: str):
        return mock.patch.object(dv_testing, "find_dciodvfy", return_value=_fake_validator(self.tmp, output))

    def test_clean_file_passes_and_returns_the_result(self):
        with self._with_output(CLEAN):
            self.assertEqual(dv_testing.assert_valid_dicom(self, self.file).iod, "NMImage")

    def test_errors_fail_with_the_messages(self):
        with self._with_output(SIMULATOR_BEFORE), self.assertRaises(AssertionError) as ctx:
            dv_testing.assert_valid_dicom(self, self.file, allowed_warnings=[".*"])
        self.assertIn("7 error(s)", str(ctx.exception))
        self.assertIn("ReferringPhysicianName", str(ctx.exception))

    def test_unexplained_warning_fails_and_allowed_one_passes(self):
        output = "NMImage\nWarning - CodingSchemeDesignator is deprecated - attribute <CodingSchemeDesignator> = <SRT>"
        with self._with_output(output):
            with self.assertRaisesRegex(AssertionError, "1 unexpected warning"):
                dv_testing.assert_valid_dicom(self, self.file)
            result = dv_testing.assert_valid_dicom(self, self.file, allowed_warnings=[r"designator is deprecated|SRT"])
        self.assertEqual(len(result.warnings), 1)

    def test_no_validator_skips_with_a_reason(self):
        env = {k: v for k, v in os.environ.items() if k != dv_testing.REQUIRE_ENV}
        with mock.patch.object(dv_testing, "find_dciodvfy", return_value=None), \
                mock.patch.dict(os.environ, env, clear=True):
            with self.assertRaisesRegex(unittest.SkipTest, "dicom3tools"):
                dv_testing.assert_valid_dicom(self, self.file)

    def test_no_validator_fails_when_required(self):
        with mock.patch.object(dv_testing, "find_dciodvfy", return_value=None), \
                mock.patch.dict(os.environ, {dv_testing.REQUIRE_ENV: "1"}):
            with self.assertRaisesRegex(AssertionError, dv_testing.REQUIRE_ENV):
                dv_testing.assert_valid_dicom(self, self.file)


@unittest.skipUnless(find_dciodvfy(), "dciodvfy is not installed (Debian package dicom3tools)")
class TestRealValidator(unittest.TestCase):
    def test_not_a_dicom_file_gives_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "not.dcm")
            path.write_text("hello\n")
            result = validate_dicom(path)
        self.assertFalse(result.ok)
        self.assertIn("Information Object Not found", result.errors)


if __name__ == "__main__":
    unittest.main()
