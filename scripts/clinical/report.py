# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Writing an analysis: ``report.json``, ``curves.csv`` and ``report.png`` (one-page figure for the physician).

``report.json`` (schema ``1.0``, see :data:`scripts.clinical.analysis.REPORT_SCHEMA_VERSION`; normal ranges from
:mod:`scripts.clinical.normal_ranges`) holds ``study``,
``settings``, ``blood_pool``, ``drf_percent`` (``integral``/``patlak``/``parenchyma_integral`` -> ``left``/``right``;
``integral`` and ``patlak`` also ``left_ci95``/``right_ci95``, the 95 % interval of
:mod:`scripts.clinical.drf_interval`, shown in the table as ``48.2 (44.0-52.5)``; ``combined``, the DRF of record, the
two weighted by their intervals' inverse variance: ``left``/``right``/``left_ci95``/``right_ci95``/``weights``,
:mod:`scripts.clinical.drf_combined`, the table's first row), ``drf_interval`` (how it was made),
``kidneys`` (per patient side: ``found`` and the indices with their ``flags``), ``normal_ranges``, ``warnings``,
``qc`` (coded segmentation QC warnings, :mod:`scripts.clinical.qc`).
``curves.csv`` has one row per frame: timing (s, min) and every curve in counts/s (background-corrected kidney and
parenchyma, raw kidney, background per pixel, smoothed kidney, blood pool per pixel).

``report.png``: the display image with the ROI outlines (whole kidney solid, parenchyma thin, background dotted,
heart dashed; patient sides labelled), the two background-corrected renogram curves with Tmax marks and the DRF
window shaded, and a table of the indices (DRF, timing, output efficiency at 20/30 min, whole-kidney and parenchymal
mean transit times: ``> x`` where only a lower bound is known) against their normal ranges (abnormal red,
borderline orange); the segmentation QC codes in red on the image, their messages under the table.
All three files (and, with ``--dicom``, ``seg.dcm`` and ``report.dcm`` of :mod:`scripts.clinical.dicom_outputs`) are
written to temporary names (or a new folder is built aside) and renamed together at the end.
"""

from __future__ import annotations

import csv
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from custom_transforms.safe_files import write_files_together
from scripts.clinical.analysis import RenalAnalysis
from scripts.clinical.drf_interval import drf_text
from scripts.clinical.normal_ranges import NORMAL_RANGES, flag_value

__all__ = [
    "REPORT_FILES", "OPTIONAL_DICOM_FILES", "REPORT_DPI", "write_report", "render_report_png", "write_curves_csv"
]

REPORT_FILES = ("report.json", "curves.csv", "report.png")
#: files a report folder holds only with ``--dicom`` (:data:`scripts.clinical.dicom_outputs.DICOM_FILES`).
OPTIONAL_DICOM_FILES = ("seg.dcm", "report.dcm")
#: resolution of ``report.png`` (13 x 9.2 in: 1170 x 828 px), legible on screen and printed on A4.
REPORT_DPI = 90
#: characters per line of the note and warnings under the table (9 pt on the 13 in wide page).
_NOTE_WIDTH = 190
_SIDE_COLOURS = {"left": "#1f5fd6", "right": "#d62728"}
_FLAG_COLOURS = {"abnormal": "#f4b6b6", "borderline": "#fde3b0", "normal": "white", "n/a": "#eeeeee"}
#: colour of the segmentation QC codes on the image (report.json's ``qc``).
_QC_COLOUR = "#d00000"


def write_curves_csv(result: RenalAnalysis, path: str | os.PathLike) -> None:
    """Write the curves table (one row per frame) to ``path``."""
    names = list(result.curves)
    cols = [np.asarray(result.curves[n]) for n in names]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for i in range(cols[0].size):
            w.writerow([int(c[i]) if n == "frame" else f"{float(c[i]):.6g}" for n, c in zip(names, cols, strict=True)])


def _fmt(v: Any, nd: int = 1, unit: str = "") -> str:
    if v is None:
        return "-"
    return f"{v:.{nd}f}{unit}"


def _oe_text(kidney: dict[str, Any], minutes: int) -> str:
    """An output efficiency's cell: the percent, ``study too short`` when the study ends before, else ``-``."""
    value = kidney.get(f"output_efficiency_{minutes}min_percent")
    if value is not None:
        return _fmt(value, 1)
    problem = str(kidney.get("output_efficiency_problem", ""))  # "OE at 20, 30 min not available: the study ends ..."
    too_late = problem.split(" min not available")[0].replace(",", " ").split() if " not available" in problem else []
    return "study too short" if str(minutes) in too_late else "-"


def _transit_text(kidney: dict[str, Any], key: str) -> str:
    """A transit time's cell: the minutes, ``> bound`` when only its lower bound is known (the tracer had not left
    by the end of the study), else ``-``."""
    if kidney.get(key) is not None:
        return _fmt(kidney[key], 1)
    bound = kidney.get(f"{key}_lower_bound")
    return f"> {bound:.1f}" if bound is not None else "-"


def _short_name(path: str) -> str:
    """``folder/file`` (the folder often names the study when files are all called ``study.dcm``)."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


def _outline(ax: Any, mask: np.ndarray | None, colour: str, lw: float, ls: str = "-") -> None:
    if mask is not None and mask.any():
        ax.contour(mask.astype(float), levels=[0.5], colors=[colour], linewidths=lw, linestyles=ls)


def render_report_png(result: RenalAnalysis, path: str | os.PathLike) -> None:
    """Render the one-page report figure (matplotlib's Agg canvas, :data:`REPORT_DPI`) to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rep, cur, rois = result.report, result.curves, result.rois
    kid = rep["kidneys"]
    fig = Figure(figsize=(13, 9.2), dpi=REPORT_DPI)  # Agg canvas, no pyplot state: nothing to close, nothing global
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(2, 2, height_ratios=[1.05, 1.1], width_ratios=[1.0, 1.45], hspace=0.12, wspace=0.12,
                          left=0.04, right=0.98, top=0.92, bottom=0.02)
    study = rep["study"]
    age = study.get("patient_age_years")
    fig.suptitle(
        f"Renogram  {_short_name(study['file'])}   {study.get('tracer') or 'tracer ?'}   "
        f"{'' if age is None else f'age {age:g} y   '}{study['view']} view   {study['duration_min']:.1f} min",
        fontsize=14, fontweight="bold",
    )

    # image with ROI outlines
    ax = fig.add_subplot(gs[0, 0])
    img = result.display_image
    vmax = float(np.percentile(img, 99.5)) if img.size else 1.0
    ax.imshow(img, cmap="gray_r", vmin=0, vmax=vmax if vmax > 0 else 1.0, interpolation="nearest")
    for side in ("left", "right"):
        c = _SIDE_COLOURS[side]
        _outline(ax, rois.kidney[side], c, 1.8)
        if rois.parenchyma[side] is not None and rois.parenchyma[side] is not rois.kidney[side]:
            _outline(ax, rois.parenchyma[side], c, 0.8)
        _outline(ax, rois.background[side], "#2ca02c", 1.0, ":")
        if rois.kidney[side] is not None:
            r, cc = np.nonzero(rois.kidney[side])
            ax.text(cc.mean(), r.min() - 2, "L" if side == "left" else "R", color=c, fontsize=15,
                    fontweight="bold", ha="center", va="bottom")
    _outline(ax, rois.heart, "#9467bd", 1.4, "--")
    ax.set_title(f"{result.display_title}\nkidney (solid), parenchyma (thin), background (green dotted), heart "
                 "(purple dashed)", fontsize=8.5)
    ax.text(0.01, 0.01, "posterior view: patient left on image left" if study["view"] != "anterior"
            else "anterior view: patient left on image right", transform=ax.transAxes, fontsize=8, color="k",
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none"})
    if rep.get("qc"):  # the segmentation QC codes, red, on the image they are about (messages under the table)
        codes = [f"{q['code']}{' (' + q['side'] + ')' if q.get('side') else ''}" for q in rep["qc"]]
        ax.text(0.01, 0.99, "QC: " + "\n      ".join(codes), transform=ax.transAxes, fontsize=9, color=_QC_COLOUR,
                fontweight="bold", va="top", ha="left", bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    ax.set_xticks([])
    ax.set_yticks([])

    # renogram curves
    ax = fig.add_subplot(gs[0, 1])
    t = np.asarray(cur["mid_time_min"])
    win = rep["settings"]["drf_window_s"]
    ax.axvspan(win[0] / 60, win[1] / 60, color="#dddddd", alpha=0.6, label="DRF window")
    for side in ("left", "right"):
        if not kid[side]["found"]:
            continue
        c = _SIDE_COLOURS[side]
        name = "Left kidney" if side == "left" else "Right kidney"
        ax.plot(t, cur[f"{side}_kidney_cps"], color=c, lw=0.8, alpha=0.35)
        ax.plot(t, cur[f"{side}_kidney_smoothed_cps"], color=c, lw=2.2, label=f"{name} (background-corrected)")
        tm = kid[side]["tmax_min"]
        if tm is not None:
            ymax = float(np.max(cur[f"{side}_kidney_smoothed_cps"]))
            ax.plot([tm], [ymax], marker="v", color=c, ms=9)
            near_end = tm > 0.8 * float(t[-1])
            ax.annotate(f"Tmax {tm:.1f}", (tm, ymax), textcoords="offset points", xytext=(-6 if near_end else 4, 6),
                        ha="right" if near_end else "left", color=c, fontsize=9)
    ax.set_xlabel("time after start of acquisition (min)")
    ax.set_ylabel("counts/s")
    ax.set_xlim(0, max(float(t[-1]), 1.0) * 1.01)
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    ax.set_title("Renogram (whole-kidney ROIs, background-corrected; thin line = raw frames)", fontsize=10)

    # table
    ax = fig.add_subplot(gs[1, :])
    ax.axis("off")
    drf = rep["drf_percent"]
    # the DRF of record first (scripts.clinical.drf_combined); a report written before it has no such row
    record = [] if "combined" not in drf else [
        ("Split function of record, combined, % (95 % CI)", "drf_percent",
         lambda s: drf_text(drf["combined"], s), lambda s: flag_value("drf_percent", drf["combined"][s]))]
    rows = [
        *record,
        ("Split function, integral 1-2 min, % (95 % CI)", "drf_percent",
         lambda s: drf_text(drf["integral"], s), lambda s: flag_value("drf_percent", drf["integral"][s])),
        ("Split function, Patlak-Rutland, % (95 % CI)", "drf_percent",
         lambda s: drf_text(drf["patlak"], s), lambda s: flag_value("drf_percent", drf["patlak"][s])),
        ("Tmax (min)", "tmax_min", lambda s: _fmt(kid[s].get("tmax_min"), 1),
         lambda s: kid[s].get("flags", {}).get("tmax_min", "n/a")),
        ("T1/2 from Tmax (min)", "t_half_min",
         lambda s: _fmt(kid[s].get("t_half_min"), 1) if kid[s].get("t_half_min") is not None
         else ("not reached" if kid[s].get("found") else "-"),
         lambda s: kid[s].get("flags", {}).get("t_half_min", "n/a") if kid[s].get("t_half_min") is not None
         else ("abnormal" if kid[s].get("found") else "n/a")),
        (f"{rep['settings']['late_time_min']:g}-min / max", "ratio_20min_max",
         lambda s: _fmt(kid[s].get("ratio_20min_max"), 2),
         lambda s: kid[s].get("flags", {}).get("ratio_20min_max", "n/a")),
        (f"NORA {rep['settings']['late_time_min']:g} min", "nora_20min",
         lambda s: _fmt(kid[s].get("nora_20min"), 2), lambda s: kid[s].get("flags", {}).get("nora_20min", "n/a")),
        ("Last frame / max", None, lambda s: _fmt(kid[s].get("ratio_last_max"), 2), lambda s: "n/a"),
        # output efficiency and transit times (scripts.clinical.transit), flagged as report.json's kidney flags
        ("Output efficiency 20 min (%)", "output_efficiency_20min_percent",
         lambda s: _oe_text(kid[s], 20),
         lambda s: kid[s].get("flags", {}).get("output_efficiency_20min_percent", "n/a")),
        ("Output efficiency 30 min (%)", None, lambda s: _oe_text(kid[s], 30), lambda s: "n/a"),
        ("Mean transit time, whole kidney (min)", "mean_transit_time_min",
         lambda s: _transit_text(kid[s], "mean_transit_time_min"),
         lambda s: kid[s].get("flags", {}).get("mean_transit_time_min", "n/a")),
        ("Parenchymal transit time (min)", "parenchymal_transit_time_min",
         lambda s: _transit_text(kid[s], "parenchymal_transit_time_min"),
         lambda s: kid[s].get("flags", {}).get("parenchymal_transit_time_min", "n/a")),
        ("Kidney-to-background ratio (DRF window)", "ktbr",
         lambda s: _fmt(kid[s].get("ktbr"), 1), lambda s: kid[s].get("flags", {}).get("ktbr", "n/a")),
    ]
    cell_text, cell_colours = [], []
    for label, key, val, flag in rows:
        vals, cols = [], []
        for s in ("left", "right"):
            found = kid[s].get("found")
            v = val(s) if (found or key == "drf_percent") else "not found"
            f = flag(s) if (found or key == "drf_percent") else "n/a"
            vals.append(v + ("  !" if f == "abnormal" else ("  ?" if f == "borderline" else "")))
            cols.append(_FLAG_COLOURS.get(f, "white"))
        cell_text.append([label, *vals, NORMAL_RANGES[key].text if key else ""])
        cell_colours.append(["white", *cols, "white"])
    table = ax.table(cellText=cell_text, cellColours=cell_colours,
                     colLabels=["", "Left kidney (patient)", "Right kidney (patient)", "Normal range"],
                     colWidths=[0.34, 0.2, 0.2, 0.26], loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.scale(1.0, 1.12)
    for (r, c), cell in table.get_celld().items():
        if r == 0:
            cell.set_text_props(fontweight="bold")
            if c in (1, 2):
                cell.set_text_props(color=_SIDE_COLOURS["left" if c == 1 else "right"], fontweight="bold")
        if c == 0:
            cell.set_text_props(ha="left")
    warnings = rep.get("warnings", [])
    bp = rep["blood_pool"]["method"].replace("_", " ")
    note = (f"Background: {rep['settings']['background']} ring ({rep['settings']['ring_gap_px']} px out, "
            f"{rep['settings']['ring_width_px']} px wide).  Patlak blood pool: {bp}.  Mask: "
            f"{Path(rep['settings']['mask_source']).name if rep['settings']['mask_source'] else '?'}."
            "  Red = outside normal range, orange = borderline.")
    # segmentation QC first (its messages also in ``warnings``, e.g. KTBR and motion, are not repeated), six lines
    qc = rep.get("qc", [])
    qc_lines = [f"QC {q['code']}{' (' + q['side'] + ')' if q.get('side') else ''}: {q['message']}" for q in qc[:6]]
    rest = [w for w in warnings if w not in {q["message"] for q in qc}]
    lines = [note] + qc_lines + [f"WARNING: {w}" for w in rest[: max(0, 6 - len(qc_lines))]]
    # wrapped here at a fixed width (matplotlib's wrap=True measures every word at every draw)
    text = "\n".join(textwrap.fill(line, _NOTE_WIDTH, subsequent_indent="    ") for line in lines)
    ax.text(0.0, 0.0, text, transform=ax.transAxes, fontsize=9, va="bottom", ha="left",
            color="#8a1c1c" if warnings or qc else "k")
    fig.savefig(path, format="png", pil_kwargs={"compress_level": 1})  # fast zlib: a larger file, a quicker report


def _write_files(result: RenalAnalysis, paths: dict[str, str], dicom: Any = None) -> None:
    report = dict(result.report)
    report["files"] = {name: name for name in paths}
    with open(paths["report.json"], "w") as fh:
        json.dump(report, fh, indent=2, allow_nan=False)
    write_curves_csv(result, paths["curves.csv"])
    render_report_png(result, paths["report.png"])
    if dicom is not None:
        dicom.write(result, paths)


def write_report(result: RenalAnalysis, out_dir: str | os.PathLike, dicom: Any = None) -> dict[str, str]:
    """Write ``report.json``, ``curves.csv`` and ``report.png`` into ``out_dir`` (created if needed), and with
    ``dicom`` (:class:`scripts.clinical.dicom_outputs.DicomOutputs`) its files too (``seg.dcm``, ``report.dcm``).

    A new ``out_dir`` is built beside its final name and renamed into place when complete
    (:func:`custom_transforms.safe_files.make_build_dir`), so a failure leaves no folder behind. In an existing
    ``out_dir`` each file is written under a temporary name and the three are renamed into place only after all
    succeeded, so a failure leaves earlier reports untouched and no partial file behind; DICOM files of an earlier
    ``--dicom`` run are removed when this run writes none (:func:`custom_transforms.safe_files.write_files_together`).
    Files get the permissions the umask gives (not ``tempfile``'s ``0600``).

    Returns:
        ``{"report.json": path, "curves.csv": path, "report.png": path}`` (and the DICOM files' paths).
    """
    names = REPORT_FILES + (tuple(dicom.files) if dicom is not None else ())
    return write_files_together(
        out_dir, names, lambda paths: _write_files(result, paths, dicom), stale=OPTIONAL_DICOM_FILES
    )
