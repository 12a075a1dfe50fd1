"""Figure 1 as bars with 95% intervals. Left: the average over all pairs, ours beside the paper's, with values. Right:
ours per subset, with each subset's number of pairs; the paper's value beside ours only where its subset is the same
source (real Multifaceted data), never beside a constructed subset of another name."""
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from endorm.io import atomic_path  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.tables.common import error_bars  # noqa: E402

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
PAPER_STYLE = {"alpha": 0.45, "hatch": "///", "edgecolor": "black", "linewidth": 0.5}


def whiskers(color):
    """A darker shade of the method's colour: visible on its bar, and it names the method where the bar is 0."""
    return {"capsize": 2, "error_kw": {"lw": 0.9, "ecolor": tuple(0.55 * c for c in to_rgb(color))}}


with redirect_to(snakemake.log[0]):
    with open(snakemake.input.csv) as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        methods = [c for c in fields if c not in ("source", "subset", "n") and not c.endswith(("_lo", "_hi"))]
        rows = list(reader)
    ours = [r for r in rows if r["source"].startswith("ours")]
    paper = {r["subset"]: r for r in rows if r["source"].startswith("paper")}
    paper_source = next(r["source"] for r in rows if r["source"].startswith("paper"))
    val = lambda r, k: float(r[k]) if r and r.get(k) else float("nan")  # noqa: E731
    average = next(r for r in ours if r["subset"] == "Average")
    subsets = [r for r in ours if r["subset"] != "Average"]
    same_sources = any(r["subset"] in paper for r in subsets)

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15, 5.8), sharey=True,
                                 gridspec_kw={"width_ratios": [1, max(1.5, 0.35 * len(subsets))]})
    # Left: one group per method, ours (with its interval) and the paper's, each labelled with its value.
    for k, m in enumerate(methods):
        color = COLORS[k % len(COLORS)]
        v, (below, above) = val(average, m), error_bars([average], m)
        ax.bar(k - 0.2, v, 0.4, color=color, yerr=[below, above], **whiskers(color))
        ax.text(k - 0.2, (v + above[0] if v == v else 0) + 1.5, f"{v:.1f}", ha="center", fontsize=7)
        pv = val(paper.get("Average"), m)
        if pv == pv:
            ax.bar(k + 0.2, pv, 0.4, color=color, **PAPER_STYLE)
            ax.text(k + 0.2, pv + 1.5, f"{pv:.1f}", ha="center", fontsize=7, style="italic")
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(methods, rotation=30, ha="right", fontsize=8)
    ax.set_title(f"Average over all pairs (ours: n={average['n']} pairs)\nleft bar ours, right bar the paper's",
                 fontsize=9)
    ax.set_ylabel("accuracy (%): chosen scored above rejected")

    # Right: one group per subset, a bar per method; no values (the intervals say how far to trust each bar).
    width = 0.8 / (len(methods) * (2 if same_sources else 1))
    for k, m in enumerate(methods):
        color = COLORS[k % len(COLORS)]
        slot = 2 * k if same_sources else k
        offset = (slot - (0.8 / width - 1) / 2) * width
        bx.bar([i + offset for i in range(len(subsets))], [val(r, m) for r in subsets], width, color=color,
               yerr=error_bars(subsets, m), **whiskers(color))
        if same_sources:
            bx.bar([i + offset + width for i in range(len(subsets))], [val(paper.get(r["subset"]), m) for r in subsets],
                   width, color=color, **PAPER_STYLE)
    bx.set_xticks(range(len(subsets)))
    bx.set_xticklabels([f"{r['subset']}\n(n={r['n']})" for r in subsets], rotation=30, ha="right", fontsize=8)
    bx.set_title("Ours per subset (n: pairs per subset)" + (
        "; hatched: the paper's value for the same source" if same_sources else
        "\nthe paper's subsets are other sources, so only its average is shown (left)"), fontsize=9)

    for a in (ax, bx):
        a.axhline(50, color="grey", lw=0.9, ls=":")
        a.set_ylim(0, 112)
        a.set_yticks(range(0, 101, 20))
        a.grid(axis="y", alpha=0.25)
    handles = [Patch(color=COLORS[k % len(COLORS)], label=m) for k, m in enumerate(methods)]
    handles += [Line2D([], [], color="#444444", lw=0.9, marker="_", markersize=6,
                       label="whisker: 95% Wilson interval of ours (pairs as independent trials)"),
                Patch(facecolor="white", **PAPER_STYLE, label=f"hatched: {paper_source}, printed without interval"),
                Line2D([], [], color="grey", lw=0.9, ls=":",
                       label="50%: a coin flip (ties count as losses, so a judge that often ties falls below it)")]
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=len(methods), frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"Figure 1: preferring the response written for the given system message; {ours[0]['source']}")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=130, format="png", bbox_inches="tight")
