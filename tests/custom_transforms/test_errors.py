# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Tests of :mod:`custom_transforms.errors`: the file named first, the error found behind wrappers, exit status 2."""

from __future__ import annotations

import contextlib
import io
import unittest

from parameterized import parameterized

from custom_transforms.errors import (
    BAD_INPUT_EXIT_CODE,
    BadInputExit,
    RenogramInputError,
    exit_on_bad_input,
    input_error,
)
from custom_transforms.safe_files import OutputOverlapError


class TestRenogramInputError(unittest.TestCase):
    @parameterized.expand([["path", "/d/s1.dcm", "/d/s1.dcm: truncated"], ["array", None, "<array>: truncated"]])
    def test_message_starts_with_the_file(self, _, path, message):
        exc = RenogramInputError(path, "truncated")
        self.assertEqual((str(exc), exc.problem), (message, "truncated"))
        self.assertIsInstance(exc, ValueError)

    def test_input_error_is_found_behind_wrappers(self):
        inner = RenogramInputError("/d/s1.dcm", "not NM")
        try:
            try:
                raise inner
            except RenogramInputError as exc:
                raise RuntimeError("applying transform LoadDynamicStudyd") from exc
        except RuntimeError as wrapped:
            self.assertIs(input_error(wrapped), inner)
        self.assertIsNone(input_error(TypeError("a programming error")))

    def test_bad_input_exit_is_a_system_exit_with_status_2(self):
        exc = BadInputExit("/in: holds no input", {"skipped": []})
        self.assertIsInstance(exc, SystemExit)
        self.assertEqual((exc.code, str(exc), exc.skipped), (2, "/in: holds no input", {"skipped": []}))
        self.assertEqual(BAD_INPUT_EXIT_CODE, 2)


class TestExitOnBadInput(unittest.TestCase):
    @parameterized.expand([
        ["input_error", RenogramInputError("/in", "dataset_dir holds no input")],
        ["overlap", OutputOverlapError("/in: --output_dir is the input /in")],
    ])
    def test_bad_input_is_one_line_and_exit_2(self, _, exc):
        def fail():
            raise exc

        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(BadInputExit) as ctx:
            exit_on_bad_input(fail)
        self.assertEqual((ctx.exception.code, err.getvalue()), (2, f"{exc}\n"))

    def test_value_and_other_errors_pass_through(self):
        self.assertEqual(exit_on_bad_input(lambda a, b=0: a + b, 1, b=2), 3)
        with self.assertRaises(KeyError):
            exit_on_bad_input({}.__getitem__, "x")


if __name__ == "__main__":
    unittest.main()
