# Table 2 (paper Q2): DSP's cross-domain matrix. EndoRM-X scores every response under domain X's system prompt; the
# pairs are built as DSP's authors build them (domain D's response over each of the other four).


rule prepare_dsp:
    input:
        rules.generate_conditioned_responses.output if config["dsp"]["data"]["source"] == "constructed" else [],
    output:
        rows=f"{OUT}/dsp/dsp.json",
        meta=f"{OUT}/dsp/dsp.meta.json",
    params:
        data=config["dsp"]["data"],
    log:
        f"logs/prepare_dsp/{RUN}.log",
    benchmark:
        f"benchmarks/prepare_dsp/{RUN}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_dsp.py"


rule score_dsp:
    input:
        model=model_dir("{model}"),
        dsp=rules.prepare_dsp.output.rows,
    output:
        f"{OUT}/dsp/{{model}}/scores.json",
    params:
        opts=score_params("dsp"),
        prompts=config["dsp"]["system_prompts"],
        max_rows=config["dsp"]["max_rows"],
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=240,
    log:
        f"logs/score_dsp/{RUN}-{{model}}.log",
    benchmark:
        f"benchmarks/score_dsp/{RUN}-{{model}}.tsv"
    conda:
        "../envs/scoring.yaml"
    script:
        "../scripts/score_dsp.py"


rule make_table2:
    input:
        scores=rules.score_dsp.output[0],
    output:
        metrics=f"{OUT}/dsp/{{model}}/metrics.json",
        csv=report(
            f"{OUT}/dsp/{{model}}/table2.csv",
            caption="../report/table2.rst",
            category="Table 2: DSP",
            labels={"table": "Table 2", "format": "CSV"},
        ),
        md=report(
            f"{OUT}/dsp/{{model}}/table2.md",
            caption="../report/table2.rst",
            category="Table 2: DSP",
            labels={"table": "Table 2", "format": "Markdown"},
        ),
    params:
        data=config["dsp"]["data"],
    log:
        f"logs/make_table2/{RUN}-{{model}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/make_table2.py"


rule plot_dsp_matrix:
    input:
        metrics=rules.make_table2.output.metrics,
    output:
        report(
            f"{OUT}/dsp/{{model}}/table2.png",
            caption="../report/table2_figure.rst",
            category="Table 2: DSP",
            labels={"figure": "Table 2 heatmaps"},
        ),
    params:
        data=config["dsp"]["data"],
    log:
        f"logs/plot_dsp_matrix/{RUN}-{{model}}.log",
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/plot_dsp_matrix.py"
