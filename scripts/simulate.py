# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Simulate pediatric dynamic renal scintigraphy studies with exact ground truth.

Usage::

    python -m scripts.simulate --out SIM --studies 2000 --seed 0 --workers 2      # the clinical mix (default)
    python -m scripts.simulate --out SIM --studies 200 --mix paper                  # paper136, 128x128 only
    python -m scripts.simulate --out SIM --studies 50 --seed 1 --protocol eanm117,10s180 --matrix 64,128 \\
        --tracer MAG3 --pathology-mix normal=1,obstructed=1 --age-min 0.5 --age-max 5

Writes ``OUT/<study_id>/{study.dcm, parenchyma.png, kidney.png, pelvis.png, truth.json}`` for study ids
``sim_s{seed}_{index:05d}``, index = ``--start-index`` ... ``--start-index + N - 1``, and ``OUT/studies.csv`` (one
row per complete study folder in OUT). A study depends only on (seed, index) and the options, never on
``--workers``. Each study folder is built hidden (``.sim-tmp-*``) and renamed into place, so an interrupted run
leaves only complete study folders (stale temp folders are removed on the next run).

Existing study folders with the same id are kept and skipped (so an interrupted run can be resumed with the same
command); ``--overwrite`` regenerates them instead. Nothing else in OUT is touched, but ``OUT/studies.csv`` is
rewritten, so an OUT whose ``studies.csv`` was not written by the simulator (e.g. a folder of your own studies with
its ``study_id,patient_id`` table) is refused (exit code 2, one line on stderr), as is an OUT that is a file or
cannot be written.

``--mix`` names the distribution the studies are drawn from (:mod:`scripts.simulation.mixes`; the README shows the
``clinical`` mix as a table); ``--protocol``, ``--matrix``, ``--tracer``, ``--furosemide``, ``--pathology(-mix)`` and
the ages replace that dimension of the mix. Options given as comma lists (protocol, matrix, tracer) are drawn per
study with equal probability.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scripts.simulation import MATRICES, PATHOLOGIES, PROTOCOLS, TRACERS
from scripts.simulation.batch import SimulationOptions, parse_choices, prepare_output, simulate_studies
from scripts.simulation.mixes import DEFAULT_MIX, MIXES, get_mix

__all__ = ["main", "parse_args"]


class _UsageError(Exception):
    """A bad command-line value (reported as one line, exit code 2)."""


def _mix(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in PATHOLOGIES:
            raise _UsageError(f"--pathology-mix: unknown pathology {name!r}; choose from {', '.join(PATHOLOGIES)}")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise _UsageError(f"--pathology-mix: weight of {name!r} must be a number, got {weight!r}") from None
        if mix[name] < 0:
            raise _UsageError(f"--pathology-mix: weight of {name!r} is negative")
    if sum(mix.values()) <= 0:
        raise _UsageError("--pathology-mix: the weights sum to zero")
    return mix


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and validate the command line (raises ``SystemExit(2)`` with a one-line message on bad values)."""
    p = argparse.ArgumentParser(prog="python -m scripts.simulate", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    p.add_argument("--studies", type=int, required=True, help="number of studies N (> 0)")
    p.add_argument("--seed", type=int, default=0, help="run seed (>= 0); default 0")
    p.add_argument("--start-index", type=int, default=0, help="index of the first study; default 0")
    p.add_argument("--mix", dest="study_mix", default=DEFAULT_MIX, choices=list(MIXES),
                   help=f"named distribution of studies (default {DEFAULT_MIX}: what clinics acquire, the training "
                   "data's default; paper: paper136, 128x128, no diuretic); the options below restrict it")
    p.add_argument("--protocol", default=None, help=f"protocol(s), comma list of {', '.join(PROTOCOLS)}; default: "
                   "the mix's")
    p.add_argument("--matrix", default=None, help="matrix size(s), comma list of 64, 128, 256; default: the mix's")
    p.add_argument(
        "--tracer", default="mixed",
        help="MAG3, DTPA, a comma list, or 'mixed' (MAG3 below 1 y, else the mix's DTPA share); default mixed",
    )
    p.add_argument("--pathology", default=None, help=f"force one study-level pathology: {', '.join(PATHOLOGIES)}")
    p.add_argument("--pathology-mix", default=None, help="study-level weights, e.g. normal=0.5,obstructed=0.5")
    p.add_argument("--age-min", type=float, default=None, help="minimum age in years; default: the mix's")
    p.add_argument("--age-max", type=float, default=None, help="maximum age in years; default: the mix's")
    p.add_argument("--furosemide", default=None, choices=["none", "F0", "F+20", "F-15", "random"],
                   help="diuretic: none, F0 (with the tracer), F+20 (protocols >= 25 min), F-15 (15 min before), or "
                   "random (F0 or F+20) per study; default: the mix's")
    p.add_argument("--no-injection-site", action="store_true", help="never put the injection site in the image")
    p.add_argument("--no-motion", action="store_true", help="never add patient motion")
    p.add_argument("--workers", type=int, default=1, help="worker processes; default 1")
    p.add_argument("--overwrite", action="store_true", help="regenerate study folders that already exist")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    try:
        if args.studies <= 0:
            raise _UsageError(f"--studies must be > 0, got {args.studies}")
        if args.seed < 0 or args.start_index < 0:
            raise _UsageError("--seed and --start-index must be >= 0")
        if args.workers < 1:
            raise _UsageError(f"--workers must be >= 1, got {args.workers}")
        args.protocols = None if args.protocol is None else parse_choices(args.protocol, list(PROTOCOLS), "protocol")
        args.matrices = None if args.matrix is None else parse_choices(args.matrix, list(MATRICES), "matrix", int)
        args.tracers = None if args.tracer == "mixed" else parse_choices(args.tracer, list(TRACERS), "tracer")
        if args.pathology is not None and args.pathology not in PATHOLOGIES:
            raise _UsageError(f"--pathology: unknown value {args.pathology!r}; choose from {', '.join(PATHOLOGIES)}")
        args.mix = _mix(args.pathology_mix)
        mix_ages = get_mix(args.study_mix).age_range
        args.age_range = None
        if args.age_min is not None or args.age_max is not None:
            args.age_range = (mix_ages[0] if args.age_min is None else args.age_min,
                              mix_ages[1] if args.age_max is None else args.age_max)
            args.age_min, args.age_max = args.age_range
        if args.age_range is not None and not 0.0 < args.age_min <= args.age_max <= 18.0:
            raise _UsageError(f"ages must satisfy 0 < --age-min <= --age-max <= 18, got {args.age_min}, {args.age_max}")
    except (_UsageError, ValueError) as exc:
        p.exit(2, f"simulate: error: {exc}\n")
    return args


def _options(args: argparse.Namespace) -> SimulationOptions:
    return SimulationOptions(
        out=str(args.out), seed=args.seed, study_mix=args.study_mix,
        protocols=None if args.protocols is None else tuple(args.protocols),
        matrices=None if args.matrices is None else tuple(args.matrices),
        tracers=None if args.tracers is None else tuple(args.tracers), pathology=args.pathology, mix=args.mix,
        age_range=args.age_range, furosemide=args.furosemide,
        injection_site=not args.no_injection_site, motion=not args.no_motion, overwrite=args.overwrite,
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    args = parse_args(argv)
    try:
        prepare_output(args.out)
    except OSError as exc:
        print(f"simulate: error: {exc}", file=sys.stderr)
        return 2
    indices = range(args.start_index, args.start_index + args.studies)
    try:
        run = simulate_studies(_options(args), indices, workers=args.workers, progress=not args.no_progress)
    except KeyboardInterrupt:
        print("simulate: interrupted; the complete studies written so far are listed in studies.csv", file=sys.stderr)
        return 130
    except (OSError, ValueError) as exc:
        print(f"simulate: error: {exc}", file=sys.stderr)
        return 2
    print(run.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
