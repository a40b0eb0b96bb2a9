# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Putting a folder that was built aside into its final place, so readers never see a half-written one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["swap_in_folder"]


def swap_in_folder(built: Path, final: Path, backup: Path) -> None:
    """Rename the finished folder ``built`` to ``final``.

    An existing ``final`` is first renamed to ``backup`` (same file system, so both renames are atomic) and deleted
    once ``built`` is in place; ``final`` therefore always names a complete folder, old or new.
    """
    if final.exists():
        os.replace(final, backup)
        os.replace(built, final)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(built, final)
