"""Does RL sharpen? The RL policy and the initial model (at several temperatures) sample completions for the same RL
prompts; the per-token entropy of each sampling distribution and the samples' log-likelihood under the frozen
initial model (endorm.rl.sharpening; the table: endorm.tables.analysis_tables). Writes the conditions as JSON, CSV and
Markdown, and the completions as JSONL."""
import time
from pathlib import Path

import torch

from endorm.tables.analysis_tables import build_sharpening
from endorm.data.assets import model_provenance
from endorm.gpus import claim
from endorm.io import read_json, write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.options import prompt_format
from endorm.core.reward import RewardOptions
from endorm.rl.train import load_prompts
from endorm.rl.sharpening import advantage_scaling, measure, optimum_temperature
from endorm.tables.common import write_tables

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

    table = build_sharpening(summary, run, rl)
    write_tables(snakemake.output.csv, snakemake.output.md, **table)
    print("\n".join(table["header"][2:]))
