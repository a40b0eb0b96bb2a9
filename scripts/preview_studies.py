# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Preview PNGs of simulated (or real) dynamic renal studies.

Usage::

    python -m scripts.preview_studies --studies SIM_DIR [--out PREVIEW_DIR] [--limit 20]
    python -m scripts.preview_studies --dicom ../shared/realdata/roim_renal_mag3_posterior_deid.dcm --out PREVIEWS

For each study: the frames summed over 0-50 s, 1-3 min, 3-6 min and 12-18 min (windows clipped to the acquisition),
each upsampled to 384 x 384 (bilinear) and shown with OpenCV ``COLORMAP_JET`` scaled to the window's 99.5th
percentile; a second row repeats them with the label outlines (kidney white, pelvis magenta); the third row plots
the truth curves from ``truth.json`` (count rate, counts/s) and the blood-pool curve. A bare DICOM gets the first
row only. Written as ``OUT/<study_id>.png`` (default OUT: ``SIM_DIR/previews``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

__all__ = ["WINDOWS_S", "read_nm_frames", "window_images", "render_preview", "main"]

WINDOWS_S = ((0.0, 50.0), (60.0, 180.0), (180.0, 360.0), (720.0, 1080.0))
_SIZE = 384


def read_nm_frames(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames ``(T, H, W)`` float32 counts, frame starts and durations (s) of a dynamic study.

    Read by the project's one study reader (:func:`custom_transforms.io.read_dynamic_study`: posterior view, timing
    from ``PhaseInformationSequence`` or ``FrameTime``, vendor variants) and its one timing reading
    (:func:`custom_transforms.io.frame_timing`).

    Raises:
        RenogramInputError: the study cannot be read (a ``ValueError`` naming the file).
    """
    from custom_transforms.io import frame_timing, read_dynamic_study

    frames, meta = read_dynamic_study(path)
    starts, durs = frame_timing(meta, frames.shape[0], path)
    return frames, starts, durs


def window_images(frames: np.ndarray, starts: np.ndarray, durs: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Summed images of the frames whose mid-time lies in each of :data:`WINDOWS_S` (empty windows skipped)."""
    mid = starts + durs / 2.0
    out = []
    for lo, hi in WINDOWS_S:
        sel = (mid >= lo) & (mid < hi)
        if sel.any():
            name = f"{lo:.0f}-{hi:.0f} s" if hi <= 60 else f"{lo / 60:.0f}-{hi / 60:.0f} min"
            out.append((name, frames[sel].sum(axis=0)))
    return out


def _jet(img: np.ndarray) -> np.ndarray:
    top = float(np.percentile(img, 99.5)) or 1.0
    u8 = np.clip(img / top * 255.0, 0, 255).astype(np.uint8)
    u8 = cv2.resize(u8, (_SIZE, _SIZE), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(cv2.applyColorMap(u8, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def _outline(rgb: np.ndarray, labels: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    big = cv2.resize(labels.astype(np.uint8), (_SIZE, _SIZE), interpolation=cv2.INTER_NEAREST)
    for value in (1, 2):
        contours, _ = cv2.findContours((big == value).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(rgb, contours, -1, colour, 1)
    return rgb


def render_preview(
    frames: np.ndarray,
    starts: np.ndarray,
    durs: np.ndarray,
    out_png: str | os.PathLike,
    title: str,
    kidney: np.ndarray | None = None,
    pelvis: np.ndarray | None = None,
    truth: dict | None = None,
) -> None:
    """Render one preview PNG (see the module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wins = window_images(frames, starts, durs)
    rows = 1 + (kidney is not None) + (truth is not None)
    fig = plt.figure(figsize=(3.2 * len(wins), 3.3 * rows), dpi=100)
    for j, (name, img) in enumerate(wins):
        rgb = _jet(img)
        ax = fig.add_subplot(rows, len(wins), j + 1)
        ax.imshow(rgb)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
        if kidney is not None:
            ax = fig.add_subplot(rows, len(wins), len(wins) + j + 1)
            lab = _outline(rgb.copy(), kidney, (255, 255, 255))
            if pelvis is not None:
                lab = _outline(lab, pelvis, (255, 0, 255))
            ax.imshow(lab)
            ax.axis("off")
    if truth is not None:
        ax = fig.add_subplot(rows, 1, rows)
        c = truth["curves"]
        t_min = np.asarray(c["time_s"]) / 60.0
        d = np.asarray(truth["frame_durations_s"])
        for key, style in (("left_kidney", "b-"), ("right_kidney", "r-"), ("left_pelvis", "b:"),
                           ("right_pelvis", "r:"), ("blood_pool", "k--")):
            ax.plot(t_min, np.asarray(c[key]) / d, style, label=key.replace("_", " "), lw=1)
        tm, th = truth["tmax_min"], truth["t_half_min"]
        ax.set_xlabel("min")
        ax.set_ylabel("counts/s")
        ax.set_title(
            f"DRF left {truth['drf_left_percent']} %  |  Tmax L/R {tm['left']}/{tm['right']} min  |  "
            f"T1/2 L/R {th['left']}/{th['right']} min  |  {truth['pathology']['left']}/{truth['pathology']['right']}",
            fontsize=8,
        )
        ax.legend(fontsize=7, ncol=5)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    from custom_transforms.safe_files import atomic_write_bytes  # the package imports MONAI: only when writing

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    atomic_write_bytes(out_png, buf.getvalue())


def _study_title(truth: dict) -> str:
    return (
        f"{truth.get('study_id', '')}  {truth['tracer']}  age {truth['age_years']:.1f} y  {truth['weight_kg']} kg  "
        f"{truth['matrix']}^2 @ {truth['pixel_spacing_mm'][0]:.2f} mm  protocol {truth['protocol']}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m scripts.preview_studies", description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=Path, help="simulator output folder (study folders with study.dcm)")
    parser.add_argument("--dicom", type=Path, nargs="*", default=[], help="extra NM DICOM files to preview")
    parser.add_argument("--out", type=Path, help="preview folder (default STUDIES/previews)")
    parser.add_argument("--limit", type=int, default=0, help="preview at most this many studies (0 = all)")
    args = parser.parse_args(argv)
    if args.studies is None and not args.dicom:
        parser.error("give --studies and/or --dicom")
    out = args.out or (args.studies / "previews" if args.studies else None)
    if out is None:
        parser.error("--out is required with --dicom only")
    try:
        out.mkdir(parents=True, exist_ok=True)
        n = 0
        folders = []
        if args.studies is not None:
            if not args.studies.is_dir():
                raise OSError(f"{args.studies}: not a folder")
            folders = sorted(p for p in args.studies.iterdir() if (p / "study.dcm").is_file())
            if args.limit > 0:
                folders = folders[: args.limit]
        for folder in folders:
            frames, starts, durs = read_nm_frames(folder / "study.dcm")
            truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
            kid = cv2.imread(str(folder / "kidney.png"), cv2.IMREAD_UNCHANGED)
            pel = cv2.imread(str(folder / "pelvis.png"), cv2.IMREAD_UNCHANGED)
            render_preview(frames, starts, durs, out / f"{folder.name}.png", _study_title(truth), kid, pel, truth)
            n += 1
        for path in args.dicom:
            frames, starts, durs = read_nm_frames(path)
            render_preview(frames, starts, durs, out / f"{path.stem}.png", path.name)
            n += 1
    except (OSError, ValueError, KeyError) as exc:
        print(f"preview_studies: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {n} preview(s) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
