"""Training curves of the RL run: the reward it optimises, the KL to the initial model, and what reward hacking
would move (completion length, clipped share, repetition, entropy), with the monitoring-only answer accuracy."""
import csv
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.io import atomic_path  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402

PANELS = [  # (column, title, y label)
    ("rewards/endorm/mean", "endogenous reward (what RL maximises)", "mean r(x, y) per completion"),
    ("kl", "KL to the initial model", "mean per-token KL"),
    ("completions/mean_length", "completion length", "tokens"),
    ("monitor/repetition", "repetition (reward-hacking watch)", "repeated 4-gram share"),
    ("entropy", "policy entropy", "nats per token"),
    ("rewards/accuracy/mean", "answer accuracy on the batch (monitor only, weight 0)", "share correct"),
]

with redirect_to(snakemake.log[0]):
    with open(snakemake.input.log_table) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SystemExit(f"{snakemake.input.log_table}: no training steps logged")
    steps = [float(r["step"]) for r in rows]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.8))
    for ax, (col, title, ylabel) in zip(axes.flat, PANELS):
        vals = [float(r[col]) if r.get(col) not in (None, "") else math.nan for r in rows]
        if all(math.isnan(v) for v in vals):
            ax.text(0.5, 0.5, f"'{col}' not logged", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.plot(steps, vals, marker="o", ms=3, lw=1.2)
            if col == "completions/mean_length":  # from 0, so a change of one token does not look like a collapse
                ax.set_ylim(0, max(vals) * 1.15)
            if col == "rewards/accuracy/mean":
                ax.set_ylim(-0.05, 1.05)
            if col == "rewards/endorm/mean" and rows[0].get("rewards/endorm/std"):
                std = [float(r["rewards/endorm/std"]) for r in rows]
                ax.fill_between(steps, [v - s for v, s in zip(vals, std)], [v + s for v, s in zip(vals, std)],
                                alpha=0.2, label="± 1 std over the batch")
                ax.legend(fontsize=7)
            if col == "completions/mean_length" and rows[0].get("completions/clipped_ratio"):
                ax2 = ax.twinx()
                ax2.plot(steps, [float(r["completions/clipped_ratio"]) for r in rows], color="tab:red", lw=0.8,
                         ls="--")
                ax2.set_ylabel("share cut at the length limit (dashed)", color="tab:red", fontsize=7)
                ax2.set_ylim(-0.05, 1.05)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("optimizer step", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"RL ({snakemake.params.algorithm.upper()}) on the model's own endogenous reward: "
                 f"{len(rows)} steps", fontsize=11)
    fig.tight_layout()
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
