# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Shared checks of the fault-injection tests: a command given bad input says so in one line, exits with the promised
code, leaves nothing half-written and never changes its inputs.

Each ``tests/faults/test_<command>_faults.py`` module builds its bad inputs, runs the command (in-process with
:func:`run_main`, or as ``python -m`` with :func:`run_module`), and checks the result with :func:`assert_fault`,
:func:`assert_no_leftovers` and :func:`tree_checksum` taken before and after.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
import unittest
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "REPO_ROOT",
    "TRACEBACK_MARK",
    "LEFTOVER_MARKS",
    "tree_checksum",
    "run_main",
    "run_module",
    "error_lines",
    "assert_fault",
    "assert_no_leftovers",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
TRACEBACK_MARK = "Traceback (most recent call last)"
#: name fragments of the build-aside folders and temporary files the commands use while writing.
LEFTOVER_MARKS = (".tmp-", ".old-", ".tmp", ".sim-tmp-", "renal_segment_")


def tree_checksum(path: str | os.PathLike) -> dict[str, str]:
    """SHA-256 of every file under ``path`` (or of ``path`` itself), keyed by relative path; folders map to ``"dir"``.

    Compare the result before and after a command to prove the command left its inputs as they were (content, names
    and the set of files; a missing input gives a missing key).
    """
    root = Path(path)
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_main(main_fn: Callable[[list[str]], int | None], argv: Sequence[str]) -> tuple[int, str, str]:
    """Run a command's ``main(argv)`` in this process; returns ``(exit code, stdout, stderr)``.

    ``SystemExit`` (argparse errors, ``sys.exit``) gives its code. Any other exception is not caught: a traceback in
    a fault test is a failure of the command, and pytest shows it.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main_fn(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
    return int(code or 0), out.getvalue(), err.getvalue()


def run_module(
    module: str,
    argv: Sequence[str],
    cwd: str | os.PathLike | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run ``python -m module argv...`` as a new process (repository on ``PYTHONPATH``), capturing text output."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), full_env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, argv)],
        cwd=str(cwd or REPO_ROOT),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def error_lines(stderr: str) -> list[str]:
    """The non-empty lines of ``stderr`` that are not a progress bar's (tqdm redraws with carriage returns)."""
    lines = []
    for raw in stderr.splitlines():
        line = raw.rsplit("\r", 1)[-1].strip()
        if line and not ("it/s]" in line or "s/it]" in line or "study/s]" in line or "%|" in line):
            lines.append(line)
    return lines


def assert_fault(
    case: unittest.TestCase,
    code: int,
    stderr: str,
    expected_code: int,
    fragment: str,
    named_file: str | os.PathLike | None = None,
    max_lines: int = 1,
) -> None:
    """Check a command's answer to bad input.

    Args:
        case: the running test case.
        code: the exit code the command gave.
        stderr: what it printed on stderr.
        expected_code: the promised exit code (2 for bad input).
        fragment: text the error line must contain (what is wrong).
        named_file: the user's file or folder the error line must name (its path as given, or its name).
        max_lines: error lines allowed (a folder with several bad inputs prints one per input). Defaults to 1.
    """
    case.assertNotIn(TRACEBACK_MARK, stderr, f"traceback for bad input:\n{stderr[-3000:]}")
    case.assertEqual(code, expected_code, f"exit code {code}, expected {expected_code}; stderr:\n{stderr[-3000:]}")
    lines = error_lines(stderr)
    case.assertGreaterEqual(len(lines), 1, "no error line on stderr")
    case.assertLessEqual(len(lines), max_lines, f"more than {max_lines} error line(s):\n" + "\n".join(lines))
    matching = [line for line in lines if fragment in line]
    case.assertTrue(matching, f"no stderr line contains {fragment!r}:\n" + "\n".join(lines))
    if named_file is not None:
        name = os.fspath(named_file)
        case.assertTrue(
            any(name in line or Path(name).name in line for line in matching),
            f"the error line does not name {name}:\n" + "\n".join(matching),
        )


def assert_no_leftovers(
    case: unittest.TestCase, folder: str | os.PathLike, marks: Sequence[str] = LEFTOVER_MARKS
) -> None:
    """Check that no build-aside folder or temporary file is left anywhere under ``folder`` (or beside it, when
    ``folder`` does not exist: a failed command must not leave ``.out.tmp-XXXX`` next to the ``--out`` it was asked
    for)."""
    root = Path(folder)
    places = [root] if root.is_dir() else []
    if root.parent.is_dir():
        places.append(root.parent)
    for place in places:
        items = place.rglob("*") if place == root else place.iterdir()
        left = [str(p) for p in items if any(m in p.name for m in marks)]
        case.assertEqual(left, [], f"left behind under {place}")
