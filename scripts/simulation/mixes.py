# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Named training mixes: the distribution of acquisitions, patients and pathologies a batch of studies is drawn from.

- ``clinical`` (the default for training data): what clinics acquire -- every protocol of
  :data:`scripts.simulation.PROTOCOLS` except the test-only ``quick39``, matrices 64/128/256, MAG3 and DTPA, every
  furosemide timing, LEHR/GP/LEAP collimators, count levels from low-dose infants to adult-like, background from a
  clean pediatric study down to the real adult file's kidney-to-background ratio (~1.8), patient motion, and every
  pathology weighted toward the hard ones (thin-rim hydronephrosis, extrarenal pelvis, small scarred kidneys, a
  kidney lower or more medial than usual).
- ``paper``: the narrow slice the first model was trained on (paper136, 128x128, MAG3 with 20 % DTPA from 1 year, no
  diuretic, LEHR, the default pathology mix); draws exactly as the simulator did before mixes existed.

:func:`mix_table` renders a mix as the Markdown table the README shows, from the same definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .camera import COLLIMATORS
from .config import DEFAULT_PATHOLOGY_MIX, FUROSEMIDE, KIDNEY_POSITIONS, PATHOLOGIES, weighted_choice
from .protocols import PROTOCOLS

__all__ = ["MIXES", "DEFAULT_MIX", "Mix", "get_mix", "mix_table"]


@dataclass(frozen=True)
class Mix:
    """A distribution of studies; weights need not sum to 1, ranges are ``(low, high)``.

    Args:
        name, description: the name used on the command line and one line on what it is.
        protocols, matrices, furosemide, collimators, pathologies: choice weights (furosemide ``"none"`` = no
            diuretic; ``F+20`` becomes ``F0`` for protocols under 25 min).
        dtpa_share: probability of DTPA from 1 year of age (infants get MAG3).
        age_range: ``(min, max)`` age in years.
        background_gain, liver_gain, dose_factor: log-uniform ranges (see
            :func:`scripts.simulation.sample_study_config`).
        displaced_kidney: probability that one kidney (random side) lies ``low`` or ``medial`` (equal odds).
        motion: probability of one transient patient movement.
    """

    name: str
    description: str
    protocols: Mapping[str, float]
    matrices: Mapping[int, float]
    dtpa_share: float
    furosemide: Mapping[str, float]
    collimators: Mapping[str, float]
    pathologies: Mapping[str, float]
    age_range: tuple[float, float] = (0.2, 16.0)
    background_gain: tuple[float, float] = (1.0, 1.0)
    liver_gain: tuple[float, float] = (1.0, 1.0)
    dose_factor: tuple[float, float] = (1.0, 1.0)
    displaced_kidney: float = 0.0
    motion: float = 0.15
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        checks = (
            (self.protocols, PROTOCOLS, "protocol"), (self.matrices, (64, 128, 256), "matrix"),
            (self.furosemide, ["none" if f is None else f for f in FUROSEMIDE], "furosemide"),
            (self.collimators, COLLIMATORS, "collimator"), (self.pathologies, PATHOLOGIES, "pathology"),
        )
        for weights, allowed, what in checks:
            bad = [k for k in weights if k not in allowed]
            if bad or not weights or sum(weights.values()) <= 0 or min(weights.values()) < 0:
                raise ValueError(f"mix {self.name!r}: bad {what} weights {dict(weights)}")

    def draw(self, rng: np.random.Generator) -> dict[str, Any]:
        """Keyword arguments of :func:`scripts.simulation.sample_study_config` for one study (``rng`` advances)."""
        protocol = weighted_choice(rng, self.protocols)
        furo = weighted_choice(rng, self.furosemide)
        if furo == "F+20" and PROTOCOLS[protocol].total_s < 25 * 60:
            furo = "F0"
        positions = ["normal", "normal"]
        if rng.random() < self.displaced_kidney:
            positions[int(rng.integers(2))] = str(rng.choice([p for p in KIDNEY_POSITIONS if p != "normal"]))
        return {
            "protocol": protocol,
            "matrix": int(weighted_choice(rng, self.matrices)),
            "dtpa_share": self.dtpa_share,
            "furosemide": None if furo == "none" else furo,
            "collimator": weighted_choice(rng, self.collimators),
            "background_gain": _log_uniform(rng, self.background_gain),
            "liver_gain": _log_uniform(rng, self.liver_gain),
            "dose_factor": _log_uniform(rng, self.dose_factor),
            "positions": tuple(positions),
            "motion": bool(rng.random() < self.motion),
            "pathology_mix": dict(self.pathologies),
            "age_range": self.age_range,
        }


def _log_uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    lo, hi = float(lo_hi[0]), float(lo_hi[1])
    return lo if lo == hi else float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


MIXES: dict[str, Mix] = {
    m.name: m
    for m in (
        Mix(
            "clinical",
            "what clinics acquire: every protocol, matrix, tracer, diuretic timing and collimator, low to adult-like "
            "counts, clean to adult-like background, every pathology weighted toward the hard ones",
            protocols={"paper136": 1.0, "eanm117": 1.0, "real58": 1.0, "10s120": 1.0, "10s180": 1.0},
            matrices={64: 0.3, 128: 0.4, 256: 0.3},
            dtpa_share=0.4,
            furosemide={"none": 0.4, "F0": 0.2, "F+20": 0.2, "F-15": 0.2},
            collimators={"LEHR": 0.5, "GP": 0.25, "LEAP": 0.25},
            pathologies={
                "normal": 0.18, "reduced": 0.10, "scarred": 0.12, "dilated": 0.10, "obstructed": 0.10,
                "hydronephrosis": 0.16, "extrarenal_pelvis": 0.10, "nonfunctioning": 0.07, "absent": 0.07,
            },
            age_range=(0.1, 18.0),
            background_gain=(0.8, 3.0),
            liver_gain=(0.8, 3.0),
            dose_factor=(0.3, 1.5),
            displaced_kidney=0.15,
            motion=0.3,
            notes=(
                "pixel size follows the child: the largest zoom whose field of view holds kidneys to bladder "
                "(64: 3.2-8.4 mm, 128: 2.1-4.2 mm, 256: 2.1 mm); counts are zero outside the 540 x 400 mm detector",
                "injection site in the field with arms down (60 % arms in the field, 60 % of those with the site)",
            ),
        ),
        Mix(
            "paper",
            "the first model's training slice: paper136, 128x128, no diuretic, LEHR, default pathology mix",
            protocols={"paper136": 1.0},
            matrices={128: 1.0},
            dtpa_share=0.2,
            furosemide={"none": 1.0},
            collimators={"LEHR": 1.0},
            pathologies=DEFAULT_PATHOLOGY_MIX,
        ),
    )
}
DEFAULT_MIX = "clinical"


def get_mix(name: str) -> Mix:
    """Look up a mix by name.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        return MIXES[name]
    except KeyError:
        raise ValueError(f"unknown mix {name!r}; choose one of {', '.join(MIXES)}") from None


def _weights(weights: Mapping[Any, float]) -> str:
    total = float(sum(weights.values()))
    return ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in weights.items() if v > 0)


def mix_table(name: str) -> str:
    """The mix as a Markdown table (one row per dimension)."""
    m = get_mix(name)
    proto = ", ".join(f"{k} ({PROTOCOLS[k].description.split(' (')[0]})" for k in m.protocols)
    rows = [
        ("protocols (equal odds)" if len(set(m.protocols.values())) == 1 else "protocols", proto),
        ("matrix", _weights({f"{k}²": v for k, v in m.matrices.items()})),
        ("tracer", f"MAG3 below 1 year; from 1 year DTPA {100 * m.dtpa_share:.0f} %, MAG3 {100 - 100 * m.dtpa_share:.0f} %"),
        ("furosemide", _weights(m.furosemide) + " (F+20 becomes F0 under 25 min)"),
        ("collimator", _weights(m.collimators)),
        ("age", f"{m.age_range[0]:g}-{m.age_range[1]:g} years (half uniform, half log-uniform)"),
        ("count level", f"administered activity x {m.dose_factor[0]:g}-{m.dose_factor[1]:g} (log-uniform) of the "
                        "weight-based dose (3.7 MBq/kg, 15-37 MBq minimum, 148 MBq maximum)"),
        ("background", f"tissue x {m.background_gain[0]:g}-{m.background_gain[1]:g}, liver/spleen x "
                       f"{m.liver_gain[0]:g}-{m.liver_gain[1]:g} (log-uniform)"),
        ("pathology (study level, one side)", _weights(m.pathologies)),
        ("kidney position", f"one kidney low or medial in {100 * m.displaced_kidney:.0f} % of studies"),
        ("patient motion", f"{100 * m.motion:.0f} % of studies (one shift of 0.7-2 px over 1-4 frames)"),
    ]
    rows += [("also", n) for n in m.notes]
    lines = [f"Mix `{m.name}`: {m.description}.", "", "| dimension | distribution |", "| --- | --- |"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines) + "\n"
