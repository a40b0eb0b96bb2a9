# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Digital phantom and camera model: one projected image template per kinetic compartment, and the label maps.

Each organ is an analytic shape in body coordinates (mm; see :mod:`scripts.simulation.config`) whose projected
activity density is the chord length through an ellipsoid (or cylinder) normalised to the fraction of the
compartment's activity it holds. The camera model turns it into counts per MBq s of compartment activity:

- attenuation ``exp(-mu d)`` for the organ-centre depth ``d`` (tissue spread through the trunk uses the depth
  average ``(1 - exp(-mu T)) / (mu T)``);
- a Gaussian point-spread function whose FWHM grows with the distance ``z = d + table gap`` to the collimator,
  ``FWHM(z) = sqrt(3.8^2 + (a + b z[cm])^2)`` mm with the collimator's ``a, b`` (:data:`COLLIMATORS`; LEHR: ~5.5 mm
  at 4 cm, ~8 mm at 10 cm; GP ~10 mm and LEAP ~12 mm at 10 cm, with 1.35x and 1.7x the LEHR sensitivity);
- scatter as a broad Gaussian (sigma 30 mm) holding ``SF(d) = 0.12 + 0.025 d[cm]`` (clipped 0.10-0.45) of the
  detected counts;
- sensitivity (cps/MBq) and the camera's rectangular useful field of view (540 x 400 mm; zero counts outside).

Expected frames are then ``activity integrals (T, C) @ templates (C, H*W)``: no per-frame image work.

Labels: a pixel belongs to a kidney when at least half of its area lies inside the kidney outline (area fraction
from a supersampled outline, about 512 sub-samples across the image; :func:`label_maps` draws the same outline on
another grid of the same field, e.g. the network's 384x384). The kidney outline is the reniform shape
(ellipse with a smooth random radial perturbation, minus a medial hilum notch) united with the collecting system;
``pelvis`` is the collecting-system ellipse (area fraction >= 0.5) within the kidney; ``parenchyma`` = kidney minus
pelvis. Values: 0 background, 1 patient-left kidney, 2 patient-right kidney. Non-functioning and absent kidneys are
not labelled (they take up no tracer and are invisible on the images).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from .camera import COLLIMATORS
from .config import ARM_CENTRE_FRAC, ARM_RADIUS_FRAC, UFOV_MM, KidneyConfig, StudyConfig
from .kinetics import IMAGE_COMPARTMENTS

__all__ = ["Phantom", "build_phantom", "label_maps", "LABEL_NAMES", "psf_fwhm_mm", "scatter_fraction",
           "kidney_geometry"]

_SCATTER_SIGMA_MM = 30.0


def psf_fwhm_mm(distance_cm: float, collimator: str = "LEHR") -> float:
    """System FWHM (mm) of the camera with this collimator at a source-to-collimator distance (cm)."""
    c = COLLIMATORS[collimator]
    return float(np.hypot(3.8, c.offset_mm + c.slope_mm_per_cm * distance_cm))


def scatter_fraction(depth_cm: float) -> float:
    """Fraction of detected counts that are scattered, for a source at this depth (cm)."""
    return float(np.clip(0.12 + 0.025 * depth_cm, 0.10, 0.45))


@dataclass
class Phantom:
    """Projected templates and labels of one study.

    Attributes:
        templates: ``(C, H, W)`` float32, expected counts per pixel per MBq s of each compartment's activity
            (columns of :data:`scripts.simulation.kinetics.IMAGE_COMPARTMENTS`).
        parenchyma, kidney, pelvis: ``(H, W)`` uint8 label maps (0/1/2).
        fov_mask: ``(H, W)`` bool, inside the camera's useful field of view.
        info: per-kidney camera facts (depth, transmission, FWHM, scatter fraction, centre in pixels).
    """

    templates: np.ndarray
    parenchyma: np.ndarray
    kidney: np.ndarray
    pelvis: np.ndarray
    fov_mask: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def _ellipsoid(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float, angle_deg: float = 0.0):
    """Chord length profile sqrt(1 - r^2) of an ellipse (rotated by angle_deg), 0 outside."""
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    dx, dy = x - cx, y - cy
    u, v = (dx * c + dy * s) / rx, (-dx * s + dy * c) / ry
    return np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, None))


def _tube(x: np.ndarray, y: np.ndarray, points: list[tuple[float, float]], radius: float) -> np.ndarray:
    """Chord length profile of a cylinder of ``radius`` along a polyline."""
    dist = np.full(np.broadcast(x, y).shape, np.inf)
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
        vx, vy = x1 - x0, y1 - y0
        t = np.clip(((x - x0) * vx + (y - y0) * vy) / max(vx * vx + vy * vy, 1e-9), 0.0, 1.0)
        dist = np.minimum(dist, np.hypot(x - x0 - t * vx, y - y0 - t * vy))
    return np.sqrt(np.clip(1.0 - (dist / radius) ** 2, 0.0, None))


def kidney_geometry(k: KidneyConfig, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate one kidney's shape at body coordinates ``x, y`` (mm, broadcastable arrays).

    Returns:
        ``kidney`` (bool outline incl. collecting system), ``pelvis`` (bool), ``parenchyma_density`` and
        ``pelvis_density`` (projected chord-length profiles, arbitrary units).
    """
    a, b = k.length_mm / 2.0, k.width_mm / 2.0
    th = np.radians(k.tilt_deg)
    if k.side == "left":  # patient left = image left (x < 0): upper pole up and medial (+x), lateral = -x
        eu, ev = (np.sin(th), -np.cos(th)), (-np.cos(th), -np.sin(th))
    else:
        eu, ev = (-np.sin(th), -np.cos(th)), (np.cos(th), -np.sin(th))
    dx, dy = x - k.centre_mm[0], y - k.centre_mm[1]
    u = dx * eu[0] + dy * eu[1]
    v = dx * ev[0] + dy * ev[1]
    phi = np.arctan2(v / b, u / a)
    rho = np.ones_like(phi)
    for order, amp, phase in k.harmonics:
        rho = rho + amp * np.cos(order * phi + phase)
    r2 = ((u / a) ** 2 + (v / b) ** 2) / rho**2
    notch = (u / (0.35 * a)) ** 2 + ((v + b) / (0.6 * b)) ** 2 <= 1.0
    body = (r2 <= 1.0) & ~notch
    t = k.parenchyma_mm
    e_lat = max(b - t, -0.1 * b)
    e_med = -k.pelvis_medial_frac * b
    bp, vp = max((e_lat - e_med) / 2.0, 0.5), (e_lat + e_med) / 2.0
    ap = max(k.pelvis_long_frac * (a - t), 0.25 * a)
    pr2 = (u / ap) ** 2 + ((v - vp) / bp) ** 2
    pelvis = pr2 <= 1.0
    over_pelvis = float(np.clip(2.0 * t / (0.9 * k.width_mm), 0.1, 0.6)) * 0.35
    paren = np.sqrt(np.clip(1.0 - r2, 0.0, None)) * body * np.where(pelvis, over_pelvis, 1.0)
    return {
        "kidney": body | pelvis,
        "pelvis": pelvis,
        "parenchyma_density": paren,
        "pelvis_density": np.sqrt(np.clip(1.0 - pr2, 0.0, None)),
    }


#: the label maps of a study, in ``label_maps``' and the writer's order
LABEL_NAMES = ("kidney", "pelvis", "parenchyma")


def _label_grid(cfg: StudyConfig, size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Pixel-centre coordinates (mm) of a ``size`` x ``size`` grid spanning the native matrix's field, and its step.

    The grid's outer pixel edges are the native matrix's (the mapping of MONAI's ``Resize`` with
    ``align_corners=False``, which makes the network's 384x384 image from the native one); ``size == matrix`` is the
    native grid itself.
    """
    m, ps = int(cfg.matrix), float(cfg.pixel_spacing_mm)
    step = ps if size == m else ps * m / size  # the native step exactly (ps * m / m can differ by one ulp)
    offs = (np.arange(size) - (size - 1) / 2.0) * step
    return cfg.fov_centre_mm[0] + offs, cfg.fov_centre_mm[1] + offs, step


def _supersampling(size: int, matrix: int) -> int:
    """Sub-samples per pixel side for the label area fractions.

    About 512 across the native matrix (8 per pixel at 64, 2 at 256: the labels every earlier seed was made with);
    on any other grid at least 4 (16 per pixel), so a 384x384 label's >= 50 % rule is not decided by 1 or 4 samples.
    """
    return max(1, 512 // size) if size == matrix else max(4, 512 // size)


def _sampled_kidney(
    k: KidneyConfig, xs: np.ndarray, ys: np.ndarray, step: float, ss: int
) -> tuple[tuple[slice, slice], dict[str, np.ndarray]] | None:
    """One kidney's geometry supersampled ``ss`` x ``ss`` per pixel over the window of the grid it can reach.

    Returns the window ``(rows, cols)`` and each :func:`kidney_geometry` output averaged over every pixel's
    sub-samples (``kidney`` and ``pelvis`` become area fractions), or None when the kidney lies off the grid.
    """
    reach = 0.75 * k.length_mm + 5 * step
    cols = np.flatnonzero(np.abs(xs - k.centre_mm[0]) <= reach)
    rows = np.flatnonzero(np.abs(ys - k.centre_mm[1]) <= reach)
    if cols.size == 0 or rows.size == 0:
        return None
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    n = xs.size
    sub = (np.arange(n * ss) + 0.5) / ss - 0.5  # sub-sample centres in pixel units
    sxs, sys_ = xs[0] + (sub[c0 * ss : c1 * ss]) * step, ys[0] + (sub[r0 * ss : r1 * ss]) * step
    g = kidney_geometry(k, *np.meshgrid(sxs, sys_))
    pooled = {
        name: a.astype(float).reshape(r1 - r0, ss, c1 - c0, ss).mean(axis=(1, 3)) for name, a in g.items()
    }
    return (slice(r0, r1), slice(c0, c1)), pooled


def _paint_labels(
    labels: dict[str, np.ndarray], win: tuple[slice, slice], pooled: dict[str, np.ndarray], value: int
) -> None:
    """Mark one kidney's pixels (>= 50 % of the area inside) with ``value`` in the three label maps."""
    kid = pooled["kidney"] >= 0.5
    pel = kid & (pooled["pelvis"] >= 0.5)
    labels["kidney"][win][kid] = value
    labels["pelvis"][win][pel] = value
    labels["parenchyma"][win][kid & ~pel] = value


def label_maps(cfg: StudyConfig, size: int | None = None) -> dict[str, np.ndarray]:
    """The study's ``kidney``, ``pelvis`` and ``parenchyma`` label maps on a ``size`` x ``size`` grid of its field.

    ``size`` None (or the matrix) gives the native labels of :func:`build_phantom`; another size draws the same
    analytic outline on that grid (e.g. the network's 384x384, where enlarging a 64x64 label would give each
    native pixel's staircase instead of the kidney's outline), by the same >= 50 % area rule.

    Args:
        cfg: the study configuration.
        size: grid size in pixels. Defaults to the native matrix.

    Returns:
        ``{name: (size, size) uint8}`` with 0 background, 1 patient left, 2 patient right.
    """
    m = int(cfg.matrix)
    size = m if size is None else int(size)
    if size < 1:
        raise ValueError(f"label grid size must be a positive number of pixels, got {size}")
    xs, ys, step = _label_grid(cfg, size)
    ss = _supersampling(size, m)
    labels = {name: np.zeros((size, size), np.uint8) for name in LABEL_NAMES}
    for side, value in (("left", 1), ("right", 2)):
        k = cfg.kidney(side)
        if not (k.present and k.labelled):
            continue
        window = _sampled_kidney(k, xs, ys, step, ss)
        if window is not None:
            _paint_labels(labels, *window, value)
    return labels


def build_phantom(cfg: StudyConfig) -> Phantom:
    """Project every compartment of the study's anatomy through the camera model.

    Args:
        cfg: the study configuration.

    Returns:
        The :class:`Phantom` (templates, labels, field-of-view mask, camera facts).
    """
    m, ps = int(cfg.matrix), float(cfg.pixel_spacing_mm)
    xs, ys, _ = _label_grid(cfg, m)
    x, y = np.meshgrid(xs, ys)  # (H, W): rows are y (caudal down), columns x (patient right to image right)
    s = cfg.body_scale
    hw = cfg.trunk_width_cm * 10.0 / 2.0
    tt = cfg.trunk_thickness_cm
    mu, gap, sens = cfg.mu_per_cm, cfg.table_gap_cm, cfg.sensitivity_cps_per_mbq
    fov = (np.abs(x - cfg.fov_centre_mm[0]) <= UFOV_MM[0] / 2) & (np.abs(y - cfg.fov_centre_mm[1]) <= UFOV_MM[1] / 2)

    def project(
        density: np.ndarray, weight: float, depth_cm: float, spread_cm: float = 0.0, full: float | None = None
    ) -> np.ndarray:
        """Counts per MBq s per pixel for ``weight`` of a compartment spread like ``density`` at ``depth_cm``.

        ``full`` is the integral of the organ's density over its whole extent (pixel units), so an organ cut by
        the image edge keeps only its visible share of the activity; default: the visible sum.
        """
        total = float(density.sum()) if full is None else float(full)
        if weight <= 0 or total <= 0:
            return np.zeros((m, m))
        if spread_cm > 0:  # uniformly spread over [0, spread_cm]: depth-averaged transmission
            trans = (1.0 - np.exp(-mu * spread_cm)) / (mu * spread_cm)
        else:
            trans = float(np.exp(-mu * depth_cm))
        sigma = psf_fwhm_mm(depth_cm + gap, cfg.collimator) / 2.3548 / ps
        sf = scatter_fraction(depth_cm)
        d = density * (weight / total)
        img = gaussian_filter(d, sigma, mode="constant") + sf / (1.0 - sf) * gaussian_filter(
            d, _SCATTER_SIGMA_MM / ps, mode="constant", truncate=3.0
        )
        return sens * trans * img

    # --- organ densities on the pixel grid (smooth organs: the PSF hides their pixel-level edges), each with the
    # integral of its whole (unclipped) density in pixel units, so organs cut by the image edge are not brightened
    px2 = ps * ps

    def ell(cx: float, cy: float, rx: float, ry: float, ang: float = 0.0) -> tuple[np.ndarray, float]:
        return _ellipsoid(x, y, cx, cy, rx, ry, ang), 2.0 * np.pi / 3.0 * rx * ry / px2

    def tube(points: list[tuple[float, float]], radius: float) -> tuple[np.ndarray, float]:
        length = sum(np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points[:-1], points[1:], strict=True))
        return _tube(x, y, points, radius), np.pi * radius / 2.0 * (length + 4.0 * radius / 3.0) / px2

    def combine(*parts: tuple[float, tuple[np.ndarray, float]]) -> tuple[np.ndarray, float]:
        return sum(w * d for w, (d, _) in parts), sum(w * f for w, (_, f) in parts)

    trunk_len, leg_len = 570.0 * s, 400.0 * s
    trunk = (np.sqrt(np.clip(1.0 - (x / hw) ** 2, 0.0, None)) * ((y >= -300.0 * s) & (y <= 270.0 * s)),
             np.pi * hw / 2.0 * trunk_len / px2)
    legs = (sum(np.sqrt(np.clip(1.0 - ((x - sx * 0.45 * hw) / (0.42 * hw)) ** 2, 0.0, None))
                * ((y > 270.0 * s) & (y <= 270.0 * s + leg_len)) for sx in (-1.0, 1.0)),
            2.0 * np.pi * 0.42 * hw / 2.0 * leg_len / px2)
    arm_r = ARM_RADIUS_FRAC * hw
    arms = {}
    for sx, name in ((-1.0, "left"), (1.0, "right")):
        pts = [(sx * ARM_CENTRE_FRAC * hw, -260.0 * s), (sx * ARM_CENTRE_FRAC * hw, 130.0 * s)]
        arms[name] = tube(pts, arm_r) if cfg.arms_in_fov else (np.zeros_like(x), 0.0)
    liver = combine((0.85, ell(0.35 * hw, -75.0 * s, 0.55 * hw, 62.0 * s, -10.0)),
                    (0.15, ell(-0.15 * hw, -105.0 * s, 0.35 * hw, 35.0 * s)))
    spleen = ell(-0.62 * hw, -75.0 * s, 0.2 * hw, 45.0 * s, 20.0)
    heart = ell(-0.12 * hw, -175.0 * s, 0.42 * hw, 55.0 * s, 15.0)
    lungs = combine((1.0, ell(-0.5 * hw, -185.0 * s, 0.36 * hw, 85.0 * s)),
                    (1.0, ell(0.5 * hw, -185.0 * s, 0.36 * hw, 85.0 * s)))
    aorta = tube([(-0.03 * hw, -230.0 * s), (-0.03 * hw, 95.0 * s)], 8.0 * s)
    ivc = tube([(0.08 * hw, -200.0 * s), (0.08 * hw, 100.0 * s)], 9.0 * s)
    bladder = ell(0.0, 190.0 * s, 0.3 * hw, 30.0 * s)
    bowel = ell(0.1 * hw, 90.0 * s, 0.6 * hw, 60.0 * s)
    gallbladder = ell(0.3 * hw, -25.0 * s, 12.0 * s, 22.0 * s)

    # --- kidneys, supersampled for the labels
    ss = _supersampling(m, m)
    labels = {name: np.zeros((m, m), np.uint8) for name in LABEL_NAMES}
    dens: dict[str, np.ndarray] = {}
    info: dict[str, Any] = {}
    for side, value in (("left", 1), ("right", 2)):
        k = cfg.kidney(side)
        dens[f"parenchyma_{side}"] = np.zeros((m, m))
        dens[f"pelvis_{side}"] = np.zeros((m, m))
        if not k.present:
            continue
        window = _sampled_kidney(k, xs, ys, ps, ss)
        if window is None:
            continue
        win, pooled = window
        dens[f"parenchyma_{side}"][win] = pooled["parenchyma_density"]
        dens[f"pelvis_{side}"][win] = pooled["pelvis_density"]
        if k.labelled:
            _paint_labels(labels, win, pooled, value)
        col = (k.centre_mm[0] - xs[0]) / ps
        row = (k.centre_mm[1] - ys[0]) / ps
        info[side] = {
            "centre_rc_px": [round(float(row), 3), round(float(col), 3)],
            "depth_cm": round(k.depth_cm, 3),
            "transmission": round(float(np.exp(-mu * k.depth_cm)), 5),
            "psf_fwhm_mm": round(psf_fwhm_mm(k.depth_cm + gap, cfg.collimator), 3),
            "scatter_fraction": round(scatter_fraction(k.depth_cm), 4),
        }

    # --- compartment templates
    kid_depth = {sd: cfg.kidney(sd).depth_cm for sd in ("left", "right")}
    # renal blood volume scales with function (perfusion follows function), relative to a typical normal kidney
    k_ref = 0.08 if cfg.tracer == "MAG3" else 0.028
    blood_kidney = {}
    for sd in ("left", "right"):
        k_side = getattr(cfg.kinetics, f"k_{sd}")
        blood_kidney[sd] = 0.0 if not cfg.kidney(sd).present else 0.010 * float(np.clip(k_side / k_ref, 0.3, 1.5))
    liver_depth = kid_depth["right"] + 0.15 * tt
    organ_depth = {
        "liver": liver_depth, "spleen": kid_depth["left"] + 0.08 * tt, "heart": 0.6 * tt, "lungs": 0.4 * tt,
        "aorta": 0.45 * tt, "ivc": 0.5 * tt, "bladder": 0.7 * tt, "bowel": 0.65 * tt, "gallbladder": 0.55 * tt,
    }
    arm_depth = arm_r / 10.0
    kidney_blood = {sd: dens[f"parenchyma_{sd}"] + dens[f"pelvis_{sd}"] * 0.5 for sd in ("left", "right")}
    tissue = project(trunk[0], 1.0, tt / 2, spread_cm=tt, full=trunk[1])

    bg, lg = float(cfg.background_gain), float(cfg.liver_gain)

    def blood_like(parts: dict[str, float], trunk_w: float, arm_w: float, leg_w: float) -> np.ndarray:
        # background_gain scales the tissue share, liver_gain the liver/spleen share (a realism knob of the image:
        # the compartment's total activity is the kinetic model's, its spread over the image changes)
        parts = {o: w * (lg if o in ("liver", "spleen") else 1.0) for o, w in parts.items()}
        trunk_w, arm_w, leg_w = trunk_w * bg, arm_w * bg, leg_w * bg
        img = sum(project(organs[o][0], w, organ_depth[o], full=organs[o][1]) for o, w in parts.items())
        img = img + tissue * trunk_w
        img = img + sum(project(arms[sd][0], arm_w, arm_depth, full=arms[sd][1]) for sd in ("left", "right"))
        img = img + project(legs[0], leg_w, tt / 2, spread_cm=tt, full=legs[1])
        return img

    organs = {"liver": liver, "spleen": spleen, "heart": heart, "lungs": lungs, "aorta": aorta, "ivc": ivc,
               "bladder": bladder, "bowel": bowel, "gallbladder": gallbladder}
    t = {c: np.zeros((m, m)) for c in IMAGE_COMPARTMENTS}
    t["central"] = project(heart[0], 0.45, organ_depth["heart"], full=heart[1]) + project(
        lungs[0], 0.55, organ_depth["lungs"], full=lungs[1]
    )
    t["plasma"] = blood_like(
        {"heart": 0.08, "lungs": 0.10, "liver": 0.15, "spleen": 0.015, "aorta": 0.008, "ivc": 0.01}, 0.28, 0.03, 0.03
    ) + sum(project(kidney_blood[sd], blood_kidney[sd], kid_depth[sd]) for sd in ("left", "right"))
    t["interstitium"] = blood_like({"liver": 0.03}, 0.50, 0.04, 0.04)
    for sd in ("left", "right"):
        t[f"parenchyma_{sd}"] = project(dens[f"parenchyma_{sd}"], 1.0, kid_depth[sd])
        t[f"pelvis_{sd}"] = project(dens[f"pelvis_{sd}"], 1.0, kid_depth[sd])
        k = cfg.kidney(sd)
        if k.present:
            sign = -1.0 if sd == "left" else 1.0
            hx = k.centre_mm[0] - sign * 0.8 * k.width_mm / 2
            pts = [(hx, k.centre_mm[1]), (hx * 0.7, k.centre_mm[1] + 0.6 * k.length_mm), (sign * 0.2 * hw, 170.0 * s)]
            ureter = tube(pts, 2.0)
            t[f"ureter_{sd}"] = project(ureter[0], 1.0, kid_depth[sd] + 0.1 * tt, full=ureter[1])
    t["bladder"] = project(bladder[0], 1.0, organ_depth["bladder"], full=bladder[1])
    t["liver"] = project(liver[0], lg, organ_depth["liver"], full=liver[1])
    t["gut"] = project(gallbladder[0], 0.3, organ_depth["gallbladder"], full=gallbladder[1]) + project(
        bowel[0], 0.7, organ_depth["bowel"], full=bowel[1]
    )
    if cfg.injection_site_mm is not None:
        sx, sy = cfg.injection_site_mm
        depot = ell(sx, sy, 6.0, 6.0)
        t["depot"] = project(depot[0], 1.0, 1.0, full=depot[1])
        vein = tube([(sx, sy), (sx, -260.0 * s)], 3.0 * max(s, 0.5))
        t["injection"] = project(vein[0], 0.5, 1.0, full=vein[1])
    templates = np.stack([t[c] * fov for c in IMAGE_COMPARTMENTS]).astype(np.float32)
    return Phantom(templates, labels["parenchyma"], labels["kidney"], labels["pelvis"], fov, info)
