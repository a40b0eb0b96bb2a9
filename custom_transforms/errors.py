# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Bad renogram input: the one exception type raised for it, finding it behind wrappers, and the exit it causes.

:class:`RenogramInputError` names the file at fault (studies, labels, timing, shapes, weights, datalists).
:func:`input_error` finds it inside the ``RuntimeError`` MONAI wraps transform errors in. A bundle run ends on bad
input with one line on stderr and exit status 2 (:data:`BAD_INPUT_EXIT_CODE`), never a traceback: the configs wrap
their folder-level checks in :func:`exit_on_bad_input`, and
:class:`~custom_transforms.skip_bad_inputs.SkipBadInputs` raises :class:`BadInputExit` after a folder run that skipped
inputs. The module needs only the standard library.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from custom_transforms.safe_files import OutputFolderError, OutputOverlapError

__all__ = ["RenogramInputError", "BAD_INPUT_EXIT_CODE", "BadInputExit", "input_error", "exit_on_bad_input"]

#: exit status of a run that skipped or refused bad input (the project's commands use 2 for bad input).
BAD_INPUT_EXIT_CODE = 2


class RenogramInputError(ValueError):
    """A dynamic study or label file that cannot be used, with the file named first.

    The message always starts with the offending path (or ``"<array>"`` for in-memory data without a source), then
    ``": "``, then what is wrong, e.g. ``"/data/s1.dcm: phase frame counts sum to 57 but NumberOfFrames is 58"``.
    Subclassing :class:`ValueError` keeps ``except ValueError`` callers working.

    Args:
        path: the file or folder at fault; ``None`` gives ``"<array>"``.
        problem: what is wrong with it, in plain words.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str) -> None:
        self.path = "<array>" if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class BadInputExit(SystemExit):
    """Exit status 2 after bad input; the one-line ``message`` has been printed on stderr already.

    A :class:`SystemExit` (``python -m monai.bundle run`` and ``fire`` let it through without a traceback, and
    MONAI's config expressions do not wrap it); in-process callers can catch it and read ``message`` and ``skipped``.

    Args:
        message: the line printed on stderr.
        skipped: the ``skipped.json`` content, when a folder run wrote one. Defaults to None.
    """

    def __init__(self, message: str, skipped: dict[str, Any] | None = None) -> None:
        super().__init__(BAD_INPUT_EXIT_CODE)
        self.message = message
        self.skipped = skipped

    def __str__(self) -> str:
        return self.message


def input_error(exc: BaseException) -> RenogramInputError | None:
    """The :class:`RenogramInputError` behind ``exc`` (MONAI's ``Compose`` wraps transform errors in RuntimeErrors).

    Returns:
        The first :class:`RenogramInputError` on the ``__cause__``/``__context__`` chain of ``exc`` (``exc`` itself
        included), or None when the failure is not about the input.
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, RenogramInputError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def exit_on_bad_input(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``func(*args, **kwargs)``; bad input becomes one line on stderr and exit status 2, not a traceback.

    For the configs' folder-level checks (``datalists.find_inputs``, ``checkpoints.check_checkpoint``,
    ``resume.check_resume``): inside a config expression MONAI would wrap their error in a ``RuntimeError`` with a long
    traceback.

    Raises:
        BadInputExit: ``func`` raised :class:`RenogramInputError`,
            :class:`~custom_transforms.safe_files.OutputOverlapError` or
            :class:`~custom_transforms.safe_files.OutputFolderError`; the line is the error's message.
    """
    try:
        return func(*args, **kwargs)
    except (RenogramInputError, OutputOverlapError, OutputFolderError) as exc:
        message = str(exc)
    print(message, file=sys.stderr, flush=True)
    raise BadInputExit(message)
