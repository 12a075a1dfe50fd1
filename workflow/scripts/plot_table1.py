import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.io import atomic_path  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.tables.common import error_bars  # noqa: E402

with redirect_to(snakemake.log[0]):
    with open(snakemake.input.csv) as f:
        rows = list(csv.DictReader(f))
    ours = [r for r in rows if r["source"].startswith("ours")]
    paper = {r["method"]: r for r in rows if r["source"].startswith("paper")}
    methods = [r["method"] for r in ours]
    val = lambda r, k: float(r[k]) if r and r.get(k) else float("nan")  # noqa: E731

    labels = [f"{m}\n(n={r['n']})" for m, r in zip(methods, ours)]
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.6), sharey=True, gridspec_kw={"width_ratios": [1, 1.5]})
    x = list(range(len(methods)))
    ax = axes[0]
    avg_err = error_bars(ours, "avg")
    ax.bar([i - 0.2 for i in x], [val(r, "avg") for r in ours], 0.4, label=ours[0]["source"], color="#1f77b4",
           yerr=avg_err, capsize=3, error_kw={"lw": 0.8})
    for i, r, above in zip(x, ours, avg_err[1]):  # above the whisker, where a short bar or a 0 still has room
        v = val(r, "avg")
        if v == v:
            ax.text(i - 0.2, v + above + 1, f"{v:.1f}", ha="center", va="bottom", fontsize=7)
    pbars = ax.bar([i + 0.2 for i in x], [val(paper.get(m), "avg") for m in methods], 0.4,
                   label=next(iter(paper.values()))["source"], color="#cccccc", edgecolor="black", hatch="//")
    ax.bar_label(pbars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_title("Average accuracy (official macro average)\nwhiskers: 95% interval of ours", fontsize=9)
    ax.set_ylabel("accuracy (%)")
    ax2 = axes[1]
    colors = {"easy": "#2ca02c", "normal": "#ff7f0e", "hard": "#d62728"}
    for k, level in enumerate(("easy", "normal", "hard")):
        pos = [i + (k - 1) * 0.27 for i in x]
        ax2.bar(pos, [val(r, level) for r in ours], 0.27, color=colors[level], label=f"ours: {level}",
                yerr=error_bars(ours, level), capsize=2, error_kw={"lw": 0.7})
        ax2.scatter(pos, [val(paper.get(m), level) for m in methods], marker="_", s=250, color="black", zorder=3,
                    linewidths=2, label="paper (same level)" if k == 0 else None)
    ax2.set_title("Easy / normal / hard: bars ours (whiskers: 95% interval), black ticks the paper's\n"
                  "values in table1.md", fontsize=9)
    for a in axes:
        a.set_xticks(x)
        a.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        a.axhline(50, color="grey", lw=0.8, ls=":")
        a.set_ylim(0, 112)
        a.set_yticks(range(0, 101, 20))
    axes[0].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=1, frameon=False)
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=4, frameon=False)
    fig.suptitle("Table 1: RM-Bench-style accuracy of training-free rewards (dotted line: 50%, a coin flip)")
    fig.tight_layout()
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
