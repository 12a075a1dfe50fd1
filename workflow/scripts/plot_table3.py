"""Table 3 as a forest plot: each row's accuracy with its 95% interval, one panel per benchmark and one for the
average (the paper's rows where it reports the benchmark), beside the paired comparisons on the same problems
(difference in accuracy points with its 95% paired bootstrap interval)."""
import csv
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.io import atomic_path  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.tables.table3 import ALL, display_names  # noqa: E402

STYLE = {"ours": ("#1f77b4", "o"), "controls": ("#d95f02", "o"), "paper": ("#555555", "D")}


def num(r, c):
    return float(r[c]) if r.get(c) not in (None, "") else math.nan


def block(source):
    return "paper" if source.startswith("paper") else "controls" if source.startswith("ours, controls") else "ours"


def short(r):
    who = block(r["source"])
    label = ("paper: " if who == "paper" else "") + r["finetuning"]
    if r.get("decoding"):
        label += ": " + (r["decoding"].replace(" by its endogenous reward", " by own reward")
                         .replace(" (RL's temperature: the reference)", " (reference)")
                         .replace(" (a ceiling, not a method)", " (ceiling)"))
    return label


with redirect_to(snakemake.log[0]):
    with open(snakemake.input.csv) as f:
        rows = list(csv.DictReader(f))
    with open(snakemake.input.paired) as f:
        paired = list(csv.DictReader(f))
    skip = ("source", "finetuning", "decoding")
    cols = [c for c in rows[0] if c not in skip and not c.endswith(("_lo", "_hi"))]
    counts = {block(r["source"]): r for r in rows if r["source"].endswith("n problems")}
    shown = [r for r in rows if not r["source"].endswith("n problems")]
    panels = [c for c in cols if any(not math.isnan(num(r, c)) for r in shown if block(r["source"]) != "paper")]
    labels = display_names([c for c in panels if c != "avg"])
    per_panel = [[r for r in shown if not math.isnan(num(r, c))] for c in panels]
    height = sum(0.32 * len(p) + 0.9 for p in per_panel)
    comparisons = list(dict.fromkeys(p["comparison"] for p in paired))
    fig_height = max(6.0, height)
    fig = plt.figure(figsize=(15, fig_height))
    # margins in inches, so that a tall figure leaves no band of white under its title
    grid = fig.add_gridspec(len(panels), 2, width_ratios=[1.0, 1.05], height_ratios=[len(p) + 1.5 for p in per_panel],
                            wspace=0.75, hspace=0.55, top=1 - 0.75 / fig_height, bottom=0.7 / fig_height)
    for k, (c, group) in enumerate(zip(panels, per_panel)):
        ax = fig.add_subplot(grid[k, 0])
        for y, r in enumerate(group):
            color, marker = STYLE[block(r["source"])]
            v, lo, hi = num(r, c), num(r, f"{c}_lo"), num(r, f"{c}_hi")
            if not math.isnan(lo):
                ax.plot([lo, hi], [y, y], color=color, lw=1.6)
            ax.plot([v], [y], marker=marker, color=color, ms=6, mfc="white" if block(r["source"]) == "paper" else color)
            ax.annotate(f"{v:.1f}", (v, y), xytext=(4, 4), textcoords="offset points", fontsize=7, color=color)
        ax.set_yticks(range(len(group)))
        ax.set_yticklabels([short(r) for r in group], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(-2, 102)
        ax.grid(axis="x", alpha=0.3)
        n_ours, n_ctl = counts.get("ours", {}).get(c), counts.get("controls", {}).get(c)
        sizes = "" if c == "avg" else (f" (n = {n_ours} problems" + (f"; controls on {n_ctl}" if n_ctl else "") + ")")
        ax.set_title(("Average over benchmarks" if c == "avg" else labels.get(c, c)) + sizes, fontsize=9, loc="left")
        if k == len(panels) - 1:
            ax.set_xlabel("accuracy (%), 95% interval")
    ax = fig.add_subplot(grid[:, 1])
    benches = list(dict.fromkeys(p["benchmark"] for p in paired))
    colors = plt.get_cmap("tab10")
    offset = {b: (i - (len(benches) - 1) / 2) * 0.8 / max(1, len(benches)) for i, b in enumerate(benches)}
    for y, comp in enumerate(comparisons):
        for p in (p for p in paired if p["comparison"] == comp):
            b = p["benchmark"]
            d, lo, hi = num(p, "difference"), num(p, "difference_lo"), num(p, "difference_hi")
            color = "black" if b == ALL else colors(benches.index(b) % 10)
            yy = y + offset[b]
            ax.plot([lo, hi], [yy, yy], color=color, lw=2.2 if b == ALL else 1.2)
            ax.plot([d], [yy], "o", color=color, ms=6 if b == ALL else 4)
    for b in benches:
        ax.plot([], [], "o-", color="black" if b == ALL else colors(benches.index(b) % 10),
                label=("all problems pooled" if b == ALL else display_names([b]).get(b, b)))
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(range(len(comparisons)))
    ax.set_yticklabels([c.replace(" - ", "\nminus ") for c in comparisons], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("difference in accuracy points, 95% paired bootstrap interval "
                  "(right of 0: the first named is better)")
    ax.set_title("Paired comparisons on the same problems: an interval that crosses 0 is no evidence", fontsize=9,
                 loc="left")
    ax.grid(axis="x", alpha=0.3)
    # below the axis label: its offset is in inches, turned into a fraction of this tall panel
    ax.legend(fontsize=7, loc="upper center", ncol=4, frameon=False,
              bbox_to_anchor=(0.5, -0.55 / (ax.get_position().height * fig_height)))
    fig.suptitle("Table 3: zero-shot math accuracy before and after RL on the model's own endogenous reward",
                 fontsize=11)
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=120, format="png", bbox_inches="tight")
