"""The math suites whole, from the real released files (``ENDORM_REAL_DATA=DIR pytest -m realdata``).

Layout of ``$ENDORM_REAL_DATA`` (each top folder has a SOURCE.md naming repository, commit and path):
``qwen2.5-math/evaluation/data/{aime24,amc23,minerva_math,olympiadbench}/test.jsonl`` (QwenLM/Qwen2.5-Math@a45202b),
``math500/test.jsonl`` (openai/prm800k's math_splits/test.jsonl, via a pinned public copy) and
``math-lighteval/train.jsonl`` (MATH train, 7,500 rows). Skipped, with the reason, when the folder or a file is
absent. The grader check (endorm.benchmarks.gradercheck) takes about two minutes on the five suites.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.realdata

ROWS = {"aime24": 30, "amc23": 40, "math500": 500, "minerva_math": 272, "olympiadbench": 675,
        "math_lighteval_train": 7500}
# MATH train rows whose solution ends in an empty \boxed{} (MATH's own reading gives the empty answer): dropped
EMPTY_BOX = {"math_lighteval_train": [5529, 5531]}


@pytest.fixture(scope="module")
def data_dir() -> Path:
    from endorm.benchmarks.gradercheck import SUITES

    root = os.environ.get("ENDORM_REAL_DATA")
    if not root:
        pytest.skip("ENDORM_REAL_DATA is not set (the folder of the real released files)")
    missing = [rel for rel in SUITES.values() if not (Path(root) / rel).is_file()]
    if missing:
        pytest.skip(f"real files absent under {root}: {', '.join(missing)}")
    return Path(root)


@pytest.mark.parametrize("suite", sorted(ROWS))
def test_every_row_through_its_adapter(data_dir, suite):
    from endorm.benchmarks.gradercheck import suite_rows

    rows, dropped, _ = suite_rows(suite, data_dir)
    assert len(rows) + len(dropped) == ROWS[suite]
    assert [d["row"] for d in dropped] == EMPTY_BOX.get(suite, [])
    assert all("empty \\boxed{}" in d["reason"] for d in dropped)
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(r["answer"].strip() for r in rows)


def test_olympiadbench_golds_rewritten_and_units(data_dir):
    from endorm.benchmarks.gradercheck import suite_rows

    rows, _, _ = suite_rows("olympiadbench", data_dir)
    assert not any("$" in r["answer"] or r["answer"][-1] in ".,;:" for r in rows)
    assert sum(r["answer"] != r["answer_raw"] for r in rows) > 200  # most final_answer strings carry "$"
    assert sum(bool(r["unit"]) for r in rows) == 8
    assert Counter(r["is_multiple_answer"] for r in rows) == {False: 581, True: 94}


def test_math500_is_the_math_test_subset(data_dir):
    """MATH-500's 500 unique_ids are MATH test files; when the original MATH layout is there, problem, solution and
    level match it exactly."""
    from endorm.io import read_json, read_jsonl

    rows = read_jsonl(data_dir / "math500" / "test.jsonl")
    assert len({r["unique_id"] for r in rows}) == 500 and all(r["unique_id"].startswith("test/") for r in rows)
    original = data_dir / "math-lighteval" / "MATH"
    if not original.is_dir():
        pytest.skip(f"{original}: the original MATH layout is absent")
    for r in rows:
        src = read_json(original / r["unique_id"])
        assert (src["problem"], src["solution"], src["level"]) == (r["problem"], r["solution"], f"Level {r['level']}")


def test_math_train_is_the_7500(data_dir):
    from endorm.io import read_jsonl

    rows = read_jsonl(data_dir / "math-lighteval" / "train.jsonl")
    assert Counter(r["type"] for r in rows) == {"Algebra": 1744, "Intermediate Algebra": 1295, "Prealgebra": 1205,
                                                "Geometry": 870, "Number Theory": 869, "Counting & Probability": 771,
                                                "Precalculus": 746}
    test500 = {r["problem"] for r in read_jsonl(data_dir / "math500" / "test.jsonl")}
    assert not test500 & {r["problem"] for r in rows}


@pytest.fixture(scope="module")
def report(data_dir):
    from endorm.benchmarks.gradercheck import grader_check

    return grader_check(data_dir)


@pytest.mark.parametrize("suite", ["aime24", "amc23", "math500", "minerva_math", "olympiadbench"])
def test_grader_on_every_gold_and_wrong_answer(report, suite):
    r = report[suite]
    assert r["n"] == ROWS[suite] and r["n_wrong"] == 2 * r["n"]
    assert r["gold_correct"] == 1.0, r["gold_graded_wrong"]
    assert r["wrong_rejected"] >= 0.995, r["wrong_graded_right"]
    # the one accepted wrong answer measured: MATH-500's next problem's gold "x=5" for a gold "5" (equivalent)
    assert all((e["gold"], e["wrong"]) == ("5", "x=5") for e in r["wrong_graded_right"])
