"""Theorem 2 on a synthetic token MDP with a known expert: the sweep, its tables and figure."""
import importlib.metadata as md
import math
import platform
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import torch  # noqa: E402

from endorm import theory  # noqa: E402
from endorm.io import atomic_path, write_json, write_text  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402
from endorm.tables import to_csv  # noqa: E402


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
            f"imitation fit, mean |gap|: {theory._slope_text(sl['abs_gap_imitation'])}",
            f"imitation worst case: {theory._slope_text(sl['gap_imitation_worst'])}, "
            f"last pair {m['local_slopes']['gap_imitation_worst'][-1]:.2f}",
            f"RL above the expert: {theory._slope_text(sl['minus_gap_rl'])}",
            f"RL regret to $\\pi^*$: " + (f"0 at {zeros} of {len(hs)} H" if zeros else
                                           theory._slope_text(sl["regret_rl"])),
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
    header = [
        "# Theorem 2 on a synthetic token MDP with a known expert",
        "",
        "Claim (the paper's Theorem 2): with eps = max |log pi_E - log pi_hat| over every step, state and action, "
        "the model trained by next-token prediction has true-reward gap V(pi_E) - V(pi_hat) <~ H^2 eps, and RL on "
        "its endogenous reward (pi_RL = argmax V under r_hat) has V(pi_E) - V(pi_RL) <~ H eps.",
        "",
        f"Setup: bigram token MDPs (state = step and last token), a stationary expert soft-optimal for "
        f"r* = alpha log pi_E + Phi(s) - Phi(s') (alpha = {spec.alpha}, random Phi), a bigram model fit by "
        f"next-token prediction (add-{spec.smoothing} prior) on "
        + (f"{spec.demonstrations} demonstrations" if spec.demonstrations else
           f"ceil({spec.tokens} / H) demonstrations (the same {spec.tokens} expert tokens at every H, so eps stays "
           "about fixed)")
        + f", its endogenous reward (terminal {spec.terminal}), pi_RL solved exactly by dynamic programming "
        "(unregularised, as in the theorem), every return computed exactly. "
        f"{spec.seeds} seeds per H; {result['seconds']:.1f} s on {int(snakemake.threads)} CPU thread(s), "
        f"torch {versions['torch']}.",
    ]
    notes = [
        "J is the unregularised true return. Since r* = alpha log pi_E + shaping, J(pi) = const + alpha "
        "E_pi[log pi_E(tau)]: imitation's gap is alpha [Ent(pi_hat) - Ent(pi_E) + KL(pi_hat||pi_E)] and its "
        "entropy-regularised gap is alpha KL <= alpha H eps (linear in H).",
        "Imitation (fitted): the sign of each seed's gap is random (an unbiased fit errs both ways); the theorem "
        "bounds its size, so the slope is fitted to the mean |gap|.",
        "Worst case: the exact largest imitation gap of any policy within eps of the expert at every step and "
        "state (dynamic programming with a linear programme per state): the tight form of the H^2 eps bound here.",
        "RL on r_hat (hard) returns the most likely sequences under pi_hat. Its gap to the expert is negative at "
        "every H: a deterministic policy beats the stochastic expert on the unregularised return by about the "
        "expert's entropy, whatever eps is. Its eps-driven part is the regret to pi*, the optimum for r*; it is "
        "bounded by 2 alpha H eps, checked for every fit. Soft RL with the same alpha returns pi_hat itself.",
    ]
    write_text(snakemake.output.csv, to_csv(*theory.csv_table(result)))
    write_text(snakemake.output.md, theory.markdown_report(result, header) + "\n"
               + "\n".join(f"* {n}" for n in notes) + "\n")
    plot(result, snakemake.output.png)
