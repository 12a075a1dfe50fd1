"""Table 3 as bars: base vs RL per benchmark (ours); the controls on their problems (when the table has them); the
paper's base and RL beside where it reports one."""
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
    cols = [c for c in rows[0] if c not in ("source", "finetuning", "decoding")]
    val = lambda r, c: float(r[c]) if r.get(c) not in (None, "") else math.nan  # noqa: E731
    counts = lambda source: next((r for r in rows if r["source"] == source), {})  # noqa: E731
    panels = []
    for who, prefix, n_row in (("ours", "ours (", "ours: n problems"),
                               ("controls", "ours, controls (", "ours, controls: n problems"),
                               ("paper", "paper", None)):
        group = [r for r in rows if r["source"].startswith(prefix)]
        names = [c for c in cols if group and not math.isnan(val(group[0], c))]
        if names:
            panels.append((who, names, group, counts(n_row) if n_row else {}))
    widths = [max(6.5, 0.9 * len(names) * max(2, len(group)) / 2) for _, names, group, _ in panels]
    # one panel per row: side by side, three panels of up to eight bar groups made a figure too wide to read
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(10.0, max(widths)), 3.9 * len(panels) + 0.6),
                             squeeze=False)
    palette = ("#9e9e9e", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
    for ax, (who, names, group, n) in zip(axes[:, 0], panels):
        x = list(range(len(names)))
        width = 0.8 / len(group)
        for k, r in enumerate(group):
            label = r["finetuning"] + (f": {r['decoding']}" if r.get("decoding") else "")
            b = ax.bar([i + (k - (len(group) - 1) / 2) * width for i in x], [val(r, c) for c in names], width,
                       color=palette[k % len(palette)], label=label,
                       edgecolor="black" if who == "paper" else None, hatch="//" if who == "paper" else None)
            ax.bar_label(b, fmt="%.1f", fontsize=6, padding=1)
        ax.set_xticks(x)
        ax.set_xticklabels([f"{c}\n(n={n[c]})" if n.get(c) else c for c in names], fontsize=8)
        ax.set_ylabel("accuracy (%)")
        top = max([val(r, c) for r in group for c in names if not math.isnan(val(r, c))] + [1.0])
        ax.set_ylim(0, min(100, max(10.0, top * 1.25 + 2)))  # all-zero bars still read as 0%
        title = group[0]["source"] + ("\nall on the same problems (n per benchmark below)" if who == "controls" else "")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Table 3: zero-shot math accuracy, base vs RL on the model's own endogenous reward"
                 + (", with controls that need no training" if any(p[0] == "controls" for p in panels) else ""),
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=130, format="png", bbox_inches="tight")  # the legends sit right of the axes
