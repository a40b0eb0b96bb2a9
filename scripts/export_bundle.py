# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Write a self-contained copy of the bundle that runs from any working directory.

MONAI Label and model-zoo tooling put only the bundle folder on ``sys.path``, so the project's ``custom_transforms`` and
``networks`` packages (which the configs name in ``_target_``) are copied next to ``configs/``. The repository keeps one
source of truth; the export is a build product.

Usage::

    python -m scripts.export_bundle --out exported/renal_parenchyma            # copy only
    python -m scripts.export_bundle --out exported/renal_parenchyma --verify   # + MONAI's bundle checks

The export and the checks are :mod:`scripts.bundle_tools`; this command is their command line.
"""

from __future__ import annotations

import argparse
import sys

from custom_transforms.safe_files import OutputOverlapError
from scripts.bundle_tools.export import export_bundle
from scripts.bundle_tools.verify import verify_bundle

__all__ = ["main"]


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
    parser.add_argument("--verify", action="store_true",
                        help="run verify_metadata, verify_net_in_out and ckpt_export (TorchScript) on the export")
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
