"""Table 3 (the paper's Q3): zero-shot math accuracy before and after RL on the model's own endogenous reward, with
the controls that need no training, 95% intervals on every rate and paired comparisons on the same problems.

Built from small summaries (lm-eval records with a ``correct`` field per problem or per sample, best-of-N
selections, the RL run's record) by :func:`build_table3`; the workflow's ``make_table3`` only reads and writes.

Intervals:

* a rate per benchmark: the 95% Wilson score interval with ``n`` = problems and ``k`` = the sum of the per-problem
  values (1/0 for a greedy answer or a best-of-N pick; the share of correct samples for a sampled row). For a 0/1
  value this is the usual Wilson interval; for a mean of samples it is conservative (a variable in [0, 1] with mean
  p has variance at most p(1 - p)), and it never collapses to a point at 0% or 100%;
* ``avg`` (the unweighted mean over benchmarks): a percentile bootstrap, problems resampled within each benchmark;
* a comparison of two rows on the same problems: the mean per-problem difference with a 95% paired percentile
  bootstrap interval (problems resampled, pairs kept), and for two 0/1 rows the exact McNemar p value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..errors import EndormError
from ..stats import DEFAULT_RESAMPLES, mcnemar_exact, paired_bootstrap_difference, wilson_interval
from .common import INTERVALS, model_label

ALL = "all"  # the pooled column of the paired comparisons: every problem of every benchmark


def display_names(tasks: Sequence[str], tasks_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Each benchmark's display name: ``metadata.benchmark`` of its task YAML (the one place names live)."""
    import yaml

    from ..benchmarks.lmeval import TASKS_DIR

    folder = Path(tasks_dir) if tasks_dir else TASKS_DIR
    out = {}
    for t in tasks:
        path = folder / f"{t}.yaml"
        meta = {}
        if path.is_file():
            with open(path, encoding="utf-8") as f:
                meta = (yaml.safe_load(f) or {}).get("metadata") or {}
        out[t] = str(meta.get("benchmark") or t)
    return out


def per_problem(records: Sequence[dict], names: Sequence[str], keys: set | None = None) -> dict[str, dict[str, float]]:
    """{task: {problem id: value}}: a greedy run's 0/1, or a sampled run's share of correct samples. ``keys`` keeps
    only those (task, id) problems."""
    acc: dict[str, dict[str, list[bool]]] = {t: {} for t in names}
    for r in records:
        t, pid = str(r["task"]), str(r["id"])
        if t in acc and (keys is None or (t, pid) in keys):
            acc[t].setdefault(pid, []).append(bool(r["correct"]))
    return {t: {pid: sum(v) / len(v) for pid, v in by.items()} for t, by in acc.items()}


def rate_row(values: dict[str, dict[str, float]], names: Sequence[str], seed: int = 0,
             resamples: int = DEFAULT_RESAMPLES) -> dict:
    """Accuracy (%) per benchmark and their unweighted mean ``avg``, with ``intervals`` (see the module's doc)."""
    import numpy as np

    row: dict = {INTERVALS: {}}
    for t in names:
        v = list(values[t].values())
        if not v:
            row[t] = None
            continue
        row[t] = 100 * sum(v) / len(v)
        lo, hi = wilson_interval(sum(v), len(v))
        row[INTERVALS][t] = (100 * lo, 100 * hi)
    present = [t for t in names if values[t]]
    if present:
        row["avg"] = sum(row[t] for t in present) / len(present)
        rng = np.random.default_rng(seed)
        sims = np.mean([np.asarray(list(values[t].values()))[rng.integers(0, len(values[t]),
                                                                          (resamples, len(values[t])))].mean(1)
                        for t in present], axis=0)
        row[INTERVALS]["avg"] = tuple(100 * float(x) for x in np.quantile(sims, [0.025, 0.975]))
    return row


def paired_rows(label: str, a: dict, b: dict, names: Sequence[str], seed: int = 0,
                resamples: int = DEFAULT_RESAMPLES) -> list[dict]:
    """``b - a`` on the problems both hold, per benchmark and pooled (``all``): the mean difference in accuracy
    points with its 95% paired bootstrap interval; with 0/1 values on both sides the exact McNemar p value."""
    out = []
    pooled_a, pooled_b = [], []
    for t in [*names, ALL]:
        if t == ALL:
            va, vb = pooled_a, pooled_b
        else:
            ids = [i for i in a[t] if i in b[t]]
            va, vb = [a[t][i] for i in ids], [b[t][i] for i in ids]
            pooled_a += va
            pooled_b += vb
        if not va:
            continue
        diff, lo, hi = paired_bootstrap_difference(va, vb, seed, resamples)
        binary = all(x in (0.0, 1.0) for x in va + vb)
        b_only = sum(1 for x, y in zip(va, vb) if y > x) if binary else None
        a_only = sum(1 for x, y in zip(va, vb) if x > y) if binary else None
        out.append({"comparison": label, "benchmark": t, "n": len(va), "a": 100 * sum(va) / len(va),
                    "b": 100 * sum(vb) / len(vb), "difference": 100 * diff, INTERVALS: {"difference": (100 * lo,
                                                                                                    100 * hi)},
                    "b_only": b_only, "a_only": a_only,
                    "p_mcnemar": f"{mcnemar_exact(b_only, a_only):.3g}" if binary else None})
    return out


PAIRED_COLUMNS = ["comparison", "benchmark", "n", "a", "b", "difference", "b_only", "a_only", "p_mcnemar"]


def _first_n_pool(samples: dict[str, dict[str, list[bool]]], n: int) -> dict[str, dict[str, float]]:
    """The accuracy of a pick at random among each problem's first ``n`` samples: their share of correct ones."""
    return {t: {i: sum(v[:n]) / len(v[:n]) for i, v in by.items()} for t, by in samples.items()}


def _samples_by_problem(records: Sequence[dict], names: Sequence[str]) -> dict[str, dict[str, list[bool]]]:
    out: dict[str, dict[str, dict[int, bool]]] = {t: {} for t in names}
    for r in records:
        if str(r["task"]) in out:
            out[str(r["task"])].setdefault(str(r["id"]), {})[int(r["sample"])] = bool(r["correct"])
    return {t: {i: [v[k] for k in sorted(v)] for i, v in by.items()} for t, by in out.items()}


def controls_block(names: Sequence[str], greedy: dict[str, list[dict]], runs: list[dict],
                   run_samples: list[list[dict]], best: dict, rl_temperature: float, seed: int = 0,
                   resamples: int = DEFAULT_RESAMPLES) -> dict:
    """Table 3's control rows, all on the controls' problems (like with like), and their paired comparisons.

    ``greedy``: {row label: lm-eval records of a greedy run} (restricted here to the controls' problems); ``runs``
    and ``run_samples``: each sampled run of the base model (summary, records with ``sample``), one of them at
    ``rl_temperature`` (the reference); ``best``: :func:`endorm.rl.controls.best_of_n`'s JSON with ``selected``.

    Returns ``{"rows": [{"finetuning", "decoding", task: %, "avg": %, "intervals"}], "n": {task: problems},
    "reference": the reference run's summary, "paired": [paired rows]}``; refuses runs on different problems.
    """
    keys = {(str(r["task"]), str(r["id"])) for r in run_samples[0]}
    if any({(str(r["task"]), str(r["id"])) for r in s} != keys for s in run_samples[1:]):
        raise EndormError("the sampled control runs were evaluated on different problems")
    n = {t: len({i for task, i in keys if task == t}) for t in names}
    if any(list(r["tasks"]) != list(names) or r["tasks"][t]["n"] != n[t] for r in runs for t in names):
        raise EndormError(f"the sampled control runs do not cover the benchmarks {list(names)}")
    order = sorted(range(len(runs)), key=lambda k: (runs[k]["options"]["sampling"]["temperature"] != rl_temperature,
                                                    -runs[k]["options"]["sampling"]["temperature"]))
    if runs[order[0]]["options"]["sampling"]["temperature"] != rl_temperature:
        raise EndormError(f"no sampled control run at the RL temperature {rl_temperature}")
    rows, lower, values = [], [], {}
    row = lambda finetuning, decoding, v: {"finetuning": finetuning, "decoding": decoding,  # noqa: E731
                                           **rate_row(v, names, seed, resamples)}
    for label, recs in greedy.items():
        v = per_problem(recs, names, keys)
        if any(len(v[t]) != n[t] for t in names):
            raise EndormError(f"{label}: the greedy records do not hold every problem of the controls")
        values[label] = v
        rows.append(row(label, "greedy, same problems", v))
    ref_samples = _samples_by_problem(run_samples[order[0]], names)
    ref_label = None
    for k in order:
        smp = runs[k]["options"]["sampling"]
        v = per_problem(run_samples[k], names)
        what = " (RL's temperature: the reference)" if k == order[0] else ""
        rows.append(row("None (base)", f"sampled T={smp['temperature']:g}{what}, mean of {smp['samples']}", v))
        if k == order[0]:
            ref_label, ref = f"T={smp['temperature']:g} mean of {smp['samples']}", v
        else:
            lower += paired_rows(f"T={smp['temperature']:g} - {ref_label}", ref, v, names, seed, resamples)
    paired = [p for label, v in values.items()
              for p in paired_rows(f"{label}: greedy - {ref_label}", ref, v, names, seed, resamples)] + lower
    picks: dict[int, dict[str, dict[str, float]]] = {}
    for s in best["selected"]:
        picks.setdefault(int(s["N"]), {t: {} for t in names})[str(s["task"])][str(s["id"])] = float(s["correct"])
    for n_best in sorted(picks):
        v = picks[n_best]
        rows.append(row("None (base)", f"best-of-{n_best} by its endogenous reward (T={rl_temperature:g} samples)", v))
        paired += paired_rows(f"best-of-{n_best} - a random pick among the same {n_best} samples",
                              _first_n_pool(ref_samples, n_best), v, names, seed, resamples)
    k_all = max(len(v) for by in ref_samples.values() for v in by.values())
    oracle = {t: {i: float(any(v)) for i, v in by.items()} for t, by in ref_samples.items()}
    rows.append(row("None (base)", f"oracle pass@{k_all} at T={rl_temperature:g} (a ceiling, not a method)", oracle))
    return {"rows": rows, "n": n, "reference": runs[order[0]], "paired": paired}


def fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}text\n{text.strip() or '(empty)'}\n{ticks}"


def examples_markdown(base_samples: Sequence[dict], rl_samples: Sequence[dict], names: Sequence[str],
                      labels: dict[str, str], model: str, max_gen_toks: int, count: int) -> str:
    """Appendix-E-style examples: the same problems answered by both models; disagreements first (RL right
    first), the rest in benchmark order."""
    base_s = {(s["task"], s["id"]): s for s in base_samples}
    rl_s = {(s["task"], s["id"]): s for s in rl_samples}
    keys = [k for k in base_s if k in rl_s]
    rank = lambda k: (0 if rl_s[k]["correct"] and not base_s[k]["correct"] else  # noqa: E731
                      1 if base_s[k]["correct"] and not rl_s[k]["correct"] else 2)
    chosen = sorted(keys, key=lambda k: (rank(k), names.index(k[0]) if k[0] in names else 99))[:count]
    mark = lambda s: "correct" if s["correct"] else "wrong"  # noqa: E731
    lines = ["# Appendix-E-style examples: the base model and the RL model on the same problems", "",
             f"Model {model}; greedy, at most {max_gen_toks} new tokens. Problems where the two disagree come "
             "first (RL right, then base right); the rest in benchmark order. Answers are shown as generated.", ""]
    for k in chosen:
        bs, rs = base_s[k], rl_s[k]
        lines += [f"## {labels.get(k[0], k[0])}, problem {k[1]}", "", bs["problem"].strip(), "",
                  f"Gold answer: `{bs['gold']}`", "",
                  f"### Base model: {mark(bs)} (extracted: `{bs['extracted']}`, by {bs['extracted_by']})", "",
                  fence(bs["generation"]), "",
                  f"### RL model: {mark(rs)} (extracted: `{rs['extracted']}`, by {rs['extracted_by']})", "",
                  fence(rs["generation"]), ""]
    return "\n".join(lines)


def _trend(steps: list[dict], col: str) -> str:
    if steps and steps[0].get(col) not in (None, ""):
        return f"{float(steps[0][col]):.3g} -> {float(steps[-1][col]):.3g}"
    return "n/a"


def build_table3(base: dict, rl: dict, base_samples: list[dict], rl_samples: list[dict], run: dict,
                 prompts_meta: dict, train_log: list[dict], *, model: str, controls: dict | None = None,
                 seed: int = 0, resamples: int = DEFAULT_RESAMPLES, tasks_dir: str | os.PathLike | None = None) -> dict:
    """Table 3 from the evaluation summaries and records of the base and RL models (greedy), the RL run's record
    (``run``: the checkpoint's ``endorm_rl.json``), the RL prompts' meta and training log rows, and optionally the
    controls (``controls``: ``{"runs", "run_samples", "best", "rl_temperature"}``).

    Returns ``{"columns", "rows", "header", "notes", "paired_columns", "paired", "labels"}``: rates in %, each
    with its 95% interval (``rows[i]["intervals"]``), and the paired comparisons (RL vs base, and with controls
    greedy vs T = 1, lower T vs T = 1, best-of-N vs a random pick among the same samples).
    """
    from ..benchmarks import paper

    names = list(base["tasks"])
    if list(rl["tasks"]) != names:
        raise EndormError(f"base and RL were evaluated on different benchmarks: {names} vs {list(rl['tasks'])}")
    for name in names:
        if base["tasks"][name]["n"] != rl["tasks"][name]["n"]:
            raise EndormError(f"{name}: base scored {base['tasks'][name]['n']} problems, RL {rl['tasks'][name]['n']}")
    labels = display_names(names, tasks_dir)
    spec, trl = run["spec"], run["trainer_config"]  # endorm's settings; TRL's, as the run used them
    columns = (["source", "finetuning", "decoding"] + names + [c for c in paper.TABLE3_COLUMNS if c not in names]
               + ["avg"])
    rl_label = f"RL with EndoRM ({spec['algorithm'].upper()})"
    values = {"None (base)": per_problem(base_samples, names), rl_label: per_problem(rl_samples, names)}
    rows = [{"source": f"ours ({model})", "finetuning": label, "decoding": "greedy",
             **rate_row(v, names, seed, resamples)} for label, v in values.items()]
    rows.append({"source": "ours: n problems", "finetuning": "", **{n: base["tasks"][n]["n"] for n in names}})
    paired = paired_rows(f"{rl_label} - None (base), greedy", values["None (base)"], values[rl_label], names, seed,
                         resamples)
    notes = [f"{labels[n]}: base {base['tasks'][n]['n_boxed']}/{base['tasks'][n]['n']} answers in \\boxed{{}}, "
             f"RL {rl['tasks'][n]['n_boxed']}/{rl['tasks'][n]['n']}" for n in names]
    if controls:
        best, rl_t = controls["best"], float(controls["rl_temperature"])
        ctl = controls_block(names, {"None (base)": base_samples, rl_label: rl_samples}, controls["runs"],
                             controls["run_samples"], best, rl_t, seed, resamples)
        rows += [{"source": f"ours, controls ({model})", **r} for r in ctl["rows"]]
        rows.append({"source": "ours, controls: n problems", "finetuning": "", **ctl["n"]})
        paired += ctl["paired"]
        ref = ctl["reference"]["options"]["sampling"]
        notes += [
            f"Controls: the first {max(ctl['n'].values())} problems of each benchmark (the `controls: n problems` "
            "row); every control row and the greedy rows beside them are on exactly these problems, with the greedy "
            "rows' lm-eval tasks, prompts, chat template, stop strings, token limit and grader. Sampled rows: plain "
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
            f"Oracle pass@{ref['samples']} at T={rl_t:g}: a problem counts if any of its samples is right; a ceiling "
            "for best-of-N, not a method.",
        ]
    for key, label in (("base", "None (base)"), ("rl", "RL with EndoRM (PPO)")):
        rows.append({"source": f"paper ({paper.PAPER_MODEL_TABLE3})", "finetuning": label, **paper.TABLE3[key]})
    opts = base["options"]
    header = [
        "# Table 3: zero-shot math accuracy (%) before and after RL on the model's own endogenous reward",
        "",
        f"* **Ours**: policy and frozen reward model {model}. RL: TRL {run['trainer']} ({spec['algorithm']}; the "
        f"paper reports PPO, which TRL no longer has), {run['steps']} steps, learning rate "
        f"{float(trl['learning_rate'])}, {trl['per_device_train_batch_size']} completions per device per step "
        f"({trl['num_generations']} per prompt), completions up to {trl['max_completion_length']} tokens, KL "
        f"coefficient {float(trl['beta'])}, temperature {float(trl['temperature'])}, seed {trl['seed']}; "
        f"{run['prompts']} training prompts "
        f"({prompts_meta['provenance'].get('source')}; {prompts_meta['dropped_too_long']} dropped as longer than "
        f"{prompts_meta['max_prompt_tokens']} tokens); {run['seconds']:.0f} s of training. From the first to the "
        f"last step: mean endogenous reward {_trend(train_log, 'rewards/endorm/mean')}, completion length "
        f"{_trend(train_log, 'completions/mean_length')} tokens, KL {_trend(train_log, 'kl')}, batch answer accuracy "
        f"(monitor only) {_trend(train_log, 'rewards/accuracy/mean')}.",
        f"* Evaluation: lm-eval {base.get('lm_eval_version')}, zero-shot, the model's chat template, greedy, at most "
        f"{opts['max_gen_toks']} new tokens; answer = {opts['answer_rule']}; equivalence by math-verify "
        f"{base.get('math_verify_version')}. Avg = unweighted mean over the benchmarks of the row.",
        "* Brackets: 95% intervals. Per benchmark, the Wilson score interval over problems (k = the sum of the "
        "per-problem values: 0/1 for a greedy answer or a best-of-N pick, the share of correct samples for a sampled "
        f"row, where it is conservative); avg, a percentile bootstrap over problems within each benchmark ({resamples} "
        f"resamples, seed {seed}).",
        "* **Paper**: the paper's Table 3 (Qwen2.5-Math-7B, five benchmarks). Its AIME/AMC values are not k/n, so "
        "they were probably averaged over several samples; ours are single greedy runs.",
    ]
    if controls:
        header.append("* **Controls** (ours; not in the paper): what the base model gives without training. Under "
                      "the paper's terminal value, RL on the endogenous reward maximises the frozen model's own "
                      "log-likelihood with a KL penalty to it, whose optimum is the base model sharpened "
                      "(pi ∝ pi_0^(1 + alpha/beta)): greedy decoding (the `None (base)` row above, a greedy lm-eval "
                      "run), lower-temperature sampling and best-of-N by the base model's own reward are the natural "
                      "controls. They are evaluated on a subset of the problems (see the notes): compare rows "
                      "within the `ours, controls` block.")
    return {"columns": columns, "rows": rows, "header": header, "notes": notes, "paired_columns": PAIRED_COLUMNS,
            "paired": paired, "labels": labels, "names": names}


def paired_markdown(paired: list[dict], labels: dict[str, str]) -> list[str]:
    """The paired comparisons as Markdown lines (a heading, an explanation, the table)."""
    from .common import to_markdown

    shown = [{**p, "benchmark": labels.get(p["benchmark"], "all problems" if p["benchmark"] == ALL
                                           else p["benchmark"])} for p in paired]
    return ["", "## Paired comparisons on the same problems", "",
            "`difference` = b - a in accuracy points (a and b as the comparison names them), with its 95% paired "
            "bootstrap interval (problems resampled, pairs kept); `b_only`/`a_only`: problems only b / only a got "
            "right, and `p_mcnemar` the exact two-sided McNemar p value (both rows 0/1 per problem). An interval "
            "that contains 0 is no evidence of a difference.", "",
            to_markdown(PAIRED_COLUMNS, shown).rstrip("\n")]

