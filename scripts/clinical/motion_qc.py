# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The ``motion`` QC code: patient motion that still matters after the correction, not every corrected shift.

:mod:`scripts.clinical.motion` finds the frames a child moved in and shifts them back before any curve is drawn. A
shift it undid leaves curves as good as the still study's (README, clinical report: DRF and Tmax within 0.5 points
and 0.25 min of the same studies simulated without motion), so a QC code on every corrected shift told the reader
nothing: on 200 fresh clinical-mix studies (seed 7000, 30 % with motion) it came on 72 studies (model masks), as
often on those whose DRF was right within 2 points (39 of 107) as on those more than 5 points off (17 of 45). The
code is kept for what the correction cannot undo (:func:`motion_qc`); the measured shifts stay in ``report.json``'s
``motion`` and, above 1 px, in a line of ``warnings``:

- **motion in the frames the ROIs were drawn on**: a frame of the reference window (the bundle's fused image, minutes
  1-3, :attr:`scripts.clinical.motion.MotionEstimate.reference_window_s`) moved by more than
  :data:`RESIDUAL_THRESHOLD_PX`. The mask was drawn on the sum of those frames, so it fits a blurred kidney, and the
  frames are registered against that same blurred sum, which shrinks their measured shift; shifting frames back
  cannot undo either. The DRF window (1-2 min) and the Patlak window lie inside it, so the message names the DRF.
- **residual motion**: the frames after the correction are registered again, by the same method, box and
  references (:func:`scripts.clinical.motion.estimate_motion` on the corrected frames); a frame still off by more
  than :data:`RESIDUAL_THRESHOLD_PX` (1 px, the motion module's warning threshold and for its reason: the background
  ring starts 1 px outside the kidney) was not brought back. With the correction off (``--no-motion-correction``)
  every measured shift is residual. (Registering each kidney alone, to catch the two kidneys moving apart, was tried
  and left out: on 45 fresh studies, seed 7000, true masks, a single kidney's box read more than 1 px in 9 of the
  32 motion-free studies, 10-s frames and 256-px matrices the worst, up to 20 px where it locked on the wrong
  structure.)
- **counts outside the field of view**: a frame moved so far that part of a kidney ROI or of its background ring
  came from outside the field of view (the detector window: pixels that hold no count over the whole study, or
  beyond the matrix). Shifting back fills those pixels with zeros; the counts are lost. Flagged from
  :data:`FOV_LOSS_MIN_PX` such ROI pixels in any moved frame.

``report.json``'s ``motion`` gets (:meth:`MotionQC.info`, merged into
:meth:`scripts.clinical.motion.MotionEstimate.info`): ``residual_shift_rc_px`` (``[dy, dx]`` per frame on the frames
the curves use, ``null`` where not registered; the measured shifts when nothing was shifted back),
``max_residual_shift_px``, ``residual_threshold_px``, ``frames_residual`` (0-based frames above the threshold after
the correction), ``frames_in_reference`` (0-based frames of the reference window whose measured shift exceeds the
threshold), ``frames_outside_fov`` (0-based moved frames whose ROIs took counts from outside the field of view) and
``qc_warning`` (whether the ``qc`` entry ``motion`` was given). ``shift_rc_px``, ``frames_moved``, ``max_shift_px``
and ``warning`` (the largest measured shift above 1 px, the line in ``warnings``) keep their meaning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scripts.clinical.motion import MotionEstimate, estimate_motion, max_shift_length, shift_lengths

__all__ = [
    "RESIDUAL_THRESHOLD_PX",
    "FOV_LOSS_MIN_PX",
    "MotionQC",
    "residual_motion",
    "reference_window_frames",
    "outside_fov_frames",
    "motion_qc",
]

#: a frame still shifted by more than this after the correction (px) is residual motion (see the module docstring).
RESIDUAL_THRESHOLD_PX = 1.0
#: a moved frame whose kidney ROIs and background rings took at least this many pixels from outside the field of view.
FOV_LOSS_MIN_PX = 1


def _frame_runs(frames: list[int]) -> str:
    """``[2, 3, 4, 7]`` -> ``"2-4, 7"``."""
    runs: list[list[int]] = []
    for f in frames:
        if runs and f == runs[-1][-1] + 1:
            runs[-1].append(f)
        else:
            runs.append([f])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _plural(frames: list[int]) -> str:
    return f"frame{'s' if len(frames) > 1 else ''} {_frame_runs(frames)}"


@dataclass
class MotionQC:
    """What of the patient motion the correction could not undo.

    Attributes:
        residual_px: ``(T, 2)`` ``[dy, dx]`` on the frames as the curves use them (NaN: not registered).
        in_reference: 0-based frames of the reference window moved by more than the threshold.
        outside_fov: 0-based moved frames whose ROIs took counts from outside the field of view.
        corrected: whether the moved frames were shifted back.
        threshold_px: see :data:`RESIDUAL_THRESHOLD_PX`.
        drf_window_s: the DRF window (s), named in the message when a flagged frame lies in it.
        frame_mid_s: ``(T,)`` frame mid-times (s).
        reference_window_s: the motion estimate's reference window (s), named in the message.
    """

    residual_px: np.ndarray
    in_reference: list[int] = field(default_factory=list)
    outside_fov: list[int] = field(default_factory=list)
    corrected: bool = True
    threshold_px: float = RESIDUAL_THRESHOLD_PX
    drf_window_s: tuple[float, float] = (60.0, 120.0)
    frame_mid_s: np.ndarray | None = None
    reference_window_s: tuple[float, float] = (60.0, 180.0)

    @property
    def frames_residual(self) -> list[int]:
        """0-based frames still off by more than the threshold."""
        lengths = shift_lengths(self.residual_px)
        return [int(i) for i in np.flatnonzero(np.isfinite(lengths) & (lengths > self.threshold_px))]

    @property
    def max_residual_px(self) -> float:
        """The largest residual shift (px; 0 when nothing was registered)."""
        return max_shift_length(self.residual_px)

    @property
    def warns(self) -> bool:
        """Whether the ``motion`` QC code is given."""
        return bool(self.frames_residual or self.in_reference or self.outside_fov)

    def _in_drf_window(self, frames: list[int]) -> bool:
        if self.frame_mid_s is None or not frames:
            return False
        lo, hi = self.drf_window_s
        mids = np.asarray(self.frame_mid_s, float)[frames]
        return bool(np.any((mids >= lo) & (mids <= hi)))

    def message(self) -> str:
        """The ``motion`` QC message (empty when :attr:`warns` is false): what is wrong and what to do."""
        if not self.warns:
            return ""
        parts: list[str] = []
        if self.in_reference:
            lo, hi = self.reference_window_s
            parts.append(f"patient motion in the frames the ROIs were drawn on ({_plural(self.in_reference)}, 0-based, "
                         f"{lo:g}-{hi:g} s): the ROIs fit a blurred kidney and shifting frames cannot undo it")
        if self.frames_residual:
            how = "after the motion correction" if self.corrected else "and not corrected (motion correction off)"
            parts.append(f"patient motion left in {_plural(self.frames_residual)} (0-based): still off by up to "
                         f"{self.max_residual_px:.1f} px {how} (limit {self.threshold_px:g} px)")
        if self.outside_fov:
            parts.append(f"{_plural(self.outside_fov)} moved part of a kidney or its background ring out of the field "
                         "of view: those counts are lost")
        flagged = sorted(set(self.in_reference) | set(self.frames_residual) | set(self.outside_fov))
        # the ROIs themselves are off when the reference frames moved: then the DRF too, wherever the frames lie
        what = ("the DRF and every curve index" if self.in_reference or self._in_drf_window(flagged)
                else "the curve indices from those frames (Tmax, T1/2, late ratios, OE, transit times)")
        return (f"{'; '.join(parts)}: {what} may be wrong; check the frames in cine, and repeat the study or read "
                "those values with care")

    def qc_entries(self) -> list[dict[str, Any]]:
        """The ``motion`` entry of ``report.json``'s ``qc`` (empty without a warning), as
        :class:`scripts.clinical.qc.QCWarning` takes it."""
        return [{"code": "motion", "side": None, "message": self.message()}] if self.warns else []

    def info(self) -> dict[str, Any]:
        """The fields added to ``report.json``'s ``motion`` (see the module docstring)."""
        residual = [None if not np.all(np.isfinite(v)) else [round(float(v[0]), 3), round(float(v[1]), 3)]
                    for v in self.residual_px]
        return {
            "residual_shift_rc_px": residual,
            "max_residual_shift_px": round(self.max_residual_px, 3),
            "residual_threshold_px": float(self.threshold_px),
            "frames_residual": self.frames_residual,
            "frames_in_reference": list(self.in_reference),
            "frames_outside_fov": list(self.outside_fov),
            "qc_warning": self.warns,
        }


def residual_motion(
    frames_used: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    region: np.ndarray,
    estimate: MotionEstimate,
    spacing_mm: float = 4.0,
) -> np.ndarray:
    """``(T, 2)`` shifts left in the frames the curves are drawn from.

    When nothing was shifted back (no frame moved, or the correction off) these are the measured shifts; otherwise the
    corrected frames are registered again with the estimate's own settings (reference window, noise floor,
    registration start) and box (``region``): what the first registration could not bring back shows in a second
    pass by the same yardstick.

    Args:
        frames_used: ``(T, H, W)`` frames after :func:`scripts.clinical.motion.correct_motion`.
        starts_s, durations_s: frame timing (s).
        region: ``(H, W)`` bool, the kidney ROIs (the registration box of the estimate).
        estimate: the motion estimate of the frames as acquired.
        spacing_mm: pixel size (mm). Defaults to 4.
    """
    if not (estimate.corrected and estimate.moved.any()):
        return np.array(estimate.shifts_px, float, copy=True)
    again = estimate_motion(frames_used, starts_s, durations_s, region, spacing_mm=spacing_mm,
                            reference_window_s=estimate.reference_window_s, noise_floor_px=estimate.noise_floor_px,
                            threshold_px=estimate.threshold_px, start_s=estimate.start_s)
    return again.shifts_px


def reference_window_frames(estimate: MotionEstimate, starts_s: np.ndarray, durations_s: np.ndarray,
                            threshold_px: float = RESIDUAL_THRESHOLD_PX) -> list[int]:
    """0-based frames whose mid-time lies in the estimate's reference window and whose measured shift exceeds
    ``threshold_px``."""
    mids = np.asarray(starts_s, float) + np.asarray(durations_s, float) / 2.0
    lo, hi = estimate.reference_window_s
    lengths = shift_lengths(estimate.shifts_px)
    sel = (mids >= lo) & (mids <= hi) & np.isfinite(lengths) & (lengths > threshold_px)
    return [int(i) for i in np.flatnonzero(sel)]


def outside_fov_frames(frames: np.ndarray, estimate: MotionEstimate, region: np.ndarray) -> list[int]:
    """0-based moved frames in which at least :data:`FOV_LOSS_MIN_PX` pixels of ``region`` (the kidney ROIs and
    their background rings) lay, before the shift back, outside the field of view.

    The field of view: the pixels holding a count in the sum of all frames as acquired (a detector window inside the
    matrix has zeros outside it), within the matrix. A frame holding ``frame(x) = reference(x - shift)`` is shifted
    back by reading ``frame(x + shift)``; a region pixel ``x`` whose ``x + shift`` falls outside the field of view
    (nearest pixel) gets zero.
    """
    region = np.asarray(region, bool)
    if not estimate.moved.any() or not region.any():
        return []
    h, w = region.shape
    fov = np.asarray(frames, float).sum(axis=0) > 0
    rr, cc = np.nonzero(region)
    out: list[int] = []
    for t in np.flatnonzero(estimate.moved):
        dy, dx = estimate.shifts_px[t]
        if not (math.isfinite(dy) and math.isfinite(dx)):
            continue
        sr, sc = np.round(rr + dy).astype(int), np.round(cc + dx).astype(int)
        inside = (sr >= 0) & (sr < h) & (sc >= 0) & (sc < w)
        lost = ~inside
        lost[inside] = ~fov[sr[inside], sc[inside]]
        if int(lost.sum()) >= FOV_LOSS_MIN_PX:
            out.append(int(t))
    return out


def motion_qc(
    frames_acquired: np.ndarray,
    frames_used: np.ndarray,
    starts_s: np.ndarray,
    durations_s: np.ndarray,
    region: np.ndarray,
    roi_region: np.ndarray,
    estimate: MotionEstimate,
    spacing_mm: float = 4.0,
    drf_window_s: tuple[float, float] = (60.0, 120.0),
) -> MotionQC:
    """The motion QC of one study (see the module docstring).

    Args:
        frames_acquired: ``(T, H, W)`` frames as read. frames_used: the frames the curves are drawn from (after the
            correction; ``frames_acquired`` itself when it was off or nothing moved).
        starts_s, durations_s: frame timing (s).
        region: ``(H, W)`` bool, the kidney ROIs (the registration box, as for the estimate).
        roi_region: ``(H, W)`` bool, the kidney ROIs with their background rings (the field-of-view check).
        estimate: :func:`scripts.clinical.motion.estimate_motion`'s result (``corrected`` set by the correction).
        spacing_mm: pixel size (mm). Defaults to 4.
        drf_window_s: the DRF window (s), for the message. Defaults to (60, 120).
    """
    starts, durs = np.asarray(starts_s, float), np.asarray(durations_s, float)
    residual = residual_motion(frames_used, starts, durs, region, estimate, spacing_mm)
    return MotionQC(residual, reference_window_frames(estimate, starts, durs),
                    outside_fov_frames(frames_acquired, estimate, roi_region), bool(estimate.corrected),
                    RESIDUAL_THRESHOLD_PX, tuple(drf_window_s), starts + durs / 2.0,
                    tuple(estimate.reference_window_s))
