"""The RL section's TRL settings (rl.trainer, under TRL's names): the TRL config each shipped configuration builds,
field by field, and the configuration check's view of TRL's fields."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from conftest import ROOT
from endorm.configcheck import trl_config_fields
from endorm.rl.train import RLSpec, trainer_config

# Each configuration's GRPOConfig written out in full: the values it trains with (merged over config/config.yaml),
# and the fields endorm sets itself. A change to any of them shows here as the field that moved.
RUNS = {
    "config/config.yaml": dict(max_steps=8, learning_rate=1e-5, per_device_train_batch_size=8,
                               gradient_accumulation_steps=1, num_generations=4, max_completion_length=64, beta=0.01,
                               temperature=1.0, seed=0, gradient_checkpointing=False),
    "config/qwen.yaml": dict(max_steps=20, learning_rate=2e-6, per_device_train_batch_size=4,
                             gradient_accumulation_steps=1, num_generations=4, max_completion_length=256, beta=0.01,
                             temperature=1.0, seed=0, gradient_checkpointing=False),
    "config/paper.yaml": dict(max_steps=200, learning_rate=1e-6, per_device_train_batch_size=16,
                              gradient_accumulation_steps=4, num_generations=8, max_completion_length=1024, beta=0.01,
                              temperature=1.0, seed=0, gradient_checkpointing=True),
    "config/rehearsal.yaml": dict(max_steps=2, learning_rate=1e-6, per_device_train_batch_size=4,
                                  gradient_accumulation_steps=1, num_generations=2, max_completion_length=32,
                                  beta=0.01, temperature=1.0, seed=0, gradient_checkpointing=True, optim="sgd"),
}


def merged_config(path: str) -> dict:
    """config/config.yaml with ``path`` merged over it and the schema's defaults filled in, as Snakemake does."""
    from snakemake.utils import update_config, validate

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    if path != "config/config.yaml":
        update_config(config, yaml.safe_load((ROOT / path).read_text()))
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
    return config


def written_out(values: dict, output_dir: str) -> dict:
    """The GRPOConfig keyword arguments of a run on one CPU: ``values`` and endorm's own settings."""
    return dict(values, output_dir=output_dir, data_seed=values["seed"], logging_steps=1, save_strategy="no",
                report_to=[], reward_weights=[1.0, 0.0], use_cpu=True, bf16=False, disable_tqdm=False,
                dataloader_num_workers=0)


@pytest.mark.parametrize("path", sorted(RUNS))
def test_shipped_config_builds_its_trl_config(path, tmp_path):
    from trl import GRPOConfig

    config = merged_config(path)
    compute = dict(copy.deepcopy(config["compute"]), device="cpu")  # the same config on any machine
    out = tmp_path / "checkpoint"
    spec = RLSpec.from_config(config["rl"], compute, reward=config["reward"], fmt=config["format"], threads=1,
                              policy="p", reward_model="p", prompts="x.jsonl", output_dir=str(out),
                              log_table="log.csv", samples="samples.jsonl")
    got = trainer_config(spec).to_dict()
    want = GRPOConfig(**written_out(RUNS[path], str(tmp_path / "checkpoint.trainer"))).to_dict()
    assert {k: (got[k], want[k]) for k in want if got[k] != want[k]} == {}
    # endorm's own rollout setting: only the Qwen run samples its rollouts from a bfloat16 copy of the policy
    assert spec.rollout_dtype == ("bfloat16" if path == "config/qwen.yaml" else None)


@pytest.mark.parametrize("algorithm,cls", [("grpo", "GRPOConfig"), ("rloo", "RLOOConfig")])
def test_config_check_reads_trl_fields_from_its_source(algorithm, cls):
    """The check reads TRL's fields without importing TRL (every job checks the config); they are the ones the
    installed TRL's constructor takes."""
    import trl

    fields = {f.name for f in dataclasses.fields(getattr(trl, cls)) if f.init}
    assert set(trl_config_fields(algorithm)) == fields
    assert {"max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "num_generations",
            "max_completion_length", "beta", "temperature", "seed", "gradient_checkpointing"} <= fields

