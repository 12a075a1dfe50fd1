"""Table 3: zero-shot accuracy of the base model and the RL model per benchmark, beside the paper's numbers; with
math_eval.controls, the controls that need no training on the same problems (the greedy rows restricted to the
controls' problems, the base model sampled at the RL temperature and lower, best-of-N by its own endogenous reward);
and Appendix-E-style examples (base and RL answers to the same problems)."""
from pathlib import Path

from endorm import paper
from endorm.io import read_json, read_jsonl, write_text
from endorm.logs import redirect_to
from endorm.tables import model_label, table3_controls, write_tables

LABELS = {"aime24": "AIME 2024", "amc23": "AMC23", "math500": "MATH-500", "minerva_math": "Minerva Math",
          "olympiadbench": "OlympiadBench", "gsm8k": "GSM8K (held out)", "aime2025": "AIME 2025", "champ": "CHAMP"}


def fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}text\n{text.strip() or '(empty)'}\n{ticks}"


with redirect_to(snakemake.log[0]):
    base, rl = read_json(snakemake.input.base), read_json(snakemake.input.rl)
    run = read_json(Path(snakemake.input.train) / "endorm_rl.json")
    prompts_meta = read_json(snakemake.input.prompts_meta)
    names = list(base["tasks"])
    if list(rl["tasks"]) != names:
        raise SystemExit(f"base and RL were evaluated on different benchmarks: {names} vs {list(rl['tasks'])}")
    for name in names:
        if base["tasks"][name]["n"] != rl["tasks"][name]["n"]:
            raise SystemExit(f"{name}: base scored {base['tasks'][name]['n']} problems, RL {rl['tasks'][name]['n']}")
    model = model_label(base["model_provenance"])
    spec = run["spec"]
    columns = (["source", "finetuning", "decoding"] + names + [c for c in paper.TABLE3_COLUMNS if c not in names]
               + ["avg"])
    rl_label = f"RL with EndoRM ({spec['algorithm'].upper()})"
    row = lambda source, label, decoding, accs: {  # noqa: E731
        "source": source, "finetuning": label, "decoding": decoding, **{n: 100 * accs[n] for n in names},
        "avg": 100 * sum(accs[n] for n in names) / len(names)}
    rows = [row(f"ours ({model})", label, "greedy", {n: res["tasks"][n]["accuracy"] for n in names})
            for label, res in (("None (base)", base), (rl_label, rl))]
    rows.append({"source": "ours: n problems", "finetuning": "", **{n: base["tasks"][n]["n"] for n in names}})
    notes = []
    if "controls" in snakemake.input.keys():
        best, rl_t = read_json(snakemake.input.best_of_n), float(snakemake.params.rl_temperature)
        ctl = table3_controls(names, {"None (base)": read_jsonl(snakemake.input.base_samples),
                                      rl_label: read_jsonl(snakemake.input.rl_samples)},
                              [read_json(f) for f in snakemake.input.controls],
                              [read_jsonl(f) for f in snakemake.input.control_samples], best, rl_t)
        rows += [row(f"ours, controls ({model})", r["finetuning"], r["decoding"], r["accuracy"]) for r in ctl["rows"]]
        rows.append({"source": "ours, controls: n problems", "finetuning": "", **ctl["n"]})
        ref = ctl["reference"]["options"]["sampling"]
        notes += [
            f"Controls: the first {max(ctl['n'].values())} problems of each benchmark (the `controls: n problems` row); "
            "every control row and the greedy rows beside them are on exactly these problems, with the greedy rows' "
            "lm-eval tasks, prompts, chat template, stop strings, token limit and grader. Sampled rows: plain "
            f"temperature sampling (top-k 0, top-p 1, as the RL rollouts), lm-eval seeds {ref['seed']}; a row's "
            "accuracy is the mean over all its samples (an estimate of pass@1 at that temperature).",
            f"Best-of-N: the {best['samples']} samples at T={rl_t:g} scored by the frozen reward model "
            f"({model_label(best['reward_model'])}; alpha {best['reward']['alpha']}, terminal "
            f"{best['reward']['terminal']}, {best['reward']['aggregation']}), each generation as a response (its "
            "text, then the end-of-turn token; a generation cut at the token limit is scored as if it ended there); "
            "the highest reward among the FIRST N samples of a problem, ties to the lowest sample index. Mean "
            "generated tokens: all samples " + ", chosen by best-of-".join(
                [f"{best['mean_tokens']['all']:.0f}"] + [f"{k} {v:.0f}" for k, v in best["mean_tokens"].items()
                                                          if k != "all"])
            + " (a summed log-likelihood prefers short generations).",
            f"Oracle pass@{ref['samples']} at T={rl_t:g} (a problem counts if any of its samples is right; a ceiling "
            "for best-of-N, not a method): " + ", ".join(
                f"{LABELS.get(n, n)} {100 * ctl['reference']['tasks'][n]['pass_at_k']:.1f}" for n in names) + ".",
        ]
    for key, label in (("base", "None (base)"), ("rl", "RL with EndoRM (PPO)")):
        rows.append({"source": f"paper ({paper.PAPER_MODEL_TABLE3})", "finetuning": label, **paper.TABLE3[key]})
    import csv

    with open(snakemake.input.log_table) as f:
        steps = list(csv.DictReader(f))
    trend = lambda col: (f"{float(steps[0][col]):.3g} -> {float(steps[-1][col]):.3g}"  # noqa: E731
                         if steps and steps[0].get(col) not in (None, "") else "n/a")
    opts = base["options"]
    header = [
        "# Table 3: zero-shot math accuracy (%) before and after RL on the model's own endogenous reward",
        "",
        f"* **Ours**: policy and frozen reward model {model}. RL: TRL {run['trainer']} ({spec['algorithm']}; the "
        f"paper reports PPO, which TRL no longer has), {run['steps']} steps, learning rate {spec['learning_rate']}, "
        f"{spec['per_device_batch']} completions per device per step ({spec['num_generations']} per prompt), "
        f"completions up to {spec['max_completion_length']} tokens, KL coefficient {spec['beta']}, temperature "
        f"{spec['temperature']}, seed {spec['seed']}; {run['prompts']} training prompts "
        f"({prompts_meta['provenance'].get('source')}; {prompts_meta['dropped_too_long']} dropped as longer than "
        f"{prompts_meta['max_prompt_tokens']} tokens); {run['seconds']:.0f} s of training. From the first to the "
        f"last step: mean endogenous reward {trend('rewards/endorm/mean')}, completion length "
        f"{trend('completions/mean_length')} tokens, KL {trend('kl')}, batch answer accuracy (monitor only) "
        f"{trend('rewards/accuracy/mean')}.",
        f"* Evaluation: lm-eval {base.get('lm_eval_version')}, zero-shot, the model's chat template, greedy, at most "
        f"{opts['max_gen_toks']} new tokens; answer = {opts['answer_rule']}; equivalence by math-verify "
        f"{base.get('math_verify_version')}. Avg = unweighted mean over the benchmarks of the row.",
        "* **Paper**: the paper's Table 3 (Qwen2.5-Math-7B, five benchmarks). Its AIME/AMC values are not k/n, so "
        "they were probably averaged over several samples; ours are single greedy runs.",
    ]
    if "controls" in snakemake.input.keys():
        header.append("* **Controls** (ours; not in the paper): what the base model gives without training. Under "
                      "the paper's terminal value, RL on the endogenous reward maximises the frozen model's own "
                      "log-likelihood with a KL penalty to it, whose optimum is the base model sharpened "
                      "(pi ∝ pi_0^(1 + alpha/beta)): greedy decoding (the `None (base)` row above, a greedy lm-eval "
                      "run), lower-temperature sampling and best-of-N by the base model's own reward are the natural "
                      "controls. They are evaluated on a subset of the problems (see the notes): compare rows "
                      "within the `ours, controls` block.")
    notes = [f"{LABELS.get(n, n)}: base {base['tasks'][n]['n_boxed']}/{base['tasks'][n]['n']} answers in "
             f"\\boxed{{}}, RL {rl['tasks'][n]['n_boxed']}/{rl['tasks'][n]['n']}" for n in names] + notes
    write_tables(snakemake.output.csv, snakemake.output.md, columns, rows, header, notes)

    # Appendix E: the same problems answered by both models; disagreements first (RL right first).
    base_s = {(s["task"], s["id"]): s for s in read_jsonl(snakemake.input.base_samples)}
    rl_s = {(s["task"], s["id"]): s for s in read_jsonl(snakemake.input.rl_samples)}
    keys = [k for k in base_s if k in rl_s]
    rank = lambda k: (0 if rl_s[k]["correct"] and not base_s[k]["correct"] else  # noqa: E731
                      1 if base_s[k]["correct"] and not rl_s[k]["correct"] else 2)
    chosen = sorted(keys, key=lambda k: (rank(k), names.index(k[0]) if k[0] in names else 99))
    chosen = chosen[: int(snakemake.params.examples)]
    mark = lambda s: "correct" if s["correct"] else "wrong"  # noqa: E731
    lines = ["# Appendix-E-style examples: the base model and the RL model on the same problems", "",
             f"Model {model}; greedy, at most {opts['max_gen_toks']} new tokens. Problems where the two disagree come "
             "first (RL right, then base right); the rest in benchmark order. Answers are shown as generated.", ""]
    for k in chosen:
        bs, rs = base_s[k], rl_s[k]
        lines += [f"## {LABELS.get(k[0], k[0])}, problem {k[1]}", "", bs["problem"].strip(), "",
                  f"Gold answer: `{bs['gold']}`", "",
                  f"### Base model: {mark(bs)} (extracted: `{bs['extracted']}`, by {bs['extracted_by']})", "",
                  fence(bs["generation"]), "",
                  f"### RL model: {mark(rs)} (extracted: `{rs['extracted']}`, by {rs['extracted_by']})", "",
                  fence(rs["generation"]), ""]
    write_text(snakemake.output.examples, "\n".join(lines))
