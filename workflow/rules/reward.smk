def score_params():
    return dict(max_rows_per_domain=config["rmbench"].get("max_rows_per_domain", {}), compute=config.get("compute", {}), reward=config.get("reward", {}),
                format=config.get("format", {}), judge=config.get("judge", {}))


# The likelihood methods (endorm, loglik, loglik-mean) share one forward pass per response.
rule score_likelihood:
    input:
        model=lambda wc: model_dir(wc.model),
        pairs=f"{OUT}/rmbench/preferences.jsonl",
    output:
        scores=[f"{OUT}/rmbench/{{model}}/scores/{m}.jsonl" for m in likelihood_methods()],
        meta=[f"{OUT}/rmbench/{{model}}/scores/{m}.jsonl.meta.json" for m in likelihood_methods()],
    params:
        methods=likelihood_methods(),
        **score_params(),
    threads: compute("threads", 2)
    resources:
        **gpu_resources(),
        runtime=240,
    log:
        f"logs/score_likelihood/{RUN}-{{model}}.log",
    benchmark:
        f"benchmarks/score_likelihood/{RUN}-{{model}}.tsv"
    script:
        "../scripts/score_pairs.py"


rule score_judge:
    input:
        model=lambda wc: model_dir(wc.model),
        pairs=f"{OUT}/rmbench/preferences.jsonl",
    output:
        scores=f"{OUT}/rmbench/{{model}}/scores/{{judge}}.jsonl",
        meta=f"{OUT}/rmbench/{{model}}/scores/{{judge}}.jsonl.meta.json",
    params:
        methods=lambda wc: [wc.judge],
        **score_params(),
    threads: compute("threads", 2)
    resources:
        **gpu_resources(),
        runtime=480,
    log:
        f"logs/score_judge/{RUN}-{{model}}-{{judge}}.log",
    benchmark:
        f"benchmarks/score_judge/{RUN}-{{model}}-{{judge}}.tsv"
    script:
        "../scripts/score_pairs.py"
