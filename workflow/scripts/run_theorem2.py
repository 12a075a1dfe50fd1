"""Theorem 2 on a synthetic token MDP with a known expert: the sweep (endorm.analysis.theory), its tables
(endorm.tables.theory_tables) and figure."""
import importlib.metadata as md
import platform
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import torch  # noqa: E402

from endorm.analysis import theory  # noqa: E402
from endorm.io import atomic_path, write_json, write_text  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.tables.common import to_csv  # noqa: E402
from endorm.tables.theory_tables import build_theorem2, slope_text  # noqa: E402


def plot(result, path):
    spec = result["spec"]
    hs = spec["horizons"]
    panels = result["mdps"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5.4), squeeze=False, sharey=True)
    blue, orange = "#1f77b4", "#d95f02"
    eps0 = spec["worst_case_eps"]
    for ax, m in zip(axes[0], panels):
        rows, sl = m["rows"], m["slopes"]
        for seed in m["per_seed"]["gap_imitation"]:
            ax.scatter([h for h, v in zip(hs, seed) if v != 0], [abs(v) for v in seed if v != 0], s=6, color=blue,
                       alpha=0.2, linewidths=0)
        ax.plot(hs, [r["abs_gap_imitation"] for r in rows], "o-", color=blue, lw=1.8)
        worst = [r["gap_imitation_worst"] for r in rows]
        ax.plot(hs, worst, "s--", color=blue, lw=1.2, ms=4, mfc="white")
        ax.plot(hs, [-r["gap_rl"] for r in rows], "^-", color=orange, lw=1.5, mfc="white")
        regret = [(h, r["regret_rl"]) for h, r in zip(hs, rows) if r["regret_rl"] > 0]
        if regret:
            ax.plot(*zip(*regret), "x", color=orange, ms=7, mew=1.5)
        for k, style in ((1, ":"), (2, "-.")):
            ax.plot([hs[0], hs[-1]], [worst[0] * (h / hs[0]) ** k for h in (hs[0], hs[-1])], style, color="grey",
                    lw=1.0)
        zeros = sum(r["regret_rl"] == 0 for r in rows)
        text = "\n".join([
            "fitted slopes:",
            f"imitation fit, mean |gap|: {slope_text(sl['abs_gap_imitation'])}",
            f"imitation worst case: {slope_text(sl['gap_imitation_worst'])}, "
            f"last pair {m['local_slopes']['gap_imitation_worst'][-1]:.2f}",
            f"RL above the expert: {slope_text(sl['minus_gap_rl'])}",
            "RL regret to $\\pi^*$: " + (f"0 at {zeros} of {len(hs)} H" if zeros else
                                           slope_text(sl["regret_rl"])),
        ])
        ax.text(0.98, 0.03, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5,
                bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.75))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(hs)
        ax.set_xticklabels([str(h) for h in hs])
        ax.set_xlabel("horizon H (response tokens)")
        mean_eps = sum(r["eps"] for r in rows) / len(rows)
        ax.set_title(f"{m['name']}: expert entropy {m['expert_entropy_per_step']:.2f} nats/step, "
                     f"fitted $\\varepsilon$ = {mean_eps:.2f}", fontsize=9.5)
        ax.grid(alpha=0.3, which="major")
    axes[0][0].set_ylabel("true-reward gap to the expert (exact)")
    handles = [
        Line2D([], [], color=blue, marker="o", lw=1.8,
               label="imitation (next-token fit): mean |$J(\\pi_E) - J(\\hat\\pi)$|; dots: single seeds"),
        Line2D([], [], color=blue, marker="s", ls="--", mfc="white", lw=1.2,
               label=f"imitation, worst case within $\\varepsilon$ = {eps0} of the expert (exact)"),
        Line2D([], [], color=orange, marker="^", mfc="white", lw=1.5,
               label="RL on $\\hat r$: $J(\\pi_{RL}) - J(\\pi_E)$ (its gap to the expert is negative)"),
        Line2D([], [], color=orange, marker="x", ls="none", mew=1.5,
               label="RL on $\\hat r$: regret $J(\\pi^*) - J(\\pi_{RL})$ to the optimum for $r^*$ (where > 0)"),
        Line2D([], [], color="grey", ls=":", label="slope 1 (reference)"),
        Line2D([], [], color="grey", ls="-.", label="slope 2 (reference)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8.5, frameon=False)
    fig.suptitle("Theorem 2: imitation gap $\\lesssim H^2\\varepsilon$, gap of RL on the endogenous reward "
                 f"$\\lesssim H\\varepsilon$ (alpha = {spec['alpha']}, {spec['seeds']} seeds, "
                 f"{spec['tokens']} expert tokens per fit)", fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=130, format="png")


with redirect_to(snakemake.log[0]):
    torch.set_num_threads(int(snakemake.threads))
    spec = theory.Theorem2Spec.from_config(snakemake.params.theory)
    result = theory.run_theorem2(spec)
    versions = {name: md.version(name) for name in ("torch", "matplotlib")}
    result["provenance"] = {"python": sys.version.split()[0], "platform": platform.platform(), **versions,
                            "threads": int(snakemake.threads)}
    print(f"theory: {result['seconds']:.1f} s for {len(spec.mdps)} MDPs x {len(spec.horizons)} horizons x "
          f"{spec.seeds} seeds")
    write_json(snakemake.output.json, result)
    tables = build_theorem2(result)
    write_text(snakemake.output.csv, to_csv(tables["columns"], tables["rows"]))
    write_text(snakemake.output.md, tables["markdown"])
    plot(result, snakemake.output.png)
