# Table 1 (paper Q1): RM-Bench (or the embedded default's constructed rows in its shape), every training-free method
# (rules in scoring.smk), RM-Bench's official metric, the table beside the paper's and its figure.


rule prepare_preferences:
    output:
        rows=f"{OUT}/rmbench/preferences.jsonl",
        meta=f"{OUT}/rmbench/preferences.meta.json",
    params:
        data=config["rmbench"]["data"],
        seed=config["seed"],
    log:
        f"logs/prepare_preferences/{RUN}.log",
    benchmark:
        f"benchmarks/prepare_preferences/{RUN}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_preferences.py"


rule compute_rmbench_metrics:
    input:
        scores=scores_of("rmbench"),
        meta=f"{scores_of('rmbench')}.meta.json",
    output:
        f"{OUT}/rmbench/{{model}}/metrics/{{method}}.json",
    log:
        f"logs/compute_rmbench_metrics/{RUN}-{{model}}-{{method}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/compute_rmbench_metrics.py"


rule make_table1:
    input:
        metrics=outputs_of(rules.compute_rmbench_metrics, method=config["rmbench"]["methods"]),
    output:
        csv=report(
            f"{OUT}/rmbench/{{model}}/table1.csv",
            caption="../report/table1.rst",
            category="Table 1: RM-Bench",
            labels={"table": "Table 1", "format": "CSV"},
        ),
        md=report(
            f"{OUT}/rmbench/{{model}}/table1.md",
            caption="../report/table1.rst",
            category="Table 1: RM-Bench",
            labels={"table": "Table 1", "format": "Markdown"},
        ),
    params:
        methods=config["rmbench"]["methods"],
        data=rmbench_data_summary(),
    log:
        f"logs/make_table1/{RUN}-{{model}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/make_table1.py"


rule plot_table1:
    input:
        csv=output_of(rules.make_table1, "csv"),
    output:
        report(
            f"{OUT}/rmbench/{{model}}/table1.png",
            caption="../report/table1_figure.rst",
            category="Table 1: RM-Bench",
            labels={"figure": "Table 1 (bars)"},
        ),
    log:
        f"logs/plot_table1/{RUN}-{{model}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/plot_table1.py"
