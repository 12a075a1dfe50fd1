rule plot_table1:
    input:
        csv=f"{OUT}/rmbench/{{model}}/table1.csv",
    output:
        report(f"{OUT}/rmbench/{{model}}/table1.png", caption="../report/table1_figure.rst",
               category="Table 1: RM-Bench", labels={"figure": "Table 1 (bars)"}),
    log:
        f"logs/plot_table1/{RUN}-{{model}}.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/plot_table1.py"


rule plot_dsp_matrix:
    input:
        metrics=f"{OUT}/dsp/{{model}}/metrics.json",
    output:
        report(f"{OUT}/dsp/{{model}}/table2.png", caption="../report/table2_figure.rst", category="Table 2: DSP",
               labels={"figure": "Table 2 heatmaps"}),
    params:
        data=config.get("dsp", {}).get("data", {}),
    log:
        f"logs/plot_dsp_matrix/{RUN}-{{model}}.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/plot_dsp_matrix.py"


rule plot_figure1:
    input:
        csv=f"{OUT}/multifaceted/{{model}}/figure1.csv",
    output:
        report(f"{OUT}/multifaceted/{{model}}/figure1.png", caption="../report/figure1_figure.rst",
               category="Figure 1: Multifaceted", labels={"figure": "Figure 1 (bars)"}),
    log:
        f"logs/plot_figure1/{RUN}-{{model}}.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/plot_figure1.py"


rule write_provenance:
    output:
        report(f"{OUT}/provenance.md", caption="../report/provenance.rst", category="Provenance",
               labels={"file": "configuration and software versions"}),
    params:
        config_md5=lambda wc: __import__("hashlib").md5(json.dumps(config, sort_keys=True).encode()).hexdigest(),
    log:
        f"logs/write_provenance/{RUN}.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/write_provenance.py"
