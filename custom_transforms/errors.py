# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The one exception type raised for bad renogram input (files, timing, shapes)."""

from __future__ import annotations

import os

__all__ = ["RenogramInputError"]


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
