"""Does RL sharpen? Left: the plane (per-token entropy of the sampling policy, per-token log-likelihood under the
initial model): the initial model at several temperatures traces a curve, the RL policy is one point. Right: the
initial model's entropy against temperature, the RL policy's entropy, and the theoretical optimum's temperature."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from endorm.io import atomic_path, read_json  # noqa: E402
from endorm.logs import redirect_to  # noqa: E402

with redirect_to(snakemake.log[0]):
    res = read_json(snakemake.input.json)
    base = sorted((c for c in res["conditions"] if c["model"] == "base"), key=lambda c: c["temperature"])
    rl = next(c for c in res["conditions"] if c["model"] == "rl")
    t_star = res["optimum_temperature"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 6.0))

    # The RL point often falls on the initial model's point at the same temperature, and the interpolated match has
    # the RL policy's entropy by construction. No point is moved; they are nested instead (a large hollow star for RL,
    # a smaller hollow diamond for the match, the initial model's filled dot on top), so each stays visible.
    ax.errorbar([rl["entropy"]], [rl["loglik"]], xerr=[rl["entropy_se"]], yerr=[rl["loglik_se"]], color="#d62728",
                marker="*", markersize=22, markerfacecolor="none", markeredgewidth=1.6, ecolor=(0.84, 0.15, 0.16, 0.35),
                elinewidth=5, capsize=0, linestyle="none", zorder=2,
                label=f"RL policy ({res['rl_steps']} steps, sampled at T={rl['temperature']:g})")
    ax.errorbar([c["entropy"] for c in base], [c["loglik"] for c in base], xerr=[c["entropy_se"] for c in base],
                yerr=[c["loglik_se"] for c in base], color="#555555", marker="o", markersize=5, capsize=2, lw=1.2,
                zorder=3, label="initial model at temperature T")
    for c in base:
        ax.annotate(f"T={c['temperature']:g}", (c["entropy"], c["loglik"]), textcoords="offset points",
                    xytext=(8, 5), fontsize=8, color="#555555")
    ax.annotate("RL", (rl["entropy"], rl["loglik"]), textcoords="offset points", xytext=(-14, -16), fontsize=8,
                color="#d62728", fontweight="bold")
    for m in res["matches"]:
        ax.plot([rl["entropy"]], [m["loglik"]], marker="D", color="#1f77b4", markersize=9, markeredgewidth=1.5,
                markerfacecolor="none", linestyle="none", zorder=2.5,
                label=f"initial model at the RL policy's entropy (T={m['temperature']:.2f}, interpolated)")
    pd = res["paired"]
    ax.text(0.98, 0.98, f"RL minus initial model at T={rl['temperature']:g}, paired\n(same random numbers; "
            f"{pd['identical']} of {pd['pairs']} samples identical):\nentropy {pd['entropy_diff']:+.3f} ± "
            f"{pd['entropy_diff_se']:.3f}, log-lik. {pd['loglik_diff']:+.3f} ± {pd['loglik_diff_se']:.3f} nats/token",
            transform=ax.transAxes, ha="right", va="top", fontsize=7,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "edgecolor": "#cccccc"})
    ax.set_xlabel("per-token entropy of the sampling policy (nats)")
    ax.set_ylabel("per-token log-likelihood under the initial model (nats)")
    ax.set_title("sharpening traces the grey curve; a sharpened base model lies on it\n"
                 "whiskers: ±1 standard error over completions (a rough scale: samples of one prompt are related)",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False, markerscale=0.7)

    temps = [c["temperature"] for c in base]
    bx.plot(temps, [c["entropy"] for c in base], color="#555555", marker="o", label="initial model")
    bx.axhline(rl["entropy"], color="#d62728", linestyle="--",
               label=f"RL policy at T={rl['temperature']:g}: {rl['entropy']:.3f} nats")
    bx.axvline(t_star, color="#2ca02c", linestyle=":",
               label=f"optimum pi ∝ pi_0^(1+alpha/beta): T* = beta/(alpha+beta) = {t_star:.4f}")
    if res.get("effective_optimum_temperature") is not None and res.get("advantage_scaling") != "none":
        bx.axvline(res["effective_optimum_temperature"], color="#2ca02c", linestyle="--", alpha=0.8,
                   label=f"with the run's advantage scaling by sigma = {res['reward_sigma']:.1f}: "
                         f"T* = beta sigma/(alpha + beta sigma) = {res['effective_optimum_temperature']:.3f}")
    for m in res["matches"]:
        bx.axvline(m["temperature"], color="#1f77b4", linestyle="-.", alpha=0.7,
                   label=f"same entropy as RL: T = {m['temperature']:.3f}")
    bx.set_xlim(0, max(temps) * 1.05)
    bx.set_ylim(0, 1.3 * max([c["entropy"] for c in base] + [rl["entropy"]]))
    bx.set_xlabel("sampling temperature T of the initial model")
    bx.set_ylabel("per-token entropy (nats)")
    bx.set_title("T* is a sequence-level temperature; per-token T is its nearest sampler", fontsize=9)
    bx.grid(alpha=0.3)
    bx.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
    fig.suptitle(f"Does RL on the endogenous reward sharpen the initial model? {res['prompts']} RL prompts x "
                 f"{res['samples_per_prompt']} samples per condition, up to {res['max_new_tokens']} tokens, "
                 f"beta {res['beta']:g}, alpha {res['alpha']:g}", fontsize=10)
    fig.tight_layout()
    with atomic_path(snakemake.output[0]) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
