# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""A calibrated 95 % interval for the split function (DRF) of every study, integral and Patlak.

``report.json``'s ``drf_percent.integral`` and ``drf_percent.patlak`` get ``left_ci95`` and ``right_ci95`` (``[low,
high]`` percent, ``right = 100 - left`` mirrored); ``report.json``'s ``drf_interval`` records how they were made
(:meth:`DRFInterval.info`: the sources' standard deviations per method, the segmentation source, the calibration);
``report.png`` shows them in the table (``48.2 (44.0-52.5)``). A study with one kidney found gets the degenerate
interval ``[100, 100]`` / ``[0, 0]``: its DRF 100/0 is a statement about the mask, which the
``missing_kidney_uptake`` QC code checks, not a measurement with an error; with the network's probability map, a
second kidney in the mask at the lower threshold of :data:`PROBABILITY_THRESHOLDS` stretches it to ``[that mask's
DRF, 100]``.

The interval is ``DRF +- 1.96 * sqrt(s_noise^2 + (c_seg * s_seg)^2 + s_seg_probability^2 + s_method^2)``, clipped to
0-100, from three sources of error, each measured as a standard deviation (points) of the left DRF:

(a) **counting noise** ``s_noise``: the analytic variance. The counts of a frame in an ROI are Poisson (variance =
    counts) and the kidney and ring ROIs are disjoint; the window integral of the background-corrected curve is linear
    in the frames' counts, and so is the Patlak slope for a given blood-pool curve, with weights taken from the
    report's own formulas (:mod:`scripts.clinical.indices`); the DRF's variance follows to first order. The blood
    pool's noise is left out: it is both kidneys' common input (:func:`_noise_sigma`).
(b) **segmentation** ``s_seg``: the DRF of re-drawn masks, the RMS of their differences from the report's DRF. Every
    mask (``--mask``, ``--predictions``, the simulator's labels, the model's): each kidney's boundary moved by one
    native pixel (4-connected dilation or erosion), both out, both in, and one out while the other goes in (the worst
    case for the DRF); a kidney that one erosion would wipe out (a thin rim on a coarse matrix) keeps its mask in
    that variant. This is the calibrated term (``c_seg``). With the network's probability map (the in-process
    segmenter, :meth:`scripts.clinical.segment.BundleSegmenter.segment_with_probability`) also ``s_seg_probability``:
    the masks thresholded at :data:`PROBABILITY_THRESHOLDS`, through the band where the network is unsure (a kidney
    it half saw appears or vanishes, and the DRF with it), added unscaled: the in-process interval is never narrower
    than the one the calibration and the coverage figures were measured on (mask only), and wider where the network
    hesitates. ``scripts.validate_renal_function`` (``--use-model``, ``--predictions``) reads binary masks and never
    passes the probability map: every calibration and coverage figure is of the mask-only interval; the in-process
    interval's coverage is not measured.
(c) **the method's own error** ``s_method``: the DRF under the plausible variants of the background estimate, the
    part that neither noise nor the mask explains. The true-mask DRF error on the clinical mix reaches 25-30 points
    for hydronephrotic and obstructed kidneys with a kidney-to-background ratio near 1 (the ring under- or
    over-estimates the tissue behind the kidney), so an interval from (a) and (b) alone would not cover the truth.
    Two measures of how much the DRF hangs on the background: ``s_bg``, the DRF change when one kidney's
    background is taken :data:`BACKGROUND_STEP` (10 %) higher, per kidney and in quadrature (it is large when the
    background is a large part of the kidney's counts: low KTBR, a big pelvis); and ``s_variants``, the RMS change
    under the other background ROIs and windows a physician could have chosen (:data:`METHOD_VARIANTS`: the other
    of perirenal/crescent, the ring one pixel further out and wider, the windows 30 s longer).
    ``s_method = sqrt((c_bg * s_bg)^2 + (c_var * s_variants)^2 + s_floor^2)``.

    Tried and left out (2026-12-02): the integral and Patlak DRF's difference as a further term, the between-method
    heterogeneity of a random-effects combination (DerSimonian and Laird 1986). Fitted with it on the calibration
    set below (``c_dis`` 0.3 for both methods), the methods' median widths fell (integral 8.5, Patlak 11.1 points),
    but the fit then weighed the background step less (integral ``c_bg`` 0.25, Patlak 1.5), and the large errors are
    those both methods share, which their difference does not show: the DRF of record's interval flagged 13 of the
    15 calibration studies more than 5 points off with ``low_model_confidence`` (at most 15 % of those within 2),
    where the calibration below flags 15 of 16; on the 400 seed-7000 coverage studies 16 of 21 against 19 of 21, and
    the normal studies' median width was 6.3 against 6.1. The gap stays a QC code of its own
    (``drf_method_disagreement``, :mod:`scripts.clinical.drf_agreement`).

The constants ``c_seg``, ``c_bg``, ``c_var`` and ``s_floor`` of each method (:data:`INTERVAL_CALIBRATION`) are
fitted on a calibration set of its own (:func:`fit_calibration`; the command and provenance beside the constant):
the narrowest intervals that hold the true DRF in 95 % of its studies. ``c_seg`` scales the mask perturbation to the
error of real masks (a one-pixel move is a guess of how far a boundary may be off); the counting noise is not
scaled.

Every variant is analysed by :func:`drf_of_mask`, the analysis' own steps 1-3 (ROIs, blood pool, curves, kidney
indices, split function; without motion, transit or QC) on the already motion-corrected frames, so the interval
follows whatever background ROI or window the analysis uses. Its time per study is measured in the README
(clinical-report section).

QC: ``low_model_confidence`` reads the interval of the DRF of record, the combination of these two
(:func:`scripts.clinical.drf_combined.confidence_qc`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from custom_transforms.errors import RenogramInputError
from scripts.clinical import indices as ix
from scripts.clinical.curves import blood_pool
from scripts.clinical.kidney_indices import finite_number, indices_of_rois, json_float, left_drf, split_function
from scripts.clinical.rois import SIDES, KidneyROIs, build_rois

__all__ = [
    "INTERVAL_METHODS",
    "SIGMA_COMPONENTS",
    "Z95",
    "PROBABILITY_THRESHOLDS",
    "BACKGROUND_STEP",
    "METHOD_VARIANTS",
    "INTERVAL_CALIBRATION",
    "DRFInterval",
    "drf_of_mask",
    "drf_interval",
    "add_interval",
    "drf_text",
    "interval_sigmas",
    "fit_calibration",
]

#: ``drf_percent`` methods that get an interval.
INTERVAL_METHODS = ("integral", "patlak")
#: the sources' standard deviations of one method (``DRFInterval.sigmas[m]``, ``report.json``'s
#: ``drf_interval.sigma_points``), besides the ``method`` and ``total`` they make.
SIGMA_COMPONENTS = ("noise", "seg", "seg_probability", "bg", "variants")
#: the two-sided 95 % normal quantile.
Z95 = 1.959964
#: probability thresholds of the re-drawn masks when the network's probability map is given (the mask is > 0.5).
PROBABILITY_THRESHOLDS = (0.25, 0.75)
#: relative change of one kidney's background per pixel for ``s_bg``.
BACKGROUND_STEP = 0.10
#: the background ROIs and windows a physician could have chosen instead: ``AnalysisSettings`` fields replaced
#: (``"other"`` for the background method: :data:`_OTHER_BACKGROUND`, skipped with background
#: ``"none"``; ``"+1"``: one more; a pair of such strings for a window's start and end, in s). The windows: 30 s
#: longer (1-2.5 min is the EANM integral window when the diuretic is given at F0, renography.md section 3).
METHOD_VARIANTS: tuple[dict[str, Any], ...] = (
    {"background": "other"},
    {"ring_gap_px": "+1", "ring_width_px": "+1"},
    {"drf_window_s": ("+0", "+30"), "patlak_window_s": ("+0", "+30")},
)
#: the "other" background ROI of a method: crescent for perirenal, perirenal for crescent, and the crescent the
#: infero-lateral quadrant is half of for ``inferolateral``.
_OTHER_BACKGROUND = {"perirenal": "crescent", "crescent": "perirenal", "inferolateral": "crescent"}
#: the calibration per method: ``s_total^2 = s_noise^2 + (c_seg * s_seg)^2 + s_seg_probability^2 + s_method^2``,
#: ``s_method^2 = (c_bg * s_bg)^2 + (c_var * s_variants)^2 + s_floor^2`` (points). Fitted by :func:`fit_calibration`
#: on a calibration set of its own, 300 fresh clinical-mix studies (seed 9000, never used for training or for the
#: coverage figures), the two-kidney rows of the true parenchyma, true whole-kidney and the shipped model 0.6.0's masks
#: pooled (749 rows): ``python -m scripts.validate_renal_function --studies CAL --simulate 300 --seed 9000 --out
#: CAL_RESULTS --use-model --fit-interval`` (2026-12-02, the crescent background of ``rois.DEFAULT_BACKGROUND``,
#: mask-only intervals); coverage there 95.1 / 95.1 %, median width 8.6 / 12.5 points. ``c_seg`` of the integral is 0:
#: on these masks (true, and the model's, Dice 0.95 on its own simulator) a one-pixel boundary move does not explain
#: the integral's errors beyond the background terms; with the network's probability map the in-process interval still
#: adds ``s_seg_probability`` unscaled. The constants before (model 0.5.1's masks, the first 150 of these studies):
#: integral c_seg 0.25, c_bg 0.5, c_var 1.0, floor 1.0; Patlak c_seg 0, c_bg 1.75, c_var 0, floor 2.5.
INTERVAL_CALIBRATION: dict[str, dict[str, float]] = {
    "integral": {"c_seg": 0.0, "c_bg": 0.5, "c_var": 1.0, "s_floor": 0.75},
    "patlak": {"c_seg": 0.25, "c_bg": 3.25, "c_var": 0.0, "s_floor": 1.75},
}


@dataclass
class DRFInterval:
    """The interval of one study.

    Attributes:
        ci95: method -> ``{"left": [low, high], "right": [low, high]}`` (None where not computed).
        sigmas: method -> ``{"noise", "seg", "seg_probability", "bg", "variants", "method", "total"}`` standard
            deviations (points; ``seg_probability`` None without a probability map).
        seg_source: ``"probability"`` (the network's map) or ``"mask_boundary"`` (one pixel in and out).
        note: why the interval is degenerate (one kidney found), else ``""``.
    """

    ci95: dict[str, dict[str, list[float] | None]] = field(default_factory=dict)
    sigmas: dict[str, dict[str, float | None]] = field(default_factory=dict)
    seg_source: str = ""
    note: str = ""

    def info(self) -> dict[str, Any]:
        """``report.json``'s ``drf_interval``."""
        return {
            "level": 0.95,
            "segmentation_source": self.seg_source,
            "sigma_points": {m: {k: json_float(v, 3) for k, v in s.items()} for m, s in self.sigmas.items()},
            "calibration": {m: dict(c) for m, c in INTERVAL_CALIBRATION.items()},
            "note": self.note,
        }


def _settings_variant(st: Any, change: dict[str, Any]) -> Any | None:
    """``st`` with the fields of one :data:`METHOD_VARIANTS` entry replaced (None when it does not apply)."""
    new: dict[str, Any] = {}
    for key, value in change.items():
        old = getattr(st, key)
        if key == "background" and value == "other":
            value = _OTHER_BACKGROUND.get(old)
            if value is None:
                return None
        elif isinstance(value, str) and value[:1] in "+-":
            value = old + int(value)
        elif isinstance(value, tuple):
            value = tuple(float(o) + float(v) for o, v in zip(old, value, strict=True))
        new[key] = value
    return dataclasses.replace(st, **new)


@dataclass
class _Analysed:
    """What :func:`drf_of_mask` gives: the DRF per method, and the curves behind it."""

    drf: dict[str, dict[str, float | None]]
    rois: KidneyROIs
    curves: dict[str, Any]
    blood: np.ndarray


def drf_of_mask(
    frames: np.ndarray,
    starts: np.ndarray,
    durs: np.ndarray,
    mask: np.ndarray,
    st: Any,
    spacing_mm: float,
    view: str,
    label_mode: str | None = None,
) -> _Analysed:
    """The DRF of one mask by the analysis' steps 1-3 (:mod:`scripts.clinical.analysis`), without motion, transit or
    QC (``frames`` already motion-corrected).

    Args:
        frames: ``(T, H, W)`` counts. starts, durs: frame timing (s).
        mask: ``(H, W)`` label map or binary mask. st: the :class:`~scripts.clinical.analysis.AnalysisSettings`.
        spacing_mm: pixel size (heart ROI radius). view: the study's view.
        label_mode: overrides ``st.label_mode`` (``"labels"`` for the perturbed label maps).

    Raises:
        RenogramInputError: the mask gives no kidney or no background ROI.
    """
    rois = build_rois(
        mask, frames, starts, durs, view=view, mask_kind=st.mask_kind, label_mode=label_mode or st.label_mode,
        background=st.background, ring_gap=st.ring_gap_px, ring_width=st.ring_width_px, spacing_mm=spacing_mm,
    )
    blood = blood_pool(frames, durs, rois)
    kidneys, curves = indices_of_rois(frames, starts, durs, rois, blood.curve, st)
    drf, _ = split_function(kidneys)
    return _Analysed(drf, rois, curves, blood.curve)


def _label_map(rois: KidneyROIs) -> np.ndarray:
    """The ROIs' parenchyma as a 1 (patient left) / 2 (patient right) label map."""
    ref = next(v for v in rois.parenchyma.values() if v is not None)
    lab = np.zeros(ref.shape, np.uint8)
    for value, side in ((1, "left"), (2, "right")):
        if rois.parenchyma[side] is not None:
            lab[rois.parenchyma[side]] = value
    return lab


_CROSS = ndi.generate_binary_structure(2, 1)


def _moved(lab: np.ndarray, moves: dict[int, int]) -> np.ndarray:
    """The label map with each label's boundary moved by one pixel: ``+1`` out (not onto the other label), ``-1``
    in (skipped where it would empty the kidney), ``0`` unchanged."""
    out = lab.copy()
    for value, move in moves.items():
        region = lab == value
        if move > 0:
            grown = ndi.binary_dilation(region, _CROSS) & ~((lab != 0) & (lab != value))
            out[grown] = value
        elif move < 0:
            shrunk = ndi.binary_erosion(region, _CROSS)
            if shrunk.sum() >= 3:
                out[region & ~shrunk] = 0
    return out


def _rms(deltas: Iterable[float]) -> float:
    d = [x for x in deltas if math.isfinite(x)]
    return float(math.sqrt(sum(x * x for x in d) / len(d))) if d else 0.0


def _linear_weights(fn: Any, n: int, frames: np.ndarray) -> np.ndarray:
    """``w`` with ``fn(rate) == w @ rate`` for a function linear in the rate, probed with a unit curve at each of
    ``frames`` (the only frames ``fn`` reads, by its contract); NaN where it cannot be evaluated."""
    w = np.zeros(n)
    for t in frames:
        unit = np.zeros(n)
        unit[t] = 1.0
        try:
            w[t] = fn(unit)
        except ValueError:
            return np.full(n, np.nan)
    return w


def _drf_sd(left: float, right: float, var_left: float, var_right: float) -> float:
    """Standard deviation (points) of ``100 L / (L + R)`` by first-order propagation (negative values count as 0)."""
    a, b = max(left, 0.0), max(right, 0.0)
    if not a + b > 0 or not (math.isfinite(var_left) and math.isfinite(var_right)):
        return float("nan")
    return 100.0 * math.sqrt(b * b * var_left + a * a * var_right) / (a + b) ** 2


def _noise_sigma(base: _Analysed, starts: np.ndarray, durs: np.ndarray, st: Any) -> dict[str, float]:
    """(a): the left DRF's standard deviation per method from the Poisson variance of the ROI counts.

    The window integral is linear in the background-corrected curve ``K_c = K - N_K * B``, and so is the Patlak
    slope for a given blood-pool curve (a least-squares line through ``K_c / P``), so ``Var = sum_t w_t^2 Var K_c(t)``
    with ``w`` the formula's weight of frame ``t`` (probed from :mod:`scripts.clinical.indices` itself) and ``Var
    K_c(t) = (C_K(t) + (N_K / N_B)^2 C_B(t)) / d_t^2`` for the kidney's and ring's counts ``C`` of a frame of ``d_t``
    seconds (Poisson: variance = counts). The blood pool's own noise is left out: it is both kidneys' common input and
    moves their slopes nearly alike. The DRF's standard deviation then follows by first-order propagation.
    """
    starts, durs = np.asarray(starts, float), np.asarray(durs, float)
    n = durs.size
    mid = starts + durs / 2.0
    t1, t2 = st.drf_window_s
    p1, p2 = st.patlak_window_s
    weights = {
        "integral": _linear_weights(lambda r: ix.window_integral(r, starts, durs, st.drf_window_s), n,
                                    np.flatnonzero((starts < t2) & (starts + durs > t1))),
        "patlak": _linear_weights(
            lambda r: ix.patlak_rutland(r, base.blood, starts, durs, st.patlak_window_s).slope_per_s, n,
            np.flatnonzero((mid >= p1) & (mid <= p2))),
    }
    value: dict[str, dict[str, float]] = {m: {} for m in INTERVAL_METHODS}
    var: dict[str, dict[str, float]] = {m: {} for m in INTERVAL_METHODS}
    for side, kc in base.curves.items():
        n_b = max(kc.background_pixels, 1)
        counts_k = np.clip(kc.kidney_raw * durs, 0, None)
        counts_b = np.clip(kc.background * n_b * durs, 0, None)
        var_kc = (counts_k + (kc.kidney_pixels / n_b) ** 2 * counts_b) / durs**2
        for m, w in weights.items():
            value[m][side] = float(w @ kc.kidney)
            var[m][side] = float((w**2) @ var_kc)
    return {m: _drf_sd(value[m]["left"], value[m]["right"], var[m]["left"], var[m]["right"])
            for m in INTERVAL_METHODS}


def _background_sigma(base: _Analysed, starts: np.ndarray, durs: np.ndarray, st: Any) -> dict[str, float]:
    """``s_bg``: per kidney, the DRF change with its background :data:`BACKGROUND_STEP` higher; in quadrature."""
    out = {m: 0.0 for m in INTERVAL_METHODS}
    ref = {"integral": {}, "patlak": {}}
    for side, kc in base.curves.items():
        ref["integral"][side] = ix.window_integral(kc.kidney, starts, durs, st.drf_window_s)
        try:
            ref["patlak"][side] = ix.patlak_rutland(kc.kidney, base.blood, starts, durs, st.patlak_window_s).slope_per_s
        except ValueError:
            ref["patlak"][side] = float("nan")
    formula = {"integral": ix.integral_drf_percent, "patlak": ix.patlak_drf_percent}
    for side, kc in base.curves.items():
        shifted = kc.kidney - BACKGROUND_STEP * kc.kidney_pixels * kc.background
        new = {"integral": ix.window_integral(shifted, starts, durs, st.drf_window_s)}
        try:
            new["patlak"] = ix.patlak_rutland(shifted, base.blood, starts, durs, st.patlak_window_s).slope_per_s
        except ValueError:
            new["patlak"] = float("nan")
        for m in INTERVAL_METHODS:
            vals = dict(ref[m])
            d0 = formula[m](vals["left"], vals["right"])
            vals[side] = new[m]
            d = formula[m](vals["left"], vals["right"]) - d0
            out[m] += d * d if math.isfinite(d) else 0.0
    return {m: math.sqrt(v) for m, v in out.items()}


def interval_sigmas(components: dict[str, float], calibration: dict[str, float]) -> tuple[float, float]:
    """``(s_method, s_total)`` of one method from its components ``noise``, ``seg``, ``seg_probability``, ``bg``,
    ``variants`` and its calibration (an entry of :data:`INTERVAL_CALIBRATION`); a missing or NaN component (no
    probability map) counts as 0."""
    def get(key: str) -> float:
        v = components.get(key)
        return 0.0 if v is None or not math.isfinite(v) else float(v)

    c = calibration
    s_method = math.sqrt((c["c_bg"] * get("bg")) ** 2 + (c["c_var"] * get("variants")) ** 2 + c["s_floor"] ** 2)
    s_seg = math.sqrt((c["c_seg"] * get("seg")) ** 2 + get("seg_probability") ** 2)
    return s_method, math.sqrt(get("noise") ** 2 + s_seg**2 + s_method**2)


def drf_interval(
    frames: np.ndarray,
    starts: np.ndarray,
    durs: np.ndarray,
    rois: KidneyROIs,
    st: Any,
    spacing_mm: float,
    view: str,
    probability: np.ndarray | None = None,
) -> DRFInterval:
    """The 95 % interval of a study's DRF (see the module docstring).

    Args:
        frames: ``(T, H, W)`` counts, motion-corrected as the curves were. starts, durs: frame timing (s).
        rois: the report's ROIs (:func:`scripts.clinical.rois.build_rois`). st: the analysis settings.
        spacing_mm: pixel size (mm). view: the study's view.
        probability: ``(H, W)`` network probability (the report's mask is ``>= 0.5``), or None (mask only).
    """
    out = DRFInterval(seg_source="probability" if probability is not None else "mask_boundary")

    def attempt(mask: np.ndarray, settings: Any, mode: str) -> _Analysed | None:
        try:
            return drf_of_mask(frames, starts, durs, mask, settings, spacing_mm, view, label_mode=mode)
        except (RenogramInputError, ValueError):  # a variant without a kidney or a ring: not a possible reading
            return None

    # the network's re-drawn masks (always binary: sides by position, as for the model's own mask)
    prob = None if probability is None else np.asarray(probability, float)
    seg_runs = [] if prob is None else [attempt((prob > t).astype(np.uint8), st, "binary")
                                        for t in PROBABILITY_THRESHOLDS if (prob > t).any()]
    found = [s for s in SIDES if rois.kidney[s] is not None]
    if len(found) == 1:
        only, other = found[0], ("right" if found[0] == "left" else "left")
        out.note = ("one kidney found: DRF 100/0 is the mask's statement, not a measurement (see the "
                    "missing_kidney_uptake QC code)")
        out.ci95 = {m: {only: [100.0, 100.0], other: [0.0, 0.0]} for m in INTERVAL_METHODS}
        # ... unless the network half saw the other kidney: the interval then reaches that mask's DRF
        for m in INTERVAL_METHODS:
            shares = [r.drf[m][only] for r in seg_runs if r is not None and r.rois.kidney[other] is not None]
            shares = [float(v) for v in shares if v is not None]
            if shares:
                low = round(min(shares), 2)
                out.ci95[m] = {only: [low, 100.0], other: [0.0, round(100.0 - low, 2)]}
                out.note = ("one kidney found; the network's probability map shows the other at a lower threshold: "
                            "the interval reaches that mask's DRF")
        return out
    lab = _label_map(rois)
    base = drf_of_mask(frames, starts, durs, lab, st, spacing_mm, view, label_mode="labels")
    d0 = {m: left_drf(base.drf, m) for m in INTERVAL_METHODS}

    def deltas(results: list[_Analysed]) -> dict[str, float]:
        return {m: _rms(left_drf(r.drf, m) - d0[m] for r in results) for m in INTERVAL_METHODS}

    # (b) segmentation: the boundary moved (the calibrated term), and the network's own doubt where its map is given
    moved = [attempt(_moved(lab, {1: a, 2: b}), st, "labels") for a, b in ((1, 1), (-1, -1), (1, -1), (-1, 1))]
    seg = deltas([r for r in moved if r is not None])
    seg_prob = deltas([r for r in seg_runs if r is not None]) if prob is not None else dict.fromkeys(INTERVAL_METHODS)
    # (c) the method: background step per kidney, background ROI variants
    bg = _background_sigma(base, starts, durs, st)
    variants = [v for v in (_settings_variant(st, ch) for ch in METHOD_VARIANTS) if v is not None]
    var = deltas([r for r in (attempt(lab, v, "labels") for v in variants) if r is not None])
    # (a) counting noise
    noise = _noise_sigma(base, starts, durs, st)
    for m in INTERVAL_METHODS:
        comp = {"noise": noise[m], "seg": seg[m], "seg_probability": seg_prob[m], "bg": bg[m], "variants": var[m]}
        s_method, total = interval_sigmas(comp, INTERVAL_CALIBRATION[m])
        out.sigmas[m] = {**comp, "method": s_method, "total": total}
        centre = left_drf(base.drf, m)
        if not math.isfinite(centre):
            out.ci95[m] = {"left": None, "right": None}
            continue
        lo, hi = max(centre - Z95 * total, 0.0), min(centre + Z95 * total, 100.0)
        out.ci95[m] = {"left": [round(lo, 2), round(hi, 2)], "right": [round(100.0 - hi, 2), round(100.0 - lo, 2)]}
    return out


def add_interval(drf: dict[str, Any], interval: DRFInterval) -> None:
    """Write ``left_ci95`` / ``right_ci95`` into the methods of ``report.json``'s ``drf_percent``."""
    for m in INTERVAL_METHODS:
        if m in drf:
            ci = interval.ci95.get(m, {})
            drf[m]["left_ci95"] = ci.get("left")
            drf[m]["right_ci95"] = ci.get("right")


def drf_text(entry: dict[str, Any], side: str) -> str:
    """One ``drf_percent`` method's value of ``side`` with its interval, as ``report.png``'s table shows it:
    ``48.2 (44.0-52.5)``; the value alone without an interval or with a degenerate one (100/0); ``-`` without a
    value."""
    value = entry.get(side)
    if value is None:
        return "-"
    ci = entry.get(f"{side}_ci95")
    if ci is None or ci[1] - ci[0] < 0.05:
        return f"{value:.1f}"
    return f"{value:.1f} ({ci[0]:.1f}-{ci[1]:.1f})"


def fit_calibration(rows: Sequence[dict[str, Any]], target: float = 0.95) -> dict[str, dict[str, Any]]:
    """Fit :data:`INTERVAL_CALIBRATION` on calibration rows (``validate_renal_function --fit-interval``).

    Each row holds, per method ``m``, ``drf_error_<m>`` (measured - true left DRF) and the components
    ``ci_<m>_noise``, ``ci_<m>_seg``, ``ci_<m>_bg``, ``ci_<m>_variants`` (:mod:`scripts.clinical.interval_validation`;
    they do not depend on the calibration; a missing one counts as 0). For each method a grid search over ``c_seg``,
    ``c_bg``, ``c_var`` and ``s_floor`` takes the narrowest intervals (median width) whose coverage of the rows is at
    least ``target``; the noise term is not scaled (it is the counts' own Poisson law). Written here because the fit
    is four constants on a grid; no library needed.

    Returns:
        ``{method: {"c_seg", "c_bg", "c_var", "s_floor", "coverage", "median_width", "n"}}``.

    Raises:
        ValueError: a method has no row, or no point of the grid reaches ``target``.
    """
    out: dict[str, dict[str, Any]] = {}
    grid_seg = np.arange(0.0, 1.51, 0.25)
    grid = np.arange(0.0, 4.01, 0.25)
    floors2 = grid[:, None] ** 2
    for m in INTERVAL_METHODS:
        rs = [r for r in rows if finite_number(r.get(f"drf_error_{m}")) and finite_number(r.get(f"ci_{m}_bg"))]
        if not rs:
            raise ValueError(f"no row with a {m} DRF error and interval components")
        err = np.abs([float(r[f"drf_error_{m}"]) for r in rs])
        comp = {k: np.asarray([float(r[f"ci_{m}_{k}"]) if finite_number(r.get(f"ci_{m}_{k}")) else 0.0
                               for r in rs]) ** 2 for k in ("noise", "seg", "bg", "variants")}
        best: dict[str, Any] | None = None
        for c_seg in grid_seg:
            for c_bg in grid:
                base = comp["noise"] + c_seg**2 * comp["seg"] + c_bg**2 * comp["bg"]
                for c_var in grid:
                    total = np.sqrt(base + c_var**2 * comp["variants"] + floors2)  # (floors, rows)
                    reached = np.flatnonzero(np.mean(err <= Z95 * total, axis=1) >= target)
                    if not reached.size:
                        continue
                    k = int(reached[0])  # a larger floor only widens
                    wid = float(np.median(2 * Z95 * total[k]))
                    if best is None or wid < best["median_width"]:
                        best = {"c_seg": float(c_seg), "c_bg": float(c_bg), "c_var": float(c_var),
                                "s_floor": float(grid[k]), "coverage": round(float(np.mean(err <= Z95 * total[k])), 4),
                                "median_width": round(wid, 3), "n": len(rs)}
        if best is None:
            raise ValueError(f"no calibration on the grid reaches {target:.0%} coverage of the {m} DRF")
        out[m] = best
    return out

