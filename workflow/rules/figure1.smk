# Figure 1 (paper Q2): Multifaceted per-source accuracy when the reward is given each row's own system message, for
# EndoRM and the judges (rules in scoring.smk).


rule prepare_multifaceted:
    input:
        rules.generate_conditioned_responses.output if config["multifaceted"]["data"]["source"] == "constructed" else [],
    output:
        rows=f"{OUT}/multifaceted/preferences.jsonl",
        meta=f"{OUT}/multifaceted/preferences.meta.json",
    params:
        data=config["multifaceted"]["data"],
        personas=config["constructed"].get("personas", {}) if "constructed" in config else {},
        seed=config["seed"],
    log:
        f"logs/prepare_multifaceted/{RUN}.log",
    benchmark:
        f"benchmarks/prepare_multifaceted/{RUN}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_multifaceted.py"


rule compute_multifaceted_metrics:
    input:
        scores=scores_of("multifaceted"),
        meta=f"{scores_of('multifaceted')}.meta.json",
    output:
        f"{OUT}/multifaceted/{{model}}/metrics/{{method}}.json",
    log:
        f"logs/compute_multifaceted_metrics/{RUN}-{{model}}-{{method}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/compute_multifaceted_metrics.py"


rule make_figure1:
    input:
        metrics=outputs_of(rules.compute_multifaceted_metrics, method=config["multifaceted"]["methods"]),
    output:
        csv=report(
            f"{OUT}/multifaceted/{{model}}/figure1.csv",
            caption="../report/figure1.rst",
            category="Figure 1: Multifaceted",
            labels={"table": "Figure 1 data", "format": "CSV"},
        ),
        md=report(
            f"{OUT}/multifaceted/{{model}}/figure1.md",
            caption="../report/figure1.rst",
            category="Figure 1: Multifaceted",
            labels={"table": "Figure 1 data", "format": "Markdown"},
        ),
    params:
        methods=config["multifaceted"]["methods"],
        data=config["multifaceted"]["data"],
    log:
        f"logs/make_figure1/{RUN}-{{model}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/make_figure1.py"


rule plot_figure1:
    input:
        csv=output_of(rules.make_figure1, "csv"),
    output:
        report(
            f"{OUT}/multifaceted/{{model}}/figure1.png",
            caption="../report/figure1_figure.rst",
            category="Figure 1: Multifaceted",
            labels={"figure": "Figure 1 (bars)"},
        ),
    log:
        f"logs/plot_figure1/{RUN}-{{model}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/plot_figure1.py"
