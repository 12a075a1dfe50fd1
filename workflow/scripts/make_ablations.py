"""The ablation table (RM-Bench metric per reward variant, the paper's EndoRM row beside) and its
figure (accuracy against alpha, one line per terminal value and aggregation)."""
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.ablations import Variant, ablation_rows  # noqa: E402
from endorm.io import atomic_path, read_json, read_jsonl  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.tables import model_label, to_markdown, write_tables  # noqa: E402

COLUMNS = ["source", "variant", "family", "alpha", "terminal", "aggregation", "easy", "normal", "hard", "avg",
           "avg_micro", "n", "same_decisions_as_loglik_sum"]
COLORS = {"sum": "#1f77b4", "mean": "#d62728", "discounted": "#2ca02c"}
STYLES = {"zero": ("-", "o"), "bootstrap": ("--", "s"), "": (":", "x")}


def plot(rows, path, title):
    ours = [r for r in rows if r["source"] == "ours"]
    rmgap = next(r for r in ours if r["family"] == "rmgap")
    paper = next(r for r in rows if r["source"] != "ours")
    lines = defaultdict(list)
    for r in ours:
        if r["family"] != "rmgap":
            lines[(r["family"], r["terminal"], r["aggregation"])].append(r)
    fig, axes = plt.subplots(1, 4, figsize=(17, 5.2), sharey=True)
    for ax, level in zip(axes, ("easy", "normal", "hard", "avg")):
        for (family, terminal, agg), rs in lines.items():
            ls, marker = STYLES[terminal]
            label = (f"EndoRM, terminal {terminal}, {agg}" if family == "endorm" else f"log-likelihood, {agg}")
            ax.plot([float(r["alpha"]) for r in rs], [r[level] for r in rs], ls=ls, marker=marker, ms=5,
                    color=COLORS[agg], lw=1.6 if family == "endorm" else 1.0, label=label,
                    mfc="white" if terminal == "bootstrap" else None)
        ax.axhline(rmgap[level], color="black", ls="-.", lw=1.2, label="RMGAP's EndoRM (discounted log pi, alpha 1)")
        ax.axhline(paper[level], color="grey", ls=":", lw=2, label=f"{paper['source']}: EndoRM")
        ax.axhline(50, color="#bbbbbb", lw=0.6)
        ax.set_xscale("log", base=2)
        ax.set_xticks([float(r["alpha"]) for r in next(iter(lines.values()))])
        ax.set_xticklabels([r["alpha"] for r in next(iter(lines.values()))])
        ax.set_xlabel("alpha (soft-Q temperature)")
        ax.set_title(level if level != "avg" else "avg (RM-Bench macro average)")
        ax.set_ylim(-3, 103)
    axes[0].set_ylabel("accuracy (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.17, 1, 0.95))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")


with redirect_to(snakemake.log[0]):
    meta = read_json(snakemake.input.meta)
    variants = [Variant(**{k: v[k] for k in ("family", "alpha", "terminal", "aggregation", "gamma")})
                for v in meta["variants"]]
    scores = defaultdict(list)
    for row in read_jsonl(snakemake.input.scores):
        scores[row["method"]].append(row)
    rows = ablation_rows(scores, variants)
    for r in rows:
        r["alpha"] = f"{r['alpha']:g}" if "alpha" in r else ""
    ours = [r for r in rows if r["source"] == "ours"]
    model = model_label(meta["model"])
    run = meta["run"]
    header = [
        "# Ablations of the endogenous reward on RM-Bench",
        "",
        f"* Ours: model `{model}`, dtype {meta['dtype']}, device {meta['device']}; data `{meta['input']}` "
        f"({meta['rows']} rows" + (f": the first {meta['max_rows_per_domain']} of each domain of {meta['rows_read']}, "
        "as Table 1's EndoRM" if meta.get("max_rows_per_domain") else "") + f"); prompt format {meta['format']}.",
        f"* All {len(variants)} variants come from ONE engine run ({run['sequences']} sequences, "
        f"{run['tokens']} response tokens, {meta['wall_seconds']:.0f} s): the engine reduces the vocabulary at "
        f"each alpha ({', '.join(f'{a:g}' for a in run['alphas'])}) from the same hidden states; log pi at alpha "
        "is log softmax(logits / alpha).",
        "* Variants: `endorm/a=A/T/G` = sum, mean or discounted (gamma "
        f"{run['gamma']:g}) of r_h = Q(s_h, a_h) - V(s_h+1) with terminal value T (zero: the paper's "
        "V(s_H+1) = 0; bootstrap: V(s_H+1) from the logits after the last token); `loglik/a=A/G` = the same "
        "aggregations of log pi(a_h | s_h), no value term.",
        f"* `rmgap`: the \"EndoRM\" of RMGAP ({run['rmgap_source']}): sum_k 0.93^k log pi(t_k) at alpha 1 over "
        "the tokens its chat rendering puts after the prompt: the response, the end-of-turn token and the "
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
    write_tables(snakemake.output.csv, snakemake.output.md, COLUMNS, rows, header)
    plot(rows, snakemake.output.png, f"Reward variants from one forward pass: {model}, {meta['rows']} rows "
                                     "(bootstrap: open markers; log-likelihood: dotted)")
    print(to_markdown(COLUMNS, rows))
