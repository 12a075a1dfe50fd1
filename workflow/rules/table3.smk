# Table 3 (paper Q3): zero-shot math evaluation of the base and the RL model with lm-eval, on the task YAMLs in
# workflow/lm_eval_tasks ({task}: one math benchmark; {variant}: base or rl); with math_eval.controls, the controls
# that need no training ({temperature}: a sampling temperature of the base model; best-of-N).
MATH = config["math_eval"]
CONTROLS = math_controls()
RL_TEMPERATURE = f"{float(config['rl']['trainer']['temperature']):g}"


rule prepare_math_eval:
    output:
        rows=f"{OUT}/math/data/{{task}}.jsonl",
        meta=f"{OUT}/math/data/{{task}}.meta.json",
    params:
        source=lambda wc: math_benchmarks()[wc.task],
    log:
        f"logs/prepare_math_eval/{RUN}-{{task}}.log",
    benchmark:
        f"benchmarks/prepare_math_eval/{RUN}-{{task}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_math_eval.py"


rule evaluate_math:
    input:
        model=evaluated_model,
        rows=outputs_of(rules.prepare_math_eval, "rows", task=list(math_benchmarks())),
    output:
        summary=f"{OUT}/math/{{policy}}/{{variant}}/summary.json",
        samples=f"{OUT}/math/{{policy}}/{{variant}}/samples.jsonl",
    params:
        tasks=list(math_benchmarks()),
        opts=eval_opts(),
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=MATH["runtime_min"],
    log:
        f"logs/evaluate_math/{RUN}-{{policy}}-{{variant}}.log",
    benchmark:
        f"benchmarks/evaluate_math/{RUN}-{{policy}}-{{variant}}.tsv"
    conda:
        "../envs/matheval.yaml"
    script:
        "../scripts/evaluate_math.py"


# Table 3's controls: the base model sampled with lm-eval (same tasks, prompts, chat template, stop
# strings, token limit and grader as the greedy rows; `repeats` samples per problem, seeded), then best-of-N by the
# frozen reward model's endogenous reward over the rl.trainer.temperature samples.
rule sample_math:
    input:
        model=model_dir("{policy}"),
        rows=outputs_of(rules.prepare_math_eval, "rows", task=list(math_benchmarks())),
    output:
        summary=f"{OUT}/math/{{policy}}/controls/base-t{{temperature}}/summary.json",
        samples=f"{OUT}/math/{{policy}}/controls/base-t{{temperature}}/samples.jsonl",
    params:
        tasks=list(math_benchmarks()),
        opts=lambda wc: eval_opts(limit=control_limit(), batch_size=CONTROLS["batch_size"] or MATH["batch_size"]),
        sampling=lambda wc: {
            "temperature": control_temperatures()[wc.temperature],
            "seed": CONTROLS["seed"],
            "samples": CONTROLS["samples"] if wc.temperature == RL_TEMPERATURE else CONTROLS["low_samples"],
        },
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=MATH["runtime_min"],
    log:
        f"logs/sample_math/{RUN}-{{policy}}-t{{temperature}}.log",
    benchmark:
        f"benchmarks/sample_math/{RUN}-{{policy}}-t{{temperature}}.tsv"
    conda:
        "../envs/matheval.yaml"
    script:
        "../scripts/evaluate_math.py"


rule select_best_of_n:
    input:
        reward_model=lambda wc: model_dir(config["rl"]["reward_model"] or wc.policy),
        samples=output_of(rules.sample_math, "samples", temperature=RL_TEMPERATURE),
        run=output_of(rules.sample_math, "summary", temperature=RL_TEMPERATURE),
    output:
        summary=f"{OUT}/math/{{policy}}/controls/best_of_n.json",
        scored=f"{OUT}/math/{{policy}}/controls/best_of_n_samples.jsonl",
    params:
        best_of=CONTROLS["best_of"] if CONTROLS else [],
        compute=COMPUTE,
        reward=config["reward"],
        format=config["format"],
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
    log:
        f"logs/select_best_of_n/{RUN}-{{policy}}.log",
    benchmark:
        f"benchmarks/select_best_of_n/{RUN}-{{policy}}.tsv"
    conda:
        "../envs/scoring.yaml"
    script:
        "../scripts/select_best_of_n.py"


rule make_table3:
    input:
        unpack(control_inputs),
        base=output_of(rules.evaluate_math, "summary", variant="base"),
        rl=output_of(rules.evaluate_math, "summary", variant="rl"),
        base_samples=output_of(rules.evaluate_math, "samples", variant="base"),
        rl_samples=output_of(rules.evaluate_math, "samples", variant="rl"),
        train=rules.train_rl.output.checkpoint,
        log_table=rules.train_rl.output.log_table,
        prompts_meta=rules.prepare_rl_prompts.output.meta,
    output:
        csv=report(
            f"{OUT}/math/{{policy}}/table3.csv",
            caption="../report/table3.rst",
            category="Table 3: RL on the endogenous reward",
            labels={"table": "Table 3", "format": "CSV"},
        ),
        md=report(
            f"{OUT}/math/{{policy}}/table3.md",
            caption="../report/table3.rst",
            category="Table 3: RL on the endogenous reward",
            labels={"table": "Table 3", "format": "Markdown"},
        ),
        paired=f"{OUT}/math/{{policy}}/table3_paired.csv",
        examples=report(
            f"{OUT}/math/{{policy}}/examples.md",
            caption="../report/examples.rst",
            category="Table 3: RL on the endogenous reward",
            labels={"table": "Appendix E examples"},
        ),
    params:
        examples=MATH["examples"],
        rl_temperature=float(config["rl"]["trainer"]["temperature"]),
    log:
        f"logs/make_table3/{RUN}-{{policy}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/make_table3.py"


rule plot_table3:
    input:
        csv=output_of(rules.make_table3, "csv"),
        paired=rules.make_table3.output.paired,
    output:
        report(
            f"{OUT}/math/{{policy}}/table3.png",
            caption="../report/table3_figure.rst",
            category="Table 3: RL on the endogenous reward",
            labels={"figure": "Table 3 (bars)"},
        ),
    log:
        f"logs/plot_table3/{RUN}-{{policy}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/plot_table3.py"
