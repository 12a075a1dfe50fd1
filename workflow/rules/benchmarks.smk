rule compute_rmbench_metrics:
    input:
        scores=f"{OUT}/rmbench/{{model}}/scores/{{method}}.jsonl",
        meta=f"{OUT}/rmbench/{{model}}/scores/{{method}}.jsonl.meta.json",
    output:
        f"{OUT}/rmbench/{{model}}/metrics/{{method}}.json",
    log:
        f"logs/compute_rmbench_metrics/{RUN}-{{model}}-{{method}}.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/compute_rmbench_metrics.py"


rule make_table1:
    input:
        metrics=lambda wc: [f"{OUT}/rmbench/{wc.model}/metrics/{m}.json" for m in rmbench_methods()],
    output:
        csv=report(f"{OUT}/rmbench/{{model}}/table1.csv", caption="../report/table1.rst", category="Table 1: RM-Bench",
                   labels={"table": "Table 1", "format": "CSV"}),
        md=report(f"{OUT}/rmbench/{{model}}/table1.md", caption="../report/table1.rst", category="Table 1: RM-Bench",
                  labels={"table": "Table 1", "format": "Markdown"}),
    params:
        methods=rmbench_methods(),
        data=config["rmbench"]["data"],
    log:
        f"logs/make_table1/{RUN}-{{model}}.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/make_table1.py"


# Issue 6: the reward's cost over a plain forward pass. `snakemake bench_scoring` (or bench.enabled: true).
rule bench_scoring:
    input:
        model=model_dir(MODEL),
    output:
        json=f"benchmarks/scoring/{RUN}-{MODEL}.json",
        md=f"benchmarks/scoring/{RUN}-{MODEL}.md",
    params:
        bench=config.get("bench", {}),
        dtype=compute("dtype", "float32"),
    threads: compute("threads", 2)
    resources:
        **gpu_resources(),
        runtime=60,
    log:
        f"logs/bench_scoring/{RUN}-{MODEL}.log",
    conda:
        "../../envs/environment.yaml"
    script:
        "../scripts/bench_scoring.py"
