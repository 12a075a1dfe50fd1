"""The analyses' tables: the reward ablations, accuracy under length control, and whether RL sharpens.

Each builder takes the analysis' own summaries (small dicts and lists, as its workflow step writes them) and returns
the table's columns, rows and header lines; the workflow's scripts only compute, read and write.
"""

from __future__ import annotations

from collections import defaultdict

from .common import METHOD_LABELS, model_label, to_markdown

ABLATION_COLUMNS = ["source", "variant", "family", "alpha", "terminal", "aggregation", "easy", "normal", "hard", "avg",
                    "avg_micro", "n", "same_decisions_as_loglik_sum"]


def build_ablations(meta: dict, score_rows: list[dict]) -> dict:
    """The ablation table from the ablation run's record (``meta``: model, data, ``variants`` and the engine
    ``run``) and its score rows (one per row and variant, ``method`` = the variant's name): RM-Bench's metric per
    variant, the paper's EndoRM last. Returns ``{"columns", "rows", "header", "notes"}``
    (:func:`endorm.tables.common.write_tables`' arguments); ``alpha`` is shown as text (``""`` on the paper's row)."""
    from ..analysis.ablations import RMGAP_GAMMA, Variant, ablation_rows

    variants = [Variant(**{k: v[k] for k in ("family", "alpha", "terminal", "aggregation", "gamma")})
                for v in meta["variants"]]
    scores = defaultdict(list)
    for row in score_rows:
        scores[row["method"]].append(row)
    rows = ablation_rows(scores, variants)
    for r in rows:
        r["alpha"] = f"{r['alpha']:g}" if "alpha" in r else ""
    run = meta["run"]
    cap = meta.get("max_rows_per_domain")
    header = [
        "# Ablations of the endogenous reward on RM-Bench",
        "",
        f"* Ours: model `{model_label(meta['model'])}`, dtype {meta['dtype']}, device {meta['device']}; data "
        f"`{meta['input']}` ({meta['rows']} rows" + (f": the first {cap} of each domain of {meta['rows_read']}, "
                                                     "as Table 1's EndoRM" if cap else "")
        + f"); prompt format {meta['format']}.",
        f"* All {len(variants)} variants come from ONE engine run ({run['sequences']} sequences, "
        f"{run['tokens']} response tokens, {meta['wall_seconds']:.0f} s): the engine reduces the vocabulary at "
        f"each alpha ({', '.join(f'{a:g}' for a in run['alphas'])}) from the same hidden states; log pi at alpha "
        "is log softmax(logits / alpha).",
        "* Variants: `endorm/a=A/T/G` = sum, mean or discounted (gamma "
        f"{run['gamma']:g}) of r_h = Q(s_h, a_h) - V(s_h+1) with terminal value T (zero: the paper's "
        "V(s_H+1) = 0; bootstrap: V(s_H+1) from the logits after the last token); `loglik/a=A/G` = the same "
        "aggregations of log pi(a_h | s_h), no value term.",
        f"* `rmgap`: the \"EndoRM\" of RMGAP ({run['rmgap_source']}): sum_k {RMGAP_GAMMA:g}^k log pi(t_k) at alpha 1 "
        "over the tokens its chat rendering puts after the prompt: the response, the end-of-turn token and the "
        "template's newline after it; no value term, no system message. "
        f"{run['rmgap_shared_sequences']} of {run['responses']} responses had RMGAP's tokens equal to ours plus that "
        "tail and shared our sequence; the others were scored as sequences of their own in the same run.",
        "* Metric: RM-Bench's official 3x3 accuracy (strict >, ties lose), easy/normal/hard/avg = unweighted means "
        "over domains; avg_micro = mean over rows. `same_decisions_as_loglik_sum`: % of the chosen-vs-rejected "
        "comparisons a variant decides as summed log-likelihood at the same alpha does.",
        "* **Terminal zero with sum is summed log-likelihood**: R(x, y) = alpha log pi(y|x) + V(s_1), and V(s_1) is "
        "shared by every response to a prompt, so those rows decide 100% of comparisons alike and their "
        "accuracies are equal.",
        "* The last row is the paper's EndoRM (Qwen2.5-7B-Instruct on the real RM-Bench), labelled as the paper's.",
    ]
    return {"columns": ABLATION_COLUMNS, "rows": rows, "header": header, "notes": []}


# The length analysis' methods: Table 1's and the two length-only baselines (endorm.analysis.lengths.BASELINES).
LENGTH_LABELS = {**METHOD_LABELS, "shorter-wins": "shorter response wins (length only)",
                 "longer-wins": "longer response wins (length only)"}
LENGTH_COLUMNS = ["method", "comparisons", "all", "matched", "n_matched", "chosen_shorter", "n_chosen_shorter",
                  "chosen_longer", "n_chosen_longer", "easy", "normal", "hard", "avg"]
LENGTH_BIN_COLUMNS = ["method", "bin", "n", "wins", "accuracy"]


def build_length(summaries: dict[str, dict], metrics: dict[str, dict], *, pairs: str, n_rows: int,
                 bins: list[float], matched_within: float) -> dict:
    """The length analysis' tables from each method's :func:`endorm.analysis.lengths.length_summary` and RM-Bench metric
    (:func:`endorm.analysis.lengths.summarize_methods`), for ``n_rows`` rows of ``pairs`` with the config's
    ``analysis.length`` (``bins``, ``matched_within``).

    Returns ``{"columns", "rows"}`` (one row per method), ``{"bin_columns", "bin_rows"}`` (one row per method and
    bin), ``"markdown"`` (both, under a header) and ``"json"`` (the summaries and metrics)."""
    label = lambda m: LENGTH_LABELS.get(m, m)  # noqa: E731
    rows = [{"method": label(m), "comparisons": s["all"]["n"], "all": s["all"]["accuracy"],
             "matched": s["matched"]["accuracy"], "n_matched": s["matched"]["n"],
             "chosen_shorter": s["chosen_shorter"]["accuracy"], "n_chosen_shorter": s["chosen_shorter"]["n"],
             "chosen_longer": s["chosen_longer"]["accuracy"], "n_chosen_longer": s["chosen_longer"]["n"],
             **{k: metrics[m][k] for k in ("easy", "normal", "hard", "avg")}}
            for m, s in summaries.items()]
    bin_rows = [{"method": label(m), "bin": b["bin"], "n": b["n"], "wins": b["wins"], "accuracy": b["accuracy"]}
                for m, s in summaries.items() for b in s["bins"]]
    first = next(iter(summaries.values()))
    bin_names = [b["bin"] for b in first["bins"]]
    wide = [{"method": label(m), **{b["bin"]: (f"{b['accuracy']:.0f} ({b['n']})" if b["n"] else "")
                                    for b in s["bins"]}} for m, s in summaries.items()]
    lv = first["levels"]
    lines = [
        "# Length under control",
        "",
        f"* Data `{pairs}` ({n_rows} rows); token lengths of the responses as the reward model "
        "encodes them (its tokenizer, end-of-turn token included on both sides). Every row gives RM-Bench's 9 "
        "chosen-vs-rejected comparisons; a win is margin > 0 (ties and missing scores lose). Accuracies here are "
        "means over comparisons; easy/normal/hard/avg are RM-Bench's metric (macro over domains).",
        f"* Length-matched: |tokens(chosen) - tokens(rejected)| <= {matched_within:g} x the longer one.",
        "* Where RM-Bench's levels sit in length: the chosen response is the shorter one in "
        + ", ".join(f"{lv[k]['chosen_shorter_pct']:.0f}% of the {k} comparisons" for k in ("hard", "normal", "easy"))
        + f" (computed on {first['all']['n'] // 9} rows).",
        "* `shorter/longer response wins` score a response by its length alone: they show what length by itself "
        "earns in each column.",
        "",
        "## Accuracy (%) by subset",
        "",
        to_markdown(LENGTH_COLUMNS, rows),
        "## Accuracy (%) by length difference, tokens(chosen) - tokens(rejected): accuracy (comparisons)",
        "",
        to_markdown(["method", *bin_names], wide),
    ]
    record = {"matched_within": matched_within, "edges": bins, "summaries": summaries,
            "metrics": {m: {k: v for k, v in x.items() if k != "domains"} for m, x in metrics.items()}}
    return {"columns": LENGTH_COLUMNS, "rows": rows, "bin_columns": LENGTH_BIN_COLUMNS, "bin_rows": bin_rows,
            "markdown": "\n".join(lines), "json": record}


SHARPENING_COLUMNS = ["policy", "temperature", "entropy", "entropy_se", "loglik", "loglik_se", "loglik_seq", "reward",
                      "reward_std_group", "length", "finished", "completions", "tokens"]


def build_sharpening(summary: dict, run: dict, rl: dict) -> dict:
    """The sharpening table from the measurement's summary (``sharpening.json``: ``conditions`` with the RL
    policy's first, ``paired``, ``matches``, the optimum temperatures and the run's settings), the RL run's record
    (``run``: the checkpoint's ``endorm_rl.json``) and the config's ``rl`` (``beta``, ``temperature``). Returns
    ``{"columns", "rows", "header", "notes"}`` (:func:`endorm.tables.common.write_tables`' arguments)."""
    f3 = lambda v: f"{v:.3f}"  # noqa: E731
    rows = [{"policy": "RL policy" if c["model"] == "rl" else "initial model", "temperature": f"{c['temperature']:g}",
             **{k: f3(c[k]) for k in ("entropy", "entropy_se", "loglik", "loglik_se", "loglik_seq", "reward",
                                      "reward_std_group", "length", "finished")},
             "completions": c["completions"], "tokens": c["tokens"]} for c in summary["conditions"]]
    rl_row, pd = summary["conditions"][0], summary["paired"]
    if summary["matches"]:
        match = "; ".join(f"T = {m['temperature']:.3f}: log-likelihood {m['loglik']:.3f} nats/token (RL policy: "
                          f"{rl_row['loglik']:.3f}, difference {rl_row['loglik'] - m['loglik']:+.3f})"
                          for m in summary["matches"])
    else:
        match = "none: the RL policy's entropy is outside the initial model's measured curve"
    reward, scaling = summary["reward"], summary["advantage_scaling"]
    sigma, t_eff = summary["reward_sigma"], summary["effective_optimum_temperature"]
    header = [
        "# Does RL sharpen? The RL policy against the initial model sampled at several temperatures",
        "",
        f"* RL policy after {run['steps']} steps ({run['trainer']}, KL coefficient beta {rl['beta']}), sampled at its "
        f"training temperature {rl['temperature']:g}; the initial model at each temperature listed. "
        f"{summary['prompts']} RL prompts (the first of prompts.jsonl) x {summary['samples_per_prompt']} completions "
        f"per condition, at most {summary['max_new_tokens']} new tokens, plain temperature sampling (top-k 0, top-p "
        f"1), seed {summary['seed']}: each completion samples from its own generator, seeded by the seed, its prompt "
        "and its sample number, the same for every condition.",
        "* entropy: per-token entropy (nats) of the distribution each token was drawn from, averaged over all tokens; "
        "loglik: per-token log-likelihood (nats) of the samples under the frozen initial model at temperature 1; "
        "loglik_seq: summed per completion; reward: the endogenous reward (alpha "
        f"{summary['alpha']:g}, terminal {reward['terminal']}, {reward['aggregation']}); finished: share ending with "
        "an end-of-turn token; _se: standard error over completions (samples of one prompt are not independent).",
        "* The KL-regularised optimum of RL on this reward is pi ∝ pi_0^(1 + alpha/beta): the initial model "
        f"sharpened to sequence-level temperature beta/(alpha+beta) = {summary['optimum_temperature']:.4f}. The RL "
        f"run scaled advantages by '{scaling}'"
        + (f" (reward standard deviation {sigma:.1f} on the RL policy's samples), so the optimum it aims at is "
           f"pi ∝ pi_0^(1 + alpha/(beta sigma)): temperature {t_eff:.3f}" if scaling != "none" and t_eff is not None
           else "") + ".",
        f"* Temperature at which the initial model's entropy equals the RL policy's ({rl_row['entropy']:.3f}), by "
        f"linear interpolation: {match}.",
        f"* Paired with the initial model at T={rl['temperature']:g} (same prompts and per-completion seeds, so the "
        f"same random numbers; {pd['identical']} of {pd['pairs']} completions are token for token the same): RL minus "
        f"initial, per completion: entropy {pd['entropy_diff']:+.3f} (SE {pd['entropy_diff_se']:.3f}) nats/token, "
        f"log-likelihood {pd['loglik_diff']:+.3f} (SE {pd['loglik_diff_se']:.3f}) nats/token.",
    ]
    return {"columns": SHARPENING_COLUMNS, "rows": rows, "header": header, "notes": []}
