"""Table 3 as bars: base vs RL per benchmark (ours), with the paper's base and RL beside where it reports one."""
import csv
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.io import atomic_path  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402

with redirect_to(snakemake.log[0]):
    with open(snakemake.input.csv) as f:
        rows = list(csv.DictReader(f))
    ours = [r for r in rows if r["source"].startswith("ours (")]
    counts = next(r for r in rows if r["source"] == "ours: n problems")
    paper = [r for r in rows if r["source"].startswith("paper")]
    cols = [c for c in rows[0] if c not in ("source", "finetuning")]
    val = lambda r, c: float(r[c]) if r.get(c) not in (None, "") else math.nan  # noqa: E731
    ours_cols = [c for c in cols if not math.isnan(val(ours[0], c))]
    paper_cols = [c for c in cols if paper and not math.isnan(val(paper[0], c))]
    panels = [("ours", ours_cols, ours)] + ([("paper", paper_cols, paper)] if paper_cols else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    colors = ("#9e9e9e", "#1f77b4")
    for ax, (who, names, pair) in zip(axes[0], panels):
        x = list(range(len(names)))
        for k, r in enumerate(pair):
            b = ax.bar([i + (k - 0.5) * 0.4 for i in x], [val(r, c) for c in names], 0.4, color=colors[k],
                       label=r["finetuning"], edgecolor="black" if who == "paper" else None,
                       hatch="//" if who == "paper" else None)
            ax.bar_label(b, fmt="%.1f", fontsize=7, padding=1)
        labels = [f"{c}\n(n={counts[c]})" if who == "ours" and counts.get(c) else c for c in names]
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("accuracy (%)")
        top = max([val(r, c) for r in pair for c in names if not math.isnan(val(r, c))] + [1.0])
        ax.set_ylim(0, min(100, max(10.0, top * 1.25 + 2)))  # all-zero bars still read as 0%
        ax.set_title(f"{pair[0]['source']}", fontsize=9)
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Table 3: zero-shot math accuracy, base vs RL on the model's own endogenous reward", fontsize=11)
    fig.tight_layout()
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
