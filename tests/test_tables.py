"""Tables 1 and 2, Figure 1, the ablations, the length analysis and the sharpening table, built from small hand-made
summaries: their columns, rows, intervals, headers and notes (Table 3: tests/test_intervals.py; Theorem 2:
tests/test_theory.py)."""

import pytest

from endorm.benchmarks import paper
from endorm.tables.analysis_tables import (ABLATION_COLUMNS, LENGTH_COLUMNS, SHARPENING_COLUMNS, build_ablations,
                                    build_length, build_sharpening)
from endorm.tables.figure1 import build_figure1
from endorm.analysis.lengths import BASELINES, length_scores, summarize_methods
from endorm.benchmarks.promptable import diagonal_dominance
from endorm.tables.table1 import build_table1
from endorm.tables.table2 import build_table2, table2_metrics
from endorm.tables.common import INTERVALS, to_csv, to_markdown, write_tables

MODEL = {"source": "package", "package": "llm-x", "version": "1.0", "file": "llm_x/Tiny-1M.Q4_1.gguf",
         "note": "a GGUF"}
MODEL_LABEL = "Tiny-1M.Q4_1 (GGUF from llm-x 1.0)"
PROV = {"model": MODEL, "dtype": "float32", "device": "cpu", "input": "pairs.jsonl", "rows": 4,
        "options": {"reward": {"alpha": 1.0}, "format": {"chat_template": True}}}


def rm_metrics(avg: float, run: dict | None = None) -> dict:
    return {"domains": {"math": {}, "science": {}}, "math": 50.0, "science": 25.0, "easy": 60.0, "normal": 40.0,
            "hard": 12.5, "avg": avg, "avg_micro": 41.0, "n": 4, "interval_method": "95% bootstrap (test)",
            "intervals": {"math": [10.0, 90.0], "avg": [20.0, avg + 10], "chat": [1.0, 2.0]},
            "provenance": {**PROV, "run": run or {}}}


TABLE1_METRICS = {
    "endorm": rm_metrics(37.5),
    "genrm-pairwise": rm_metrics(30.0, {"judgements": 8, "parse_failures": 1, "chose_A": 5}),
    "genrm-pointwise": rm_metrics(20.0, {"parse_failures": 2, "responses": 24}),
}
EMBEDDED = {"source": "package", "constructed": {"math-gsm8k": 2}}


def test_table1_columns_rows_intervals_and_notes(tmp_path):
    t = build_table1(TABLE1_METRICS, EMBEDDED)
    assert t["columns"] == ["source", "method", "math", "science", "chat", "code", "safety", "easy", "normal", "hard",
                            "avg", "avg_micro", "n"]
    ours, theirs = t["rows"][:3], t["rows"][3:]
    assert [r["method"] for r in ours] == ["EndoRM", "GenRM-Pairwise", "GenRM-Pointwise"]
    assert {r["source"] for r in ours} == {f"ours ({MODEL_LABEL}, constructed from packaged data)"}
    # an interval only for a column the method has (chat is a paper column here)
    assert ours[0][INTERVALS] == {"math": (10.0, 90.0), "avg": (20.0, 47.5)}
    assert len(theirs) == len(paper.TABLE1) and {r["source"] for r in theirs} == {
        "paper (Qwen2.5-7B-Instruct, RM-Bench)"}
    assert next(r for r in theirs if r["method"] == "EndoRM")["avg"] == 70.2
    csv_lines = to_csv(t["columns"], t["rows"]).splitlines()
    assert csv_lines[0] == ("source,method,math,math_lo,math_hi,science,chat,code,safety,easy,normal,hard,avg,avg_lo,"
                            "avg_hi,avg_micro,n")
    ours_label = f"ours ({MODEL_LABEL}, constructed from packaged data)"
    assert csv_lines[1].startswith(f'"{ours_label}",EndoRM,50.0,10.0,90.0,25.0,,,,60.0,')
    assert "| 37.5 [20.0, 47.5] |" in to_markdown(t["columns"], t["rows"])
    assert "source: package; constructed in RM-Bench's styles, rows per set: {'math-gsm8k': 2})" in t["header"][2]
    assert "Brackets: 95% bootstrap (test)." in t["header"][4]
    assert t["header"][-1].startswith("* These domains are constructed")
    assert t["notes"][0].startswith("GenRM-Pairwise: 8 judgements on 4 rows") and "1 unparsable; answered 'A' 5" \
        in t["notes"][0]
    assert t["notes"][1] == "GenRM-Pointwise: 2 of 24 replies had no score 1-10 (counted as losses)."
    write_tables(tmp_path / "t.csv", tmp_path / "t.md", **t)
    md = (tmp_path / "t.md").read_text()
    assert md.startswith("# Table 1: RM-Bench accuracy (%)") and md.endswith(f"* {t['notes'][1]}\n")
    assert (tmp_path / "t.csv").read_text().splitlines() == csv_lines


def test_table1_on_rm_bench_has_no_embedded_note():
    t = build_table1({"endorm": rm_metrics(37.5)}, {"source": "github"})
    assert t["rows"][0]["source"] == f"ours ({MODEL_LABEL}, RM-Bench)"
    assert "source: github)." in t["header"][2] and not any("embedded default" in h for h in t["header"])
    assert t["notes"] == []


DSP_RUN = {"ids": [0, 1], "provenance": {"model": MODEL, "dtype": "bfloat16"},
           "system_prompts": {"academy": "Be a scholar.", "business": "Be brief.", "entertainment": "Be funny.",
                              "literature": "Be lyrical."},
           # under X's prompt X's response scores 1, every other 0: X wins its column, ties lose elsewhere
           "scores": {x: [{k: float(k == x) for k in ("academy", "business", "entertainment", "literature", "normal")}
                          for _ in range(2)] for x in ("academy", "business", "entertainment", "literature")}}


def test_table2_matrix_rows_and_header():
    metrics = table2_metrics(DSP_RUN)
    assert metrics["provenance"] == DSP_RUN["provenance"] and metrics["system_prompts"] == DSP_RUN["system_prompts"]
    assert metrics["pairs_per_domain"] == 8 and metrics["diagonal_dominance"] == 100.0
    t = build_table2(DSP_RUN, metrics, {"source": "constructed"})
    assert t["columns"] == ["source", "reward", "Academy", "Business", "Literature&Art", "Entertainment"]
    assert t["rows"][0] == {"source": f"ours ({MODEL_LABEL})", "reward": "EndoRM-Academy", "Academy": 100.0,
                            "Business": 0.0, "Literature&Art": 0.0, "Entertainment": 0.0}
    assert [r["reward"] for r in t["rows"][:4]] == ["EndoRM-Academy", "EndoRM-Business", "EndoRM-Literature&Art",
                                                    "EndoRM-Entertainment"]
    assert t["rows"][4]["source"] == "paper (Qwen2.5-7B-Instruct, DSP test)"
    assert t["rows"][7]["Entertainment"] == paper.TABLE2["entertainment"]["entertainment"]
    text = "\n".join(t["header"])
    assert "8 pairs per domain" in text and "2 queries, source: constructed (CONSTRUCTED" in text
    theirs = diagonal_dominance(paper.TABLE2)["diagonal_dominance"]
    assert f"diagonal dominance +100.0 points (the paper's: {theirs:+.1f})" in text
    assert 'Academy: "Be a scholar."; Business: "Be brief."' in text and t["notes"] == []
    assert "CONSTRUCTED" not in "\n".join(build_table2(DSP_RUN, metrics, {"source": "github"})["header"])


def mf_metrics(sources: dict, average: float, run: dict | None = None) -> dict:
    return {"sources": sources, "weighted_average": average, "weighted_average_interval": [average - 20, average + 20],
            "n": sum(s["n"] for s in sources.values()), "provenance": {**PROV, "rows": 10, "run": run or {}}}


def test_figure1_rows_per_source_average_and_paper():
    metrics = {
        "endorm": mf_metrics({"b": {"accuracy": 50.0, "n": 4, "interval": [15.0, 85.0]},
                              "a": {"accuracy": 66.7, "n": 6, "interval": [30.0, 90.0]}}, 60.0),
        "genrm-pointwise": mf_metrics({"a": {"accuracy": 0.0, "n": 6, "interval": [0.0, 39.0]}}, 0.0,
                                      {"parse_failures": 3, "responses": 12}),
    }
    t = build_figure1(metrics, {"source": "constructed"})
    assert t["columns"] == ["source", "subset", "EndoRM", "GenRM-Pointwise", "n"]
    ours = [r for r in t["rows"] if r["source"].startswith("ours")]
    assert [r["subset"] for r in ours] == ["a", "b", "Average"]
    assert ours[1] == {"source": f"ours ({MODEL_LABEL})", "subset": "b", "EndoRM": 50.0, "GenRM-Pointwise": None,
                       "n": 4, INTERVALS: {"EndoRM": (15.0, 85.0)}}
    assert ours[2]["EndoRM"] == 60.0 and ours[2][INTERVALS]["EndoRM"] == (40.0, 80.0) and ours[2]["n"] == 10
    theirs = t["rows"][3:]
    assert [r["subset"] for r in theirs] == list(paper.FIGURE1)
    assert theirs[-1] == {"source": "paper (Qwen2.5-7B-Instruct, Multifaceted-Bench)", "subset": "Average",
                          "EndoRM": 59.32, "GenRM-Pointwise": 34.41}
    assert "10 pairs, source: constructed (CONSTRUCTED" in t["header"][2]
    assert t["notes"] == ["GenRM-Pointwise: 3 of 12 replies had no score 1-10 (counted as losses)."]
    assert "| b | 50.0 [15.0, 85.0] |  | 4 |" in to_markdown(t["columns"], t["rows"])


def rm_row(i, domain, chosen, rejected, method):
    return {"id": i, "domain": domain, "method": method, "score_chosen": chosen, "score_rejected": rejected}


def test_ablation_table_rows_and_header():
    variants = [{"name": "endorm/a=1/zero/sum", "family": "endorm", "alpha": 1.0, "terminal": "zero",
                 "aggregation": "sum", "gamma": 0.93},
                {"name": "loglik/a=1/sum", "family": "loglik", "alpha": 1.0, "terminal": None, "aggregation": "sum",
                 "gamma": 0.93},
                {"name": "rmgap", "family": "rmgap", "alpha": 1.0, "terminal": None, "aggregation": "discounted",
                 "gamma": 0.93}]
    scores = []
    for name in ("endorm/a=1/zero/sum", "loglik/a=1/sum"):
        # math: hard 3/3, normal 2/3, easy 0/3; chat: every comparison won
        scores += [rm_row(0, "math", [3, 2, 1], [2, 2, 0], name), rm_row(1, "chat", [1, 1, 1], [0, 0, 0], name)]
    scores += [rm_row(0, "math", [0, 0, 0], [1, 1, 1], "rmgap"), rm_row(1, "chat", [0, 0, 0], [1, 1, 1], "rmgap")]
    meta = {"model": MODEL, "dtype": "float32", "device": "cpu", "input": "pairs.jsonl", "rows": 2, "rows_read": 5,
            "max_rows_per_domain": 1, "format": {"chat_template": True}, "wall_seconds": 2.4, "variants": variants,
            "run": {"sequences": 12, "tokens": 99, "alphas": [1.0], "gamma": 0.93, "rmgap_source": "RMGAP@abc",
                    "rmgap_shared_sequences": 10, "responses": 12}}
    t = build_ablations(meta, scores)
    assert t["columns"] == ABLATION_COLUMNS and t["notes"] == []
    endorm, loglik, rmgap, theirs = t["rows"]
    assert endorm["variant"] == "endorm/a=1/zero/sum" and endorm["alpha"] == "1" and endorm["terminal"] == "zero"
    assert (endorm["easy"], endorm["normal"], endorm["hard"]) == pytest.approx((50.0, 250 / 3, 100.0))
    assert endorm["avg"] == pytest.approx((500 / 9 + 100) / 2) and endorm["n"] == 2
    assert endorm["same_decisions_as_loglik_sum"] == loglik["same_decisions_as_loglik_sum"] == 100.0
    assert rmgap["avg"] == 0.0 and rmgap["same_decisions_as_loglik_sum"] == pytest.approx(100 * 4 / 18)
    assert theirs["source"] == "paper (Qwen2.5-7B-Instruct, RM-Bench)" and theirs["alpha"] == ""
    assert theirs["avg"] == paper.table1("endorm")["avg"]
    text = "\n".join(t["header"])
    assert f"model `{MODEL_LABEL}`" in text and "(2 rows: the first 1 of each domain of 5, as Table 1's EndoRM)" in text
    assert "All 3 variants come from ONE engine run (12 sequences, 99 response tokens, 2 s)" in text
    assert "(gamma 0.93) of r_h" in text and "RMGAP (RMGAP@abc): sum_k 0.93^k log pi(t_k)" in text
    assert "10 of 12 responses had RMGAP's tokens" in text
    assert "as Table 1's EndoRM" not in "\n".join(build_ablations({**meta, "max_rows_per_domain": None},
                                                                   scores)["header"])


def test_length_tables_from_hand_made_rows():
    rows = [{"id": "0", "domain": "math"}, {"id": "1", "domain": "chat"}]
    lengths = {"0": {"chosen": [10, 20, 30], "rejected": [11, 25, 40]},  # chosen shorter in 6 comparisons, longer in 3
               "1": {"chosen": [10, 10, 10], "rejected": [10, 10, 10]}}  # every comparison of equal length
    results = {"endorm": [rm_row("0", "math", [1, 1, 1], [0, 0, 0], "endorm"),
                          rm_row("1", "chat", [0, 0, 0], [1, 1, 1], "endorm")]}
    results.update({m: length_scores(rows, lengths, sign, m) for m, sign in BASELINES.items()})
    summaries, metrics = summarize_methods(results, lengths, [-5, 5], 0.1)
    t = build_length(summaries, metrics, pairs="pairs.jsonl", n_rows=2, bins=[-5, 5], matched_within=0.1)
    assert t["columns"] == LENGTH_COLUMNS
    by = {r["method"]: r for r in t["rows"]}
    assert list(by) == ["EndoRM", "shorter response wins (length only)", "longer response wins (length only)"]
    # EndoRM wins every comparison of row 0 and none of row 1
    assert by["EndoRM"]["comparisons"] == 18 and by["EndoRM"]["all"] == 50.0
    assert by["shorter response wins (length only)"]["chosen_shorter"] == 100.0
    assert by["shorter response wins (length only)"]["n_chosen_shorter"] == 6
    assert by["longer response wins (length only)"]["chosen_longer"] == 100.0
    assert by["longer response wins (length only)"]["n_chosen_longer"] == 3
    assert by["EndoRM"]["n_matched"] == 10  # the 9 equal-length comparisons and (0, 0): |10 - 11| <= 0.1 x 11
    assert t["bin_columns"] == ["method", "bin", "n", "wins", "accuracy"]
    assert [(r["bin"], r["n"]) for r in t["bin_rows"][:3]] == [("<= -5", 5), ("(-5, 5]", 11), ("> 5", 2)]
    md = t["markdown"]
    assert md.startswith("# Length under control\n") and "Data `pairs.jsonl` (2 rows)" in md
    assert "<= 0.1 x the longer one" in md and "(computed on 2 rows)" in md
    assert "| EndoRM | 100 (5) | 18 (11) | 100 (2) |" in md
    assert t["json"]["edges"] == [-5, 5] and "domains" not in t["json"]["metrics"]["endorm"]
    assert t["json"]["summaries"] is summaries


def sharpening_summary(scaling: str, matches: list) -> dict:
    cond = lambda model, temp, entropy: {  # noqa: E731
        "model": model, "temperature": temp, "entropy": entropy, "entropy_se": 0.01, "loglik": -entropy,
        "loglik_se": 0.02, "loglik_seq": -10 * entropy, "reward": 3.0, "reward_std_group": 2.0, "length": 10.0,
        "finished": 0.5, "completions": 4, "tokens": 40}
    return {"conditions": [cond("rl", 1.0, 0.8), cond("base", 0.5, 0.4), cond("base", 1.0, 1.2)],
            "paired": {"identical": 1, "pairs": 4, "entropy_diff": -0.4, "entropy_diff_se": 0.1, "loglik_diff": 0.4,
                       "loglik_diff_se": 0.1},
            "matches": matches, "optimum_temperature": 0.0099, "advantage_scaling": scaling, "reward_sigma": 2.0,
            "effective_optimum_temperature": 0.0196 if scaling != "none" else 0.0099, "alpha": 1.0,
            "reward": {"alpha": 1.0, "terminal": "zero", "aggregation": "sum", "gamma": 0.93}, "prompts": 2,
            "samples_per_prompt": 2, "max_new_tokens": 8, "seed": 0}


def test_sharpening_table_rows_and_header():
    run, rl = {"steps": 2, "trainer": "GRPOTrainer"}, {"beta": 0.01, "temperature": 1.0}
    t = build_sharpening(sharpening_summary("group", [{"temperature": 0.75, "loglik": -0.6}]), run, rl)
    assert t["columns"] == SHARPENING_COLUMNS and t["notes"] == []
    assert [(r["policy"], r["temperature"]) for r in t["rows"]] == [("RL policy", "1"), ("initial model", "0.5"),
                                                                     ("initial model", "1")]
    assert t["rows"][1]["entropy"] == "0.400" and t["rows"][1]["completions"] == 4
    text = "\n".join(t["header"])
    assert "after 2 steps (GRPOTrainer, KL coefficient beta 0.01), sampled at its training temperature 1;" in text
    assert "2 RL prompts (the first of prompts.jsonl) x 2 completions per condition, at most 8 new tokens" in text
    assert "(alpha 1, terminal zero, sum)" in text and "beta/(alpha+beta) = 0.0099" in text
    assert "'group' (reward standard deviation 2.0 on the RL policy's samples)" in text and "temperature 0.020." in text
    assert "T = 0.750: log-likelihood -0.600 nats/token (RL policy: -0.800, difference -0.200)" in text
    assert "1 of 4 completions are token for token the same" in text and "entropy -0.400 (SE 0.100)" in text
    text = "\n".join(build_sharpening(sharpening_summary("none", []), run, rl)["header"])
    assert "advantages by 'none'." in text and "standard deviation" not in text
    assert "none: the RL policy's entropy is outside the initial model's measured curve" in text
