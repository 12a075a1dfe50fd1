# What drives the endogenous reward, on the RM-Bench rows of Table 1. Ablations of the reward
# (terminal value, alpha, aggregation, RMGAP's variant) from ONE engine run; accuracy of every Table 1 method against
# the length difference of chosen and rejected; the per-token view of selected comparisons.
ANALYSIS = config["analysis"]
TOKEN_VIEWS = comparison_names(ANALYSIS["tokens"]["top"], ANALYSIS["tokens"]["bottom"], ANALYSIS["tokens"]["random"])


rule score_ablations:
    input:
        model=model_dir("{model}"),
        pairs=rules.prepare_preferences.output.rows,
    output:
        scores=f"{OUT}/rmbench/{{model}}/analysis/ablation_scores.jsonl",
        meta=f"{OUT}/rmbench/{{model}}/analysis/ablation_scores.jsonl.meta.json",
    params:
        ablations=ANALYSIS["ablations"],
        # the rows of Table 1's EndoRM (rmbench.max_rows_per_domain.endorm, where a config caps them)
        max_rows_per_domain=config["rmbench"].get("max_rows_per_domain", {}).get("endorm"),
        compute=COMPUTE,
        format=config["format"],
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=240,
    log:
        f"logs/score_ablations/{RUN}-{{model}}.log",
    benchmark:
        f"benchmarks/score_ablations/{RUN}-{{model}}.tsv"
    conda:
        "../envs/scoring.yaml"
    script:
        "../scripts/score_ablations.py"


rule make_ablations:
    input:
        scores=rules.score_ablations.output.scores,
        meta=rules.score_ablations.output.meta,
    output:
        csv=report(
            f"{OUT}/rmbench/{{model}}/analysis/ablations.csv",
            caption="../report/ablations.rst",
            category="What drives the endogenous reward",
            labels={"table": "Ablations", "format": "CSV"},
        ),
        md=report(
            f"{OUT}/rmbench/{{model}}/analysis/ablations.md",
            caption="../report/ablations.rst",
            category="What drives the endogenous reward",
            labels={"table": "Ablations", "format": "Markdown"},
        ),
        png=report(
            f"{OUT}/rmbench/{{model}}/analysis/ablations.png",
            caption="../report/ablations_figure.rst",
            category="What drives the endogenous reward",
            labels={"figure": "Ablations against alpha"},
        ),
    log:
        f"logs/make_ablations/{RUN}-{{model}}.log",
    benchmark:
        f"benchmarks/make_ablations/{RUN}-{{model}}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/make_ablations.py"


rule analyze_length:
    input:
        model=model_dir("{model}"),
        pairs=rules.prepare_preferences.output.rows,
        scores=[scores_of("rmbench", m) for m in config["rmbench"]["methods"]],
    output:
        csv=report(
            f"{OUT}/rmbench/{{model}}/analysis/length.csv",
            caption="../report/length.rst",
            category="What drives the endogenous reward",
            labels={"table": "Length", "format": "CSV"},
        ),
        md=report(
            f"{OUT}/rmbench/{{model}}/analysis/length.md",
            caption="../report/length.rst",
            category="What drives the endogenous reward",
            labels={"table": "Length", "format": "Markdown"},
        ),
        png=report(
            f"{OUT}/rmbench/{{model}}/analysis/length.png",
            caption="../report/length_figure.rst",
            category="What drives the endogenous reward",
            labels={"figure": "Accuracy against length"},
        ),
        bins=f"{OUT}/rmbench/{{model}}/analysis/length_bins.csv",
        json=f"{OUT}/rmbench/{{model}}/analysis/length.json",
    params:
        methods=config["rmbench"]["methods"],
        length=ANALYSIS["length"],
        format=config["format"],
    log:
        f"logs/analyze_length/{RUN}-{{model}}.log",
    benchmark:
        f"benchmarks/analyze_length/{RUN}-{{model}}.tsv"
    conda:
        "../envs/scoring.yaml"
    script:
        "../scripts/analyze_length.py"


rule plot_token_rewards:
    input:
        model=model_dir("{model}"),
        pairs=rules.prepare_preferences.output.rows,
        scores=scores_of("rmbench", "endorm"),
    output:
        html=report(
            f"{OUT}/rmbench/{{model}}/analysis/tokens.html",
            caption="../report/tokens.rst",
            category="What drives the endogenous reward",
            labels={"page": "Per-token rewards (HTML)"},
        ),
        pngs=[
            report(
                f"{OUT}/rmbench/{{model}}/analysis/tokens/{name}.png",
                caption="../report/tokens_figure.rst",
                category="What drives the endogenous reward",
                labels={"figure": f"Per-token rewards: {name}"},
            )
            for name in TOKEN_VIEWS
        ],
        json=f"{OUT}/rmbench/{{model}}/analysis/tokens.json",
    params:
        tokens=ANALYSIS["tokens"],
        reward=config["reward"],
        format=config["format"],
        compute=COMPUTE,
        seed=config["seed"],
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=60,
    log:
        f"logs/plot_token_rewards/{RUN}-{{model}}.log",
    benchmark:
        f"benchmarks/plot_token_rewards/{RUN}-{{model}}.tsv"
    conda:
        "../envs/scoring.yaml"
    script:
        "../scripts/plot_token_rewards.py"
