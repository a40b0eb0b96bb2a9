# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
"""The comparison's uncertainty: a 95 % interval over seeds and a paired test of two networks on the same images.

- :func:`t_interval`: mean and two-sided 95 % Student-t interval of a few values (``mean ± t(0.975, n-1) · SD/√n``);
  the table applies it to the per-seed mean Dice of a network (one value per seed), so the interval says how much
  the table's number would move with another training seed. With one value there is no interval (NaN bounds).
- :func:`paired_test`: network A against a reference network B on the **same** test images, matched by image id
  (file name), not by position. Per image, each network's Dice is first averaged over the seeds the two share
  (``paired_values``); then the mean paired difference A - B with its t interval over images, and the two-sided
  Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, zero differences dropped, scipy's default) of the
  differences. Images whose Dice is NaN for either network (nnU-Net's empty-empty case) are left out of the pairs.
  Test sets that differ are refused (:class:`TestSetMismatch`): a paired test of different images means nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CONFIDENCE", "PairedTest", "TestSetMismatch", "paired_test", "paired_values", "t_interval"]

#: two-sided confidence level of every interval in the table.
CONFIDENCE = 0.95


class TestSetMismatch(ValueError):
    """Two runs to be paired (or two seeds of one network) were evaluated on different test images."""

    __test__ = False  # not a pytest test class despite the name


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float, int]:
    """``(mean, low, high, n)`` of the finite ``values``: the Student-t interval of their mean.

    Args:
        values: e.g. one mean Dice per seed, or one paired difference per image; NaN values are left out.
        confidence: two-sided level. Defaults to :data:`CONFIDENCE`.

    Returns:
        the mean, the interval bounds (NaN with fewer than two values) and the number of values used (mean NaN
        when there are none).
    """
    from scipy import stats

    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(v.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def _check_same_images(ids: Mapping[str, Sequence[str]]) -> None:
    """Raise :class:`TestSetMismatch` unless every labelled id list holds the same, unique images."""
    first_label, first = next(iter(ids.items()))
    for label, names in ids.items():
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if list(names).count(n) > 1})
            raise TestSetMismatch(f"{label}: test image id(s) {', '.join(dup[:3])} occur twice; ids must be unique")
        if set(names) != set(first):
            only_first = sorted(set(first) - set(names))
            only_here = sorted(set(names) - set(first))
            raise TestSetMismatch(
                f"{first_label} and {label} were evaluated on different test images ({len(only_first)} only in "
                f"{first_label}, e.g. {only_first[:1]}; {len(only_here)} only in {label}, e.g. {only_here[:1]}): "
                "the paired comparison needs the same test split for every run"
            )


def paired_values(runs: Mapping[str, tuple[Sequence[str], Sequence[float]]]) -> tuple[list[str], np.ndarray]:
    """Per-image values averaged over runs (seeds), the images matched by id.

    Args:
        runs: ``{label: (image ids, values)}``, one entry per seed; the label names the run in errors.

    Returns:
        the image ids (sorted) and the NaN-skipping mean over runs of each image's value (NaN where every run is NaN).

    Raises:
        TestSetMismatch: the runs hold different (or repeated) image ids.
    """
    if not runs:
        return [], np.array([])
    _check_same_images({label: list(ids) for label, (ids, _) in runs.items()})
    names = sorted(next(iter(runs.values()))[0])
    table = []
    for ids, values in runs.values():
        by_id = dict(zip(ids, np.asarray(values, dtype=float).tolist(), strict=True))
        table.append([by_id[n] for n in names])
    arr = np.asarray(table, dtype=float)
    finite = np.isfinite(arr)
    counts = finite.sum(axis=0)
    sums = np.where(finite, arr, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), math.nan)
    return names, mean


@dataclass(frozen=True)
class PairedTest:
    """A network against the reference on the same test images.

    Attributes:
        mean_diff: mean of (network - reference) per image.
        ci_low: lower bound of the 95 % t interval of the mean difference (over images).
        ci_high: upper bound.
        p_value: two-sided Wilcoxon signed-rank p value (1.0 when every difference is zero; NaN without pairs).
        n_images: images in the pairs (both values finite).
        seeds: the seeds the two networks share (each image's value is averaged over them).
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n_images: int
    seeds: tuple[int, ...]


def paired_test(
    network: Mapping[int, tuple[Sequence[str], Sequence[float]]],
    reference: Mapping[int, tuple[Sequence[str], Sequence[float]]],
    labels: Mapping[int, tuple[str, str]] | None = None,
) -> PairedTest:
    """Paired comparison of ``network`` against ``reference`` over the seeds both have.

    Args:
        network: ``{seed: (image ids, per-image Dice)}`` of the network.
        reference: the same for the reference network (``transformer_unet`` in the table).
        labels: ``{seed: (network run name, reference run name)}`` for error messages. Defaults to seed numbers.

    Returns:
        the :class:`PairedTest` (NaN figures and no seeds when the two share no seed).

    Raises:
        TestSetMismatch: a run of either network was evaluated on other test images than the others.
    """
    from scipy import stats

    seeds = tuple(sorted(set(network) & set(reference)))
    if not seeds:
        return PairedTest(math.nan, math.nan, math.nan, math.nan, 0, ())
    labels = labels or {s: (f"network seed {s}", f"reference seed {s}") for s in seeds}
    runs_a = {labels[s][0]: network[s] for s in seeds}
    runs_b = {labels[s][1]: reference[s] for s in seeds}
    _check_same_images({**{k: list(v[0]) for k, v in runs_a.items()}, **{k: list(v[0]) for k, v in runs_b.items()}})
    names_a, a = paired_values(runs_a)
    names_b, b = paired_values(runs_b)
    assert names_a == names_b  # checked above: same ids, both sorted
    keep = np.isfinite(a) & np.isfinite(b)
    diff = (a - b)[keep]
    mean, low, high, n = t_interval(diff)
    if n == 0:
        p = math.nan
    elif not np.any(diff != 0):
        p = 1.0  # identical predictions: no evidence of a difference (scipy warns and divides 0 by 0 here)
    else:
        p = float(stats.wilcoxon(diff, alternative="two-sided").pvalue)
    return PairedTest(mean, low, high, p, n, seeds)
