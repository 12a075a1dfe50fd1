"""endorm.stats: the interval and test helpers, against values computed by hand or published."""

import math

import numpy as np
import pytest

from endorm.stats import bootstrap_mean_interval, mcnemar_exact, paired_bootstrap_difference, wilson_interval


def test_wilson_known_values():
    # Newcombe (1998), Table I: 81/263 -> 0.2553-0.3662; and the textbook 8/10 and 0/20 cases (z = 1.96)
    lo, hi = wilson_interval(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    lo, hi = wilson_interval(8, 10, z=1.96)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    lo, hi = wilson_interval(0, 20, z=1.96)
    assert lo == 0.0 and round(hi, 4) == 0.1611
    lo, hi = wilson_interval(20, 20)
    assert hi == 1.0 and round(lo, 4) == 0.8389
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_bootstrap_constant_and_deterministic():
    assert bootstrap_mean_interval([0.5] * 30, seed=1, resamples=200) == (0.5, 0.5, 0.5)
    assert bootstrap_mean_interval([0.25], seed=0, resamples=50) == (0.25, 0.25, 0.25)
    assert all(math.isnan(x) for x in bootstrap_mean_interval([], seed=0, resamples=10))
    values = np.random.default_rng(0).random(200)
    a = bootstrap_mean_interval(values, seed=3, resamples=2000)
    assert a == bootstrap_mean_interval(list(values), seed=3, resamples=2000)
    assert a != bootstrap_mean_interval(values, seed=4, resamples=2000)
    mean, lo, hi = a
    assert isinstance(mean, float) and isinstance(lo, float)
    assert mean == pytest.approx(values.mean()) and lo < mean < hi
    # the percentile interval of a mean is close to mean +- 1.96 standard errors for 200 uniform values
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_paired_bootstrap_difference():
    a = [0, 1, 0, 1, 1, 0, 1, 0]
    assert paired_bootstrap_difference(a, a, seed=0, resamples=100) == (0.0, 0.0, 0.0)
    shifted = [x + 0.25 for x in a]
    mean, lo, hi = paired_bootstrap_difference(a, shifted, seed=0, resamples=100)
    assert (mean, lo, hi) == pytest.approx((0.25, 0.25, 0.25))  # pairing kept: a constant difference
    b = [1, 1, 0, 1, 1, 1, 1, 0]
    mean, lo, hi = paired_bootstrap_difference(a, b, seed=0, resamples=2000)
    assert mean == 0.25 and 0.0 <= lo < 0.25 < hi <= 0.5
    with pytest.raises(ValueError):
        paired_bootstrap_difference([1, 2], [1])


def test_mcnemar_exact():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)  # 2 * 0.5^5
    assert mcnemar_exact(0, 5) == mcnemar_exact(5, 0)
    # 10 vs 2: 2 * P(X <= 2 | n = 12) = 2 * (1 + 12 + 66) / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(2 * 79 / 4096)
    assert 0 < mcnemar_exact(600, 400) < 1e-9
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)
