"""The ablation table (endorm.tables.analysis_tables: RM-Bench metric per reward variant, the paper's EndoRM row beside) and
its figure (accuracy against alpha, one line per terminal value and aggregation)."""
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.tables.analysis_tables import build_ablations  # noqa: E402
from endorm.io import atomic_path, read_json, read_jsonl  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.tables.common import model_label, to_markdown, write_tables  # noqa: E402

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
    table = build_ablations(meta, read_jsonl(snakemake.input.scores))
    write_tables(snakemake.output.csv, snakemake.output.md, **table)
    plot(table["rows"], snakemake.output.png, f"Reward variants from one forward pass: {model_label(meta['model'])}, "
                                              f"{meta['rows']} rows (bootstrap: open markers; log-likelihood: dotted)")
    print(to_markdown(table["columns"], table["rows"]))
