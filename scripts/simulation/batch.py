# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""Simulating a batch of studies into a folder: resumable, in parallel, interrupted only between whole studies.

``scripts.simulate`` (the command) and ``scripts.validate_renal_function --simulate`` both write their studies here:

- :class:`SimulationOptions`: what to draw per study (protocol, matrix, tracer, pathology, age, diuretic, ...).
- :func:`prepare_output`: refuse an output folder that cannot take studies (a file, a ``studies.csv`` the simulator
  did not write, not writable) and remove what an interrupted run left.
- :func:`simulate_studies`: simulate and write the studies not yet there (:func:`simulate_one` each), then rewrite
  ``OUT/studies.csv``. Study ``index`` depends only on ``(seed, index)`` and the options, never on ``workers``.

Each study folder is built hidden (``.sim-tmp-*``) and renamed into place by
:func:`scripts.simulation.writer.write_study`, so an interrupted run leaves only complete study folders.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from custom_transforms.safe_files import make_build_dir
from scripts.simulation.config import StudyConfig, sample_study_config
from scripts.simulation.mixes import DEFAULT_MIX, get_mix
from scripts.simulation.protocols import PROTOCOLS
from scripts.simulation.study import simulate_study
from scripts.simulation.writer import (
    TMP_PREFIX,
    foreign_studies_csv,
    is_complete_study,
    study_id_for,
    write_studies_csv,
    write_study,
)

__all__ = [
    "SimulationOptions", "SimulationRun", "parse_choices", "prepare_output", "simulate_one", "simulate_studies",
    "study_config",
]


def parse_choices(text: str, allowed: Sequence, what: str, cast: Callable[[str], Any] = str) -> list:
    """The values of a comma list such as ``"eanm117,10s180"``, each checked against ``allowed``.

    Args:
        text: the comma list.
        allowed: the valid values (after ``cast``).
        what: the option named in messages (``"protocol"`` gives ``--protocol: ...``).
        cast: converts each value. Defaults to ``str``.

    Raises:
        ValueError: the list is empty or holds a value not in ``allowed``.
    """
    values = [v.strip() for v in str(text).split(",") if v.strip()]
    if not values:
        raise ValueError(f"--{what} is empty")
    out = []
    for v in values:
        try:
            cv = cast(v)
        except ValueError:
            raise ValueError(f"--{what}: {v!r} is not valid; choose from {', '.join(map(str, allowed))}") from None
        if cv not in allowed:
            raise ValueError(f"--{what}: unknown value {v!r}; choose from {', '.join(map(str, allowed))}")
        out.append(cv)
    return out


@dataclass(frozen=True)
class SimulationOptions:
    """What :func:`simulate_one` draws per study: a named mix, restricted by the options given.

    Every option left at None comes from the mix (:mod:`scripts.simulation.mixes`); a given one replaces that
    dimension of the mix (lists are drawn from with equal probability).

    Args:
        out: the output folder.
        seed: the run seed (study ``index`` draws from ``numpy.random.default_rng([seed, index])``). Defaults to 0.
        study_mix: ``"clinical"`` or ``"paper"`` (the narrow slice: paper136, 128^2, no diuretic; draws exactly as
            the simulator did before mixes existed). Defaults to :data:`scripts.simulation.mixes.DEFAULT_MIX`.
        protocols: acquisition protocols (:data:`scripts.simulation.PROTOCOLS`). Defaults to the mix's.
        matrices: matrix sizes. Defaults to the mix's.
        tracers: ``"MAG3"``/``"DTPA"``, or None for the mix's age-dependent rule (MAG3 below 1 y). Defaults to None.
        pathology: one study-level pathology for every study, or None. Defaults to None.
        mix: study-level pathology weights, or None for the mix's. Defaults to None.
        age_range: ``(min, max)`` age in years. Defaults to the mix's.
        furosemide: ``"none"``, ``"F0"``, ``"F+20"`` (``"F0"`` for protocols under 25 min), ``"F-15"`` or
            ``"random"`` (F0 or F+20). Defaults to the mix's.
        injection_site: whether the injection site may appear in the image. Defaults to True.
        motion: whether patient motion may be added (at the mix's rate). Defaults to True.
        overwrite: regenerate study folders that already exist instead of keeping them. Defaults to False.
    """

    out: str
    seed: int = 0
    study_mix: str = DEFAULT_MIX
    protocols: tuple[str, ...] | None = None
    matrices: tuple[int, ...] | None = None
    tracers: tuple[str, ...] | None = None
    pathology: str | None = None
    mix: dict[str, float] | None = None
    age_range: tuple[float, float] | None = None
    furosemide: str | None = None
    injection_site: bool = True
    motion: bool = True
    overwrite: bool = False


@dataclass(frozen=True)
class SimulationRun:
    """What :func:`simulate_studies` did: studies written and kept, seconds taken, the table written."""

    written: int
    kept: int
    elapsed_s: float
    workers: int
    table: Path

    def summary(self) -> str:
        """One line: ``simulated N studies in T s (R studies/s, W worker(s)); kept K existing; table PATH``."""
        rate = self.written / self.elapsed_s if self.elapsed_s > 0 and self.written else float("nan")
        return (
            f"simulated {self.written} studies in {self.elapsed_s:.1f} s ({rate:.2f} studies/s, {self.workers} "
            f"worker(s))" + (f"; kept {self.kept} existing" if self.kept else "") + f"; table {self.table}"
        )


def study_config(index: int, opts: SimulationOptions) -> StudyConfig:
    """The configuration of study ``index``: drawn from ``default_rng([seed, index])``, the mix and the options."""
    rng = np.random.default_rng([opts.seed, index])
    mix = get_mix(opts.study_mix)
    furo_of = {"none": False, "random": True, "F0": "F0", "F+20": "F+20", "F-15": "F-15"}
    if mix.name == "paper":  # the draw order of the simulator before mixes, so old seeds give the same studies
        protocols, matrices = opts.protocols or ("paper136",), opts.matrices or (128,)
        kw: dict[str, Any] = {"protocol": protocols[int(rng.integers(len(protocols)))],
                              "matrix": matrices[int(rng.integers(len(matrices)))]}
        tracer = None if opts.tracers is None else opts.tracers[int(rng.integers(len(opts.tracers)))]
        kw.update(furosemide=furo_of[opts.furosemide or "none"], motion=None if opts.motion else False,
                  age_range=opts.age_range or (0.2, 16.0), pathology_mix=opts.mix)
    else:  # the mix's draw first, then the given options replace their dimension
        kw = mix.draw(rng)
        if opts.protocols:
            kw["protocol"] = opts.protocols[int(rng.integers(len(opts.protocols)))]
        if opts.matrices:
            kw["matrix"] = opts.matrices[int(rng.integers(len(opts.matrices)))]
        tracer = None if opts.tracers is None else opts.tracers[int(rng.integers(len(opts.tracers)))]
        if opts.furosemide is not None:
            kw["furosemide"] = furo_of[opts.furosemide]
        if not opts.motion:
            kw["motion"] = False
        if opts.age_range is not None:
            kw["age_range"] = opts.age_range
        if opts.mix is not None:
            kw["pathology_mix"] = opts.mix
    if kw["furosemide"] == "F+20" and PROTOCOLS[kw["protocol"]].total_s < 25 * 60:
        kw["furosemide"] = "F0"
    return sample_study_config(
        rng, tracer=tracer, pathology=opts.pathology, injection_site=None if opts.injection_site else False,
        seed=opts.seed, index=index, **kw,
    )


def simulate_one(index: int, opts: SimulationOptions) -> str:
    """Simulate and write study ``index`` (see :func:`study_config`); returns its id."""
    cfg = study_config(index, opts)
    sid = study_id_for(opts.seed, index)
    write_study(simulate_study(cfg), opts.out, sid, overwrite=opts.overwrite)
    return sid


def _worker(job: tuple[int, SimulationOptions]) -> str:
    return simulate_one(*job)


def _remove_stale_temp(out: Path) -> None:
    """Remove what an interrupted run left: ``.sim-tmp-*`` study folders and a ``.studies.csv.*.tmp`` table."""
    for p in out.iterdir():
        if p.name.startswith(TMP_PREFIX) or (p.name.startswith(".studies.csv.") and p.name.endswith(".tmp")):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        make_build_dir(out / (TMP_PREFIX.lstrip(".") + "probe")).rmdir()  # hidden ``.sim-tmp-probe.tmp-*``
    except OSError as exc:
        raise OSError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None


def prepare_output(out: str | os.PathLike) -> None:
    """Make ``out`` ready for studies (created if missing) and remove the leftovers of an interrupted run.

    Nothing else in ``out`` is touched, but its ``studies.csv`` is rewritten by every run.

    Raises:
        OSError: ``out`` is a file, holds a ``studies.csv`` the simulator did not write (e.g. a folder of your own
            studies with its ``study_id,patient_id`` table), or cannot be written; the message names the path.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OSError(f"{out}: exists and is not a folder")
    foreign = foreign_studies_csv(out)
    if foreign is not None:
        raise OSError(f"{foreign}: not a table written by scripts.simulate, it would be replaced; use another --out")
    _check_writable(out)
    _remove_stale_temp(out)


def simulate_studies(
    opts: SimulationOptions, indices: Iterable[int], workers: int = 1, progress: bool = True
) -> SimulationRun:
    """Simulate the studies ``indices`` into ``opts.out`` (after :func:`prepare_output`) and rewrite ``studies.csv``.

    Existing complete study folders are kept unless ``opts.overwrite``. On ``KeyboardInterrupt`` the half-built
    study is removed and ``studies.csv`` lists the complete studies written so far; the interrupt is re-raised.

    Args:
        opts: the options.
        indices: study indices (ids ``sim_s{seed}_{index:05d}``).
        workers: worker processes. Defaults to 1.
        progress: show a progress bar. Defaults to True.

    Raises:
        OSError: a study or the table cannot be written.
        ValueError: an existing study's ``truth.json`` cannot be read (named).
    """
    from tqdm import tqdm

    out = Path(opts.out)
    indices = list(indices)
    todo = [i for i in indices if opts.overwrite or not is_complete_study(out / study_id_for(opts.seed, i))]
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), unit="study", disable=not progress, desc="simulate")
    try:
        if workers == 1 or len(todo) <= 1:
            for i in todo:
                simulate_one(i, opts)
                bar.update(1)
        else:
            ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            with ctx.Pool(min(workers, len(todo))) as pool:
                for _ in pool.imap_unordered(_worker, [(i, opts) for i in todo], chunksize=1):
                    bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        _remove_stale_temp(out)
        with contextlib.suppress(OSError, ValueError):
            write_studies_csv(out)
        raise
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0
    table = write_studies_csv(out)
    return SimulationRun(len(todo), len(indices) - len(todo), elapsed, workers, table)
