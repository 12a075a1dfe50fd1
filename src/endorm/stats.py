"""Small statistics for the tables' intervals and tests: plain floats in and out, no torch.

* ``wilson_interval(k, n)``: 95% Wilson score interval of a proportion ``k / n`` (independent pairs).
* ``bootstrap_mean_interval(values, seed, resamples)``: a mean with its 95% percentile bootstrap interval over items
  (use it when an item holds several correlated comparisons, e.g. an RM-Bench row's 3x3 matrix).
* ``paired_bootstrap_difference(a, b, seed, resamples)``: ``mean(b - a)`` over paired items with its 95% percentile
  bootstrap interval (resampling the pairs, so the pairing is kept).
* ``mcnemar_exact(b_only, a_only)``: exact two-sided McNemar p value for two systems judged right/wrong on the same
  items, from the discordant counts alone.

Every function is deterministic for a given seed (numpy's ``default_rng``).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .defaults import DEFAULT_RESAMPLES

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
LEVEL = 0.95


def wilson_interval(k: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval ``(lo, hi)`` of the proportion ``k / n`` (95% for the default ``z``).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at ``k = 0`` or ``k = n``.
    ``n = 0`` gives ``(nan, nan)``. ``k`` may be fractional (ties counted as half a success): the same formula on
    ``p = k / n``, then an approximation.
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return math.nan, math.nan
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _percentile_interval(stats: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(stats, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(lo), float(hi)


def _resampled_means(values: np.ndarray, seed: int, resamples: int) -> np.ndarray:
    """Means of ``resamples`` bootstrap resamples (items drawn with replacement), drawn in chunks to bound memory."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    rng = np.random.default_rng(seed)
    n = len(values)
    chunk = max(1, 2_000_000 // max(n, 1))
    out = []
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        out.append(values[idx].mean(axis=1))
    return np.concatenate(out)


def bootstrap_mean_interval(values: Sequence[float], seed: int = 0,
                            resamples: int = DEFAULT_RESAMPLES) -> tuple[float, float, float]:
    """``(mean, lo, hi)``: the mean of ``values`` and its 95% percentile bootstrap interval.

    Resamples the items with replacement ``resamples`` times (numpy ``default_rng(seed)``); each item is one value
    (e.g. one row's accuracy over its comparisons). Empty input gives NaNs; one item gives ``(v, v, v)``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return math.nan, math.nan, math.nan
    lo, hi = _percentile_interval(_resampled_means(v, seed, resamples))
    return float(v.mean()), lo, hi


def paired_bootstrap_difference(a: Sequence[float], b: Sequence[float], seed: int = 0,
                                resamples: int = DEFAULT_RESAMPLES) -> tuple[float, float, float]:
    """``(mean of b - a, lo, hi)`` over paired items, with a 95% percentile bootstrap interval.

    ``a[i]`` and ``b[i]`` are two systems' values on the same item ``i``; items are resampled as pairs, so the
    interval reflects the pairing (narrower than two independent intervals when the systems agree on items).
    """
    a_ = np.asarray(a, dtype=np.float64).ravel()
    b_ = np.asarray(b, dtype=np.float64).ravel()
    if a_.shape != b_.shape:
        raise ValueError(f"paired_bootstrap_difference needs equal lengths, got {a_.size} and {b_.size}")
    return bootstrap_mean_interval(b_ - a_, seed, resamples)


def mcnemar_exact(b_only: int, a_only: int) -> float:
    """Exact two-sided McNemar p value from the discordant counts.

    ``b_only``: items system B gets right and A wrong; ``a_only``: the reverse. Under no difference each discordant
    item is a fair coin, so the p value is ``min(1, 2 * P(X <= min(b_only, a_only)))`` with ``X ~ Binomial(n, 1/2)``,
    ``n = b_only + a_only``, computed exactly (integer arithmetic). No discordant items gives 1.0.
    """
    if b_only < 0 or a_only < 0:
        raise ValueError(f"mcnemar_exact needs non-negative counts, got {b_only} and {a_only}")
    n = b_only + a_only
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b_only, a_only) + 1))
    return min(1.0, 2 * tail / 2 ** n)
