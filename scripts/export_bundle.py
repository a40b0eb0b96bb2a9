# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Write a self-contained copy of the bundle that runs from any working directory.

MONAI Label and model-zoo tooling put only the bundle folder on ``sys.path``, so the project's ``custom_transforms`` and
``networks`` packages (which the configs name in ``_target_``) are copied next to ``configs/``. The repository keeps one
source of truth; the export is a build product.

Usage::

    python -m scripts.export_bundle --out exported/renal_parenchyma            # copy only
    python -m scripts.export_bundle --out exported/renal_parenchyma --verify   # + MONAI's bundle checks

MONAI has bundle verification (``verify_metadata``, ``verify_net_in_out``, ``ckpt_export``) but nothing that packages a
bundle's custom code, hence this script.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# safe_files needs only the standard library (the package imports its torch modules lazily), so this command also
# runs under a bare interpreter, as `python3.11 -m scripts.monailabel_app` does before any venv exists
from custom_transforms import safe_files as _safe_files
from custom_transforms.safe_files import OutputOverlapError

__all__ = ["BUNDLE_CONTENT", "CODE_PACKAGES", "export_bundle", "verify_bundle", "main"]

REPO_ROOT = Path(__file__).resolve().parents[1]


#: bundle items copied (relative to ``bundle/``); missing optional ones are skipped.
BUNDLE_CONTENT = ("configs", "docs", "models", "LICENSE")
#: top-level packages the configs import, copied into the export's root.
CODE_PACKAGES = ("custom_transforms", "networks")
#: offline copies of the metadata schemas: the one ``metadata.json`` names (20220324) and the newer 20240725 one.
DEFAULT_SCHEMAS = tuple(
    REPO_ROOT.parent / "shared" / "monai_bundle_schema" / name
    for name in ("meta_schema_20220324.json", "meta_schema_20240725.json")
)

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", "eval", "runs", "logs")


def export_bundle(out_dir: str | os.PathLike, bundle_dir: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
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
    _safe_files.check_output_separate(out_dir, inputs, consequence="the export would replace what it copies")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is a file, not a folder")
    above = next((p for p in out.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise FileExistsError(f"{out}: cannot be created, {above} is a file")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: exists and is not empty (use --overwrite to replace it)")
    # build next to the destination, then swap in: a failed export never leaves a half-written bundle
    tmp = _safe_files.make_build_dir(out)
    try:
        for item in BUNDLE_CONTENT:
            path = src / item
            if path.is_dir():
                shutil.copytree(path, tmp / item, ignore=_IGNORE)
            elif path.is_file():
                shutil.copy2(path, tmp / item)
        for package in CODE_PACKAGES:
            shutil.copytree(REPO_ROOT / package, tmp / package, ignore=_IGNORE)
        _safe_files.swap_in_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def verify_bundle(bundle: str | os.PathLike, schemas: list[str | os.PathLike] | None = None) -> None:
    """Run MONAI's ``verify_metadata``, ``verify_net_in_out`` and ``ckpt_export`` on an exported bundle, from outside the repository.

    The checks run in a subprocess whose working directory is the bundle, with the repository *not* on ``sys.path``,
    so they prove the export is self-contained.

    Raises:
        RuntimeError: a check failed; the message holds the tool's output.
    """
    bundle = Path(bundle).resolve()
    schemas = [Path(s) for s in schemas] if schemas else list(DEFAULT_SCHEMAS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(bundle)
    with tempfile.TemporaryDirectory(prefix="renogram_verify_") as scratch:  # TorchScript file, schema copies
        checks = [
            ["verify_net_in_out", "--net_id", "network_def", "--meta_file", "configs/metadata.json",
             "--config_file", "configs/inference.json", "--bundle_root", str(bundle)],
        ]
        if (bundle / "models" / "model.pt").is_file():
            checks.append(["ckpt_export", "network_def", "--filepath", str(Path(scratch) / "model.ts"),
                           "--ckpt_file", "models/model.pt", "--meta_file", "configs/metadata.json",
                           "--config_file", "configs/inference.json", "--bundle_root", str(bundle)])
        for i, schema in enumerate(reversed(schemas)):
            if not schema.is_file():
                print(f"warning: {schema} not found; skipping verify_metadata against it", file=sys.stderr)
                continue
            # with the file already present MONAI skips the download, so this works offline
            tmp_schema = Path(scratch) / f"schema{i}" / schema.name
            tmp_schema.parent.mkdir()
            shutil.copy2(schema, tmp_schema)
            checks.insert(0, ["verify_metadata", "--meta_file", "configs/metadata.json", "--filepath", str(tmp_schema)])
        for check in checks:
            proc = subprocess.run([sys.executable, "-m", "monai.bundle", *check], cwd=bundle, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(
                    f"{bundle}: monai.bundle {check[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
                )
            print(f"{check[0]}{' ' + Path(check[-1]).name if check[0] == 'verify_metadata' else ''}: ok")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.export_bundle",
        description=__doc__.split("\n\n")[0],
        epilog="Exit code 0: exported; 2: nothing written (one line on stderr): --out not empty without --overwrite, "
        "--out is a file or under one or not writable, --out is, contains or lies inside the source bundle or the "
        "repository's custom_transforms/ or networks/, or a failed --verify check.",
    )
    parser.add_argument("--out", required=True,
                        help="destination folder of the self-contained bundle (never inside or above what it copies)")
    parser.add_argument("--bundle", default=None, help="source bundle folder (default: the repository's bundle/)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing non-empty destination")
    parser.add_argument("--verify", action="store_true", help="run verify_metadata, verify_net_in_out and ckpt_export (TorchScript) on the export")
    parser.add_argument("--schema", action="append", default=None,
                        help="offline metadata schema file, repeatable (default: the 20220324 and 20240725 schemas "
                             "in ../shared/monai_bundle_schema/)")
    args = parser.parse_args(argv)
    try:
        out = export_bundle(args.out, args.bundle, overwrite=args.overwrite)
        if args.verify:
            verify_bundle(out, args.schema)
    except OSError as err:
        if err.errno is not None:  # the system's (e.g. a read-only folder): name the folder, not a temporary path
            err = f"{args.out}: cannot write the export ({err.strerror or err})"
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (OutputOverlapError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported bundle: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
