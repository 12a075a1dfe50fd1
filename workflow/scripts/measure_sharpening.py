"""Does RL sharpen? The RL policy and the initial model (at several temperatures) sample completions for the same RL
prompts; the per-token entropy of each sampling distribution and the samples' log-likelihood under the frozen
initial model (endorm.sharpening). Writes the conditions as JSON, CSV and Markdown, and the completions as JSONL."""
import time
from pathlib import Path

import torch

from endorm.assets import model_provenance
from endorm.gpus import claim
from endorm.io import read_json, write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.options import prompt_format
from endorm.reward import RewardOptions
from endorm.rltrain import load_prompts
from endorm.sharpening import advantage_scaling, measure, optimum_temperature
from endorm.tables import write_tables

p = snakemake.params
with redirect_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    if p.compute["device"] in ("auto", "cuda"):
        claim(1)  # local multi-GPU runs: one distinct GPU per job (no-op under SLURM or without GPUs)
    sh, rl, comp = p.sharpening, p.rl, p.compute
    rows = load_prompts(snakemake.input.prompts)[: int(sh["prompts"])]
    reward = RewardOptions(**p.reward)
    max_new = int(sh["max_new_tokens"] or rl["max_completion_length"])
    t0 = time.perf_counter()
    res = measure(snakemake.input.base, snakemake.input.checkpoint, rows, temperatures=sh["temperatures"],
                  policy_temperature=float(rl["temperature"]), samples=int(sh["samples"]), max_new_tokens=max_new,
                  seed=int(sh["seed"]), batch_size=int(sh["batch_size"]), reward=reward,
                  fmt=prompt_format(p.format), dtype=rl["dtype"] or comp["dtype"],
                  device=None if comp["device"] == "auto" else comp["device"], batch_tokens=comp["batch_tokens"])
    seconds = time.perf_counter() - t0
    run = read_json(Path(snakemake.input.checkpoint) / "endorm_rl.json")
    t_star = optimum_temperature(reward.alpha, float(rl["beta"]))
    # The RL run's advantage scaling divides E[R] by the reward's standard deviation: the optimum it aims at is milder
    # (measured on the RL policy's own samples, so approximate: sigma shrinks as the policy sharpens).
    scaling = advantage_scaling(run.get("trainer_config", {}))
    rl_row = res["conditions"][0]
    sigma = {"group": rl_row["reward_std_group"], "batch": rl_row["reward_std_batch"], "none": 1.0}[scaling]
    t_eff = optimum_temperature(reward.alpha, float(rl["beta"]), sigma) if sigma == sigma and sigma > 0 else None
    completions = res.pop("completions")
    summary = {**res, "optimum_temperature": t_star, "advantage_scaling": scaling, "reward_sigma": sigma,
               "effective_optimum_temperature": t_eff, "alpha": reward.alpha, "beta": float(rl["beta"]),
               "reward": p.reward, "prompts": len(rows), "samples_per_prompt": int(sh["samples"]),
               "max_new_tokens": max_new, "seed": int(sh["seed"]), "rl_steps": run["steps"],
               "rl_temperature": float(rl["temperature"]), "rl_reward_model": rl["reward_model"],
               "base": model_provenance(snakemake.input.base), "seconds": round(seconds, 2)}
    write_json(snakemake.output.json, summary)
    write_jsonl(snakemake.output.samples, completions)

    f3 = lambda v: f"{v:.3f}"  # noqa: E731
    columns = ["policy", "temperature", "entropy", "entropy_se", "loglik", "loglik_se", "loglik_seq", "reward",
               "reward_std_group", "length", "finished", "completions", "tokens"]
    table = [{"policy": "RL policy" if c["model"] == "rl" else "initial model", "temperature": f"{c['temperature']:g}",
              **{k: f3(c[k]) for k in ("entropy", "entropy_se", "loglik", "loglik_se", "loglik_seq", "reward",
                                       "reward_std_group", "length", "finished")},
              "completions": c["completions"], "tokens": c["tokens"]} for c in res["conditions"]]
    pd = res["paired"]
    if res["matches"]:
        match = "; ".join(f"T = {m['temperature']:.3f}: log-likelihood {m['loglik']:.3f} nats/token (RL policy: "
                          f"{rl_row['loglik']:.3f}, difference {rl_row['loglik'] - m['loglik']:+.3f})"
                          for m in res["matches"])
    else:
        match = "none: the RL policy's entropy is outside the initial model's measured curve"
    header = [
        "# Does RL sharpen? The RL policy against the initial model sampled at several temperatures",
        "",
        f"* RL policy after {run['steps']} steps ({run['trainer']}, KL coefficient beta {rl['beta']}), sampled at its "
        f"training temperature {rl['temperature']:g}; the initial model at each temperature listed. {len(rows)} RL "
        f"prompts (the first of prompts.jsonl) x {sh['samples']} completions per condition, at most {max_new} new "
        f"tokens, plain temperature sampling (top-k 0, top-p 1), torch seed {sh['seed']} for every condition.",
        "* entropy: per-token entropy (nats) of the distribution each token was drawn from, averaged over all tokens; "
        "loglik: per-token log-likelihood (nats) of the samples under the frozen initial model at temperature 1; "
        "loglik_seq: summed per completion; reward: the endogenous reward (alpha "
        f"{reward.alpha:g}, terminal {reward.terminal}, {reward.aggregation}); finished: share ending with an "
        "end-of-turn token; _se: standard error over completions (samples of one prompt are not independent).",
        f"* The KL-regularised optimum of RL on this reward is pi ∝ pi_0^(1 + alpha/beta): the initial model sharpened "
        f"to sequence-level temperature beta/(alpha+beta) = {t_star:.4f}. The RL run scaled advantages by "
        f"'{scaling}'" + (f" (reward standard deviation {sigma:.1f} on the RL policy's samples), so the optimum it "
                          f"aims at is pi ∝ pi_0^(1 + alpha/(beta sigma)): temperature {t_eff:.3f}" if scaling != "none"
                          and t_eff is not None else "") + ".",
        f"* Temperature at which the initial model's entropy equals the RL policy's ({rl_row['entropy']:.3f}), by "
        f"linear interpolation: {match}.",
        f"* Paired with the initial model at T={rl['temperature']:g} (same prompts, layout and seed, so the same "
        f"random numbers; {pd['identical']} of {pd['pairs']} completions are token for token the same): RL minus "
        f"initial, per completion: entropy {pd['entropy_diff']:+.3f} (SE {pd['entropy_diff_se']:.3f}) nats/token, "
        f"log-likelihood {pd['loglik_diff']:+.3f} (SE {pd['loglik_diff_se']:.3f}) nats/token.",
    ]
    write_tables(snakemake.output.csv, snakemake.output.md, columns, table, header)
    print("\n".join(header[2:]))
