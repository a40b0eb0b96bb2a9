# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Time study -> report per study, as ``scripts.renal_function`` runs it on a batch, split into its steps.

Usage::

    python -m scripts.benchmark_report                 # 100 simulated 136-frame 128x128 studies (simulate defaults)
    python -m scripts.benchmark_report --studies 3           # a quick check that it works
    python -m scripts.benchmark_report --studies-dir data/sim --json runs/bench/report_speed.json

The studies are simulated first (``scripts.simulation.simulate_studies`` with the defaults of ``scripts.simulate``:
paper136 protocol, 128x128, mixed tracer and pathology; not timed) into ``--studies-dir`` (kept) or a temporary
folder (removed). Then one process does what ``python -m scripts.renal_function STUDIES --out REPORTS`` does, with
the same library (:class:`scripts.clinical.reporter.StudyReporter`), and times each study's steps: **load** (the
study read once), **segment** (the bundle's model on those frames), **analyse** (ROIs, curves, indices, flags,
report dictionary), **draw** (``report.json``, ``curves.csv`` and ``report.png`` written); plus the set-up (imports,
network built and weights loaded, once) and the cohort table. Prints the figures and writes them as JSON with the
host, threads and load average (before and after). A measurement, not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["STEPS", "TARGET_S_PER_STUDY", "main", "parse_args", "run_benchmark"]

STEPS = ("load", "segment", "analyse", "draw")
#: the issue's target: study -> report within half a second per study (100 studies, two quiet cores).
TARGET_S_PER_STUDY = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m scripts.benchmark_report", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--studies", type=int, default=100, help="number of simulated studies N")
    ap.add_argument("--seed", type=int, default=0, help="simulation seed")
    ap.add_argument("--studies-dir", default=None,
                    help="folder of the simulated studies (kept; existing complete studies are reused); default: a "
                    "temporary folder, removed at the end")
    ap.add_argument("--workers", type=int, default=2, help="simulation worker processes (not timed)")
    ap.add_argument("--bundle-dir", default="bundle", help="MONAI bundle whose model segments the studies")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (renal_function's default --threads)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.studies < 1:
        ap.error("--studies must be >= 1")
    return args


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean_s": statistics.fmean(values), "median_s": statistics.median(values), "max_s": max(values),
            "total_s": sum(values)}


def run_benchmark(studies: list[Path], out: Path, bundle_dir: str | os.PathLike, threads: int | None) -> dict[str, Any]:
    """Report every study into ``out/<id>/`` and time the steps.

    Returns:
        The figures: ``setup_s``, per step ``{mean_s, median_s, max_s, total_s}``, ``per_study_s`` (steps only),
        ``per_study_with_setup_s`` (setup and cohort table spread over the studies), ``cohort_s``, ``studies``.
    """
    t0 = time.perf_counter()
    import torch

    from scripts.clinical.cohort import cohort_row, write_cohort
    from scripts.clinical.reporter import StudyReporter
    from scripts.clinical.studies import unique_study_ids

    if threads is not None:
        torch.set_num_threads(int(threads))
    reporter = StudyReporter(bundle_dir=bundle_dir)
    reporter.segmenter  # noqa: B018 - build the network and load the weights once, as the first study would
    setup = time.perf_counter() - t0
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    rows = []
    for sid, path in zip(unique_study_ids(studies), studies, strict=True):
        t = time.perf_counter()
        study = reporter.load(path)
        t_load = time.perf_counter()
        mask = reporter.segment(study)
        t_seg = time.perf_counter()
        result = reporter.analyse(study, mask)
        t_ana = time.perf_counter()
        reporter.write(result, out / sid)
        t_draw = time.perf_counter()
        for step, dt in zip(STEPS, (t_load - t, t_seg - t_load, t_ana - t_seg, t_draw - t_ana), strict=True):
            times[step].append(dt)
        rows.append(cohort_row(sid, path, result.report))
    t = time.perf_counter()
    write_cohort(rows, out)
    cohort = time.perf_counter() - t
    per_study = [sum(v) for v in zip(*times.values(), strict=True)]
    n = len(studies)
    return {
        "studies": n,
        "setup_s": setup,
        "cohort_s": cohort,
        "steps": {step: _summary(v) for step, v in times.items()},
        "per_study_s": _summary(per_study),
        "per_study_with_setup_s": (setup + sum(per_study) + cohort) / n,
        "torch_threads": torch.get_num_threads(),
    }


def _simulate(folder: Path, n: int, seed: int, workers: int) -> list[Path]:
    from scripts.simulation import study_id_for
    from scripts.simulation.batch import SimulationOptions, simulate_studies

    simulate_studies(SimulationOptions(out=str(folder), seed=seed, study_mix="paper"), range(n), workers=workers, progress=False)
    return [folder / study_id_for(seed, i) / "study.dcm" for i in range(n)]


def _print(result: dict[str, Any]) -> None:
    n = result["studies"]
    print(f"study -> report, {n} studies ({result['host']['cpu_count']} CPUs, torch threads {result['torch_threads']}, "
          f"load average {result['load_average_before'][0]:.2f} before / {result['load_average_after'][0]:.2f} after)")
    print(f"  set-up (imports, network, weights; once): {result['setup_s']:.2f} s")
    for step, s in result["steps"].items():
        print(f"  {step:<8} mean {s['mean_s'] * 1000:7.1f} ms   median {s['median_s'] * 1000:7.1f} ms   "
              f"max {s['max_s'] * 1000:7.1f} ms")
    per = result["per_study_s"]
    print(f"  per study (steps): mean {per['mean_s']:.3f} s, median {per['median_s']:.3f} s")
    total = result["per_study_with_setup_s"]
    print(f"  per study with set-up and cohort table: {total:.3f} s "
          f"(target <= {TARGET_S_PER_STUDY} s: {'met' if total <= TARGET_S_PER_STUDY else 'not met'})")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 (2 for a bad option or an unusable folder)."""
    args = parse_args(argv)
    from scripts.benchmarking.host import host_record

    before = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix="benchmark_report_"))
    try:
        folder = Path(args.studies_dir) if args.studies_dir else scratch / "studies"
        try:
            studies = _simulate(folder, args.studies, args.seed, args.workers)
        except (OSError, ValueError) as exc:
            print(f"benchmark_report: error: {exc}", file=sys.stderr)
            return 2
        result = run_benchmark(studies, scratch / "reports", args.bundle_dir, args.threads)
        result.update({
            "command": " ".join(["python -m scripts.benchmark_report", *(argv if argv is not None else sys.argv[1:])]),
            "target_s_per_study": TARGET_S_PER_STUDY,
            "host": host_record(result["torch_threads"]),
            "load_average_before": list(before),
            "load_average_after": list(os.getloadavg()),
            "studies_dir": str(folder) if args.studies_dir else None,
        })
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _print(result)
    if args.json:
        from custom_transforms.safe_files import atomic_write_json

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.json, result)
        print(f"figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
