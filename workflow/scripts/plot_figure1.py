import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.io import atomic_path  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
with redirect_to(snakemake.log[0]):
    with open(snakemake.input.csv) as f:
        reader = csv.DictReader(f)
        methods = [c for c in reader.fieldnames if c not in ("source", "subset", "n")]
        rows = list(reader)
    ours = [r for r in rows if r["source"].startswith("ours")]
    paper = [r for r in rows if r["source"].startswith("paper")]
    val = lambda r, k: float(r[k]) if r.get(k) else float("nan")  # noqa: E731
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.4), sharey=True)
    for ax, group, title in ((axes[0], ours, ours[0]["source"]), (axes[1], paper, paper[0]["source"])):
        width = 0.8 / len(methods)
        for k, m in enumerate(methods):
            pos = [i + (k - (len(methods) - 1) / 2) * width for i in range(len(group))]
            bars = ax.bar(pos, [val(r, m) for r in group], width, label=m, color=COLORS[k % len(COLORS)])
            ax.bar_label(bars, fmt="%.0f", fontsize=6, padding=1)
        labels = [f"{r['subset']}\n(n={r['n']})" if r.get("n") else r["subset"] for r in group]
        ax.set_xticks(range(len(group)))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.axhline(50, color="grey", lw=0.8, ls=":")
        ax.set_ylim(0, 105)
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("accuracy (%): chosen scored above rejected")
    axes[1].legend(fontsize=8, loc="upper center", bbox_to_anchor=(-0.05, -0.3), ncol=len(methods), frameon=False)
    fig.suptitle("Figure 1: preferring the response written for the given system message (dotted line: 50%)")
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=130, format="png", bbox_inches="tight")
