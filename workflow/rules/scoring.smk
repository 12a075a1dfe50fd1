# Scoring preference pairs with every training-free method, for each preference suite ({suite}: rmbench for
# Table 1, multifaceted for Figure 1). The likelihood methods (endorm, loglik, loglik-mean) share one forward pass
# per response: one job writes all three. Each judge is its own job.


rule score_likelihood:
    input:
        model=model_dir("{model}"),
        pairs=suite_rows,
    output:
        scores=[scores_of("{suite}", m) for m in LIKELIHOOD_METHODS],
        meta=[f"{scores_of('{suite}', m)}.meta.json" for m in LIKELIHOOD_METHODS],
    params:
        methods=list(LIKELIHOOD_METHODS),
        opts=lambda wc: score_params(wc.suite, LIKELIHOOD_METHODS),
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=240,
    log:
        f"logs/score_likelihood/{RUN}-{{suite}}-{{model}}.log",
    benchmark:
        f"benchmarks/score_likelihood/{RUN}-{{suite}}-{{model}}.tsv"
    conda:
        "../envs/scoring.yaml"
    script:
        "../scripts/score_pairs.py"


rule score_judge:
    input:
        model=model_dir("{model}"),
        pairs=suite_rows,
    output:
        scores=scores_of("{suite}", "{judge}"),
        meta=f"{scores_of('{suite}', '{judge}')}.meta.json",
    params:
        methods=lambda wc: [wc.judge],
        opts=lambda wc: score_params(wc.suite, [wc.judge]),
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=480,
    log:
        f"logs/score_judge/{RUN}-{{suite}}-{{model}}-{{judge}}.log",
    benchmark:
        f"benchmarks/score_judge/{RUN}-{{suite}}-{{model}}-{{judge}}.tsv"
    conda:
        "../envs/scoring.yaml"
    script:
        "../scripts/score_pairs.py"
