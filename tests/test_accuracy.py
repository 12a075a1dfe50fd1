"""`endorm accuracy`: accuracy with a 95% interval of any scores file, one response per side or several."""

import json
import random

import pytest

from endorm.cli import main
from endorm.io import write_jsonl
from endorm.benchmarks.metrics import pair_accuracy, rmbench_accuracy
from endorm.stats import bootstrap_mean_interval, wilson_interval

PLAIN = [  # reward-bench style: one chosen, one rejected
    {"id": 1, "domain": "chat", "score_chosen": [1.0], "score_rejected": [0.5]},
    {"id": 2, "domain": "chat", "score_chosen": [0.2], "score_rejected": [0.5]},
    {"id": 3, "domain": "math", "score_chosen": [1.0], "score_rejected": [1.0]},
    {"id": 4, "domain": "math", "score_chosen": [2.0], "score_rejected": [0.5]},
    {"id": 5, "domain": "math", "pair_margin": [[0.25]]},
]


def rmbench_rows(n=24, seed=0):
    rng = random.Random(seed)
    return [{"id": i, "domain": ["chat", "math", "safety-refuse"][i % 3],
             "score_chosen": [rng.gauss(0.3, 1) for _ in range(3)],
             "score_rejected": [rng.gauss(0, 1) for _ in range(3)]}
            for i in range(n)]


def test_plain_pairs_use_wilson_and_strict_ties():
    m = pair_accuracy(PLAIN, "s")
    assert m["interval"] == {"method": "wilson", "level": 0.95, "over": "pairs"}
    o = m["overall"]
    assert (o["accuracy"], o["rows"], o["comparisons"], o["wins"], o["tied"]) == (60.0, 5, 5, 3, 1)
    assert (o["ci_low"], o["ci_high"]) == pytest.approx([100 * x for x in wilson_interval(3, 5)])
    assert list(m["domains"]) == ["chat", "math"]
    assert m["domains"]["math"]["accuracy"] == pytest.approx(200 / 3)
    half = pair_accuracy(PLAIN, "s", ties="half")
    assert half["overall"]["accuracy"] == 70.0 and half["domains"]["chat"]["accuracy"] == 50.0


def test_rmbench_rows_bootstrap_over_rows_and_agree_with_rmbench_micro():
    rows = rmbench_rows()
    m = pair_accuracy(rows, "s", seed=3, resamples=500)
    assert m["interval"] == {"method": "bootstrap", "level": 0.95, "over": "rows", "resamples": 500, "seed": 3}
    assert m["overall"]["accuracy"] == pytest.approx(rmbench_accuracy(rows)["avg_micro"])
    assert m["overall"]["comparisons"] == 9 * len(rows)
    assert set(m["domains"]) == {"chat", "math", "safety-refuse"}  # domains as written
    per_row = [sum(c > r for c in row["score_chosen"] for r in row["score_rejected"]) / 9 for row in rows]
    _, lo, hi = bootstrap_mean_interval(per_row, 3, 500)
    assert (m["overall"]["ci_low"], m["overall"]["ci_high"]) == pytest.approx((100 * lo, 100 * hi))
    assert m == pair_accuracy(rows, "s", seed=3, resamples=500)  # deterministic for a seed


def test_missing_scores_are_refused_or_lose():
    rows = [{"id": 1, "score_chosen": [None], "score_rejected": [0.0]},
            {"id": 2, "score_chosen": [1], "score_rejected": [0]}]
    with pytest.raises(Exception, match=r"s, row 1: field score_chosen\[0\] is null"):
        pair_accuracy(rows, "s")
    m = pair_accuracy(rows, "s", allow_missing=True)
    assert m["overall"]["accuracy"] == 50.0 and m["overall"]["missing"] == 1 and list(m["domains"]) == ["all"]


def test_accuracy_cli_table_json_and_output(tmp_path, capsys):
    scores, out = tmp_path / "s.jsonl", tmp_path / "sub" / "acc.json"
    write_jsonl(scores, PLAIN)
    assert main(["accuracy", str(scores)]) == 0
    table = capsys.readouterr().out
    assert "strict >, ties lose" in table and "Wilson score interval" in table
    assert "1 tied comparison(s) counted as lost" in table
    line = next(x for x in table.splitlines() if x.startswith("all"))
    lo, hi = wilson_interval(3, 5)
    assert line.split() == ["all", "5", "5", "60.0%", f"[{100 * lo:.1f},", f"{100 * hi:.1f}]"]
    assert any(x.startswith("math ") for x in table.splitlines())

    assert main(["accuracy", str(scores), "--json", "--output", str(out), "--ties", "half"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text()) and printed["ties"] == "half" and printed["scores"] == str(scores)

    write_jsonl(scores, rmbench_rows())
    assert main(["accuracy", str(scores), "--resamples", "200", "--seed", "1"]) == 0
    assert "percentile bootstrap over rows (200 resamples, seed 1)" in capsys.readouterr().out


@pytest.mark.parametrize("rows,message", [
    ([], "no rows"),
    ([{"id": 1, "score_chosen": [1]}], "row 1: missing field 'score_rejected'"),
    ([{"id": 1, "score_chosen": [1], "score_rejected": ["x"]}], r"row 1: field score_rejected\[0\] must be a number"),
    ([{"id": 1, "pair_margin": [[1, 2], [3]]}], "row 1: field 'pair_margin' must be a non-empty rectangular"),
    ([{"id": 1, "score_chosen": [1], "score_rejected": [0]}] * 2, "row 2: duplicate id 1"),
])
def test_accuracy_bad_input(tmp_path, capsys, rows, message):
    scores, out = tmp_path / "s.jsonl", tmp_path / "acc.json"
    write_jsonl(scores, rows)
    assert main(["accuracy", str(scores), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("endorm: error: ") and str(scores) in err
    assert __import__("re").search(message, err) and not out.exists()
    assert main(["accuracy", str(scores), "--output", str(scores)]) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
