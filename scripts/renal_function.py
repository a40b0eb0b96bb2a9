# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Clinical renogram report of dynamic renal studies: curves, split function, Tmax, T1/2, 20-min/max, NORA.

Usage::

    python -m scripts.renal_function STUDY.dcm --out REPORT_DIR                       # segment with bundle/ model
    python -m scripts.renal_function STUDY.dcm --out REPORT_DIR --mask parenchyma.png # use a mask file instead
    python -m scripts.renal_function STUDY.dcm --out R --mask kidney.png --mask-kind kidney --drf-window 60,150 \\
        --background perirenal
    python -m scripts.renal_function STUDIES/ --out REPORTS                           # every study in a folder
    python -m scripts.renal_function a.dcm b.dcm STUDIES/ --out REPORTS --on-error stop

One study: writes ``REPORT_DIR/report.json``, ``curves.csv`` and ``report.png`` (see :mod:`scripts.clinical.report`).
Several studies, or a folder (its ``*.dcm``, ``*.nii``, ``*.nii.gz`` files, ``<id>/study.dcm`` sub-folders as the
simulator writes them, and frame folders with ``timing.json``): one process segments them all with one network and
writes ``REPORTS/<study_id>/report.*`` per study, ``REPORTS/cohort.csv`` (one row per reported study: every index
and flag, the warnings) and ``REPORTS/cohort.png`` (one-page summary: DRF distribution, flag counts, Tmax/T1/2; see
:mod:`scripts.clinical.cohort`) plus ``REPORTS/skipped.json`` (``{"command", "inputs", "done", "skipped": [{"input",
"reason"}]}``), with a progress bar on stderr (off with ``--quiet``). ``--mask`` takes a single study. Each study is
read once; the model and the report use the same frames and the bundle's fused-image chain.

With ``--dicom`` each report folder of a DICOM study also holds ``seg.dcm`` (DICOM SEG of the left/right parenchyma
and whole-kidney ROIs) and ``report.dcm`` (Secondary Capture of report.png), both in the source's study, new series
(see :mod:`scripts.clinical.dicom_outputs`). A study that is not DICOM (NIfTI, frame folder) gets its report without
them and a warning line; when no input is DICOM, ``--dicom`` is refused before any work (exit 2).

Errors (unreadable study or mask, no kidney, study shorter than the DRF window, frames without timing) print one line
``renal_function: error: <file>: <reason>`` on stderr naming the user's file; nothing is left half-written (a report
folder appears complete or not at all) and the inputs are never changed. Exit codes: 0 all reports written; 2 bad
input or options (in folder mode: after every good study has its report, when any study was skipped; with
``--on-error stop`` at the first bad study). ``--out`` may not be, contain or lie inside an input.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from custom_transforms.errors import RenogramInputError
from custom_transforms.safe_files import SKIPPED_FILE, SkipList, check_output_folder, check_output_separate
from scripts.clinical.analysis import AnalysisSettings, RenalAnalysis
from scripts.clinical.cohort import COHORT_FILES, cohort_row, write_cohort
from scripts.clinical.reporter import StudyReporter
from scripts.clinical.rois import BACKGROUND_METHODS, DEFAULT_BACKGROUND
from scripts.clinical.segment import MissingModelError
from scripts.clinical.studies import find_studies, is_study_folder, unique_study_ids

__all__ = ["main", "parse_args", "parse_window"]

PROG = "renal_function"


def parse_window(text: str) -> tuple[float, float]:
    """``"60,120"`` -> ``(60.0, 120.0)`` seconds (argparse type)."""
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START,END in seconds (e.g. 60,120), got {text!r}") from None
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError(f"window must satisfy 0 <= START < END, got {text!r}")
    return a, b


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Option defaults shown, the epilog (outputs, errors, exit codes) kept as written."""


def _epilog() -> str:
    """The module docstring's paragraphs on outputs, errors and exit codes, without reST markup."""
    text = "\n\n".join(__doc__.split("\n\n")[3:])
    return re.sub(r":\w+:`([^`]+)`", r"\1", text).replace("``", "")


def _is_batch(paths: list[str]) -> bool:
    """Several inputs, or one folder of studies (a folder of frames is one study)."""
    return len(paths) > 1 or is_study_folder(paths[0])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m scripts.renal_function", description=__doc__.split("\n\n")[0],
                                 epilog=_epilog(), formatter_class=_HelpFormatter)
    ap.add_argument("study", nargs="+", metavar="STUDY_OR_FOLDER",
                    help="dynamic study (NM DICOM, NIfTI 2D+t, folder of frames with timing.json) or a folder of "
                    "studies (*.dcm, *.nii[.gz], <id>/study.dcm); several may be given")
    ap.add_argument("--out", required=True,
                    help="output folder: report.json, curves.csv, report.png for one study; <study_id>/report.*, "
                    f"{', '.join(COHORT_FILES)} and {SKIPPED_FILE} for several studies or a folder")
    ap.add_argument("--mask", help="mask file (PNG/TIFF/.npy, native matrix) instead of running the bundle's model "
                    "(single study only)")
    ap.add_argument("--mask-kind", choices=("parenchyma", "kidney"), default="parenchyma",
                    help="parenchyma: the hilum/pelvis is filled in to make the whole-kidney ROI; kidney: used as is")
    ap.add_argument("--labels", choices=("auto", "labels", "binary"), default="auto",
                    help="labels: values 1/2 are patient left/right; binary: split by position; "
                    "auto: labels if the value 2 occurs")
    ap.add_argument("--drf-window", type=parse_window, default=(60.0, 120.0), metavar="START,END",
                    help="integral DRF window, seconds from acquisition start")
    ap.add_argument("--patlak-window", type=parse_window, default=(60.0, 150.0), metavar="START,END",
                    help="Patlak-Rutland fit window (frame mid-times, s)")
    ap.add_argument("--background", choices=BACKGROUND_METHODS, default=DEFAULT_BACKGROUND,
                    help="background ROI: the lateral crescent of the perirenal ring (default), the full ring "
                         "(perirenal), the crescent's lower half (inferolateral: off a hot liver or spleen beside the "
                         "upper pole; reads below the true background on simulated studies), or none")
    ap.add_argument("--ring-gap", type=int, default=1, help="pixels between kidney and background ring")
    ap.add_argument("--ring-width", type=int, default=2, help="background ring width (pixels)")
    ap.add_argument("--no-motion-correction", dest="motion_correction", action="store_false",
                    help="measure and report patient motion (report.json 'motion', a warning above 1 px) but do not "
                    "shift the moved frames back before the curves")
    ap.add_argument("--fused-index", type=int, default=None,
                    help="0-based fused image segmented by the model and shown (default: the one the model was "
                    "trained on, recorded in its weights; 1, the paper's, for a --mask or weights without a record)")
    ap.add_argument("--bundle-dir", default="bundle", help="MONAI bundle used when no --mask is given")
    ap.add_argument("--on-error", choices=("skip", "stop"), default="skip",
                    help=f"a bad study among several: skip it and list it in {SKIPPED_FILE} (exit 2 at the end), or "
                    "stop at the first one (exit 2)")
    ap.add_argument("--dicom", action="store_true",
                    help="also write seg.dcm (DICOM SEG of the ROIs) and report.dcm (Secondary Capture of report.png) "
                    "beside report.json, in the source's DICOM study (DICOM studies only)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar (several studies)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for the model (one 384x384 forward is fastest on one thread of a shared "
                    "machine; the rest of the report is single-threaded)")
    args = ap.parse_args(argv)
    if args.ring_gap < 0 or args.ring_width < 1:
        ap.error("--ring-gap must be >= 0 and --ring-width >= 1")
    if args.fused_index is not None and args.fused_index < 0:
        ap.error("--fused-index must be >= 0")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    args.batch = _is_batch(args.study)
    if args.mask and args.batch:
        ap.error("--mask takes a single study; for several studies the bundle's model segments each one")
    return args


def _error(message: Any) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _named(exc: BaseException, study: Path) -> str:
    """The error line's text: a :class:`RenogramInputError` names its file already (the model's in-memory mask is
    named by its study); anything else gets the study."""
    if isinstance(exc, RenogramInputError):
        if exc.path in ("array", "<array>"):
            return f"{study}: {exc.problem} (mask from the bundle's model)"
        return str(exc)
    return f"{study}: {exc}"


def _summary_line(result: RenalAnalysis, report_png: str, prefix: str = "") -> list[str]:
    rep = result.report
    drf = rep["drf_percent"]["integral"]
    line = f"DRF (integral) left {drf['left']} % / right {drf['right']} %"
    combined, patlak = rep["drf_percent"].get("combined"), rep["drf_percent"].get("patlak", {})
    if combined is not None:  # the DRF of record first (scripts.clinical.drf_combined), then the two methods
        line = (f"DRF (combined, of record) left {combined['left']} % / right {combined['right']} %; integral "
                f"{drf['left']} / {drf['right']}, Patlak {patlak.get('left')} / {patlak.get('right')}")
    lines = [f"{prefix}{line}; report: {report_png}"]
    return lines + [f"warning: {prefix}{w}" for w in rep["warnings"]]


def _collect(paths: list[str], skip: SkipList) -> list[Path]:
    """The studies named by the positional arguments (folders expanded); unusable arguments go into ``skip``."""
    studies: list[Path] = []
    for item in paths:
        p = Path(item)
        if is_study_folder(p):
            try:
                studies.extend(find_studies(p))
            except RenogramInputError as exc:
                skip.add(p, str(exc))
        else:
            studies.append(p)  # a file or frame folder; a missing one is reported when its turn comes
    return studies


def _run_batch(args: argparse.Namespace, reporter: StudyReporter) -> int:
    from tqdm import tqdm

    out = Path(args.out)
    skip = SkipList(PROG)
    studies = _collect(args.study, skip)
    skip.inputs = len(studies) + len(skip)
    if not studies:  # nothing to do: one line per argument, nothing written
        for entry in skip.entries:
            _error(entry["reason"])
        return 2
    for entry in skip.entries:
        _error(entry["reason"])
        if args.on_error == "stop":
            return 2
    if args.dicom and not any(reporter.writes_dicom(s) for s in studies):
        _error(f"{studies[0]}: --dicom needs DICOM studies, and none of the {len(studies)} input(s) is one "
               "(NIfTI and frame folders have no DICOM study to add a SEG to)")
        return 2
    ids = unique_study_ids(studies, reserved=(SKIPPED_FILE, *COHORT_FILES))
    rows: list[dict[str, Any]] = []
    bar = tqdm(list(zip(ids, studies, strict=True)), desc=PROG, unit="study", file=sys.stderr, disable=args.quiet)
    for number, (sid, study) in enumerate(bar):
        try:
            result = reporter.report(study, args.mask)
            files = reporter.write(result, out / sid)
        except MissingModelError as exc:  # no model: no study can be segmented
            bar.close()
            _error(exc)
            return 2
        except (ValueError, OSError) as exc:  # RenogramInputError is a ValueError and names the file
            line = _named(exc, study)
            skip.add(study, line)
            tqdm.write(f"{PROG}: error: {line}", file=sys.stderr)
            if args.on_error == "stop":  # the studies not tried are listed too, so that done counts only reports
                for rest in studies[number + 1:]:
                    skip.add(rest, f"{rest}: not attempted (--on-error stop after {study})")
                break
            continue
        rows.append(cohort_row(sid, study, result.report))
        if args.dicom and not reporter.writes_dicom(study):
            tqdm.write(f"warning: {sid}: {study} is not a DICOM study: no seg.dcm or report.dcm", file=sys.stderr)
        for line in _summary_line(result, files["report.png"], prefix=f"{sid}: "):
            tqdm.write(line, file=sys.stdout)
    bar.close()
    try:
        out.mkdir(parents=True, exist_ok=True)
        cohort = write_cohort(rows, out)
    except OSError as exc:
        _error(f"{out}: cannot write the cohort table ({exc})")
        return 2
    listed = skip.write(out)
    print(f"{len(rows)} report(s) in {out}, cohort table {cohort['cohort.csv']}; {len(skip)} skipped (see {listed})")
    return 2 if len(skip) else 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 2 bad input or any study skipped)."""
    args = parse_args(argv)
    settings = AnalysisSettings(
        drf_window_s=args.drf_window, patlak_window_s=args.patlak_window, background=args.background,
        ring_gap_px=args.ring_gap, ring_width_px=args.ring_width, mask_kind=args.mask_kind, label_mode=args.labels,
        motion_correction=args.motion_correction,
    )
    out = Path(args.out)
    try:
        check_output_separate(
            out, [*args.study, args.mask], consequence="the reports would be written among the inputs"
        )
        check_output_folder(out)
        if args.dicom:  # without highdicom every study's DICOM objects would fail alike, after its report
            from custom_transforms.dicom_seg import check_seg_writer

            check_seg_writer(True)
    except ValueError as exc:
        _error(exc)
        return 2
    if not args.mask:
        import torch

        torch.set_num_threads(args.threads)
    reporter = StudyReporter(settings, args.bundle_dir, args.fused_index, dicom=args.dicom)  # network: on first use
    if args.batch:
        return _run_batch(args, reporter)
    study = Path(args.study[0])
    if args.dicom and not reporter.writes_dicom(study):
        _error(f"{study}: --dicom needs a DICOM study; this is a "
               f"{'frame folder' if study.is_dir() else 'NIfTI file'}, which has no DICOM study to add a SEG to")
        return 2
    try:
        result = reporter.report(study, args.mask)
        files = reporter.write(result, out)
    except (ValueError, OSError) as exc:  # RenogramInputError is a ValueError and names the file
        _error(_named(exc, study))
        return 2
    for line in _summary_line(result, files["report.png"]):
        print(line)
    return 0

if __name__ == "__main__":
    sys.exit(main())
