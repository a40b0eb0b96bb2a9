# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Patient motion of a report against a known truth: the per-study columns, the summary and its Markdown table, for
``scripts.validate_renal_function``.

The truth is ``truth.json``'s ``motion`` of a simulated study: None, or ``{"first_frame", "last_frame",
"shift_rc_px": [dy, dx]}`` (one transient shift of those frames, 0-based). The report's is ``report.json``'s
``motion`` (:mod:`scripts.clinical.motion`).

Per-study columns (:func:`motion_row`): ``motion_truth`` (0/1), ``motion_truth_px`` (shift length), ``motion_found``
(every true frame among ``frames_moved``; None without true motion), ``motion_exact`` (exactly those frames),
``motion_false_frames`` (moved frames outside the true ones), ``motion_shift_error_px`` (largest length of measured
minus true shift over the true frames), ``motion_max_shift_px`` and ``motion_warning`` (0/1). Summary
(:func:`motion_summary`): of the studies with motion, how many were found (all, and those of at least
:data:`REQUIRED_PX`), found with exactly their frames, the shift error (median, p90, max); of the studies without, how
many have a moved frame or a motion warning.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["REQUIRED_PX", "motion_row", "motion_summary", "motion_markdown_table"]

#: issue 14: shifts of one pixel or more must be found (>= 90 %).
REQUIRED_PX = 1.0


def motion_row(report: dict[str, Any], truth: dict[str, Any] | None) -> dict[str, Any]:
    """The per-study motion columns of one report against ``truth.json``'s ``motion`` (None: no motion)."""
    found = report.get("motion") or {}
    moved = {int(f) for f in found.get("frames_moved", [])}
    row: dict[str, Any] = {"motion_truth": int(truth is not None), "motion_truth_px": None, "motion_found": None,
                           "motion_exact": None, "motion_false_frames": len(moved), "motion_shift_error_px": None,
                           "motion_max_shift_px": found.get("max_shift_px"),
                           "motion_warning": int(bool(found.get("warning")))}
    if truth is None:
        return row
    frames = set(range(int(truth["first_frame"]), int(truth["last_frame"]) + 1))
    dy, dx = (float(v) for v in truth["shift_rc_px"])
    shifts = found.get("shift_rc_px") or []
    errors = [math.hypot(shifts[t][0] - dy, shifts[t][1] - dx) if t < len(shifts) and shifts[t] is not None
              else float("nan") for t in sorted(frames)]
    row.update(motion_truth_px=round(math.hypot(dy, dx), 3), motion_found=int(frames <= moved),
               motion_exact=int(frames == moved), motion_false_frames=len(moved - frames),
               motion_shift_error_px=round(max(errors), 3) if errors else float("nan"))
    return row


def _stats(values: list[float]) -> dict[str, Any]:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if v.size == 0:
        return {"n": 0}
    return {"n": int(v.size), "median": round(float(np.median(v)), 3), "p90": round(float(np.percentile(v, 90)), 3),
            "max": round(float(v.max()), 3)}


def motion_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Detection and error figures over ``rows`` (one mask source, without failures; see the module docstring)."""
    moving = [r for r in rows if r.get("motion_truth")]
    big = [r for r in moving if r["motion_truth_px"] >= REQUIRED_PX]
    still = [r for r in rows if r.get("motion_truth") == 0]
    return {
        "with_motion": len(moving),
        "found": sum(int(r["motion_found"]) for r in moving),
        f"at_least_{REQUIRED_PX:g}px": len(big),
        f"at_least_{REQUIRED_PX:g}px_found": sum(int(r["motion_found"]) for r in big),
        "exact_frames": sum(int(r["motion_exact"]) for r in moving),
        "shift_error_px": _stats([r["motion_shift_error_px"] for r in moving]),
        "without_motion": len(still),
        "without_motion_moved_frames": sum(int(r["motion_false_frames"] > 0) for r in still),
        "without_motion_warning": sum(int(r["motion_warning"]) for r in still),
    }


def motion_markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    """One row per mask source of ``summary`` (``{source: motion_summary(...)}``)."""
    key = f"at_least_{REQUIRED_PX:g}px"
    lines = [f"| masks | shifts >= {REQUIRED_PX:g} px found | all shifts found | exact frames | shift error median / "
             "p90 / max (px) | motion-free studies with a moved frame / a warning |", "|" + "---|" * 6]
    for source, s in summary.items():
        err = s["shift_error_px"]
        error = "-" if err.get("n", 0) == 0 else f"{err['median']:.2f} / {err['p90']:.2f} / {err['max']:.2f}"
        lines.append(f"| {source} | {s[key + '_found']}/{s[key]} | {s['found']}/{s['with_motion']} | "
                     f"{s['exact_frames']}/{s['with_motion']} | {error} | {s['without_motion_moved_frames']} / "
                     f"{s['without_motion_warning']} of {s['without_motion']} |")
    return "\n".join(lines)
