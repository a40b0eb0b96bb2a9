# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Study configuration of the renogram simulator and its random sampler.

A :class:`StudyConfig` holds every number a study is made from (patient, tracer, protocol, camera, anatomy,
kinetics, distractors, noise seed), so :func:`scripts.simulation.simulate_study` is a pure function of it.
:func:`sample_study_config` draws one from a seed (or a ``numpy.random.Generator``) and optional constraints.

Body coordinates are in mm, posterior view as the camera sees it: ``x`` to image right (= patient right), ``y``
to image bottom (caudal), origin on the midline at the height of the kidney centres.

Pathologies (per kidney): ``normal``, ``reduced`` (DRF 10-45 %), ``dilated`` (dilated, non-obstructed:
slow pelvic emptying that responds to furosemide), ``obstructed`` (UPJ obstruction: dilated pelvis, no drainage,
no furosemide response), ``hydronephrosis`` (large pelvis, thin 2.5-5 mm parenchyma, reduced function, poor
drainage), ``nonfunctioning`` (present, no uptake; not labelled), ``absent`` (not labelled), ``scarred`` (small,
reduced function, an outline with focal cortical notches), ``extrarenal_pelvis`` (a pelvis that bulges medially out of
the hilum, normal function, slow but unobstructed drainage).

Kidney position (per kidney, :attr:`KidneyConfig.position`): ``normal``, ``low`` (25-60 mm lower than usual, towards
a pelvic kidney) or ``medial`` (closer to the spine).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .camera import COLLIMATORS
from .growth import (
    kidney_depth_cm,
    kidney_length_mm,
    median_height_cm,
    median_weight_kg,
    parenchymal_thickness_mm,
    trunk_thickness_cm,
    trunk_width_cm,
)
from .kinetics import KineticParams
from .protocols import DEFAULT_PROTOCOL, get_protocol

__all__ = [
    "PATHOLOGIES",
    "DEFAULT_PATHOLOGY_MIX",
    "FUROSEMIDE",
    "FUROSEMIDE_START_MIN",
    "KIDNEY_POSITIONS",
    "TRACERS",
    "MATRICES",
    "KidneyConfig",
    "StudyConfig",
    "sample_study_config",
    "weighted_choice",
    "pixel_spacing_options",
]

PATHOLOGIES = (
    "normal", "reduced", "dilated", "obstructed", "hydronephrosis", "nonfunctioning", "absent", "scarred",
    "extrarenal_pelvis",
)
#: Study-level mix: ``normal`` = both kidneys normal; any other entry = that pathology on one random side.
DEFAULT_PATHOLOGY_MIX: dict[str, float] = {
    "normal": 0.40,
    "reduced": 0.18,
    "dilated": 0.12,
    "obstructed": 0.12,
    "hydronephrosis": 0.08,
    "nonfunctioning": 0.05,
    "absent": 0.05,
}
TRACERS = ("MAG3", "DTPA")
#: Diuretic timings: ``None`` (none), ``"F0"`` (with the tracer), ``"F+20"`` (20 min after), ``"F-15"`` (15 min
#: before: the pelvis empties fast from the start).
FUROSEMIDE = (None, "F0", "F+20", "F-15")
#: Effect start of each diuretic timing, min after injection.
FUROSEMIDE_START_MIN = {None: None, "F0": 2.0, "F+20": 22.0, "F-15": -15.0}
KIDNEY_POSITIONS = ("normal", "low", "medial")
MATRICES = (64, 128, 256)
#: Useful field of view of the camera head (mm, width x height); counts outside it are zero at zoom 1.
UFOV_MM = (540.0, 400.0)
#: Camera zooms offered per matrix: pixel = 540 mm / matrix / zoom (64: 8.4-3.2 mm, 128: 4.2-2.1 mm, 256: 2.1 mm).
_ZOOMS = {64: (1.0, 1.33, 1.6, 1.78, 2.0, 2.29, 2.67), 128: (1.0, 1.14, 1.33, 1.6, 1.78, 2.0), 256: (1.0,)}
#: Arm axis and radius as fractions of the trunk half-width (arms down beside the trunk).
ARM_CENTRE_FRAC, ARM_RADIUS_FRAC = 1.32, 0.2


@dataclass
class KidneyConfig:
    """Anatomy of one kidney (see the module docstring for coordinates).

    Args:
        side: ``"left"`` or ``"right"`` (the patient's).
        pathology: one of :data:`PATHOLOGIES`.
        centre_mm: ``(x, y)`` of the kidney centre.
        length_mm, width_mm: outer length and width of the reniform outline.
        depth_cm: skin of the back to the kidney centre.
        tilt_deg: long-axis tilt, upper pole towards the midline.
        parenchyma_mm: parenchymal thickness lateral to the collecting system.
        pelvis_long_frac: half-length of the collecting system as a fraction of (half-length - parenchyma).
        pelvis_medial_frac: medial edge of the collecting system in half-widths from the centre (1 = the hilum lip).
        harmonics: boundary perturbation ``[(k, amplitude, phase_rad), ...]`` of the outline radius.
        position: ``normal``, ``low`` or ``medial`` (see :data:`KIDNEY_POSITIONS`; already applied to ``centre_mm``).
    """

    side: str
    pathology: str = "normal"
    centre_mm: tuple[float, float] = (0.0, 0.0)
    length_mm: float = 70.0
    width_mm: float = 35.0
    depth_cm: float = 3.0
    tilt_deg: float = 15.0
    parenchyma_mm: float = 12.0
    pelvis_long_frac: float = 0.55
    pelvis_medial_frac: float = 0.8
    harmonics: list[tuple[int, float, float]] = field(default_factory=list)
    position: str = "normal"

    @property
    def present(self) -> bool:
        """False for an absent kidney."""
        return self.pathology != "absent"

    @property
    def labelled(self) -> bool:
        """Whether the kidney appears in the label maps (not for non-functioning or absent kidneys)."""
        return self.pathology not in ("nonfunctioning", "absent")


@dataclass
class StudyConfig:
    """Everything one simulated study is made from.

    Args:
        age_years, sex, weight_kg, height_cm: patient (sex ``"M"``/``"F"``).
        tracer: ``"MAG3"`` or ``"DTPA"``.
        protocol: a key of :data:`scripts.simulation.PROTOCOLS`.
        matrix: image size (square), 64/128/256.
        zoom: camera zoom; pixel_spacing_mm = 540 mm / matrix / zoom. The sampler takes the largest zoom whose
            field of view holds the kidneys, the bladder and the trunk width (30 %: one step less): 128^2 gives
            2.1-4.2 mm, 256^2 2.1 mm (zoom 1), 64^2 3.2-4.7 mm up to about 10 years and 5.3-8.4 mm for larger
            children (a 64^2 field of 4.8 mm pixels is only 31 cm).
        pixel_spacing_mm: pixel size (mm), square pixels.
        fov_centre_mm: body coordinates of the image centre.
        trunk_width_cm, trunk_thickness_cm: body size.
        arms_in_fov: arms down beside the trunk (visible) or raised out of the field of view.
        sensitivity_cps_per_mbq: system sensitivity in air (LEHR ~90).
        mu_per_cm: linear attenuation coefficient of tissue at 140 keV.
        table_gap_cm: collimator face to the skin of the back.
        kinetics: compartment-model parameters (dose included).
        left, right: kidney anatomy.
        injection_site_mm: ``(x, y)`` of the injection site if it lies in the field of view, else ``None``.
        motion: ``[first_frame, last_frame, dy_px, dx_px]`` of one transient patient movement, or ``None``.
        furosemide: one of :data:`FUROSEMIDE`.
        collimator: ``"LEHR"``, ``"GP"`` or ``"LEAP"`` (see :data:`scripts.simulation.phantom.COLLIMATORS`):
            resolution and sensitivity of the camera.
        background_gain: factor on the tissue (non-organ) share of the blood-pool and interstitial templates:
            1 = a clean pediatric study, about 2.5 = the real adult file's kidney-to-background ratio (~1.8).
        liver_gain: factor on the liver and spleen share of the blood pool and on the hepatobiliary template
            (hot liver/spleen at 1-3 min).
        noise_seed: seed of the Poisson noise.
        seed, index: where the config came from (``None`` if built by hand).
    """

    age_years: float
    sex: str
    weight_kg: float
    height_cm: float
    tracer: str
    protocol: str
    matrix: int
    zoom: float
    pixel_spacing_mm: float
    fov_centre_mm: tuple[float, float]
    trunk_width_cm: float
    trunk_thickness_cm: float
    arms_in_fov: bool
    sensitivity_cps_per_mbq: float
    mu_per_cm: float
    table_gap_cm: float
    kinetics: KineticParams
    left: KidneyConfig
    right: KidneyConfig
    injection_site_mm: tuple[float, float] | None = None
    motion: list[float] | None = None
    furosemide: str | None = None
    collimator: str = "LEHR"
    background_gain: float = 1.0
    liver_gain: float = 1.0
    noise_seed: int = 0
    seed: int | None = None
    index: int | None = None

    @property
    def body_scale(self) -> float:
        """Linear body scale relative to the 161 cm reference adult."""
        return self.height_cm / 161.0

    def kidney(self, side: str) -> KidneyConfig:
        """The :class:`KidneyConfig` of ``"left"`` or ``"right"``."""
        return self.left if side == "left" else self.right

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary of every field."""
        return dataclasses.asdict(self)


def pixel_spacing_options(matrix: int) -> list[tuple[float, float]]:
    """``(zoom, pixel_spacing_mm)`` pairs the simulated camera offers for a matrix, largest pixels first."""
    if matrix not in MATRICES:
        raise ValueError(f"matrix must be one of {MATRICES}, got {matrix}")
    zooms = _ZOOMS[matrix]
    return [(z, round(UFOV_MM[0] / matrix / z, 4)) for z in zooms]


def weighted_choice(rng: np.random.Generator, weights: Mapping[Any, float], what: str = "pathology mix") -> Any:
    """One key of ``weights`` drawn with probability proportional to its weight (one ``rng.choice`` draw).

    Raises:
        ValueError: a negative weight or a zero sum (the message names ``what``).
    """
    names = list(weights)
    p = np.asarray([weights[n] for n in names], dtype=float)
    if np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"{what} weights must be non-negative with a positive sum, got {dict(weights)}")
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _kidney_shape(
    rng: np.random.Generator, side: str, pathology: str, length: float, thick: float
) -> dict[str, Any]:
    """Size and collecting-system geometry of one kidney for its pathology."""
    width_frac = rng.uniform(0.45, 0.55)
    long_frac, medial = rng.uniform(0.45, 0.65), rng.uniform(0.7, 0.9)
    if pathology == "reduced":
        length *= rng.uniform(0.85, 1.0)
    elif pathology == "nonfunctioning":
        length *= rng.uniform(0.6, 0.85)
    elif pathology == "dilated":
        length *= rng.uniform(1.05, 1.2)
        thick *= rng.uniform(0.6, 0.85)
        long_frac, medial = rng.uniform(0.7, 0.8), rng.uniform(1.0, 1.15)
    elif pathology == "obstructed":
        length *= rng.uniform(1.1, 1.3)
        thick *= rng.uniform(0.5, 0.8)
        long_frac, medial = rng.uniform(0.75, 0.85), rng.uniform(1.1, 1.25)
    elif pathology == "hydronephrosis":
        length *= rng.uniform(1.1, 1.35)
        thick = rng.uniform(2.5, 5.0)
        long_frac, medial = rng.uniform(0.88, 0.95), rng.uniform(1.2, 1.4)
        width_frac = rng.uniform(0.55, 0.65)
    elif pathology == "scarred":
        length *= rng.uniform(0.65, 0.88)
        thick *= rng.uniform(0.6, 0.9)
    elif pathology == "extrarenal_pelvis":
        long_frac, medial = rng.uniform(0.4, 0.55), rng.uniform(1.7, 2.3)
    width = length * width_frac
    thick = float(min(thick, 0.6 * width))
    harmonics = [(k, float(np.clip(rng.normal(0.0, 0.022), -0.045, 0.045)), float(rng.uniform(0, 2 * np.pi)))
                 for k in range(2, 8)]
    if pathology == "scarred":  # focal cortical scars: a few deep, narrow indentations of the outline
        harmonics += [(int(k), -float(rng.uniform(0.05, 0.1)), float(rng.uniform(0, 2 * np.pi)))
                      for k in rng.choice(np.arange(5, 10), size=int(rng.integers(2, 4)), replace=False)]
    return dict(length_mm=float(length), width_mm=float(width), parenchyma_mm=thick,
                pelvis_long_frac=float(long_frac), pelvis_medial_frac=float(medial), harmonics=harmonics)


def _affected_share(rng: np.random.Generator, pathology: str) -> float:
    """Share of the total uptake (DRF, fraction) of a kidney with this pathology."""
    lo, hi = {
        "normal": (0.45, 0.55),
        "reduced": (0.10, 0.45),
        "dilated": (0.38, 0.52),
        "obstructed": (0.25, 0.50),
        "hydronephrosis": (0.12, 0.42),
        "nonfunctioning": (0.0, 0.0),
        "absent": (0.0, 0.0),
        "scarred": (0.10, 0.40),
        "extrarenal_pelvis": (0.42, 0.52),
    }[pathology]
    return float(rng.uniform(lo, hi)) if hi > 0 else 0.0


def _drainage(rng: np.random.Generator, pathology: str, furo: bool) -> dict[str, Any]:
    """Parenchymal transit and pelvic emptying (min) of one kidney."""
    tau_c, tau_p, furo_tau = rng.uniform(1.5, 2.1), rng.uniform(1.0, 2.0), rng.uniform(0.8, 1.2)
    if pathology == "reduced":
        tau_c, tau_p = rng.uniform(2.0, 3.5), rng.uniform(1.5, 3.0)
    elif pathology == "dilated":
        tau_c, tau_p, furo_tau = rng.uniform(1.8, 2.8), rng.uniform(12.0, 40.0), rng.uniform(1.5, 4.0)
    elif pathology == "obstructed":
        tau_c, tau_p, furo_tau = rng.uniform(2.5, 4.5), rng.uniform(150.0, 600.0), None
    elif pathology == "hydronephrosis":
        tau_c, tau_p, furo_tau = rng.uniform(3.0, 5.0), rng.uniform(60.0, 400.0), rng.choice([None, 25.0])
    elif pathology == "scarred":
        tau_c, tau_p = rng.uniform(2.2, 3.8), rng.uniform(1.5, 3.5)
    elif pathology == "extrarenal_pelvis":
        tau_c, tau_p, furo_tau = rng.uniform(1.6, 2.4), rng.uniform(6.0, 20.0), rng.uniform(1.0, 2.5)
    return dict(tau_c=float(tau_c), tau_p=float(tau_p), tau_p_furo=(float(furo_tau) if furo and furo_tau else None))


def sample_study_config(
    rng: np.random.Generator | int | None = None,
    *,
    tracer: str | None = None,
    protocol: str | None = None,
    matrix: int | None = None,
    age_range: tuple[float, float] = (0.2, 16.0),
    pathology: str | tuple[str, str] | None = None,
    pathology_mix: dict[str, float] | None = None,
    injection_site: bool | None = None,
    motion: bool | None = None,
    furosemide: str | None | bool = False,
    collimator: str = "LEHR",
    background_gain: float = 1.0,
    liver_gain: float = 1.0,
    dose_factor: float = 1.0,
    positions: tuple[str, str] = ("normal", "normal"),
    dtpa_share: float = 0.2,
    seed: int | None = None,
    index: int | None = None,
) -> StudyConfig:
    """Draw a random study configuration.

    Args:
        rng: a ``numpy.random.Generator`` or an integer seed (``None``: fresh entropy).
        tracer: ``"MAG3"``/``"DTPA"``; ``None`` draws MAG3 below 1 year, else MAG3 with probability 0.8.
        protocol: protocol name; ``None`` gives the default (``paper136``).
        matrix: 64/128/256; ``None`` gives 128.
        age_range: ``(min, max)`` age in years; ages are drawn half uniform, half log-uniform in the range.
        pathology: one name for the study (``"normal"`` = both normal; another = that pathology on one random
            side) or a ``(left, right)`` pair; ``None`` draws from ``pathology_mix``.
        pathology_mix: study-level weights over :data:`PATHOLOGIES` (default :data:`DEFAULT_PATHOLOGY_MIX`).
        injection_site: force the injection-site hot spot on/off (``None``: when the arms are in the field of
            view, with probability 0.6).
        motion: force one transient movement on/off (``None``: probability 0.15).
        furosemide: one of :data:`FUROSEMIDE`; ``False`` (default) = no diuretic; ``True`` = draw F0 or F+20 to fit
            the protocol (F+20 needs at least 25 min).
        collimator, background_gain, liver_gain: as in :class:`StudyConfig`. Default LEHR, 1, 1.
        dose_factor: factor on the weight-based administered activity (count level). Defaults to 1.
        positions: ``(left, right)`` kidney positions from :data:`KIDNEY_POSITIONS`. Defaults to both normal.
        dtpa_share: with ``tracer=None``, the probability of DTPA from 1 year on. Defaults to 0.2.
        seed, index: recorded in the config (the command sets them).

    Returns:
        The :class:`StudyConfig`.

    Raises:
        ValueError: unknown tracer, protocol, matrix, pathology, collimator, kidney position, a non-positive gain or
            dose factor, or an empty age range.
    """
    if collimator not in COLLIMATORS:
        raise ValueError(f"collimator must be one of {tuple(COLLIMATORS)}, got {collimator!r}")
    if len(positions) != 2 or any(p not in KIDNEY_POSITIONS for p in positions):
        raise ValueError(f"positions must be two of {KIDNEY_POSITIONS}, got {positions!r}")
    for name, v in (("background_gain", background_gain), ("liver_gain", liver_gain), ("dose_factor", dose_factor)):
        if not float(v) > 0:
            raise ValueError(f"{name} must be positive, got {v!r}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    proto = get_protocol(protocol or DEFAULT_PROTOCOL)
    if tracer is not None and tracer not in TRACERS:
        raise ValueError(f"tracer must be one of {TRACERS}, got {tracer!r}")
    matrix = 128 if matrix is None else int(matrix)
    if matrix not in MATRICES:
        raise ValueError(f"matrix must be one of {MATRICES}, got {matrix}")
    lo, hi = float(age_range[0]), float(age_range[1])
    if not 0.0 < lo <= hi <= 18.0:
        raise ValueError(f"age range must satisfy 0 < min <= max <= 18 years, got {age_range}")

    # patient
    age = float(rng.uniform(lo, hi) if rng.random() < 0.5 else np.exp(rng.uniform(np.log(lo), np.log(hi))))
    if tracer is None:  # DTPA is not used below 1 year (immature GFR: MAG3 is preferred in infants)
        tracer = "MAG3" if age < 1.0 or rng.random() < 1.0 - dtpa_share else "DTPA"
    sex = "M" if rng.random() < 0.55 else "F"
    h_med = median_height_cm(age)
    height = h_med * float(np.exp(rng.normal(0, 0.04)))
    weight = median_weight_kg(age) * (height / h_med) ** 2 * float(np.exp(np.clip(rng.normal(0, 0.12), -0.3, 0.35)))
    s = height / 161.0
    build = float(np.sqrt(weight / median_weight_kg(age) / (height / h_med) ** 2))
    trunk_w = trunk_width_cm(height) * build
    trunk_t = trunk_thickness_cm(height) * build

    # pathology per side
    if pathology is None:
        pathology = weighted_choice(rng, pathology_mix or DEFAULT_PATHOLOGY_MIX)
    if isinstance(pathology, str):
        if pathology not in PATHOLOGIES:
            raise ValueError(f"pathology must be one of {PATHOLOGIES}, got {pathology!r}")
        pair = ["normal", "normal"]
        if pathology != "normal":
            pair[int(rng.integers(2))] = pathology
    else:
        pair = list(pathology)
        if len(pair) != 2 or any(p not in PATHOLOGIES for p in pair):
            raise ValueError(f"pathology pair must be two of {PATHOLOGIES}, got {pathology!r}")
    path = {"left": pair[0], "right": pair[1]}

    # furosemide
    if furosemide is True:
        furosemide = "F+20" if proto.total_s >= 25 * 60 and rng.random() < 0.5 else "F0"
    elif furosemide is False:
        furosemide = None
    if furosemide not in FUROSEMIDE:
        raise ValueError(f"furosemide must be one of {FUROSEMIDE}, got {furosemide!r}")
    t_furo = FUROSEMIDE_START_MIN[furosemide]

    # kidney anatomy
    base_len = kidney_length_mm(age) * float(np.clip(rng.normal(1.0, 0.07), 0.85, 1.15))
    base_thick = parenchymal_thickness_mm(age) * float(rng.uniform(0.85, 1.15))
    sep = 0.62 * height * float(rng.uniform(0.92, 1.08))
    dy = float(rng.uniform(0.0, 20.0) * s) if rng.random() < 0.8 else -float(rng.uniform(0.0, 10.0) * s)
    kidneys = {}
    for side, sign in (("left", -1.0), ("right", 1.0)):
        shape = _kidney_shape(rng, side, path[side], base_len * (1.015 if side == "left" else 1.0), base_thick)
        depth = kidney_depth_cm(weight, height, side) + float(np.clip(rng.normal(0, 0.1), -0.2, 0.2))
        y = (-dy / 2 if side == "left" else dy / 2) + float(rng.normal(0, 2.0) * s)
        kidneys[side] = KidneyConfig(
            side=side, pathology=path[side], centre_mm=(sign * sep / 2, y), depth_cm=float(depth),
            tilt_deg=float(rng.uniform(10.0, 20.0)), **shape,
        )
    min_sep = 0.5 * (kidneys["left"].width_mm + kidneys["right"].width_mm) + 0.12 * trunk_w * 10
    if sep < min_sep:
        for side, sign in (("left", -1.0), ("right", 1.0)):
            kidneys[side].centre_mm = (sign * min_sep / 2, kidneys[side].centre_mm[1])
    for side, where in zip(("left", "right"), positions, strict=True):
        kd = kidneys[side]
        if where == "low":  # lower than usual (towards a pelvic kidney), less tilted
            kd.centre_mm = (kd.centre_mm[0], kd.centre_mm[1] + float(rng.uniform(25.0, 60.0)) * s)
            kd.tilt_deg *= 0.5
        elif where == "medial":  # closer to the spine: the medial edge 3-8 mm off the midline (body scaled)
            x_min = 0.5 * kd.width_mm + float(rng.uniform(3.0, 8.0)) * s
            kd.centre_mm = (float(np.sign(kd.centre_mm[0]) * max(x_min, abs(kd.centre_mm[0]) * 0.7)), kd.centre_mm[1])
        kd.position = where

    # kinetics
    maturation = min(1.0, 0.65 + 0.35 * age / 2.0)
    if tracer == "MAG3":
        k_norm = rng.uniform(0.13, 0.20) * maturation
        k_bt, k_tb, k_h = rng.uniform(0.06, 0.10), rng.uniform(0.10, 0.14), rng.uniform(0.006, 0.012)
    else:
        k_norm = rng.uniform(0.045, 0.065) * maturation
        k_bt, k_tb, k_h = rng.uniform(0.25, 0.35), rng.uniform(0.12, 0.16), 0.0
    shares = {side: _affected_share(rng, path[side]) for side in ("left", "right")}
    affected = [sd for sd in ("left", "right") if path[sd] != "normal"]
    if not affected:
        k = {"left": k_norm * shares["left"], "right": k_norm * (1.0 - shares["left"])}
    else:
        bad = affected[0]
        good = "right" if bad == "left" else "left"
        if path[good] != "normal":  # two abnormal kidneys given explicitly: scale each from half the norm
            k = {sd: k_norm * 0.5 * (2 * shares[sd] if shares[sd] < 0.5 else 1.0) for sd in ("left", "right")}
        else:
            # compensatory hypertrophy: a solitary kidney does about 65-80 % of the work of the pair
            deficit = max(0.0, 0.5 - shares[bad])
            k_good = k_norm * 0.5 * rng.uniform(1.0 + 0.6 * deficit, 1.0 + 1.2 * deficit)
            k = {good: k_good, bad: k_good * shares[bad] / (1.0 - shares[bad])}
    drain = {side: _drainage(rng, path[side], furosemide is not None) for side in ("left", "right")}
    if tracer == "DTPA":
        for d in drain.values():
            d["tau_c"] *= 1.1
    dose_min = 15.0 if rng.random() < 0.5 else 37.0
    if tracer == "DTPA":
        dose_min = 20.0
    dose = float(np.clip(3.7 * weight, dose_min, 148.0)) * float(dose_factor)
    arms_in_fov = bool(rng.random() < 0.6)
    depot = float(rng.uniform(0.002, 0.03) if rng.random() < 0.9 else rng.uniform(0.03, 0.1))
    kin = KineticParams(
        dose_mbq=dose, t_inj_s=float(rng.uniform(0.0, 8.0)), tau_inj_s=float(rng.uniform(3.0, 6.0)),
        f_depot=depot, tau_depot_min=float(rng.uniform(5.0, 40.0)), tau_central_s=float(rng.uniform(6.0, 12.0)),
        k_left=float(k["left"]), k_right=float(k["right"]), k_bt=float(k_bt), k_tb=float(k_tb), k_h=float(k_h),
        tau_h_min=float(rng.uniform(20.0, 40.0)), n_stages=3,
        tau_c_left=drain["left"]["tau_c"], tau_c_right=drain["right"]["tau_c"],
        tau_p_left=drain["left"]["tau_p"], tau_p_right=drain["right"]["tau_p"],
        tau_p_furo_left=drain["left"]["tau_p_furo"], tau_p_furo_right=drain["right"]["tau_p_furo"],
        t_furo_min=t_furo, tau_u_min=float(rng.uniform(0.2, 0.4)),
    )

    # injection site: in an arm beside the trunk (only visible when the arms are in the field of view)
    site = None
    want_site = injection_site if injection_site is not None else (arms_in_fov and rng.random() < 0.6)
    if want_site:
        arms_in_fov = True
        side_sign = -1.0 if rng.random() < 0.5 else 1.0
        x = side_sign * (ARM_CENTRE_FRAC - 0.1) * trunk_w * 10 / 2
        site = (float(x), float(rng.uniform(-60.0, 80.0) * s))
    # camera zoom: the smallest pixel whose field of view holds kidneys to bladder and the trunk
    top = -(0.5 * base_len + 70.0 * s)
    bottom = 215.0 * s + 15.0
    need = max(bottom - top, trunk_w * 10 + 30.0)
    if site is not None:
        need = max(need, 2.0 * (abs(site[0]) + 20.0))
    options = pixel_spacing_options(matrix)
    fitting = [o for o in options if o[1] * matrix >= need] or options[:1]
    zoom, spacing = fitting[-1]
    if len(fitting) > 1 and rng.random() < 0.3:
        zoom, spacing = fitting[-2]
    fov = spacing * matrix
    slack = max(0.0, fov - (bottom - top))
    centre_y = top + fov / 2 - float(rng.uniform(0.15, 0.6)) * slack
    centre = (float(rng.normal(0, 0.02) * fov), float(centre_y))

    move = None
    if motion if motion is not None else rng.random() < 0.15:
        starts = proto.frame_starts_s()
        first = int(np.searchsorted(starts, float(rng.uniform(180.0, 0.8 * proto.total_s))))
        last = min(proto.n_frames - 1, first + int(rng.integers(0, 4)))
        ang = rng.uniform(0, 2 * np.pi)
        mag = float(rng.uniform(0.7, 2.0))
        move = [first, last, float(mag * np.sin(ang)), float(mag * np.cos(ang))]

    return StudyConfig(
        age_years=round(age, 4), sex=sex, weight_kg=round(float(weight), 2), height_cm=round(float(height), 1),
        tracer=tracer, protocol=proto.name, matrix=matrix, zoom=zoom, pixel_spacing_mm=spacing,
        fov_centre_mm=centre, trunk_width_cm=float(trunk_w), trunk_thickness_cm=float(trunk_t),
        arms_in_fov=arms_in_fov, sensitivity_cps_per_mbq=float(rng.uniform(80.0, 100.0)) * COLLIMATORS[collimator].sensitivity,
        mu_per_cm=0.153,
        table_gap_cm=float(rng.uniform(1.0, 2.0)), kinetics=kin, left=kidneys["left"], right=kidneys["right"],
        injection_site_mm=site, motion=move, furosemide=furosemide, collimator=collimator,
        background_gain=float(background_gain), liver_gain=float(liver_gain),
        noise_seed=int(rng.integers(0, 2**63 - 1)), seed=seed, index=index,
    )
