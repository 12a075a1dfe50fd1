import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.io import atomic_path  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402

with redirect_to(snakemake.log[0]):
    with open(snakemake.input.csv) as f:
        rows = list(csv.DictReader(f))
    ours = [r for r in rows if r["source"].startswith("ours")]
    paper = {r["method"]: r for r in rows if r["source"].startswith("paper")}
    methods = [r["method"] for r in ours]
    val = lambda r, k: float(r[k]) if r and r.get(k) else float("nan")  # noqa: E731

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True, gridspec_kw={"width_ratios": [1, 1.5]})
    x = range(len(methods))
    ax = axes[0]
    ax.bar([i - 0.2 for i in x], [val(r, "avg") for r in ours], 0.4, label=ours[0]["source"], color="#1f77b4")
    ax.bar([i + 0.2 for i in x], [val(paper.get(m), "avg") for m in methods], 0.4,
           label=next(iter(paper.values()))["source"], color="#bbbbbb", edgecolor="black", hatch="//")
    ax.set_title("Average accuracy (official macro average)")
    ax.set_ylabel("accuracy (%)")
    ax2 = axes[1]
    colors = {"easy": "#2ca02c", "normal": "#ff7f0e", "hard": "#d62728"}
    for k, level in enumerate(("easy", "normal", "hard")):
        pos = [i + (k - 1) * 0.27 for i in x]
        ax2.bar(pos, [val(r, level) for r in ours], 0.27, color=colors[level], label=f"ours: {level}")
        ax2.scatter(pos, [val(paper.get(m), level) for m in methods], marker="_", s=250, color="black", zorder=3,
                    label="paper" if k == 0 else None)
    ax2.set_title("Easy / normal / hard (bars: ours; black ticks: paper)")
    for a in axes:
        a.set_xticks(list(x))
        a.set_xticklabels(methods, rotation=25, ha="right")
        a.axhline(50, color="grey", lw=0.8, ls=":")
        a.set_ylim(0, 100)
    axes[0].legend(fontsize=8, loc="upper left")
    ax2.legend(fontsize=8, ncol=2, loc="upper left")
    fig.suptitle("Table 1: RM-Bench-style accuracy of training-free rewards (dotted line: chance)")
    fig.tight_layout()
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
