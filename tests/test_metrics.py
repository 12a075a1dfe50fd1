"""RM-Bench's official metric on hand-computed cases."""

import math

import pytest

from endorm.errors import EndormError
from endorm.benchmarks.metrics import rmbench_accuracy, row_accuracy


def row(chosen, rejected, domain="chat", rid=0):
    return {"id": rid, "domain": domain, "score_chosen": chosen, "score_rejected": rejected}


def test_hand_computed_matrix():
    # chosen [1, 5, 9], rejected [2, 4, 8]: wins where c_i > r_j
    #        r0=2 r1=4 r2=8
    # c0=1    0    0    0
    # c1=5    1    1    0
    # c2=9    1    1    1
    acc = row_accuracy([[c - r for r in (2, 4, 8)] for c in (1, 5, 9)])
    assert acc["normal"] == pytest.approx(2 / 3)  # diagonal: 0, 1, 1
    assert acc["hard"] == pytest.approx(0 / 3)    # i < j: (0,1) (0,2) (1,2)
    assert acc["easy"] == pytest.approx(3 / 3)    # i > j: (1,0) (2,0) (2,1)


def test_ties_and_missing_scores_lose():
    acc = row_accuracy([[0.0] * 3] * 3)
    assert acc == {"hard": 0.0, "normal": 0.0, "easy": 0.0}
    m = rmbench_accuracy([row([None, 2, 3], [1, 1, 1])])
    assert m["domains"]["chat"]["normal"] == pytest.approx(200 / 3)


def test_safety_merges_and_macro_vs_micro():
    rows = [
        row([1, 1, 1], [0, 0, 0], "safety-refuse", 1),    # all 9 correct
        row([0, 0, 0], [1, 1, 1], "safety-response", 2),  # none correct
        row([1, 1, 1], [0, 0, 0], "chat", 3),
        row([1, 1, 1], [0, 0, 0], "chat", 4),
        row([1, 1, 1], [0, 0, 0], "chat", 5),
    ]
    m = rmbench_accuracy(rows)
    assert set(m["domains"]) == {"chat", "safety"}
    assert m["safety"] == pytest.approx(50.0) and m["domains"]["safety"]["n"] == 2
    assert m["chat"] == pytest.approx(100.0)
    assert m["avg"] == pytest.approx(75.0)            # unweighted over domains
    assert m["avg_micro"] == pytest.approx(80.0)      # 4 of 5 rows fully correct
    assert m["easy"] == m["normal"] == m["hard"] == pytest.approx(75.0)
    assert m["n"] == 5


def test_pair_margin_rows():
    margins = [[1, -1, -1], [1, 1, -1], [1, 1, 1]]
    m = rmbench_accuracy([{"id": 0, "domain": "math", "pair_margin": margins}])
    assert m["domains"]["math"]["hard"] == pytest.approx(0.0)
    assert m["domains"]["math"]["easy"] == pytest.approx(100.0)


def test_bad_rows():
    with pytest.raises(EndormError, match="row 1: missing field 'score_chosen'"):
        rmbench_accuracy([{"id": 0, "domain": "chat"}])
    with pytest.raises(EndormError, match="3x3"):
        rmbench_accuracy([row([1, 2], [0, 0])])
    with pytest.raises(EndormError, match="no rows"):
        rmbench_accuracy([])
    assert math.isnan(float("nan"))
