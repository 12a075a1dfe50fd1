# RL on the model's own endogenous reward (paper Q3): the initial policy, frozen, scores its own samples (TRL GRPO or
# RLOO). One GPU job (several GPUs of one node at paper scale, through `accelerate launch`), or plain Python on a CPU.
RL = config["rl"]


rule prepare_rl_prompts:
    input:
        policy=model_dir("{policy}"),
    output:
        rows=f"{OUT}/rl/{{policy}}/prompts.jsonl",
        meta=f"{OUT}/rl/{{policy}}/prompts.meta.json",
    params:
        data=RL["data"],
        instruction=RL["instruction"],
        system_prompt=RL["system_prompt"],
        max_prompt_tokens=RL["max_prompt_tokens"],
    log:
        f"logs/prepare_rl_prompts/{RUN}-{{policy}}.log",
    benchmark:
        f"benchmarks/prepare_rl_prompts/{RUN}-{{policy}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_rl_prompts.py"


rule train_rl:
    input:
        policy=model_dir("{policy}"),
        reward_model=lambda wc: model_dir(RL["reward_model"] or wc.policy),
        prompts=rules.prepare_rl_prompts.output.rows,
    output:
        checkpoint=directory(f"{OUT}/rl/{{policy}}/checkpoint"),
        log_table=f"{OUT}/rl/{{policy}}/train_log.csv",
        samples=f"{OUT}/rl/{{policy}}/train_samples.jsonl",
    params:
        rl={k: v for k, v in RL.items() if k != "enabled"},
        compute=COMPUTE,
        reward=config["reward"],
        format=config["format"],
        accelerate_config=(
            os.path.join(workflow.basedir, RL["accelerate_config"]) if RL["launcher"] == "accelerate" else None
        ),
    threads: COMPUTE["threads"]
    resources:
        # GPUs of the RL job: rl.gpus at paper scale (one node, accelerate), none on the embedded default
        gpu=gpu_request(
            RL["gpus"] if COMPUTE["gpu_mem_mb"] else 0,
            f"rl.gpus is {RL['gpus']}: the GPUs of one node hold {RL['policy']}'s float32 master weights, gradients "
            "and AdamW moments (sharded over them by FSDP), TRL's reference copy and the frozen reward model, and "
            "the batch is rl.trainer's per_device_train_batch_size x gradient_accumulation_steps x GPUs",
            f"Pass --resources gpu={RL['gpus']} on a node with {RL['gpus']} GPUs or use the SLURM profile "
            "(docs/cluster.md); lower rl.gpus only if fewer GPUs hold the model (it also shrinks the batch); or "
            "leave RL out by naming the outputs you want as targets.",
        ),
        mem_mb=RL["mem_mb"],
        runtime=RL["runtime_min"],
    log:
        f"logs/train_rl/{RUN}-{{policy}}.log",
    benchmark:
        f"benchmarks/train_rl/{RUN}-{{policy}}.tsv"
    conda:
        "../envs/rl.yaml"
    script:
        "../scripts/train_rl.py"


rule plot_training_curves:
    input:
        log_table=rules.train_rl.output.log_table,
    output:
        report(
            f"{OUT}/rl/{{policy}}/training_curves.png",
            caption="../report/training_curves.rst",
            category="Table 3: RL on the endogenous reward",
            labels={"figure": "training curves"},
        ),
    params:
        algorithm=RL["algorithm"],
    log:
        f"logs/plot_training_curves/{RUN}-{{policy}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/plot_training_curves.py"


# Does RL sharpen? The RL policy's per-token entropy and its samples' log-likelihood under the
# frozen initial model, against the initial model sampled at several temperatures on the same RL prompts.
rule measure_sharpening:
    input:
        base=model_dir("{policy}"),
        checkpoint=rules.train_rl.output.checkpoint,
        prompts=rules.prepare_rl_prompts.output.rows,
    output:
        json=f"{OUT}/rl/{{policy}}/sharpening.json",
        samples=f"{OUT}/rl/{{policy}}/sharpening_samples.jsonl",
        csv=report(
            f"{OUT}/rl/{{policy}}/sharpening.csv",
            caption="../report/sharpening.rst",
            category="Table 3: RL on the endogenous reward",
            labels={"table": "sharpening", "format": "CSV"},
        ),
        md=report(
            f"{OUT}/rl/{{policy}}/sharpening.md",
            caption="../report/sharpening.rst",
            category="Table 3: RL on the endogenous reward",
            labels={"table": "sharpening", "format": "Markdown"},
        ),
    params:
        sharpening=RL.get("sharpening"),
        rl={
            **{k: RL["trainer"][k] for k in ("temperature", "beta", "max_completion_length")},
            **{k: RL[k] for k in ("dtype", "reward_model")},
        },
        compute=COMPUTE,
        reward=config["reward"],
        format=config["format"],
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=RL["sharpening"]["runtime_min"] if subsection("rl", "sharpening") else 60,
    log:
        f"logs/measure_sharpening/{RUN}-{{policy}}.log",
    benchmark:
        f"benchmarks/measure_sharpening/{RUN}-{{policy}}.tsv"
    conda:
        "../envs/rl.yaml"
    script:
        "../scripts/measure_sharpening.py"


rule plot_sharpening:
    input:
        json=rules.measure_sharpening.output.json,
    output:
        report(
            f"{OUT}/rl/{{policy}}/sharpening.png",
            caption="../report/sharpening_figure.rst",
            category="Table 3: RL on the endogenous reward",
            labels={"figure": "sharpening"},
        ),
    log:
        f"logs/plot_sharpening/{RUN}-{{policy}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/plot_sharpening.py"
