# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Uptake in the renal fossa of a kidney the mask lacks: the evidence of ``missing_kidney_uptake``
(:func:`scripts.clinical.qc.missing_kidney_qc`).

A kidney takes the tracer up: its counts grow over minutes 1-3 faster than the blood pool's, which is what the
Rutland-Patlak plot measures (``K(t)/P(t)`` against ``int P / P(t)``, slope = uptake). The liver and spleen over the
renal fossae are blood pool and tissue in these minutes: hot in the 1-3 min image (the real adult study's kidney-to-
background ratio is about 1.8, the clinical mix's hot-liver studies as low), but their counts follow the blood pool
and their Patlak slope is about that of the tissue around them. So the fossa is judged on a **Patlak uptake image**,
not on the summed counts:

1. :func:`uptake_image`: the Rutland-Patlak slope of every pixel over :data:`FOSSA_WINDOW_S` (the frames of minutes
   1-3, those the mask was drawn on) against the report's blood-pool curve, and its Poisson variance. The least-squares
   slope is linear in the frames (``sum_t w_t * counts_t``, ``w_t`` from the blood pool alone), so the image and its
   variance are two weighted sums of the frames, and a window's mean slope is the slope of the window's mean curve.
2. :func:`body_midline` (the centre of the widest body run) and :func:`symmetric_midline` (the body profile's centre
   of mirror symmetry) in the kidney rows of the 1-3 min counts image: an arm against the trunk moves the first,
   one arm alone the second; the fossa is searched about both.
3. :func:`fossa_uptake`: the present kidney's whole-kidney ROI mirrored across a midline is a window, a ring 2 px
   wide, 1 px out, its surround (a centre-minus-surround matched filter on the uptake image, moved as
   :data:`SEARCH_UP` etc. say about each midline's mirror image); ``ratio`` = the best window's slope minus its
   ring's, over the present kidney's slope minus its background ROI's (per pixel); ``snr`` = that difference over its
   Poisson standard deviation.

Written here because no library gives a Patlak image or a contrast matched filter on an arbitrary template; the
Patlak-Rutland method itself is the report's (:func:`scripts.clinical.indices.patlak_rutland`; Rutland 1979,
Patlak 1983; ``/work/shared/docs/renography.md`` section 3).

Measured on the 200 fresh seed-7000 clinical-mix studies (``/work/data13/val_s7000``; the 0.5.0 model's masks in
``/work/data13/val_final/predictions``; ratio and snr of this module, and the former rule for comparison):

=================================================== ================= ========= ===================================
case                                                uptake ``ratio``  ``snr``   former rule (1-3 min counts >= 0.3)
=================================================== ================= ========= ===================================
absent / non-functioning kidney, true masks (33)     0.004-0.21        <= 6.9    6 fired (liver or spleen over it)
the same studies, model masks (32, one kidney)       0.004-0.21        <= 7.0    6 fired
a kidney erased from the true mask (334)             0.06-6.6          --        279 fired
=================================================== ================= ========= ===================================

With :data:`FOSSA_UPTAKE_RATIO` 0.25 and :data:`FOSSA_MIN_SNR` 5 none of the 65 single-kidney masks fires, and 305
of the 334 erased kidneys do: 297 of the 310 whose true DRF is >= 20 %. The 29 missed hold 10-39 % of the function,
thin-rim hydronephrotic, obstructed, reduced and small scarred kidneys (their window, the present kidney's shape,
holds their cold pelvis or is larger than they are). Midline error against the true kidneys' mid-point (64-px
scale, the 334): widest run 0.27 median / 2.16 p90 / 5.5 max px, symmetry 0.16 / 0.80 / 2.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

from scripts.clinical.indices import cumulative_integral
from scripts.clinical.rois import KidneyROIs, background_ring

__all__ = [
    "FOSSA_WINDOW_S",
    "FOSSA_UPTAKE_RATIO",
    "FOSSA_MIN_SNR",
    "SEARCH_UP",
    "SEARCH_DOWN",
    "SEARCH_SIDE",
    "UptakeImage",
    "FossaUptake",
    "uptake_image",
    "body_midline",
    "symmetric_midline",
    "fossa_uptake",
]

#: the frames (mid-times, s) of the uptake image: minutes 1-3, the bundle's fused image (where the mask was drawn),
#: after the first pass and before a normal kidney's Tmax (2-5 min), so that the tracer is still in the parenchyma.
#: 60-180 s rather than the report's 60-150 s Patlak window: more frames on 30 s protocols (4 instead of 3), and on
#: the 200 seed-7000 studies (widest-run midline alone) 277 -> 281 of 334 erased kidneys found, no false alarm.
FOSSA_WINDOW_S: tuple[float, float] = (60.0, 180.0)
#: a missing kidney's fossa is flagged when its best kidney-shaped window's Patlak uptake above its own surround is at
#: least this fraction of the present kidney's above its background ROI (per pixel). Measured (module docstring): an
#: absent or non-functioning kidney's fossa 0.004-0.21 (the hot liver or spleen over it included), a kidney erased
#: from the mask 0.06-6.6, >= 0.25 in 305 of 334. A missed kidney at this ratio holds about 20 % of the function, so
#: DRF 100/0 is then wrong by about 20 points or more.
FOSSA_UPTAKE_RATIO = 0.25
#: ... and at least this many standard deviations of the Poisson noise of that difference (so that a faint kidney's
#: ratio is not noise: the single-kidney masks' windows at snr >= 5 have ratio <= 0.11).
FOSSA_MIN_SNR = 5.0
#: the fossa search: the mirrored kidney is moved up to these fractions of its length (rows up, rows down, columns
#: either way): the left kidney usually lies 1-2 cm higher, a low kidney up to about half a length lower.
SEARCH_UP, SEARCH_DOWN, SEARCH_SIDE = 0.4, 0.6, 0.3
#: fewest frames in :data:`FOSSA_WINDOW_S` for a slope (as :func:`scripts.clinical.indices.patlak_rutland`; the noise
#: is the Poisson variance of the counts, not the fit's residuals, so two 60 s frames suffice).
_MIN_FRAMES = 2


@dataclass(frozen=True)
class UptakeImage:
    """The Rutland-Patlak uptake image of :func:`uptake_image`.

    Attributes:
        slope: ``(H, W)`` Patlak slope per pixel (1/s; counts/s per pixel over blood-pool units).
        variance: ``(H, W)`` its Poisson variance (the frames' counts as their own variance).
        n_frames: frames in the window.
    """

    slope: np.ndarray
    variance: np.ndarray
    n_frames: int


@dataclass(frozen=True)
class FossaUptake:
    """The best kidney-shaped window in a missing kidney's fossa (:func:`fossa_uptake`).

    Attributes:
        ratio: its Patlak uptake above its surround over the present kidney's above its background ROI (0 when the
            present kidney shows none).
        snr: that difference over its Poisson standard deviation.
        midlines: the body midline columns searched about (:func:`body_midline`, :func:`symmetric_midline`; one
            when they agree).
        centre_rc: ``(row, column)`` of the best window's centre.
    """

    ratio: float
    snr: float
    midlines: tuple[float, ...]
    centre_rc: tuple[int, int]


def uptake_image(
    frames: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    blood_rate: np.ndarray,
    window_s: tuple[float, float] = FOSSA_WINDOW_S,
) -> UptakeImage | None:
    """The Rutland-Patlak slope of every pixel over ``window_s`` (see the module docstring).

    Args:
        frames: ``(T, H, W)`` counts per frame (motion-corrected, as the curves use them).
        starts_s, durations_s: frame timing (s).
        blood_rate: ``(T,)`` blood-pool curve (the report's, :func:`scripts.clinical.curves.blood_pool`).
        window_s: frame mid-times (s) of the fit. Defaults to :data:`FOSSA_WINDOW_S`.

    Returns:
        The image, or None when fewer than 2 frames lie in the window, the blood pool is not positive there, or its
        ``int P / P`` does not vary.
    """
    fr = np.asarray(frames, float)
    starts, durs, p = (np.asarray(a, float) for a in (starts_s, durations_s, blood_rate))
    mid = starts + durs / 2.0
    sel = (mid >= window_s[0]) & (mid <= window_s[1])
    if sel.sum() < _MIN_FRAMES or np.any(p[sel] <= 0) or not np.all(np.isfinite(p[sel])):
        return None
    x = cumulative_integral(p, starts, durs)[sel] / p[sel]
    sxx = float(np.sum((x - x.mean()) ** 2))
    if not sxx > 0:
        return None
    # slope = sum_t w_t * y_t with y_t = counts_t / (duration_t * P_t): one weight per frame on its counts
    coef = (x - x.mean()) / sxx / (durs[sel] * p[sel])
    used = fr[sel]
    return UptakeImage(np.tensordot(coef, used, axes=1), np.tensordot(coef**2, np.clip(used, 0, None), axes=1),
                       int(sel.sum()))


def body_midline(image: np.ndarray, rows: np.ndarray) -> float:
    """Column of the body's midline in the given rows of a counts image.

    How: the log of the smoothed image is split into body and air by Otsu's threshold (OpenCV); in ``rows`` the
    columns that are body in at least half the rows form runs, and the midline is the centre of the widest run (the
    trunk; arms beside it are narrower runs, and an air gap separates them). Written here because a planar
    scintigram has no other landmark with one kidney: the spine is photopenic only between two kidneys. Falls back
    to the image centre when no run is found. An arm lying against the trunk joins its run and moves this centre:
    :func:`fossa_uptake` also searches about :func:`symmetric_midline`.
    """
    w = np.asarray(image).shape[1]
    profile = _body_profile(image, rows)
    if profile is None:
        return (w - 1) / 2.0
    runs, n = ndi.label(profile >= 0.5)
    if n == 0:
        return (w - 1) / 2.0
    sizes = ndi.sum_labels(np.ones(w), runs, index=np.arange(1, n + 1))
    idx = np.flatnonzero(runs == 1 + int(np.argmax(sizes)))
    return float(idx[0] + idx[-1]) / 2.0


def _body_profile(image: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """Each column's share of body pixels in ``rows`` (log of the smoothed image, Otsu's threshold), or None."""
    img = np.asarray(image, float)
    smooth = ndi.gaussian_filter(np.clip(img, 0, None), 1.5)
    logged = np.log1p(smooth)
    top = float(logged.max())
    rows = np.asarray(rows, int)
    rows = rows[(rows >= 0) & (rows < img.shape[0])]
    if top <= 0 or rows.size == 0:
        return None
    scaled = np.round(255.0 * logged / top).astype(np.uint8)
    _, body = cv2.threshold(scaled, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    profile = body[rows].mean(axis=0)
    return profile if profile.any() else None


def symmetric_midline(image: np.ndarray, rows: np.ndarray) -> float:
    """Column about which the body's column profile in ``rows`` best matches its mirror image.

    The profile ``p`` is each column's share of body pixels (as :func:`body_midline` splits body from air); the
    centre ``c`` maximises ``sum_k min(p_k, p_2c-k) - sum_k |p_k - p_2c-k|`` (body matched by body, less body
    mirrored onto air; beyond the image is air). The trunk and both arms are symmetric about it, so an arm lying
    against the trunk does not move it, where it moves :func:`body_midline`; one arm alone near the trunk pulls it
    (no partner), where :func:`body_midline` holds. Written here for the same reason as :func:`body_midline`. Falls
    back to the image centre when no body is found.
    """
    w = np.asarray(image).shape[1]
    profile = _body_profile(image, rows)
    if profile is None:
        return (w - 1) / 2.0
    # every centre on the half-pixel grid (n = 2c): each column against its mirror column 2c - k (air outside)
    n = np.arange(2 * w - 1)[:, None]
    mirror_idx = n - np.arange(w)[None, :]
    mirror = np.where((mirror_idx >= 0) & (mirror_idx < w), profile[np.clip(mirror_idx, 0, w - 1)], 0.0)
    score = np.minimum(profile, mirror).sum(axis=1) - np.abs(profile - mirror).sum(axis=1)
    best = np.flatnonzero(score >= score.max() - 1e-9)
    return float(np.median(best)) / 2.0


def fossa_uptake(rois: KidneyROIs, present: str, counts_image: np.ndarray, uptake: UptakeImage) -> FossaUptake:
    """The best kidney-shaped window of Patlak uptake in the fossa opposite the ``present`` kidney.

    Args:
        rois: the study's ROIs (``present`` has a whole-kidney ROI).
        present: the side with a kidney (``"left"``/``"right"``).
        counts_image: ``(H, W)`` 1-3 min counts (for the body midline).
        uptake: :func:`uptake_image` of the study.

    The present kidney (2 px dilated) and the heart ROI count as its background inside the search.
    """
    val = np.asarray(uptake.slope, float)
    var = np.asarray(uptake.variance, float)
    h, w = val.shape
    kid = np.asarray(rois.kidney[present], bool)
    ring = rois.background[present]
    if ring is None or not ring.any():
        ring = background_ring(kid, gap=1, width=2, valid=np.asarray(counts_image) > 0)
    r, c = np.nonzero(kid)
    rows = np.arange(r.min(), r.max() + 1)
    mids = tuple(sorted({body_midline(counts_image, rows), symmetric_midline(counts_image, rows)}))
    if not ring.any():
        return FossaUptake(0.0, 0.0, mids, (-1, -1))
    bg, bg_var = float(val[ring].mean()), float(var[ring].mean())
    k_contrast = float(val[kid].mean()) - bg
    mc = np.round(2.0 * mids[0] - c).astype(int)  # the window's shape; its place is set per midline below
    pad = 4  # room for the ring (1 px gap + 2 px) in the kernel
    inner = np.zeros((r.max() - r.min() + 1 + 2 * pad, mc.max() - mc.min() + 1 + 2 * pad), bool)
    inner[r - r.min() + pad, mc - mc.min() + pad] = True
    square = np.ones((3, 3), bool)
    outer = ndi.binary_dilation(inner, square, iterations=3) & ~ndi.binary_dilation(inner, square, iterations=1)
    n_in, n_out = float(inner.sum()), float(outer.sum())
    excluded = ndi.binary_dilation(kid, square, iterations=2)
    if rois.heart is not None and rois.heart.any():
        excluded |= ndi.binary_dilation(rois.heart, square, iterations=2)
    work, work_var = val.copy(), var.copy()
    work[excluded], work_var[excluded] = bg, bg_var

    def filt(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return cv2.filter2D(a.astype(np.float32), -1, kernel.astype(np.float32), borderType=cv2.BORDER_CONSTANT)

    resp = filt(work, inner / n_in) - filt(work, outer / n_out)
    resp_var = filt(work_var, inner / n_in**2) + filt(work_var, outer / n_out**2)
    # filter2D anchors the kernel at its centre (kh // 2, kw // 2): the mirrored kidney lies there unmoved; the
    # search is the union of the rectangles about each midline's mirror image
    yc = r.min() - pad + inner.shape[0] // 2
    length_px = max(r.max() - r.min() + 1, mc.max() - mc.min() + 1)
    y0, y1 = max(int(yc - SEARCH_UP * length_px), 0), min(int(yc + SEARCH_DOWN * length_px) + 1, h)
    search = np.zeros((h, w), bool)
    for mid in mids:
        xc = mc.min() - pad + inner.shape[1] // 2 + round(2.0 * (mid - mids[0]))
        x0, x1 = max(int(xc - SEARCH_SIDE * length_px), 0), min(int(xc + SEARCH_SIDE * length_px) + 1, w)
        search[y0:y1, x0:x1] = True
    if not search.any() or not k_contrast > 0:
        return FossaUptake(0.0, 0.0, mids, (-1, -1))
    masked = np.where(search, resp, -np.inf)
    by, bx = np.unravel_index(int(np.argmax(masked)), masked.shape)
    best = float(resp[by, bx])
    sd = math.sqrt(max(float(resp_var[by, bx]), 1e-30))
    return FossaUptake(best / k_contrast, best / sd, mids, (int(by), int(bx)))
