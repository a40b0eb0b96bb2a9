# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Compare count levels of simulated studies with a real renogram, measured by the same code.

Usage::

    python -m scripts.simulation_realism --real ../shared/realdata/roim_renal_mag3_posterior_deid.dcm \\
        --studies 20 --seed 0 [--json OUT.json] [--drf-check 60]

Both the real file and ``--studies`` simulated studies (normal kidneys, MAG3, 128^2, protocol ``paper136``, ages
``--age-min``..``--age-max``; in memory, nothing written) go through :func:`measure_study`:

- kidney ROIs: frames with mid-time 1.5-5 min summed, Gaussian-smoothed (sigma 1 px), thresholded at 35 % of the
  maximum inside the central search box (columns 15-85 %, rows 20-85 %), the two largest connected components
  (>= 8 px) inside the box; the component on the image left is "left". No truth masks are used (for the simulated
  studies the same figures with the truth kidney masks are reported too).
- early kidney counts: mean counts per kidney pixel per frame over the short frames (<= 3 s) with mid-time 30-50 s;
- 3-min figures: in the frame that contains t = 180 s, mean counts per kidney pixel, mean counts per pixel of a
  perirenal ring (1 px gap, 2 px wide, other kidney excluded), and KTBR = kidney mean / ring mean;
- whole field of view: median counts per frame over the short early frames and over the frames after 2 min, also as
  counts per second.

``--drf-check N`` adds the 1-2 min integral DRF (perirenal ring, noise-free frames, truth kidney masks) of N
normal/reduced MAG3 studies (ages >= 1 y, 128^2) against ``drf_left_percent``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import binary_dilation, gaussian_filter, label

__all__ = ["kidney_rois", "measure_study", "main"]


def kidney_rois(frames: np.ndarray, starts: np.ndarray, durs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Automatic left/right (image left/right) kidney ROIs from the 1.5-5 min summed image (see module docstring)."""
    mid = starts + durs / 2.0
    img = gaussian_filter(frames[(mid >= 90) & (mid <= 300)].sum(axis=0).astype(float), 1.0)
    h, w = img.shape
    box = np.zeros_like(img, bool)
    box[int(0.2 * h) : int(0.85 * h), int(0.15 * w) : int(0.85 * w)] = True
    peak = img[box].max()
    lab, n = label((img >= 0.35 * peak) & box)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    sizes[0] = 0
    order = [i for i in np.argsort(sizes)[::-1] if sizes[i] >= 8][:2]
    if len(order) < 2:
        raise ValueError("fewer than two kidney-like regions found")
    rois = sorted((lab == i for i in order), key=lambda r: np.nonzero(r)[1].mean())
    return rois[0], rois[1]


def measure_study(
    frames: np.ndarray,
    starts: np.ndarray,
    durs: np.ndarray,
    rois: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Count-level figures of one study (see the module docstring); ``rois`` overrides the automatic ROIs."""
    left, right = rois if rois is not None else kidney_rois(frames, starts, durs)
    kid = left | right
    mid = starts + durs / 2.0
    early = (durs <= 3.0) & (mid >= 30.0) & (mid <= 50.0)
    i3 = int(np.flatnonzero((starts <= 180.0) & (starts + durs > 180.0))[0])
    f3 = frames[i3].astype(float)
    ring = np.zeros_like(kid)
    for roi, other in ((left, right), (right, left)):
        r = binary_dilation(roi, iterations=3) & ~binary_dilation(roi, iterations=1)
        ring |= r & ~binary_dilation(other, iterations=2)
    k3, b3 = f3[kid].mean(), f3[ring].mean()
    short = durs <= 3.0
    late = mid > 120.0
    fov = frames.reshape(frames.shape[0], -1).sum(axis=1).astype(float)
    return {
        "kidney_pixels": int(kid.sum()),
        "kidney_counts_per_px_early_frame": float(frames[early][:, kid].mean()) if early.any() else float("nan"),
        "early_frame_s": float(np.median(durs[early])) if early.any() else float("nan"),
        "kidney_counts_per_px_3min_frame": float(k3),
        "frame_3min_s": float(durs[i3]),
        "kidney_counts_per_px_s_3min": float(k3 / durs[i3]),
        "perirenal_bkg_per_px_3min_frame": float(b3),
        "ktbr_3min": float(k3 / b3) if b3 > 0 else float("nan"),
        "fov_counts_per_early_frame": float(np.median(fov[short])) if short.any() else float("nan"),
        "fov_cps_early": float(np.median(fov[short] / durs[short])) if short.any() else float("nan"),
        "fov_counts_per_late_frame": float(np.median(fov[late])),
        "fov_cps_late": float(np.median(fov[late] / durs[late])),
    }


def _summary(rows: list[dict[str, float]]) -> dict[str, list[float]]:
    out = {}
    for key in rows[0]:
        v = np.asarray([r[key] for r in rows], float)
        out[key] = [float(np.nanmean(v)), float(np.nanstd(v)), float(np.nanmin(v)), float(np.nanmax(v))]
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m scripts.simulation_realism", description=__doc__.split("\n")[0])
    p.add_argument("--real", type=Path, help="a real NM dynamic renal DICOM (posterior view)")
    p.add_argument("--studies", type=int, default=20, help="simulated normal MAG3 studies (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--age-min", type=float, default=0.2)
    p.add_argument("--age-max", type=float, default=16.0)
    p.add_argument("--mix", default=None, help="draw the simulated studies from this training mix (e.g. clinical: "
                   "every matrix, protocol, collimator, count and background level), still normal MAG3 without "
                   "motion; default: 128x128 paper136 LEHR studies")
    p.add_argument("--drf-check", type=int, default=0, help="also check the integral DRF on N studies")
    p.add_argument("--json", type=Path, help="write all figures to this JSON file")
    args = p.parse_args(argv)
    if args.studies < 1:
        p.exit(2, "simulation_realism: error: --studies must be >= 1\n")
    from custom_transforms.io import read_dynamic_study
    from scripts.simulation import sample_study_config, simulate_study
    from scripts.simulation.batch import SimulationOptions, study_config
    from scripts.simulation.measure import integral_drf_percent
    from scripts.simulation.mixes import get_mix

    if args.mix is not None:
        try:
            get_mix(args.mix)
        except ValueError as exc:
            p.exit(2, f"simulation_realism: error: --mix: {exc}\n")

    report: dict = {}
    try:
        if args.real is not None:
            frames, meta = read_dynamic_study(args.real)  # the project's one DICOM reader (timing, posterior view)
            starts, durs = np.asarray(meta["frame_start_s"]), np.asarray(meta["frame_duration_s"])
            report["real"] = measure_study(frames, starts, durs)
    except (OSError, ValueError, AttributeError) as exc:
        where = "" if str(exc).startswith(str(args.real)) else f"{args.real}: "  # RenogramInputError names the file
        print(f"simulation_realism: error: {where}{exc}", file=sys.stderr)
        return 2
    auto, truth_roi, ages = [], [], []
    for i in range(args.studies):
        if args.mix is not None:
            cfg = study_config(i, SimulationOptions(out="", seed=args.seed, study_mix=args.mix, pathology="normal",
                                                    tracers=("MAG3",), age_range=(args.age_min, args.age_max),
                                                    motion=False))
        else:
            rng = np.random.default_rng([args.seed, i])
            cfg = sample_study_config(rng, tracer="MAG3", pathology="normal", matrix=128, protocol="paper136",
                                      age_range=(args.age_min, args.age_max), motion=False)
        st = simulate_study(cfg)
        ages.append(cfg.age_years)
        truth_roi.append(measure_study(st.frames, st.frame_starts_s, st.frame_durations_s,
                                       (st.kidney == 1, st.kidney == 2)))
        try:
            auto.append(measure_study(st.frames, st.frame_starts_s, st.frame_durations_s))
        except ValueError:
            pass
    report["simulated_auto_roi"] = _summary(auto) if auto else {}
    report["simulated_truth_roi"] = _summary(truth_roi)
    report["simulated_n"] = {"studies": args.studies, "auto_roi_found": len(auto),
                             "age_years_range": [min(ages), max(ages)]}
    if args.drf_check:
        errs = []
        for i in range(args.drf_check):
            rng = np.random.default_rng([args.seed, 10_000 + i])
            cfg = sample_study_config(rng, tracer="MAG3", pathology=("normal", "reduced")[i % 2], matrix=128,
                                      protocol="paper136", age_range=(max(1.0, args.age_min), args.age_max))
            st = simulate_study(cfg)
            drf = integral_drf_percent(st.expected, st.frame_starts_s, st.frame_durations_s, st.kidney == 1,
                                       st.kidney == 2)
            errs.append(drf - st.truth["drf_left_percent"])
        e = np.asarray(errs)
        report["drf_check"] = {"n": int(e.size), "mean_error_pp": float(e.mean()), "sd_pp": float(e.std()),
                               "max_abs_pp": float(np.abs(e).max())}
    keys = list((report.get("real") or truth_roi[0]).keys())
    print(f"{'figure':36s} {'real':>10s} {'sim auto ROI mean (min-max)':>30s} {'sim truth ROI mean (min-max)':>30s}")
    for k in keys:
        real = report.get("real", {}).get(k, float("nan"))
        a = report["simulated_auto_roi"].get(k, [float("nan")] * 4)
        t = report["simulated_truth_roi"][k]
        print(f"{k:36s} {real:10.2f} {a[0]:10.2f} ({a[2]:8.2f}-{a[3]:8.2f}) {t[0]:10.2f} ({t[2]:8.2f}-{t[3]:8.2f})")
    if "drf_check" in report:
        print("integral DRF (noise-free, truth masks) minus truth:", report["drf_check"])
    if args.json:
        from custom_transforms.safe_files import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
