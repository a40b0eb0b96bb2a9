# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Which fused image the network sees under each acquisition protocol: a measurement of fusion rules.

The paper's rule (drop the first minute, sum 7 frames, take the 2nd fused image) fixes a frame count, so the image's
time window moves with the frame duration. A rule that fuses fixed time windows keeps it. This module simulates the
same patients under every protocol (only the frame timing differs) and measures, per rule:

- ``window_min``: start and end of the selected fused image (min after the acquisition start), per protocol;
- ``inconsistency``: for each patient, the mean absolute difference between the rule's network input (grayscale,
  percentile-scaled as the chain does) under one protocol and the patient's mean input over all protocols, relative
  to that mean image's mean inside the body, averaged over patients and protocols (0 = the same image everywhere);
- ``parenchyma_to_background`` and ``parenchyma_to_pelvis``: mean counts of the parenchyma label over a ring of
  background beside the kidney, and over the pelvis label of dilated, obstructed and hydronephrotic kidneys (how
  separable the structure to segment is in that image).

Everything is measured on the noise-free expected frames (the rules differ in timing, not in noise) with the
project's chain (:class:`custom_transforms.pipeline.FusedImageChain`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from monai.data import MetaTensor
from scipy.ndimage import binary_dilation

from custom_transforms.pipeline import FusedImageChain

__all__ = ["RULES", "fusion_window_min", "measure_rules", "rules_table"]

#: Candidate rules: chain ids (min_start_s 60 s, drop_partial as the chain's default).
RULES: dict[str, dict[str, Any]] = {
    "paper (7 frames, 2nd image)": {"group_size": 7, "fused_index": 1},
    "window 120 s, 1st (1-3 min)": {"window_s": 120.0, "fused_index": 0},
    "window 90 s, 2nd (2.5-4 min)": {"window_s": 90.0, "fused_index": 1},
    "window 105 s, 2nd (2.75-4.5 min)": {"window_s": 105.0, "fused_index": 1},
}
DILATED = ("dilated", "obstructed", "hydronephrosis", "extrarenal_pelvis")


def _loaded(frames: np.ndarray, starts: np.ndarray, durs: np.ndarray) -> MetaTensor:
    return MetaTensor(np.asarray(frames, np.float32), meta={"frame_start_s": starts.tolist(),
                                                            "frame_duration_s": durs.tolist()})


def _selected_window_min(chain: FusedImageChain, fused: MetaTensor) -> tuple[float, float]:
    """``(start, end)`` in minutes of the chain's selected fused image, from the fusion's own metadata."""
    k = chain.fused_index
    return float(fused.meta["fused_start_s"][k]) / 60.0, float(fused.meta["fused_end_s"][k]) / 60.0


def fusion_window_min(rule: Mapping[str, Any], starts: np.ndarray, durs: np.ndarray) -> tuple[float, float]:
    """``(start, end)`` in minutes of the fused image a rule selects, for a protocol's frame timing.

    The chain itself fuses placeholder 1x1 frames with that timing, so the window is the one it selects on a study.
    """
    chain = FusedImageChain(colormap=None, **rule)
    return _selected_window_min(chain, chain.fuse(_loaded(np.ones((len(starts), 1, 1)), starts, durs)))


def measure_rules(
    configs: Iterable[Any], protocols: Iterable[str], rules: Mapping[str, Mapping[str, Any]] = RULES
) -> dict[str, Any]:
    """Measure every rule on every patient config under every protocol (see the module docstring).

    Args:
        configs: :class:`scripts.simulation.StudyConfig` patients (their protocol, motion and diuretic are replaced:
            each is simulated under every protocol, without motion, with F+20 read as F0 so all protocols match).
        protocols: protocol names.
        rules: name -> chain ids.

    Returns:
        ``{"rules": {name: {"window_min": {protocol: [start, end]}, "inconsistency": x,
        "inconsistency_by_protocol": {...}, "parenchyma_to_background": {...}, "parenchyma_to_pelvis": {...}}},
        "patients": n, "protocols": [...]}``; ratios as ``{"median": .., "p10": ..}`` over kidneys.
    """
    from scripts.simulation import simulate_study  # the simulator is this measurement's data source

    protocols = list(protocols)
    out: dict[str, Any] = {name: {"window_min": {}, "diffs": {p: [] for p in protocols}, "pb": [], "pp": []}
                           for name in rules}
    chains = {name: FusedImageChain(colormap=None, **ids) for name, ids in rules.items()}
    n = 0
    for cfg in configs:
        furo = "F0" if cfg.furosemide == "F+20" else cfg.furosemide
        images: dict[str, dict[str, np.ndarray]] = {name: {} for name in rules}
        for p in protocols:
            st = simulate_study(dataclasses.replace(cfg, protocol=p, motion=None, furosemide=furo))
            frames = _loaded(st.expected, st.frame_starts_s, st.frame_durations_s)
            for name, chain in chains.items():
                fused = chain.fuse(frames)
                img = np.asarray(chain.input(fused))[0]
                images[name][p] = img
                out[name]["window_min"][p] = [round(v, 2) for v in _selected_window_min(chain, fused)]
                raw = np.asarray(fused[chain.fused_index])
                for value, side in ((1, "left"), (2, "right")):
                    par = st.parenchyma == value
                    if not par.any():
                        continue
                    kid = st.kidney == value
                    ring = binary_dilation(kid, iterations=4) & ~binary_dilation(kid, iterations=2) & (st.kidney == 0)
                    if ring.any() and raw[ring].mean() > 0:
                        out[name]["pb"].append(raw[par].mean() / raw[ring].mean())
                    pel = st.pelvis == value
                    if cfg.kidney(side).pathology in DILATED and pel.sum() >= 4 and raw[pel].mean() > 0:
                        out[name]["pp"].append(raw[par].mean() / raw[pel].mean())
        body = None
        for name in rules:
            mean = np.mean([images[name][p] for p in protocols], axis=0)
            if body is None:
                body = mean > 0.05 * mean.max()
            scale = float(mean[body].mean())
            for p in protocols:
                out[name]["diffs"][p].append(float(np.abs(images[name][p] - mean)[body].mean() / scale))
        n += 1

    def stats(v: list[float]) -> dict[str, float]:
        a = np.asarray(v, dtype=float)
        return {"n": int(a.size), "median": round(float(np.median(a)), 3), "p10": round(float(np.percentile(a, 10)), 3)}

    rules_out = {}
    for name, r in out.items():
        by_p = {p: round(float(np.mean(v)), 4) for p, v in r["diffs"].items()}
        rules_out[name] = {
            "ids": dict(rules[name]),
            "window_min": r["window_min"],
            "inconsistency": round(float(np.mean(list(by_p.values()))), 4),
            "inconsistency_by_protocol": by_p,
            "parenchyma_to_background": stats(r["pb"]),
            "parenchyma_to_pelvis": stats(r["pp"]),
        }
    return {"patients": n, "protocols": protocols, "rules": rules_out}


def rules_table(result: Mapping[str, Any]) -> str:
    """The measurement as a Markdown table (one row per rule)."""
    protocols = result["protocols"]
    head = ["rule", "ids"] + [f"{p} window (min)" for p in protocols] + [
        "inconsistency", "parenchyma/background median (p10)", "parenchyma/pelvis, dilated kidneys median (p10)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in result["rules"].items():
        ids = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["ids"].items())
        win = [f"{r['window_min'][p][0]:.2f}-{r['window_min'][p][1]:.2f}" for p in protocols]
        pb, pp = r["parenchyma_to_background"], r["parenchyma_to_pelvis"]
        lines.append("| " + " | ".join([name, ids] + win + [
            f"{r['inconsistency']:.3f}", f"{pb['median']:.2f} ({pb['p10']:.2f})",
            f"{pp['median']:.2f} ({pp['p10']:.2f}), n={pp['n']}"]) + " |")
    return "\n".join(lines) + "\n"
