def score_params(bench, methods=()):
    """Options of a scoring job; only its own methods' row caps, so changing one cap reruns one job."""
    caps = config.get(bench, {}).get("max_rows_per_domain", {})
    return dict(max_rows_per_domain={m: caps[m] for m in methods if m in caps},
                compute=config.get("compute", {}), reward=config.get("reward", {}),
                format=config.get("format", {}), judge=config.get("judge", {}))


# The likelihood methods (endorm, loglik, loglik-mean) share one forward pass per response: one job writes all three.
rule score_likelihood:
    input:
        model=lambda wc: model_dir(wc.model),
        pairs=f"{OUT}/{{bench}}/preferences.jsonl",
    output:
        scores=[f"{OUT}/{{bench}}/{{model}}/scores/{m}.jsonl" for m in LIKELIHOOD_METHODS],
        meta=[f"{OUT}/{{bench}}/{{model}}/scores/{m}.jsonl.meta.json" for m in LIKELIHOOD_METHODS],
    params:
        methods=list(LIKELIHOOD_METHODS),
        opts=lambda wc: score_params(wc.bench, LIKELIHOOD_METHODS),
    threads: compute("threads", 2)
    resources:
        **gpu_resources(),
        runtime=240,
    log:
        f"logs/score_likelihood/{RUN}-{{bench}}-{{model}}.log",
    benchmark:
        f"benchmarks/score_likelihood/{RUN}-{{bench}}-{{model}}.tsv"
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/score_pairs.py"


rule score_judge:
    input:
        model=lambda wc: model_dir(wc.model),
        pairs=f"{OUT}/{{bench}}/preferences.jsonl",
    output:
        scores=f"{OUT}/{{bench}}/{{model}}/scores/{{judge}}.jsonl",
        meta=f"{OUT}/{{bench}}/{{model}}/scores/{{judge}}.jsonl.meta.json",
    params:
        methods=lambda wc: [wc.judge],
        opts=lambda wc: score_params(wc.bench, [wc.judge]),
    threads: compute("threads", 2)
    resources:
        **gpu_resources(),
        runtime=480,
    log:
        f"logs/score_judge/{RUN}-{{bench}}-{{model}}-{{judge}}.log",
    benchmark:
        f"benchmarks/score_judge/{RUN}-{{bench}}-{{model}}-{{judge}}.tsv"
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/score_pairs.py"
