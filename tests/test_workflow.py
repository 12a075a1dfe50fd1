"""The Snakemake workflow: both configs plan, and the test config runs end to end on a tiny model."""

import csv
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def snakemake(args, cwd, timeout=900):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def job_counts(output: str) -> dict[str, int]:
    counts, inside = {}, False
    for line in output.splitlines():
        if line.startswith("job ") and "count" in line:
            inside = True
            continue
        if inside:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
            elif counts:
                break
    return counts


def test_embedded_default_plans(tmp_path):
    counts = job_counts(snakemake(["-n", "--cores", "2"], tmp_path))
    assert counts["prepare_model"] == 1 and counts["score_likelihood"] == 2 and counts["score_judge"] == 6
    assert counts["compute_rmbench_metrics"] == 6 and counts["make_table1"] == 1 and counts["plot_table1"] == 1
    assert counts["generate_conditioned_responses"] == 1 and counts["score_dsp"] == 1
    assert counts["compute_multifaceted_metrics"] == 4 and counts["plot_dsp_matrix"] == counts["plot_figure1"] == 1
    assert counts["score_ablations"] == counts["make_ablations"] == counts["analyze_length"] == 1
    assert counts["plot_token_rewards"] == 1


def test_paper_config_plans_table1_on_qwen(tmp_path):
    out = snakemake(["-n", "--cores", "2", "--configfile", str(ROOT / "config/paper.yaml")], tmp_path)
    counts = job_counts(out)
    assert counts["score_judge"] == 6 and counts["compute_rmbench_metrics"] == 6
    assert counts["prepare_dsp"] == 1 and counts["score_dsp"] == 1 and counts["make_table2"] == 1
    assert counts["compute_multifaceted_metrics"] == 4 and "generate_conditioned_responses" not in counts
    assert "results/models/qwen2.5-7b-instruct" in out and "results/paper/rmbench/qwen2.5-7b-instruct/table1.md" in out
    assert "gpu=1" in out
    assert counts["score_ablations"] == counts["analyze_length"] == counts["plot_token_rewards"] == 1
    for name in ("ablations.md", "length.png", "tokens.html", "tokens/random4.png"):
        assert f"results/paper/rmbench/qwen2.5-7b-instruct/analysis/{name}" in out


def test_paper_config_plans_rl_and_math_eval_on_gpus(tmp_path):
    out = snakemake(["-n", "--cores", "2", "--configfile", str(ROOT / "config/paper.yaml")], tmp_path)
    counts = job_counts(out)
    assert counts["train_rl"] == 1 and counts["evaluate_math"] == 2 and counts["prepare_math_eval"] == 5
    assert counts["make_table3"] == counts["plot_table3"] == counts["plot_training_curves"] == 1
    blocks = {b.split("\n", 1)[0].strip(): b for b in out.split("rule ")[1:]}
    rl = next(b for b in out.split("rule ")[1:] if b.startswith("train_rl:"))
    assert "results/models/qwen2.5-math-7b" in rl and "gpu=8" in rl
    evals = [b for b in out.split("rule ")[1:] if b.startswith("evaluate_math:")]
    assert len(evals) == 2 and all("gpu=1" in b for b in evals)
    assert {"base", "rl"} == {b.split("variant=")[1].split(",")[0].split()[0] for b in evals}
    for name in ("aime24", "amc23", "math500", "minerva_math", "olympiadbench"):
        assert f"results/paper/math/data/{name}.jsonl" in out
    assert "gsm8k" not in "".join(b for b in blocks if b.startswith("prepare_math_eval"))
    # Table 3's controls and the sharpening analysis: planned on one GPU each
    assert counts["sample_math"] == 2 and counts["select_best_of_n"] == counts["measure_sharpening"] == 1
    for rule in ("sample_math", "select_best_of_n", "measure_sharpening"):
        assert all("gpu=1" in b for b in out.split("rule ")[1:] if b.startswith(f"{rule}:")), rule
    assert "controls/base-t1/samples.jsonl" in out and "controls/base-t0.6/summary.json" in out


def test_prefetch_plans_exactly_the_downloads(tmp_path):
    """`snakemake prefetch` (on a login node with network) plans every download of paper.yaml and nothing else."""
    out = snakemake(["prefetch", "-n", "--cores", "4", "--configfile", str(ROOT / "config/paper.yaml")], tmp_path)
    assert job_counts(out) == {"prepare_model": 2, "prepare_preferences": 1, "prepare_dsp": 1,
                               "prepare_multifaceted": 1, "prepare_rl_prompts": 1, "prepare_math_eval": 5,
                               "prefetch": 1, "total": 12}
    for path in ("results/models/qwen2.5-7b-instruct", "results/models/qwen2.5-math-7b",
                 "results/paper/multifaceted/preferences.jsonl", "results/paper/math/data/olympiadbench.jsonl"):
        assert path in out
    # the embedded default downloads nothing: the target is empty
    assert job_counts(snakemake(["prefetch", "-n", "--cores", "4"], tmp_path)) == {"prefetch": 1, "total": 1}


PAPER = ["--configfile", str(ROOT / "config/paper.yaml")]


def test_rl_on_fewer_gpus_than_it_needs_is_refused(tmp_path):
    """Snakemake lowers train_rl's 8 GPUs to the global limit without a word; the plan refuses instead."""
    proc = subprocess.run(SNAKEMAKE + ["-n", *PAPER, "--resources", "gpu=1"], cwd=tmp_path, capture_output=True,
                          text=True)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0
    for words in ("rule train_rl needs 8 GPUs", "given gpu=1", "rl.gpus is 8", "float32 master weights",
                  "reference copy", "frozen reward model", "--resources gpu=8"):
        assert words in out, words
    # a real run is refused before its first job (no download started, nothing written)
    proc = subprocess.run(SNAKEMAKE + ["--cores", "1", *PAPER, "--resources", "gpu=1"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode != 0 and "rule train_rl needs 8 GPUs" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()
    # one-GPU jobs on no GPU at all
    proc = subprocess.run(SNAKEMAKE + ["-n", *PAPER, "--resources", "gpu=0"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode != 0 and "needs 1 GPU but this run was given gpu=0" in proc.stdout + proc.stderr


def test_plans_that_hold_every_stage_go_through(tmp_path):
    """Enough GPUs, no limit (the default profile), one stage that fits, or the SLURM profile: no refusal."""
    rl = next(b for b in snakemake(["-n", *PAPER, "--resources", "gpu=8"], tmp_path).split("rule ")[1:]
              if b.startswith("train_rl:"))
    assert "gpu=8" in rl
    table1 = snakemake(["-n", *PAPER, "--resources", "gpu=1", "--",
                        "results/paper/rmbench/qwen2.5-7b-instruct/table1.md"], tmp_path)
    assert "train_rl" not in job_counts(table1) and job_counts(table1)["score_likelihood"] == 1
    slurm = job_counts(snakemake(["-n", *PAPER, "--workflow-profile", str(ROOT / "workflow/profiles/slurm")],
                                 tmp_path))
    assert slurm["train_rl"] == 1 and slurm["total"] == 54


def test_bad_config_is_refused(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("reward:\n  terminal: sometimes\n")
    proc = subprocess.run(SNAKEMAKE + ["-n", "--configfile", str(cfg)], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0 and "sometimes" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_end_to_end_on_test_config(tmp_path, tiny_dir):
    cfg = tmp_path / "test.yaml"
    cfg.write_text((ROOT / "tests/config/test.yaml").read_text().replace("MODEL_DIR", str(tiny_dir)))
    snakemake(["--cores", "2", "--configfile", str(cfg)], tmp_path)
    out = tmp_path / "results/test/rmbench/tiny"
    with open(out / "table1.csv") as f:
        rows = list(csv.DictReader(f))
    ours = [r for r in rows if r["source"].startswith("ours")]
    paper = [r for r in rows if r["source"].startswith("paper")]
    assert [r["method"] for r in ours] == ["EndoRM", "Log-likelihood (sum)", "Log-likelihood (mean)",
                                           "Generative Verifier", "GenRM-Pointwise", "GenRM-Pairwise"]
    assert len(paper) == 8 and paper[-1]["method"] == "EndoRM" and paper[-1]["avg"] == "70.2"
    assert ours[0]["n"] == "4" and ours[-1]["n"] == "3"  # pairwise: first row of each of the 3 domains
    m = json.loads((out / "metrics/endorm.json").read_text())
    assert m["provenance"]["model"]["source"] == "path" and m["provenance"]["options"]["reward"]["alpha"] == 1.0
    assert (out / "table1.png").stat().st_size > 10000 and "Paper" in (out / "table1.md").read_text()
    dsp = json.loads((tmp_path / "results/test/dsp/tiny/metrics.json").read_text())
    assert dsp["pairs_per_domain"] == 4 * 8 and set(dsp["matrix"]) == {"academy", "business", "entertainment",
                                                                       "literature"}
    assert "diagonal_dominance" in dsp and (tmp_path / "results/test/dsp/tiny/table2.png").stat().st_size > 10000
    with open(tmp_path / "results/test/multifaceted/tiny/figure1.csv") as f:
        fig1 = list(csv.DictReader(f))
    assert [r["subset"] for r in fig1 if r["source"].startswith("ours")][-1] == "Average"
    assert "CONSTRUCTED" in (tmp_path / "results/test/dsp/tiny/table2.md").read_text()
    assert (tmp_path / "results/test/multifaceted/tiny/figure1.png").stat().st_size > 10000
    # Table 3: RL (2 GRPO steps), evaluation of both models, curves and examples
    with open(tmp_path / "results/test/math/tiny/table3.csv") as f:
        t3 = list(csv.DictReader(f))
    assert [r["finetuning"] for r in t3][:2] == ["None (base)", "RL with EndoRM (GRPO)"]
    assert t3[2]["gsm8k"] == t3[2]["aime2025"] == t3[2]["champ"] == "2"
    assert [r["avg"] for r in t3 if r["source"].startswith("paper")] == ["33.0", "38.8"]
    controls = [r for r in t3 if r["source"].startswith("ours, controls (")]
    assert [r["decoding"] for r in controls] == [
        "greedy, same problems", "greedy, same problems", "sampled T=1 (RL's temperature: the reference), mean of 4",
        "sampled T=0.5, mean of 1", "best-of-2 by its endogenous reward (T=1 samples)",
        "best-of-4 by its endogenous reward (T=1 samples)", "oracle pass@4 at T=1 (a ceiling, not a method)"]
    # every rate carries its 95% interval; the paired comparisons are on the same problems
    assert all(r["gsm8k_lo"] and r["gsm8k_hi"] and r["avg_lo"] for r in t3 if r["source"].startswith("ours ("))
    assert all(float(r["gsm8k_lo"]) <= float(r["gsm8k"]) <= float(r["gsm8k_hi"]) for r in controls)
    with open(tmp_path / "results/test/math/tiny/table3_paired.csv") as f:
        paired = list(csv.DictReader(f))
    comparisons = list(dict.fromkeys(p["comparison"] for p in paired))
    assert comparisons[0] == "RL with EndoRM (GRPO) - None (base), greedy" and len(comparisons) == 6
    assert {p["benchmark"] for p in paired} == {"gsm8k", "aime2025", "champ", "all"}
    assert all(float(p["difference_lo"]) <= float(p["difference"]) <= float(p["difference_hi"]) for p in paired)
    assert "## Paired comparisons" in (tmp_path / "results/test/math/tiny/table3.md").read_text()
    n_controls = next(r for r in t3 if r["source"] == "ours, controls: n problems")
    assert n_controls["gsm8k"] == n_controls["aime2025"] == n_controls["champ"] == "1"
    best = json.loads((tmp_path / "results/test/math/tiny/controls/best_of_n.json").read_text())
    assert best["samples"] == 3 * 4 and set(best["best_of"]) == {"2", "4"}
    sharp = json.loads((tmp_path / "results/test/rl/tiny/sharpening.json").read_text())
    assert [(c["model"], c["temperature"]) for c in sharp["conditions"]] == [("rl", 1.0), ("base", 0.5), ("base", 1.0)]
    assert all(c["completions"] == 2 * 2 for c in sharp["conditions"])
    assert (tmp_path / "results/test/rl/tiny/sharpening.png").stat().st_size > 10000
    with open(tmp_path / "results/test/rl/tiny/train_log.csv") as f:
        assert len(list(csv.DictReader(f))) == 2
    assert (tmp_path / "results/test/rl/tiny/training_curves.png").stat().st_size > 10000
    assert (tmp_path / "results/test/math/tiny/examples.md").read_text().count("### RL model") == 2
    # what drives the endogenous reward
    an = out / "analysis"
    with open(an / "ablations.csv") as f:
        abl = {r["variant"]: r for r in csv.DictReader(f)}
    assert len(abl) == 2 * 9 + 1 + 1 and abl["paper EndoRM"]["avg"] == "70.2" and "rmgap" in abl
    assert abl["endorm/a=0.5/zero/sum"]["same_decisions_as_loglik_sum"] == "100.0"
    assert abl["endorm/a=1/zero/sum"]["avg"] == abl["loglik/a=1/sum"]["avg"] == ours[1]["avg"]
    with open(an / "length.csv") as f:
        length = {r["method"]: r for r in csv.DictReader(f)}
    assert len(length) == 8 and length["EndoRM"]["comparisons"] == "36" and length["GenRM-Pairwise"]["comparisons"] == "27"
    assert "<script" not in (an / "tokens.html").read_text() and (an / "ablations.png").stat().st_size > 10000
    assert sorted(p.name for p in (an / "tokens").glob("*.png")) == ["bottom1.png", "random1.png", "top1.png"]
    # the benchmark files of heavy rules exist, and a second run has nothing to do
    assert list((tmp_path / "benchmarks/score_likelihood").glob("*.tsv"))
    assert "Nothing to be done" in snakemake(["--cores", "2", "--configfile", str(cfg)], tmp_path)
    # the report of the finished run: every result in it, and no warning that looks like a failure
    report = snakemake(["--cores", "1", "--configfile", str(cfg), "--report", "report.html"], tmp_path)
    assert "Report created" in report and "RuntimeWarning" not in report and "never awaited" not in report
    html = (tmp_path / "report.html").read_text()
    assert all(name in html for name in ("figure1.png", "sharpening.png", "table3.png", "provenance.md"))
