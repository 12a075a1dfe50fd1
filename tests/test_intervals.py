"""The 95% intervals of Tables 1 and 3 and Figure 1, and Table 3's paired comparisons, against direct computations."""

import random

import numpy as np
import pytest

from endorm.errors import EndormError
from endorm.benchmarks.metrics import rmbench_accuracy, row_accuracy, margin_matrix
from endorm.benchmarks.promptable import pairwise_accuracy
from endorm.stats import mcnemar_exact, wilson_interval
from endorm.tables.table3 import ALL, build_table3, controls_block, paired_rows, per_problem, rate_row
from endorm.tables.common import INTERVALS, to_csv, to_markdown


def rm_rows(n, seed=0, domains=("chat", "math", "safety-refuse")):
    rng = random.Random(seed)
    return [{"id": i, "domain": domains[i % len(domains)], "score_chosen": [rng.random() for _ in range(3)],
             "score_rejected": [rng.random() for _ in range(3)]} for i in range(n)]


def test_rmbench_intervals_equal_a_brute_force_stratified_bootstrap():
    rows = rm_rows(23)
    m = rmbench_accuracy(rows, resamples=300, seed=5)
    per = {}
    for r in rows:
        d = {"safety-refuse": "safety"}.get(r["domain"], r["domain"])
        per.setdefault(d, []).append(row_accuracy(margin_matrix(r)))
    order = [d for d in ("chat", "math", "code", "safety") if d in per]
    rng = np.random.default_rng(5)
    draws = {d: rng.integers(0, len(per[d]), size=(300, len(per[d]))) for d in order}  # the same draws, in order
    avg, micro, hard = [], [], []
    for b in range(300):
        dom = {d: [per[d][i] for i in draws[d][b]] for d in order}
        score = {d: np.mean([np.mean([a["easy"], a["normal"], a["hard"]]) for a in v]) for d, v in dom.items()}
        avg.append(100 * np.mean(list(score.values())))
        micro.append(100 * sum(score[d] * len(dom[d]) for d in order) / len(rows))
        hard.append(100 * np.mean([np.mean([a["hard"] for a in v]) for v in dom.values()]))
    for key, sims in (("avg", avg), ("avg_micro", micro), ("hard", hard)):
        assert m["intervals"][key] == pytest.approx(list(np.quantile(sims, [0.025, 0.975])), abs=1e-9)
        lo, hi = m["intervals"][key]
        assert lo <= m[key] <= hi
    assert m["intervals"] == rmbench_accuracy(rows, resamples=300, seed=5)["intervals"]  # seeded
    assert m["intervals"] != rmbench_accuracy(rows, resamples=300, seed=6)["intervals"]


def test_identical_rows_give_a_point_interval():
    row = {"score_chosen": [3, 2, 1], "score_rejected": [2, 2, 0], "domain": "chat"}
    m = rmbench_accuracy([{**row, "id": i} for i in range(6)], resamples=200)
    assert m["intervals"]["avg"] == [pytest.approx(m["avg"])] * 2


def test_figure1_rates_carry_wilson_intervals():
    rows = [{"id": i, "domain": "a" if i < 10 else "b", "score_chosen": [1.0], "score_rejected": [0.0 if i % 3 else 2.0]}
            for i in range(16)]
    acc = pairwise_accuracy(rows)
    a = acc["sources"]["a"]
    k = sum(1 for i in range(10) if i % 3)
    assert a["accuracy"] == pytest.approx(100 * k / 10)
    assert a["interval"] == pytest.approx([100 * x for x in wilson_interval(k, 10)])
    total = k + sum(1 for i in range(10, 16) if i % 3)
    assert acc["weighted_average_interval"] == pytest.approx([100 * x for x in wilson_interval(total, 16)])


def test_tables_write_intervals_to_csv_columns_and_markdown_cells():
    rows = [{"m": "x", "acc": 50.0, INTERVALS: {"acc": (40.0, 61.25)}}, {"m": "paper", "acc": 70.2}]
    csv_text = to_csv(["m", "acc"], rows)
    assert csv_text.splitlines() == ["m,acc,acc_lo,acc_hi", "x,50.0,40.0,61.2", "paper,70.2,,"]
    assert "| x | 50.0 [40.0, 61.2] |" in to_markdown(["m", "acc"], rows)
    assert "| paper | 70.2 |" in to_markdown(["m", "acc"], rows)


def recs(task, correct, sample=None):
    return [{"task": task, "id": str(i), "correct": c, **({"sample": sample} if sample is not None else {})}
            for i, c in enumerate(correct)]


def test_rate_row_and_paired_rows():
    base = recs("gsm8k", [1, 0, 0, 1, 0, 0, 0, 0]) + recs("champ", [0, 0, 1])
    rl = recs("gsm8k", [1, 1, 0, 1, 1, 0, 1, 0]) + recs("champ", [0, 1, 0])
    names = ["gsm8k", "champ"]
    a, b = per_problem(base, names), per_problem(rl, names)
    row = rate_row(b, names, resamples=500)
    assert row["gsm8k"] == pytest.approx(62.5) and row["avg"] == pytest.approx((62.5 + 100 / 3) / 2)
    assert row[INTERVALS]["gsm8k"] == pytest.approx(tuple(100 * x for x in wilson_interval(5, 8)))
    assert row[INTERVALS]["avg"][0] <= row["avg"] <= row[INTERVALS]["avg"][1]
    paired = {p["benchmark"]: p for p in paired_rows("rl - base", a, b, names, resamples=500)}
    g = paired["gsm8k"]
    assert (g["b_only"], g["a_only"], g["n"]) == (3, 0, 8) and g["difference"] == pytest.approx(37.5)
    assert g["p_mcnemar"] == f"{mcnemar_exact(3, 0):.3g}"
    assert paired[ALL]["n"] == 11 and (paired[ALL]["b_only"], paired[ALL]["a_only"]) == (4, 1)
    lo, hi = g[INTERVALS]["difference"]
    assert lo <= 37.5 <= hi and lo >= 0  # every discordant problem favours RL: the interval cannot go below 0


def sampled_run(task_correct, temperature, samples):
    records = []
    for task, rows in task_correct.items():
        for i, vals in enumerate(rows):
            records += [{"task": task, "id": str(i), "sample": k, "correct": bool(v)} for k, v in enumerate(vals)]
    summary = {"tasks": {t: {"n": len(rows)} for t, rows in task_correct.items()},
               "options": {"sampling": {"temperature": temperature, "samples": samples, "seed": 0}}}
    return summary, records


def test_controls_block_rows_and_comparisons():
    names = ["gsm8k"]
    ref, ref_recs = sampled_run({"gsm8k": [[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]}, 1.0, 4)
    low, low_recs = sampled_run({"gsm8k": [[1, 1], [0, 0], [1, 1]]}, 0.5, 2)
    greedy = {"None (base)": recs("gsm8k", [1, 0, 1, 0, 0]), "RL": recs("gsm8k", [1, 1, 1, 1, 1])}
    best = {"selected": [{"task": "gsm8k", "id": str(i), "N": n, "correct": c}
                         for n, cs in ((2, [1, 0, 1]), (4, [0, 0, 1])) for i, c in enumerate(cs)]}
    out = controls_block(names, greedy, [low, ref], [low_recs, ref_recs], best, 1.0, resamples=300)
    decodings = [r["decoding"] for r in out["rows"]]
    assert decodings[:2] == ["greedy, same problems"] * 2  # restricted to the 3 control problems
    assert decodings[2].startswith("sampled T=1 (RL's temperature: the reference), mean of 4")
    assert decodings[3] == "sampled T=0.5, mean of 2" and decodings[-1].startswith("oracle pass@4")
    rate = {d: r["gsm8k"] for d, r in zip(decodings, out["rows"])}
    assert rate[decodings[2]] == pytest.approx(100 * (0.25 + 0 + 1) / 3)
    assert rate[decodings[-1]] == pytest.approx(200 / 3)
    comps = list(dict.fromkeys(p["comparison"] for p in out["paired"]))
    assert comps == ["None (base): greedy - T=1 mean of 4", "RL: greedy - T=1 mean of 4", "T=0.5 - T=1 mean of 4",
                     "best-of-2 - a random pick among the same 2 samples",
                     "best-of-4 - a random pick among the same 4 samples"]
    bo2 = next(p for p in out["paired"] if p["comparison"].startswith("best-of-2") and p["benchmark"] == "gsm8k")
    # a random pick among the first 2 samples: 0.5, 0, 1 per problem; best-of-2 picked 1, 0, 1
    assert bo2["a"] == pytest.approx(50.0) and bo2["b"] == pytest.approx(200 / 3)
    other, other_recs = sampled_run({"gsm8k": [[1, 1], [0, 0]]}, 0.5, 2)
    with pytest.raises(EndormError, match="different problems"):
        controls_block(names, greedy, [other, ref], [other_recs, ref_recs], best, 1.0)
    with pytest.raises(EndormError, match="RL temperature"):
        controls_block(names, greedy, [low], [low_recs], best, 1.0)


def test_build_table3_refuses_mismatched_runs():
    base = {"tasks": {"gsm8k": {"n": 2}}}
    with pytest.raises(EndormError, match="different benchmarks"):
        build_table3(base, {"tasks": {"champ": {"n": 2}}}, [], [], {}, {}, [], model="m")
    with pytest.raises(EndormError, match="base scored 2 problems, RL 3"):
        build_table3(base, {"tasks": {"gsm8k": {"n": 3}}}, [], [], {}, {}, [], model="m")
