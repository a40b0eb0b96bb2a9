# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Accuracy of the clinical renogram analysis against the simulator's exact truth.

Usage::

    # simulate 120 fresh studies (seed 7000, never used for training) and measure with ground-truth masks
    python -m scripts.validate_renal_function --studies VAL --simulate 120 --seed 7000 --out RESULTS
    # the same studies with the bundle's trained model (masks cached in RESULTS/predictions/)
    python -m scripts.validate_renal_function --studies VAL --use-model --out RESULTS
    # or with masks predicted elsewhere: PRED/<study_id>.png (or <study_id>_mask.png)
    python -m scripts.validate_renal_function --studies VAL --predictions PRED --out RESULTS

Every study folder ``STUDIES/<id>/`` (``study.dcm`` + ``parenchyma.png``, ``kidney.png``, ``truth.json``, as
``scripts.simulate`` writes them) is analysed with :func:`scripts.clinical.analyse_study` using

- ``gt_parenchyma``: the true parenchyma labels, hilum filled exactly as for a model mask (the segmentation-free
  reference for the model);
- ``gt_kidney``: the true whole-kidney labels (ROI shape error removed too);
- ``model``: predicted parenchyma masks (binary, split into sides by position), when ``--use-model`` or
  ``--predictions`` is given; the mask alone, as a user's ``--mask`` file is analysed (the DRF interval moves its
  boundary, :mod:`scripts.clinical.drf_interval`);
- ``model_in_process``: with ``--in-process`` (and ``--use-model``), the same network's mask with its probability map,
  as ``scripts.renal_function`` with the bundle's model reports a study
  (:meth:`scripts.clinical.segment.BundleSegmenter.segment_with_probability`): the same mask, an interval that also
  holds the network's own doubt, and so a combined DRF, interval and ``low_model_confidence`` of its own. Never in
  ``--fit-interval``'s rows (the calibration is of the mask-only interval). Each study is segmented once: the map is
  cached beside its mask (``OUT/predictions/<id>_probability.npy``); a cached map that cannot be read, or is not the
  mask's, is that row's ``error`` (the file named), the other rows measured.

``OUT`` may not be, contain or lie inside ``--studies`` or ``--predictions`` (refused with one line on stderr, exit code
2, before anything is written).

Writes ``OUT/per_study.csv`` (one row per study and mask source), ``OUT/summary.json`` and prints a markdown table:
median / 90th percentile / max |DRF error| (percentage points of the left DRF; the combined DRF of record of
:mod:`scripts.clinical.drf_combined`, integral and Patlak: ``summary.json``'s ``drf_combined_all``,
``drf_integral_all``, ``drf_patlak_all`` and their ``_two_kidneys``; ``per_study.csv``'s ``drf_left_combined``,
``drf_error_combined`` beside the methods' columns), Tmax error of
kidneys whose truth pathology is ``normal`` (median, 90th percentile, share within 1 min) and T1/2 error where both
truth and measurement are defined; then the segmentation QC confusion table
(:mod:`scripts.clinical.qc_confusion`: of the studies with a left-DRF error above 5 points, and within 2 points,
how many carry a ``qc`` warning; ``summary.json``'s ``qc_confusion``, and ``qc_confusion_segmentation_codes`` counting
every code but the study's own (:data:`scripts.clinical.qc.SEGMENTATION_CODES`: without the kidney-to-background
ratio and motion), ``qc_confusion_mask_codes`` only the codes about the mask, :data:`scripts.clinical.qc.MASK_CODES`;
``per_study.csv``'s ``qc_any``, ``qc_codes``), and the same against the combined DRF's error
(``qc_confusion_combined``, ``qc_confusion_segmentation_codes_combined``, ``qc_confusion_mask_codes_combined``).
Output efficiency (20, 30 min) and whole-kidney and parenchymal mean transit times against the true ones of the
simulator's kinetics (:func:`scripts.simulation.measure.transit_truth`; columns and statistics in
:mod:`scripts.clinical.transit_validation`): median, p90 and max |error| per quantity in ``summary.json``, and a
second Markdown table.
Patient motion against ``truth.json``'s ``motion`` (:mod:`scripts.clinical.motion_validation`): shifts found (those of
one pixel or more), exact frames, shift error, moved frames in motion-free studies; ``summary.json``'s ``motion`` per
mask source and a third table.
The DRF's 95 % interval (:mod:`scripts.clinical.drf_interval`) against the true left DRF
(:mod:`scripts.clinical.interval_validation`): covered / studies and median width per study pathology, integral and
Patlak and the combined DRF (``summary.json``'s ``drf_interval``, ``per_study.csv``'s ``ci_*`` columns, the last
table). ``--fit-interval`` also fits the interval's calibration on these studies (``summary.json``'s
``drf_interval_fit``, and ``drf_combined_fit``: the combined interval's ``rho`` for the method constants just
fitted, :func:`scripts.clinical.drf_combined.fit_combined_calibration`;
run it on a calibration set of its own, never on the studies the coverage is measured on)::

    python -m scripts.validate_renal_function --studies CAL --simulate 300 --seed 9000 --out CAL_RESULTS --use-model \
        --fit-interval
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from custom_transforms.errors import RenogramInputError
from custom_transforms.safe_files import (
    OutputOverlapError,
    atomic_write_bytes,
    atomic_write_text,
    check_output_separate,
)
from scripts.clinical.analysis import AnalysisSettings, analyse_study
from scripts.clinical.drf_combined import fit_combined_calibration
from scripts.clinical.drf_interval import fit_calibration
from scripts.clinical.interval_validation import interval_markdown_table, interval_row, interval_summary
from scripts.clinical.motion_validation import motion_markdown_table, motion_row, motion_summary
from scripts.clinical.qc import MASK_CODES, SEGMENTATION_CODES, STUDY_CODES, qc_codes_text
from scripts.clinical.qc_confusion import confusion_markdown, qc_confusion
from scripts.clinical.rois import read_mask
from scripts.clinical.transit_validation import transit_markdown_table, transit_row, transit_summary
from scripts.simulation.measure import transit_truth

__all__ = [
    "MASK_SOURCES", "IN_PROCESS_SOURCE", "probability_path", "read_probability", "measure_study", "summarise",
    "markdown_table", "find_prediction", "main",
]

MASK_SOURCES = ("gt_parenchyma", "gt_kidney", "model", "model_in_process")
#: the mask source of ``--in-process`` (the in-process report's interval, with the network's probability map).
IN_PROCESS_SOURCE = "model_in_process"
_DEFAULT_SEED = 7000

#: the DRF errors the QC confusion is counted against: ``per_study.csv`` column -> (``summary.json`` key suffix, None
#: for none; how the printout names it).
CONFUSION_ERRORS: dict[str, tuple[str | None, str]] = {
    "drf_error_integral": (None, "the DRF error (left DRF, integral)"),
    # scripts.clinical.drf_combined
    "drf_error_combined": ("combined", "the combined DRF's error (the DRF of record)"),
}
#: the QC codes counted: ``summary.json`` key part -> (codes, None for any; how the printout names them). Every code
#: but the study's own (kidney-to-background ratio, motion) is the segmentation QC proper.
CONFUSION_CODE_SETS: dict[str | None, tuple[tuple[str, ...] | None, str]] = {
    None: (None, "any QC code"),
    "segmentation_codes": (SEGMENTATION_CODES, f"the segmentation codes (all but the study's {', '.join(STUDY_CODES)})"),
    "mask_codes": (MASK_CODES, f"the codes about the mask only ({', '.join(MASK_CODES)})"),
}


def _confusion_key(error_key: str, code_set: str | None) -> str:
    """``summary.json``'s key of one confusion table: ``qc_confusion[_<code set>][_<error suffix>]``."""
    parts = ["qc_confusion", code_set, CONFUSION_ERRORS[error_key][0]]
    return "_".join(p for p in parts if p)


def find_prediction(pred_dir: Path, study_id: str) -> Path | None:
    """Predicted mask of a study: ``<id>.png``, ``<id>_mask.png`` or ``<id>/mask.png`` in ``pred_dir`` (or None)."""
    for cand in (pred_dir / f"{study_id}.png", pred_dir / f"{study_id}_mask.png", pred_dir / study_id / "mask.png"):
        if cand.is_file():
            return cand
    return None


def _err(a: float | None, b: float | None) -> float:
    return float("nan") if a is None or b is None else float(a) - float(b)


def probability_path(pred_dir: Path, study_id: str) -> Path:
    """Where ``--use-model --in-process`` caches a study's network probability map (``float32`` ``.npy``)."""
    return pred_dir / f"{study_id}_probability.npy"


def read_probability(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A cached probability map (:func:`probability_path`) of a mask of ``shape``.

    Raises:
        RenogramInputError: unreadable, not a 2-D array of ``shape``, or values outside 0-1 (the file is named; delete
            it and the next ``--use-model --in-process`` run segments the study again).
    """
    try:
        prob = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise RenogramInputError(path, f"cannot read the cached probability map ({exc}); delete it to segment "
                                       "the study again") from None
    if prob.shape != tuple(shape) or not np.all(np.isfinite(prob)) or prob.min() < 0 or prob.max() > 1:
        raise RenogramInputError(path, f"the cached probability map is not a 0-1 map of the mask's shape "
                                       f"{tuple(shape)} (shape {prob.shape}); delete it to segment the study again")
    return prob


def measure_study(
    study_dir: Path,
    source: str,
    mask: np.ndarray | Path,
    settings: AnalysisSettings,
    probability: np.ndarray | Path | None = None,
) -> dict[str, Any]:
    """Analyse one study with one mask and compare with ``truth.json``; one CSV row (errors = measured - truth).
    With ``probability`` (the network's map behind ``mask``, or its cached file, :func:`read_probability`) the DRF
    interval holds it, as the report command's; a map that cannot be read is that row's ``error``."""
    truth = json.loads((study_dir / "truth.json").read_text())
    row: dict[str, Any] = {
        "study_id": study_dir.name, "mask": source, "tracer": truth.get("tracer"), "protocol": truth.get("protocol"),
        "matrix": truth.get("matrix"), "pathology_left": truth["pathology"]["left"],
        "pathology_right": truth["pathology"]["right"], "truth_drf_left": truth["drf_left_percent"], "error": "",
    }
    try:
        if isinstance(probability, Path):
            probability = read_probability(probability, np.shape(mask))
        rep = analyse_study(study_dir / "study.dcm", mask, settings, probability=probability).report
    except ValueError as exc:
        row["error"] = str(exc)
        return row
    drf = rep["drf_percent"]
    row["drf_left_integral"] = drf["integral"]["left"]
    row["drf_left_patlak"] = drf["patlak"]["left"]
    row["drf_error_integral"] = _err(drf["integral"]["left"], truth["drf_left_percent"])
    row["drf_error_patlak"] = _err(drf["patlak"]["left"], truth["drf_left_percent"])
    if "combined" in drf:  # the DRF of record (scripts.clinical.drf_combined)
        row["drf_left_combined"] = drf["combined"]["left"]
        row["drf_error_combined"] = _err(drf["combined"]["left"], truth["drf_left_percent"])
    row["blood_pool"] = rep["blood_pool"]["method"]
    row["n_warnings"] = len(rep["warnings"])
    row["qc_any"] = int(bool(rep.get("qc")))
    row["qc_codes"] = qc_codes_text(rep.get("qc", []))
    for side in ("left", "right"):
        k = rep["kidneys"][side]
        row[f"found_{side}"] = int(bool(k["found"]))
        row[f"truth_tmax_{side}"] = truth["tmax_min"][side]
        row[f"tmax_{side}"] = k.get("tmax_min")
        row[f"tmax_error_{side}"] = _err(k.get("tmax_min"), truth["tmax_min"][side])
        row[f"truth_t_half_{side}"] = truth["t_half_min"][side]
        row[f"t_half_{side}"] = k.get("t_half_min")
        row[f"t_half_error_{side}"] = _err(k.get("t_half_min"), truth["t_half_min"][side])
        row[f"ktbr_{side}"] = k.get("ktbr")
    end_s = float(truth["frame_starts_s"][-1] + truth["frame_durations_s"][-1])
    row.update(transit_row(rep, transit_truth(truth["kinetics"], end_s)))
    row.update(motion_row(rep, truth.get("motion")))
    row.update(interval_row(rep, truth["drf_left_percent"]))
    return row


def _stats(values: list[float], missed: int = 0) -> dict[str, Any]:
    """|error| statistics; ``missed`` items (no measurement) count as failures in ``within_1`` only."""
    v = np.abs(np.asarray([x for x in values if x is not None and math.isfinite(x)], float))
    if v.size == 0:
        return {"n": 0, "missed": missed}
    return {"n": int(v.size), "median": round(float(np.median(v)), 3), "p90": round(float(np.percentile(v, 90)), 3),
            "max": round(float(v.max()), 3), "within_1": round(float(np.sum(v <= 1.0) / (v.size + missed)), 3),
            "missed": missed}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per mask source: |DRF error| (all studies and studies with two functioning kidneys), Tmax of normal kidneys,
    T1/2 where defined, failures."""
    out: dict[str, Any] = {}
    for source in MASK_SOURCES:
        rs = [r for r in rows if r["mask"] == source]
        if not rs:
            continue
        ok = [r for r in rs if not r["error"]]
        two = [r for r in ok if r["truth_drf_left"] is not None and 0 < r["truth_drf_left"] < 100]
        tmax_normal, t_half = [], []
        t_half_missing = tmax_missed = 0
        for r in ok:
            for side in ("left", "right"):
                if r[f"pathology_{side}"] == "normal" and r[f"truth_tmax_{side}"] is not None:
                    e = r[f"tmax_error_{side}"]
                    if math.isfinite(e):
                        tmax_normal.append(e)
                    else:  # a normal kidney not found or without a Tmax counts as a failure
                        tmax_missed += 1
                if r[f"truth_t_half_{side}"] is not None:
                    if math.isfinite(r[f"t_half_error_{side}"]):
                        t_half.append(r[f"t_half_error_{side}"])
                    else:
                        t_half_missing += 1
        out[source] = {
            "studies": len(rs),
            "failed": len(rs) - len(ok),
            "drf_integral_all": _stats([r["drf_error_integral"] for r in ok]),
            "drf_patlak_all": _stats([r["drf_error_patlak"] for r in ok]),
            "drf_integral_two_kidneys": _stats([r["drf_error_integral"] for r in two]),
            "drf_patlak_two_kidneys": _stats([r["drf_error_patlak"] for r in two]),
            # the DRF of record (scripts.clinical.drf_combined): rows without it count as unmeasured
            "drf_combined_all": _stats([r.get("drf_error_combined", math.nan) for r in ok]),
            "drf_combined_two_kidneys": _stats([r.get("drf_error_combined", math.nan) for r in two]),
            "tmax_normal_kidneys_min": _stats(tmax_normal, tmax_missed),
            "t_half_min": {**_stats(t_half), "truth_defined_but_not_measured": t_half_missing},
            **transit_summary(ok),
            "motion": motion_summary(ok),
        }
    return out


def markdown_table(summary: dict[str, Any]) -> str:
    """The summary as a markdown table (one row per mask source; the combined DRF of record first)."""
    head = ("| masks | studies (failed) | DRF combined (of record) \\|err\\| median / p90 / max (pp) | DRF integral "
            "\\|err\\| median / p90 / max (pp) | DRF Patlak median / p90 / max (pp) | two-kidney studies: DRF combined "
            "/ integral median / p90 | Tmax normal kidneys \\|err\\| median / p90 (min), within 1 min | T1/2 \\|err\\| "
            "median / p90 (min) (n) |")
    lines = [head, "|" + "---|" * 8]
    for source, s in summary.items():
        d, p, d2, t, h = (s["drf_integral_all"], s["drf_patlak_all"], s["drf_integral_two_kidneys"],
                          s["tmax_normal_kidneys_min"], s["t_half_min"])
        c, c2 = s.get("drf_combined_all", {}), s.get("drf_combined_two_kidneys", {})
        g = lambda x, k: "-" if x.get("n", 0) == 0 else f"{x[k]:.2f}"  # noqa: E731
        lines.append(
            f"| {source} | {s['studies']} ({s['failed']}) | {g(c, 'median')} / {g(c, 'p90')} / {g(c, 'max')} | "
            f"{g(d, 'median')} / {g(d, 'p90')} / {g(d, 'max')} | {g(p, 'median')} / {g(p, 'p90')} / {g(p, 'max')} | "
            f"{g(c2, 'median')} / {g(c2, 'p90')}, {g(d2, 'median')} / {g(d2, 'p90')} (n={d2.get('n', 0)}) | "
            f"{g(t, 'median')} / {g(t, 'p90')}, {100 * t.get('within_1', 0):.0f} % (n={t.get('n', 0)}"
            f"{', missed ' + str(t['missed']) if t.get('missed') else ''}) | "
            f"{g(h, 'median')} / {g(h, 'p90')} (n={h.get('n', 0)}) |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m scripts.validate_renal_function", description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", required=True, type=Path, help="folder of simulated study folders")
    ap.add_argument("--out", required=True, type=Path, help="results folder (per_study.csv, summary.json)")
    ap.add_argument("--simulate", type=int, default=0, metavar="N",
                    help="first simulate N studies into --studies with scripts.simulate (existing ones are kept)")
    ap.add_argument("--seed", type=int, default=_DEFAULT_SEED, help=f"simulation seed (default {_DEFAULT_SEED}; "
                    "keep it different from the training data's seed)")
    ap.add_argument("--mix", dest="study_mix", default=None,
                    help="simulation mix, as scripts.simulate --mix (default: the simulator's, clinical)")
    ap.add_argument("--protocol", default=None,
                    help="simulation protocol(s), as scripts.simulate --protocol (default: the mix's)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--predictions", type=Path, help="folder of predicted parenchyma masks <study_id>.png")
    group.add_argument("--use-model", action="store_true", help="segment the studies with the bundle's model")
    ap.add_argument("--bundle-dir", default="bundle", help="bundle used by --use-model")
    ap.add_argument("--fused-index", type=int, default=None,
                    help="fused image segmented by the model (default: the one it was trained on)")
    ap.add_argument("--in-process", action="store_true",
                    help="with --use-model, also analyse every study as the report command does in process: the "
                         "network's mask with its probability map in the DRF interval (mask source "
                         f"{IN_PROCESS_SOURCE})")
    ap.add_argument("--no-gt", action="store_true", help="skip the ground-truth-mask runs")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N studies (0: all)")
    ap.add_argument("--fit-interval", action="store_true",
                    help="fit the DRF interval's calibration (scripts.clinical.drf_interval.INTERVAL_CALIBRATION) on "
                         "these studies' two-kidney rows, every mask source pooled; use a calibration set of its own")
    args = ap.parse_args(argv)
    if args.in_process and not args.use_model:
        ap.error("--in-process needs --use-model (it analyses the model's masks with the network's probability map)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the validation; returns the exit code."""
    args = parse_args(argv)
    try:
        check_output_separate(args.out, [args.studies, args.predictions],
                              consequence="the results would be written into the input")
    except OutputOverlapError as exc:
        print(f"validate_renal_function: error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.simulate > 0:
            from scripts.simulation import PROTOCOLS
            from scripts.simulation.batch import SimulationOptions, parse_choices, prepare_output, simulate_studies
            from scripts.simulation.mixes import DEFAULT_MIX, get_mix

            mix = get_mix(args.study_mix or DEFAULT_MIX).name
            protocols = None
            if args.protocol is not None:
                protocols = tuple(parse_choices(args.protocol, list(PROTOCOLS), "protocol"))
            opts = SimulationOptions(out=str(args.studies), seed=args.seed, study_mix=mix, protocols=protocols)
            prepare_output(args.studies)
            print(simulate_studies(opts, range(args.simulate), progress=False).summary())
        if not args.studies.is_dir():
            raise ValueError(f"{args.studies}: studies folder not found")
        dirs = sorted(p for p in args.studies.iterdir() if (p / "truth.json").is_file() and (p / "study.dcm").is_file())
        if args.limit:
            dirs = dirs[: args.limit]
        if not dirs:
            raise ValueError(f"{args.studies}: holds no study folder with study.dcm and truth.json")
        args.out.mkdir(parents=True, exist_ok=True)
        masks: dict[str, Path] = {}
        if args.use_model:
            pred_dir = args.out / "predictions"
            pred_dir.mkdir(exist_ok=True)
            todo = [d for d in dirs if not (pred_dir / f"{d.name}.png").is_file()
                    or (args.in_process and not probability_path(pred_dir, d.name).is_file())]
            if todo:
                import cv2

                from scripts.clinical.segment import BundleSegmenter

                segmenter = BundleSegmenter(args.bundle_dir, args.fused_index)  # one network for every study
                for d in todo:
                    if args.in_process:  # the mask and its map from one pass
                        m, prob = segmenter.segment_with_probability(d / "study.dcm")
                        buf = io.BytesIO()
                        np.save(buf, np.asarray(prob, np.float32), allow_pickle=False)
                        atomic_write_bytes(probability_path(pred_dir, d.name), buf.getvalue())
                    else:
                        m = segmenter(d / "study.dcm")
                    ok, png = cv2.imencode(".png", m)
                    if not ok:
                        raise OSError(f"{pred_dir / (d.name + '.png')}: the predicted mask cannot be encoded as PNG")
                    atomic_write_bytes(pred_dir / f"{d.name}.png", png.tobytes())
            args.predictions = pred_dir
        if args.predictions is not None:
            for d in dirs:
                p = find_prediction(args.predictions, d.name)
                if p is None:
                    raise ValueError(f"{args.predictions}: no predicted mask for study {d.name}")
                masks[d.name] = p
        rows: list[dict[str, Any]] = []
        for d in dirs:
            if not args.no_gt:
                rows.append(measure_study(d, "gt_parenchyma", d / "parenchyma.png",
                                          AnalysisSettings(label_mode="labels")))
                rows.append(measure_study(d, "gt_kidney", d / "kidney.png",
                                          AnalysisSettings(label_mode="labels", mask_kind="kidney")))
            if d.name in masks:
                mask = read_mask(masks[d.name])
                rows.append(measure_study(d, "model", mask, AnalysisSettings(label_mode="binary")))
                if args.in_process:
                    rows.append(measure_study(d, IN_PROCESS_SOURCE, mask, AnalysisSettings(label_mode="binary"),
                                              probability_path(args.predictions, d.name)))
    except (ValueError, OSError) as exc:
        print(f"validate_renal_function: error: {exc}", file=sys.stderr)
        return 2
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.items()})

    summary = summarise(rows)
    meta = {"studies_dir": str(args.studies), "n_studies": len(dirs), "seed": args.seed if args.simulate else None,
            "predictions": str(args.predictions) if args.predictions else None, "summary": summary,
            **{_confusion_key(e, c): qc_confusion(rows, error_key=e, codes=codes)
               for e in CONFUSION_ERRORS for c, (codes, _) in CONFUSION_CODE_SETS.items()},
            "drf_interval": {src: interval_summary([r for r in rows if r["mask"] == src])
                             for src in MASK_SOURCES if any(r["mask"] == src for r in rows)}}
    if args.fit_interval:
        try:
            cal_rows = [r for r in rows
                        if not r["error"] and r.get("ci_two_kidneys") and r["mask"] != IN_PROCESS_SOURCE]
            meta["drf_interval_fit"] = fit_calibration(cal_rows)
            # rho for the method constants just fitted, not for the committed ones the rows were made with
            meta["drf_combined_fit"] = fit_combined_calibration(cal_rows, calibration=meta["drf_interval_fit"])
        except ValueError as exc:
            print(f"validate_renal_function: error: --fit-interval: {exc}", file=sys.stderr)
            return 2
    try:
        atomic_write_text(args.out / "per_study.csv", buf.getvalue())
        atomic_write_text(args.out / "summary.json", json.dumps(meta, indent=2))
    except OSError as exc:
        print(f"validate_renal_function: error: {args.out}: --out cannot be written ({exc.strerror or exc})",
              file=sys.stderr)
        return 2
    print(markdown_table(summary))
    print("\nOutput efficiency and transit times against the simulator's kinetics:\n")
    print(transit_markdown_table(summary))
    print("\nPatient motion against the simulator's truth (truth.json 'motion'):\n")
    print(motion_markdown_table({source: s["motion"] for source, s in summary.items()}))
    for error_key, (_, error_title) in CONFUSION_ERRORS.items():
        for code_set, (_, code_title) in CONFUSION_CODE_SETS.items():
            head = f"Segmentation QC against {error_title}, any QC code" if code_set is None else f"The same, {code_title}"
            print(f"\n{head}:\n")
            print(confusion_markdown(meta[_confusion_key(error_key, code_set)]))
    print("\nThe DRF's 95 % interval (scripts.clinical.drf_interval): the true left DRF inside, per study pathology:\n")
    print(interval_markdown_table(meta["drf_interval"]))
    if args.fit_interval:
        print(f"\nfitted DRF interval calibration (INTERVAL_CALIBRATION): {json.dumps(meta['drf_interval_fit'])}")
        print(f"fitted combined DRF calibration (drf_combined.COMBINED_CALIBRATION): "
              f"{json.dumps(meta['drf_combined_fit'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
