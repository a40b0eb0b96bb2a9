# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The fixed set of simulated studies whose reports are stored in ``tests/data/clinical/reference_reports.json``.

Six small paper-protocol studies (five 64x64, one 128x128) drawn from fixed seeds: both kidneys normal, a reduced-
function kidney, a hydronephrotic kidney with thin parenchyma, an obstructed kidney (DTPA), a non-functioning kidney
(DRF 100/0) and a normal 128x128 study. The simulator is deterministic (same seed, byte-identical files), so the
tests regenerate the studies instead of storing DICOM files. The stored values are the reports of the command
(``python -m scripts.renal_function --mask <ground truth>``, the tiny threshold-network bundle of
:mod:`tests.clinical.renal_fixtures`, and the shipped model). First stored before the one-process redesign of issue 12
(the new path reproduced them); regenerated for issue 13 (the bundle's fusion rule became minutes 1-3 and the model
was retrained: the bundle and model reports changed, the ground-truth-mask numbers did not) and issue 14 (new
``qc``, ``motion``, output-efficiency and transit-time fields; the DRF interval's ``left_ci95``/``right_ci95`` and
``drf_interval``, every other number unchanged) and for the combined DRF of record (``drf_percent.combined``, every
other number unchanged), for model 0.6.0 (trained on the 384x384 outline labels: the model reports changed, the
ground-truth and threshold-bundle ones did not), and for the DRF interval's refit for 0.6.0 (2026-12-02: the
intervals, ``drf_interval``'s calibration and sigmas, the combined DRF and its weights, and ``low_model_confidence``,
which now reads the combined interval, changed; every other number did not).

Regenerate (only on a deliberate change of the report's numbers, and say so in the commit)::

    .venv/bin/python -m tests.clinical.reference_studies --write
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "REFERENCE_SEED",
    "REFERENCE_STUDIES",
    "REFERENCE_FILE",
    "PATH_KEYS",
    "write_reference_studies",
    "report_numbers",
    "compare_reports",
]

#: seed of the reference studies (study ``i`` draws from ``default_rng([REFERENCE_SEED, i])``).
REFERENCE_SEED = 12012
#: ``(study id, matrix, tracer, pathology)``, in order.
REFERENCE_STUDIES: tuple[tuple[str, int, str, str], ...] = (
    ("normal64", 64, "MAG3", "normal"),
    ("reduced64", 64, "MAG3", "reduced"),
    ("hydro64", 64, "MAG3", "hydronephrosis"),
    ("obstructed64", 64, "DTPA", "obstructed"),
    ("nonfunctioning64", 64, "MAG3", "nonfunctioning"),
    ("normal128", 128, "MAG3", "normal"),
)
REFERENCE_FILE = Path(__file__).resolve().parents[1] / "data" / "clinical" / "reference_reports.json"
#: report entries that hold paths of the run (temporary folders), not results: left out of the comparison.
PATH_KEYS = (("study", "file"), ("settings", "mask_source"), ("files",))


def write_reference_studies(root: str | os.PathLike) -> dict[str, Path]:
    """Simulate the reference studies into ``root/<id>/`` (``study.dcm``, ``parenchyma.png``, ...).

    Returns:
        study id -> study folder, in :data:`REFERENCE_STUDIES` order.
    """
    from scripts.simulation import sample_study_config, simulate_study, write_study

    out: dict[str, Path] = {}
    for index, (sid, matrix, tracer, pathology) in enumerate(REFERENCE_STUDIES):
        cfg = sample_study_config(np.random.default_rng([REFERENCE_SEED, index]), matrix=matrix, protocol="paper136",
                                  tracer=tracer, pathology=pathology, injection_site=False, motion=False,
                                  seed=REFERENCE_SEED, index=index)
        out[sid] = write_study(simulate_study(cfg), Path(root), sid)
    return out


def report_numbers(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` without the run's paths (:data:`PATH_KEYS`): what must not change between two implementations."""
    rep = json.loads(json.dumps(report))
    for keys in PATH_KEYS:
        node = rep
        for key in keys[:-1]:
            node = node.get(key, {})
        node.pop(keys[-1], None)
    return rep


def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text or "." not in text else len(text.split(".")[1])


def compare_reports(expected: Any, actual: Any, where: str = "report") -> list[str]:
    """Differences between two reports (empty when equal): numbers equal within float tolerance or one unit of the
    stored rounding (a value written with 3 decimals may differ by 0.001), everything else exactly."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{where}: missing {k!r}" for k in expected if k not in actual]
        out += [f"{where}: unexpected {k!r}" for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                out += compare_reports(expected[k], actual[k], f"{where}.{k}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(actual)} items, expected {len(expected)}: {actual!r} vs {expected!r}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for d in
                compare_reports(e, a, f"{where}[{i}]")]
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(actual, numbers) and not isinstance(expected, bool):
        unit = 10.0 ** -_decimals(expected) * 1.001 if isinstance(expected, float) else 0.0
        if math.isclose(expected, actual, rel_tol=1e-6, abs_tol=1e-9) or abs(expected - actual) <= unit:
            return []
        return [f"{where}: {actual!r}, expected {expected!r}"]
    return [] if expected == actual else [f"{where}: {actual!r}, expected {expected!r}"]


def _run_reports(studies: dict[str, Path], out: Path, mode: str, bundle: Path | None) -> dict[str, Any]:
    from scripts.renal_function import main

    reports = {}
    for sid, folder in studies.items():
        dest = out / mode / sid
        args = [str(folder / "study.dcm"), "--out", str(dest)]
        args += ["--mask", str(folder / "parenchyma.png")] if mode == "mask" else ["--bundle-dir", str(bundle)]
        with contextlib.redirect_stdout(sys.stderr):  # the summary lines are not the reference file
            rc = main(args)
        if rc != 0:
            raise SystemExit(f"{mode} {sid}: renal_function exited {rc}")
        reports[sid] = report_numbers(json.loads((dest / "report.json").read_text(encoding="utf-8")))
    return reports


def main(argv: list[str] | None = None) -> int:
    """Write :data:`REFERENCE_FILE` from the current ``scripts.renal_function`` (``--write``)."""
    import tempfile

    from tests.clinical.renal_fixtures import REPO, make_tiny_bundle

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help=f"write {REFERENCE_FILE}")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reference_reports_") as tmp:
        root = Path(tmp)
        studies = write_reference_studies(root / "studies")
        tiny = make_tiny_bundle(root / "tiny_bundle")
        data = {
            "seed": REFERENCE_SEED,
            "studies": [list(s) for s in REFERENCE_STUDIES],
            "mask": _run_reports(studies, root / "out", "mask", None),
            "threshold_bundle": _run_reports(studies, root / "out", "threshold_bundle", tiny),
            "model": _run_reports(studies, root / "out", "model", REPO / "bundle"),
        }
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if args.write:
        REFERENCE_FILE.parent.mkdir(parents=True, exist_ok=True)
        REFERENCE_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {REFERENCE_FILE} ({len(text)} bytes)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
