# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Write a self-contained copy of the bundle that runs from any working directory.

MONAI Label and model-zoo tooling put only the bundle folder on ``sys.path``, so the project's ``custom_transforms`` and
``networks`` packages (which the configs name in ``_target_``) are copied next to ``configs/``. The repository keeps one
source of truth; the export is a build product. MONAI has bundle verification (:mod:`scripts.bundle_tools.verify`) but
nothing that packages a bundle's custom code, hence this module.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# safe_files needs only the standard library (the package imports its torch modules lazily), so the export also
# runs under a bare interpreter, as `python3.11 -m scripts.monailabel_app` does before any venv exists
from custom_transforms import safe_files

__all__ = ["REPO_ROOT", "BUNDLE_CONTENT", "CODE_PACKAGES", "export_bundle"]

#: the repository whose ``bundle/`` and code packages are exported.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: bundle items copied (relative to ``bundle/``); missing optional ones are skipped.
BUNDLE_CONTENT = ("configs", "docs", "models", "LICENSE")
#: top-level packages the configs import, copied into the export's root.
CODE_PACKAGES = ("custom_transforms", "networks")

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", "eval", "runs", "logs")


def export_bundle(
    out_dir: str | os.PathLike, bundle_dir: str | os.PathLike | None = None, overwrite: bool = False
) -> Path:
    """Copy the bundle and its code packages into ``out_dir`` atomically.

    Args:
        out_dir: destination folder; it must not exist (or be empty) unless ``overwrite`` is True. It may never be,
            contain or lie inside the source bundle or the repository's code packages it copies.
        bundle_dir: source bundle folder. Defaults to the repository's ``bundle/``.
        overwrite: replace an existing non-empty ``out_dir``. Defaults to False.

    Returns:
        The destination path.

    Raises:
        FileExistsError: ``out_dir`` holds files and ``overwrite`` is False, or is a file.
        FileNotFoundError: the source bundle lacks ``configs/``.
        OutputOverlapError: ``out_dir`` overlaps the source bundle or a copied code package (a ``ValueError``).
    """
    src = Path(bundle_dir) if bundle_dir is not None else REPO_ROOT / "bundle"
    out = Path(out_dir).resolve()
    if not (src / "configs").is_dir():
        raise FileNotFoundError(f"{src}: not a bundle folder (no configs/)")
    inputs = [src, *(REPO_ROOT / package for package in CODE_PACKAGES)]
    safe_files.check_output_separate(out_dir, inputs, consequence="the export would replace what it copies")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is a file, not a folder")
    above = next((p for p in out.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise FileExistsError(f"{out}: cannot be created, {above} is a file")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: exists and is not empty (use --overwrite to replace it)")
    # build next to the destination, then swap in: a failed export never leaves a half-written bundle
    tmp = safe_files.make_build_dir(out)
    try:
        for item in BUNDLE_CONTENT:
            path = src / item
            if path.is_dir():
                shutil.copytree(path, tmp / item, ignore=_IGNORE)
            elif path.is_file():
                shutil.copy2(path, tmp / item)
        for package in CODE_PACKAGES:
            shutil.copytree(REPO_ROOT / package, tmp / package, ignore=_IGNORE)
        safe_files.swap_in_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
