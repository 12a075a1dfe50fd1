# Table 3 (paper Q3): zero-shot math evaluation of the base and the RL model with lm-eval, on the task YAMLs in
# workflow/lm_eval_tasks ({task}: one math benchmark; {variant}: base or rl); with math_eval.controls, the controls
# that need no training ({temperature}: a sampling temperature of the base model; best-of-N).
MATH = config["math_eval"]


def eval_opts(**over):
    """Options of an lm-eval run of Table 3 (greedy rows and sampled controls share them)."""
    opts = {k: MATH[k] for k in ("max_gen_toks", "batch_size", "instruction", "system_prompt", "limit")}
    return {**opts, "dtype": COMPUTE["dtype"], "device": COMPUTE["device"], **over}


CONTROLS = MATH.get("controls") if subsection("math_eval", "controls") else None
RL_TEMPERATURE = f"{float(config['rl']['trainer']['temperature']):g}"


def control_limit():
    """Problems per benchmark of the controls ({task: n or None}): controls.problems (one number, or per benchmark),
    within math_eval.limit."""
    per = CONTROLS["problems"]
    out = {}
    for task in math_benchmarks():
        caps = [c for c in (MATH["limit"], per.get(task) if isinstance(per, dict) else per) if c is not None]
        out[task] = min(caps) if caps else None
    return out


def evaluated_model(wc):
    """The model a math evaluation runs: the initial policy (base) or the RL checkpoint (rl)."""
    return f"results/models/{wc.policy}" if wc.variant == "base" else f"{OUT}/rl/{wc.policy}/checkpoint"


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
        "../../envs/environment.yaml"
    script:
        "../scripts/prepare_math_eval.py"


rule evaluate_math:
    input:
        model=evaluated_model,
        rows=[f"{OUT}/math/data/{t}.jsonl" for t in math_benchmarks()],
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
        "../../envs/environment.yaml"
    script:
        "../scripts/evaluate_math.py"


# Table 3's controls: the base model sampled with lm-eval (same tasks, prompts, chat template, stop
# strings, token limit and grader as the greedy rows; `repeats` samples per problem, seeded), then best-of-N by the
# frozen reward model's endogenous reward over the rl.trainer.temperature samples.
rule sample_math:
    input:
        model="results/models/{policy}",
        rows=[f"{OUT}/math/data/{t}.jsonl" for t in math_benchmarks()],
    output:
        summary=f"{OUT}/math/{{policy}}/controls/base-t{{temperature}}/summary.json",
        samples=f"{OUT}/math/{{policy}}/controls/base-t{{temperature}}/samples.jsonl",
    params:
        tasks=list(math_benchmarks()),
        opts=lambda wc: eval_opts(limit=control_limit(), batch_size=CONTROLS["batch_size"] or MATH["batch_size"]),
        sampling=lambda wc: {"temperature": control_temperatures()[wc.temperature], "seed": CONTROLS["seed"],
                             "samples": CONTROLS["samples"] if wc.temperature == RL_TEMPERATURE
                             else CONTROLS["low_samples"]},
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=MATH["runtime_min"],
    log:
        f"logs/sample_math/{RUN}-{{policy}}-t{{temperature}}.log",
    benchmark:
        f"benchmarks/sample_math/{RUN}-{{policy}}-t{{temperature}}.tsv"
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/evaluate_math.py"


rule select_best_of_n:
    input:
        reward_model=lambda wc: f"results/models/{config['rl']['reward_model'] or wc.policy}",
        samples=f"{OUT}/math/{{policy}}/controls/base-t{RL_TEMPERATURE}/samples.jsonl",
        run=f"{OUT}/math/{{policy}}/controls/base-t{RL_TEMPERATURE}/summary.json",
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
        "../../envs/environment.yaml"
    script:
        "../scripts/select_best_of_n.py"


def control_inputs(wc):
    """Table 3's control inputs (none when math_eval.controls is off)."""
    if not CONTROLS:
        return {}
    runs = [f"{OUT}/math/{wc.policy}/controls/base-t{t}" for t in control_temperatures()]
    return {"controls": [f"{r}/summary.json" for r in runs], "control_samples": [f"{r}/samples.jsonl" for r in runs],
            "best_of_n": f"{OUT}/math/{wc.policy}/controls/best_of_n.json"}


rule make_table3:
    input:
        unpack(control_inputs),
        base=f"{OUT}/math/{{policy}}/base/summary.json",
        rl=f"{OUT}/math/{{policy}}/rl/summary.json",
        base_samples=f"{OUT}/math/{{policy}}/base/samples.jsonl",
        rl_samples=f"{OUT}/math/{{policy}}/rl/samples.jsonl",
        train=f"{OUT}/rl/{{policy}}/checkpoint",
        log_table=f"{OUT}/rl/{{policy}}/train_log.csv",
        prompts_meta=f"{OUT}/rl/{{policy}}/prompts.meta.json",
    output:
        csv=report(f"{OUT}/math/{{policy}}/table3.csv", caption="../report/table3.rst",
                   category="Table 3: RL on the endogenous reward", labels={"table": "Table 3", "format": "CSV"}),
        md=report(f"{OUT}/math/{{policy}}/table3.md", caption="../report/table3.rst",
                  category="Table 3: RL on the endogenous reward", labels={"table": "Table 3", "format": "Markdown"}),
        paired=f"{OUT}/math/{{policy}}/table3_paired.csv",
        examples=report(f"{OUT}/math/{{policy}}/examples.md", caption="../report/examples.rst",
                        category="Table 3: RL on the endogenous reward", labels={"table": "Appendix E examples"}),
    params:
        examples=MATH["examples"],
        rl_temperature=float(config["rl"]["trainer"]["temperature"]),
    log:
        f"logs/make_table3/{RUN}-{{policy}}.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/make_table3.py"


rule plot_table3:
    input:
        csv=f"{OUT}/math/{{policy}}/table3.csv",
        paired=f"{OUT}/math/{{policy}}/table3_paired.csv",
    output:
        report(f"{OUT}/math/{{policy}}/table3.png", caption="../report/table3_figure.rst",
               category="Table 3: RL on the endogenous reward", labels={"figure": "Table 3 (bars)"}),
    log:
        f"logs/plot_table3/{RUN}-{{policy}}.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/plot_table3.py"
