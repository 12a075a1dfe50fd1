"""Writes the run's RLSpec and starts `python -m endorm.rl.train` (or `accelerate launch` on several GPUs) as a child
process, so the trainer owns its process (and, with accelerate, its ranks)."""
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from endorm.gpus import claim
from endorm.rl.train import RLSpec

spec = RLSpec.from_config(
    snakemake.params.rl, snakemake.params.compute, reward=snakemake.params.reward, fmt=snakemake.params.format,
    threads=snakemake.threads, policy=snakemake.input.policy, reward_model=snakemake.input.reward_model,
    prompts=snakemake.input.prompts, output_dir=snakemake.output.checkpoint, log_table=snakemake.output.log_table,
    samples=snakemake.output.samples,
)
spec_path = Path(snakemake.output.checkpoint).with_name("rl_spec.json")
spec_path.write_text(json.dumps(asdict(spec), indent=1))
gpus = int(snakemake.resources.get("gpu", 0) or 0)
claim(gpus)  # local multi-GPU runs: distinct devices per job (no-op under SLURM)
if snakemake.params.accelerate_config and gpus > 0:
    argv = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", snakemake.params.accelerate_config,
            "--num_processes", str(gpus), "-m", "endorm.rl.train", str(spec_path)]
else:
    argv = [sys.executable, "-m", "endorm.rl.train", str(spec_path)]
env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
with open(snakemake.log[0], "w") as log:
    log.write("$ " + " ".join(argv) + "\n")
    log.flush()
    code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
if code:
    raise SystemExit(f"RL training failed (exit {code}); see {snakemake.log[0]}")
