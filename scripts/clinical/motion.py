# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Patient motion: frames shifted against the ones the kidney ROIs were drawn on, found and shifted back.

Between the ROIs and the curves of the analysis (:mod:`scripts.clinical.analysis`). The mask, and so every ROI, lies
where the kidneys are in the fused image the network saw (the bundle's rule: minutes 1-3). A child who moves later
carries kidney counts out of the kidney ROIs and into their background rings (1 px away). The motion is taken to be a
rigid translation of the whole image, estimated per frame, and undone before any curve is drawn; the ROIs stay where
the segmentation put them.

How (each choice, and why):

- **Registration units.** Of the frames whose mid-time is :data:`MOTION_START_S` (60 s) or later, each frame of at
  least :data:`UNIT_S` (10 s); shorter frames are summed in runs of at least 10 s, and a unit found moved moves all
  its frames. The first minute is not registered: its 1-3 s frames hold about 2 counts per kidney pixel
  (renography.md, measured on the real study), and the bolus carries the activity from heart and aorta into the
  kidneys within seconds, which a rigid registration would read as motion. Its frames only place the heart ROI,
  which is found on their sum.
- **Reference.** Units whose mid-time lies in the reference window (default 60-180 s, the bundle's fused image) are
  registered against the window's sum: this anchors every position to the frames the mask was drawn on. Each later
  unit is registered against the sum of the units just before it, already corrected, covering at least
  :data:`RUNNING_S` (60 s; two units at least); units between 60 s and a later window against those just after. This
  running reference follows the slow change of the activity distribution (parenchyma, then pelvis), which a fixed
  1-3 min reference would read as a drift of the kidneys; it stays anchored because every unit it holds was moved
  back to the window's position.
- **Registration.** Cross-correlation (FFT, zero-padded so that the correlation does not wrap) of the unit and the
  reference in the box around both kidney ROIs plus a margin of 15 mm (at least 3 px): the bladder, the heart and an
  injection site outside it cannot pull the estimate. Both images are band-passed (difference of Gaussians of
  :data:`SMOOTH_PX` 1 px and :data:`BACKGROUND_PX` 5 px), mean-removed and tapered (cosine over the margin); the
  peak is refined to sub-pixel by a 3-point Gaussian fit per axis, and again after shifting the unit back by the
  estimate, until the residual is below 0.02 px (the fixed taper biases a shifted image towards 0). The band-pass
  keeps the kidney outlines and drops the smooth soft-tissue and blood-pool background, whose share of the counts
  falls over the first minutes: without it, the frames of the 1-3 min window itself read 0.5-0.9 px of motion on
  motion-free simulated studies (measured on 8).
  Plain cross-correlation, not phase correlation (``cv2.phaseCorrelate``): whitening gives every spatial frequency the
  same weight, and at 20-40 counts per kidney pixel the high frequencies are Poisson noise, while the smooth images
  (system FWHM 6-10 mm, over a pixel) give a broad correlation peak that a 3-point fit locates well. The search is
  limited to :data:`MAX_SHIFT_MM` (30 mm).
- **Noise floor.** A unit counts as moved, and its frames are shifted back (linear interpolation, zero outside the
  field of view), when its shift exceeds :data:`NOISE_FLOOR_PX`, measured on motion-free simulated studies (see the
  constant). Smaller measured shifts are noise; those frames stay untouched, so the curves of a motion-free study are
  the ones it had without this step.
- **Warning** when the largest shift exceeds :data:`WARNING_THRESHOLD_PX` (1 px): the ROIs are drawn on the pixel
  grid and the background ring starts 1 px outside the kidney, so from one pixel on a shift carries kidney counts into
  the background ring and background into the kidney ROI; that is what needs a reader's eye even after the correction.

``report.json`` gets ``motion`` (:meth:`MotionEstimate.info`): ``shift_rc_px`` (``[dy, dx]`` measured per frame, row
and column, px, ``null`` for frames not registered: the first minute), ``frames_moved`` (0-based frames above the
noise floor, shifted back when ``corrected``), ``max_shift_px`` (largest measured shift length), ``corrected``,
``threshold_px`` (the warning threshold), ``noise_floor_px``, ``reference_window_s``, ``registered_from_s``,
``warning`` (bool) and ``note`` (why nothing was registered, else empty); above the threshold, the warning in
``warnings`` and the ``qc`` entry ``{"code": "motion", "side": null, "message"}`` (:meth:`MotionEstimate.qc_entries`).
``settings.motion_correction`` records the switch (off: measured and reported, frames left as they are).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "MOTION_START_S",
    "UNIT_S",
    "RUNNING_S",
    "MAX_SHIFT_MM",
    "NOISE_FLOOR_PX",
    "WARNING_THRESHOLD_PX",
    "MotionEstimate",
    "shift_lengths",
    "max_shift_length",
    "registration_units",
    "registration_window",
    "register_translation",
    "measure_shift",
    "estimate_motion",
    "correct_motion",
]

#: frames whose mid-time is earlier (s) are not registered (the vascular phase; see the module docstring).
MOTION_START_S = 60.0
#: shortest registration unit (s): shorter frames are summed.
UNIT_S = 10.0
#: the running reference covers at least this much of the neighbouring, corrected units (s).
RUNNING_S = 60.0
#: the largest shift searched (mm).
MAX_SHIFT_MM = 30.0
#: a unit whose measured shift is larger (px) counts as moved and is shifted back: above the largest shift measured
#: on 80 motion-free simulated studies (64² and 128², the default pathology mix, paper136 and the five clinical
#: protocols; p95 0.55-0.67 px, largest 0.73 px); a shift of one pixel or more stays above it (the error of a
#: measured shift had p90 0.2 px on the same studies with motion). Figures in the README's clinical-report section.
NOISE_FLOOR_PX = 0.75
#: the ``motion`` warning is given when the largest shift exceeds this (px; see the module docstring).
WARNING_THRESHOLD_PX = 1.0
#: margin of the registration box around the kidney ROIs (mm; at least 3 px), tapered to 0.
MARGIN_MM = 15.0
#: Gaussian sigma (px) of the smoothing before the correlation.
SMOOTH_PX = 1.0
#: Gaussian sigma (px) of the background taken off before the correlation (the band-pass: see the module docstring).
BACKGROUND_PX = 5.0
#: most refinements of a shift above 0.25 px (see :func:`measure_shift`).
_REFINEMENTS = 4


def shift_lengths(shifts_px: np.ndarray) -> np.ndarray:
    """Length (px) of each frame's ``[dy, dx]`` shift in a ``(T, 2)`` array; NaN where the frame was not registered."""
    shifts = np.asarray(shifts_px, float)
    return np.hypot(shifts[:, 0], shifts[:, 1])


def max_shift_length(shifts_px: np.ndarray) -> float:
    """The largest finite shift length (px) of a ``(T, 2)`` array; 0 when no frame was registered."""
    lengths = shift_lengths(shifts_px)
    lengths = lengths[np.isfinite(lengths)]
    return float(lengths.max()) if lengths.size else 0.0


@dataclass
class MotionEstimate:
    """Shifts of the frames of one study against the reference window, and what was done with them.

    Attributes:
        shifts_px: ``(T, 2)`` measured ``(dy, dx)`` of each frame against the reference (row, column; px); a frame
            holding ``frame(x) = reference(x - shift)``. NaN for frames not registered.
        moved: ``(T,)`` frames whose shift exceeds the noise floor.
        reference_window_s: the reference window (s, unit mid-times).
        start_s: frames whose mid-time is earlier (s) are not registered.
        noise_floor_px, threshold_px: see :data:`NOISE_FLOOR_PX` and :data:`WARNING_THRESHOLD_PX`.
        corrected: whether the moved frames were shifted back (:func:`correct_motion`).
        note: why nothing was registered (empty otherwise).
        unit_frames: the frames of each registration unit (:func:`registration_units`).
    """

    shifts_px: np.ndarray
    moved: np.ndarray
    reference_window_s: tuple[float, float] = (60.0, 180.0)
    start_s: float = MOTION_START_S
    noise_floor_px: float = NOISE_FLOOR_PX
    threshold_px: float = WARNING_THRESHOLD_PX
    corrected: bool = False
    note: str = ""
    unit_frames: list[list[int]] = field(default_factory=list)

    @property
    def frames_moved(self) -> list[int]:
        """0-based indices of the moved frames."""
        return [int(i) for i in np.flatnonzero(self.moved)]

    @property
    def max_shift_px(self) -> float:
        """The largest measured shift length (px; 0 when nothing was registered)."""
        return max_shift_length(self.shifts_px)

    @property
    def warns(self) -> bool:
        """Whether the largest shift of a moved frame exceeds the warning threshold."""
        return bool(self.moved.any()) and self.max_shift_px > self.threshold_px

    def message(self) -> str:
        """The ``motion`` warning's text (empty when :attr:`warns` is false)."""
        if not self.warns:
            return ""
        frames = self.frames_moved
        runs: list[str] = []
        start = prev = frames[0]
        for f in [*frames[1:], None]:
            if f is not None and f == prev + 1:
                prev = f
                continue
            runs.append(str(start) if start == prev else f"{start}-{prev}")
            if f is not None:
                start = prev = f
        done = ("shifted back before the curves were drawn; check the ROIs on those frames" if self.corrected
                else "not corrected (motion correction off): the curves of those frames are wrong")
        return (f"patient motion: frame{'s' if len(frames) > 1 else ''} {', '.join(runs)} (0-based) moved by up to "
                f"{self.max_shift_px:.1f} px against the frames the ROIs were drawn on (warning above "
                f"{self.threshold_px:g} px); {done}")

    def qc_entries(self) -> list[dict[str, Any]]:
        """The ``motion`` entry of ``report.json``'s ``qc`` list (``{"code", "side", "message"}``; empty without a
        warning), as :class:`scripts.clinical.qc.QCWarning` takes it (``QCWarning(**entry)``)."""
        return [{"code": "motion", "side": None, "message": self.message()}] if self.warns else []

    def info(self) -> dict[str, Any]:
        """``report.json``'s ``motion`` entry (see the module docstring)."""
        shifts = [None if not np.all(np.isfinite(s)) else [round(float(s[0]), 3), round(float(s[1]), 3)]
                  for s in self.shifts_px]
        return {
            "shift_rc_px": shifts,
            "frames_moved": self.frames_moved,
            "max_shift_px": round(self.max_shift_px, 3),
            "corrected": bool(self.corrected and self.moved.any()),
            "threshold_px": float(self.threshold_px),
            "noise_floor_px": float(self.noise_floor_px),
            "reference_window_s": [float(v) for v in self.reference_window_s],
            "registered_from_s": float(self.start_s),
            "warning": self.warns,
            "note": self.note,
        }


def registration_units(
    starts_s: np.ndarray, durations_s: np.ndarray, start_s: float = MOTION_START_S, unit_s: float = UNIT_S
) -> list[np.ndarray]:
    """Consecutive frames registered together: of the frames whose mid-time is ``start_s`` or later, each frame of at
    least ``unit_s``, shorter frames summed until the run lasts ``unit_s`` (a last run shorter than half of it joins
    the one before).

    Returns:
        A list of index arrays, in time order.
    """
    units: list[list[int]] = []
    run: list[int] = []
    total = 0.0
    for i, (s, d) in enumerate(zip(np.asarray(starts_s, float), np.asarray(durations_s, float), strict=True)):
        if s + d / 2.0 < start_s - 1e-6:
            continue
        run.append(i)
        total += d
        if total >= unit_s - 1e-6:
            units.append(run)
            run, total = [], 0.0
    if run:
        if units and total < unit_s / 2:
            units[-1] += run
        else:
            units.append(run)
    return [np.asarray(u, int) for u in units]


def _taper(n: int, first: int, last: int, margin: int) -> np.ndarray:
    """1-D weights: 1 on ``[first, last]``, a cosine falling to 0 over ``margin`` samples outside, 0 beyond."""
    i = np.arange(n)
    dist = np.maximum(np.maximum(first - i, i - last), 0).astype(float)
    w = 0.5 * (1.0 + np.cos(np.pi * np.minimum(dist, margin + 1) / (margin + 1)))
    return w


def registration_window(region: np.ndarray, margin_px: int) -> tuple[tuple[slice, slice], np.ndarray]:
    """The box registered (the region's bounding box, 1 px more, plus ``margin_px``, clipped to the image) and its
    weights (1 inside the region's box, a cosine taper over the margin).

    Args:
        region: ``(H, W)`` bool, the kidney ROIs.
        margin_px: taper width (px).

    Returns:
        ``((row slice, column slice), (h, w) weights)``.
    """
    region = np.asarray(region, bool)
    h, w = region.shape
    rows, cols = np.nonzero(region)
    r0, r1, c0, c1 = rows.min() - 1, rows.max() + 1, cols.min() - 1, cols.max() + 1
    box = (slice(max(0, r0 - margin_px), min(h, r1 + margin_px + 1)),
           slice(max(0, c0 - margin_px), min(w, c1 + margin_px + 1)))
    wr = _taper(h, r0, r1, margin_px)[box[0]]
    wc = _taper(w, c0, c1, margin_px)[box[1]]
    return box, np.outer(wr, wc)


def _prepared(image: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The band-passed (:data:`SMOOTH_PX` - :data:`BACKGROUND_PX`), weighted-mean-removed and tapered image."""
    image = np.asarray(image, float)
    g = ndi.gaussian_filter(image, SMOOTH_PX) - ndi.gaussian_filter(image, BACKGROUND_PX)
    return (g - float((g * weight).sum() / weight.sum())) * weight


def _peak_offset(before: float, peak: float, after: float) -> float:
    """Sub-pixel offset (-0.5..0.5) of a sampled peak: 3-point Gaussian fit, parabolic where a value is not
    positive."""
    if before > 0 and peak > 0 and after > 0:
        lb, lp, la = math.log(before), math.log(peak), math.log(after)
        den = lb - 2.0 * lp + la
        num = lb - la
    else:
        den = before - 2.0 * peak + after
        num = before - after
    if not den < 0:  # flat or not a maximum
        return 0.0
    return float(np.clip(0.5 * num / den, -0.5, 0.5))


def register_translation(image: np.ndarray, reference: np.ndarray, weight: np.ndarray, max_shift_px: float
                         ) -> np.ndarray:
    """``(dy, dx)`` maximising the cross-correlation of ``image`` with ``reference`` shifted by it, i.e. the shift
    with ``image(x) = reference(x - shift)`` (sub-pixel; see the module docstring).

    Args:
        image, reference: ``(h, w)`` images (the registration box).
        weight: ``(h, w)`` taper (:func:`registration_window`).
        max_shift_px: largest shift searched per axis (px).
    """
    a, b = _prepared(image, weight), _prepared(reference, weight)
    h, w = a.shape
    shape = (2 * h, 2 * w)  # zero padding: shifts up to the box size do not wrap around
    corr = np.fft.irfft2(np.fft.rfft2(a, shape) * np.conj(np.fft.rfft2(b, shape)), shape)
    r = max(1, int(min(math.ceil(max_shift_px), h - 1, w - 1)))
    lags = np.arange(-r, r + 1)
    sub = corr[np.ix_(lags % shape[0], lags % shape[1])]
    i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
    dy, dx = float(lags[i]), float(lags[j])
    if 0 < i < sub.shape[0] - 1:
        dy += _peak_offset(sub[i - 1, j], sub[i, j], sub[i + 1, j])
    if 0 < j < sub.shape[1] - 1:
        dx += _peak_offset(sub[i, j - 1], sub[i, j], sub[i, j + 1])
    return np.array([dy, dx])


def _shift(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``image`` moved by ``shift`` (row, column; px): linear interpolation, 0 outside."""
    return ndi.shift(np.asarray(image, float), (float(shift[0]), float(shift[1])), order=1, mode="constant",
                     cval=0.0)


def measure_shift(image: np.ndarray, reference: np.ndarray, box: tuple[slice, slice], weight: np.ndarray,
                  max_shift_px: float) -> np.ndarray:
    """The shift of the whole ``(H, W)`` ``image`` against ``reference`` (:func:`register_translation` in ``box``
    with ``weight`` from :func:`registration_window`). When that exceeds 0.25 px it is refined: ``image`` moved back
    by the estimate is registered again and the residual added, until the residual is below 0.02 px (at most
    :data:`_REFINEMENTS` times). One pass reads about 78 % of a shift (the fixed taper and the smoothing pull it
    towards 0); each refinement takes 78 % of what is left, so four give the shift to about 0.3 %."""
    s = register_translation(image[box], reference[box], weight, max_shift_px)
    if np.hypot(*s) > 0.25:
        for _ in range(_REFINEMENTS):
            step = register_translation(_shift(image, -s)[box], reference[box], weight, max_shift_px)
            s = s + step
            if np.hypot(*step) < 0.02:
                break
    return s


def _running(images: list[np.ndarray | None], durations: list[float], order: range, running_s: float) -> np.ndarray:
    """Sum of the already corrected units in ``order`` (nearest first) covering ``running_s`` (two at least)."""
    total: np.ndarray | None = None
    covered, n = 0.0, 0
    for k in order:
        if images[k] is None:
            continue
        total = images[k].copy() if total is None else total + images[k]
        covered += durations[k]
        n += 1
        if covered >= running_s - 1e-6 and n >= 2:
            break
    if total is None:
        raise ValueError("no corrected unit to build a running reference from")
    return total


def estimate_motion(
    frames: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    region: np.ndarray,
    spacing_mm: float = 4.0,
    reference_window_s: tuple[float, float] = (60.0, 180.0),
    noise_floor_px: float = NOISE_FLOOR_PX,
    threshold_px: float = WARNING_THRESHOLD_PX,
    start_s: float = MOTION_START_S,
) -> MotionEstimate:
    """Shift of every frame with a mid-time from ``start_s`` on against the reference window (see the module docstring).

    Args:
        frames: ``(T, H, W)`` counts. starts_s, durations_s: frame timing (s).
        region: ``(H, W)`` bool, the kidney ROIs (the registration box is built around it).
        spacing_mm: pixel size (mm), for the margin and the search range. Defaults to 4.
        reference_window_s: frames whose positions are the reference (unit mid-times, s). Defaults to (60, 180).
        noise_floor_px: a larger shift moves the frame. Defaults to :data:`NOISE_FLOOR_PX`.
        threshold_px: warning threshold. Defaults to :data:`WARNING_THRESHOLD_PX`.
        start_s: frames whose mid-time is earlier are not registered. Defaults to :data:`MOTION_START_S`.

    Returns:
        The :class:`MotionEstimate` (``corrected`` false; see :func:`correct_motion`).
    """
    frames = np.asarray(frames, float)
    starts, durs = np.asarray(starts_s, float), np.asarray(durations_s, float)
    n_frames = frames.shape[0]
    est = MotionEstimate(np.full((n_frames, 2), np.nan), np.zeros(n_frames, bool), tuple(reference_window_s),
                         float(start_s), float(noise_floor_px), float(threshold_px))
    region = np.asarray(region, bool)
    units = registration_units(starts, durs, start_s)
    if not region.any():
        est.note = "no kidney ROI to register"
        return est
    if len(units) < 2:
        est.note = f"fewer than two registration units from {start_s:g} s on"
        return est
    est.unit_frames = [u.tolist() for u in units]
    mids = np.array([(starts[u[0]] + starts[u[-1]] + durs[u[-1]]) / 2.0 for u in units])
    lo, hi = reference_window_s
    ref_units = [k for k, m in enumerate(mids) if lo <= m <= hi]
    if not ref_units:  # the window lies outside the registered frames: the unit nearest its centre
        ref_units = [int(np.argmin(np.abs(mids - (lo + hi) / 2.0)))]
    spacing = spacing_mm if math.isfinite(spacing_mm) and spacing_mm > 0 else 4.0
    box, weight = registration_window(region, max(3, int(round(MARGIN_MM / spacing))))
    max_shift = max(2.0, MAX_SHIFT_MM / spacing)
    images = [frames[u].sum(axis=0) for u in units]
    unit_durs = [float(durs[u].sum()) for u in units]
    corrected: list[np.ndarray | None] = [None] * len(units)
    unit_shift = np.zeros((len(units), 2))

    def measure(k: int, reference: np.ndarray) -> None:
        s = measure_shift(images[k], reference, box, weight, max_shift)
        unit_shift[k] = s
        corrected[k] = _shift(images[k], -s) if np.hypot(*s) > noise_floor_px else images[k]

    window_sum = np.sum([images[k] for k in ref_units], axis=0)
    for k in ref_units:
        measure(k, window_sum)
    for k in range(ref_units[-1] + 1, len(units)):  # later units: the corrected units just before
        measure(k, _running(corrected, unit_durs, range(k - 1, -1, -1), RUNNING_S))
    for k in range(ref_units[0] - 1, -1, -1):  # earlier units (a window after 60 s): the corrected ones just after
        measure(k, _running(corrected, unit_durs, range(k + 1, len(units)), RUNNING_S))
    for k, u in enumerate(units):
        est.shifts_px[u] = unit_shift[k]
        est.moved[u] = bool(np.hypot(*unit_shift[k]) > noise_floor_px)
    return est


def correct_motion(frames: np.ndarray, estimate: MotionEstimate) -> np.ndarray:
    """The frames with each moved frame shifted back by its shift (a copy; ``frames`` itself when none moved), and
    ``estimate.corrected`` set."""
    if not estimate.moved.any():
        return frames
    out = np.array(frames, float, copy=True)
    for t in np.flatnonzero(estimate.moved):
        out[t] = _shift(out[t], -estimate.shifts_px[t])
    estimate.corrected = True
    return out
