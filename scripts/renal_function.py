# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Clinical renogram report of one dynamic renal study: curves, split function, Tmax, T1/2, 20-min/max, NORA.

Usage::

    python -m scripts.renal_function STUDY.dcm --out REPORT_DIR                       # segment with bundle/ model
    python -m scripts.renal_function STUDY.dcm --out REPORT_DIR --mask parenchyma.png # use a mask file instead
    python -m scripts.renal_function STUDY.dcm --out R --mask kidney.png --mask-kind kidney --drf-window 60,150 \\
        --background crescent

Writes ``REPORT_DIR/report.json``, ``curves.csv`` and ``report.png`` (see :mod:`scripts.clinical.report`). Errors
(unreadable study or mask, no kidney, study shorter than the DRF window, frames without timing) print one line on
stderr naming the file and the reason and exit with code 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scripts.clinical.analysis import AnalysisSettings, analyse_study
from scripts.clinical.report import write_report
from scripts.clinical.rois import BACKGROUND_METHODS

__all__ = ["main", "parse_args", "parse_window"]


def parse_window(text: str) -> tuple[float, float]:
    """``"60,120"`` -> ``(60.0, 120.0)`` seconds (argparse type)."""
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START,END in seconds (e.g. 60,120), got {text!r}") from None
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError(f"window must satisfy 0 <= START < END, got {text!r}")
    return a, b


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m scripts.renal_function", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("study", help="dynamic study: NM DICOM, NIfTI 2D+t or folder of frames")
    ap.add_argument("--out", required=True, help="output folder for report.json, curves.csv, report.png")
    ap.add_argument("--mask", help="mask file (PNG/TIFF/.npy, native matrix) instead of running the bundle's model")
    ap.add_argument("--mask-kind", choices=("parenchyma", "kidney"), default="parenchyma",
                    help="parenchyma: the hilum/pelvis is filled in to make the whole-kidney ROI; kidney: used as is")
    ap.add_argument("--labels", choices=("auto", "labels", "binary"), default="auto",
                    help="labels: values 1/2 are patient left/right; binary: split by position; "
                    "auto: labels if the value 2 occurs")
    ap.add_argument("--drf-window", type=parse_window, default=(60.0, 120.0), metavar="START,END",
                    help="integral DRF window, seconds from acquisition start")
    ap.add_argument("--patlak-window", type=parse_window, default=(60.0, 150.0), metavar="START,END",
                    help="Patlak-Rutland fit window (frame mid-times, s)")
    ap.add_argument("--background", choices=BACKGROUND_METHODS, default="perirenal",
                    help="background ROI: full perirenal ring, its lateral crescent, or none")
    ap.add_argument("--ring-gap", type=int, default=1, help="pixels between kidney and background ring")
    ap.add_argument("--ring-width", type=int, default=2, help="background ring width (pixels)")
    ap.add_argument("--fused-index", type=int, default=1,
                    help="0-based fused image (7 frames after the first minute) segmented by the model and shown")
    ap.add_argument("--bundle-dir", default="bundle", help="MONAI bundle used when no --mask is given")
    args = ap.parse_args(argv)
    if args.ring_gap < 0 or args.ring_width < 1:
        ap.error("--ring-gap must be >= 0 and --ring-width >= 1")
    if args.fused_index < 0:
        ap.error("--fused-index must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 2 bad input)."""
    args = parse_args(argv)
    settings = AnalysisSettings(
        drf_window_s=args.drf_window, patlak_window_s=args.patlak_window, background=args.background,
        ring_gap_px=args.ring_gap, ring_width_px=args.ring_width, mask_kind=args.mask_kind, label_mode=args.labels,
    )
    try:
        if args.mask:
            mask = args.mask
        else:
            from scripts.clinical.segment import segment_study

            mask = segment_study(args.study, bundle_dir=args.bundle_dir, fused_index=args.fused_index)
        result = analyse_study(args.study, mask, settings, fused_index=args.fused_index)
        if not args.mask:
            result.report["settings"]["mask_source"] = f"model ({Path(args.bundle_dir) / 'models' / 'model.pt'})"
        files = write_report(result, args.out)
    except (ValueError, OSError) as exc:  # RenogramInputError is a ValueError and names the file
        print(f"renal_function: error: {exc}", file=sys.stderr)
        return 2
    rep = result.report
    drf = rep["drf_percent"]["integral"]
    print(f"DRF (integral) left {drf['left']} % / right {drf['right']} %; report: {files['report.png']}")
    for w in rep["warnings"]:
        print(f"warning: {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
