rule compute_rmbench_metrics:
    input:
        scores=f"{OUT}/rmbench/{{model}}/scores/{{method}}.jsonl",
        meta=f"{OUT}/rmbench/{{model}}/scores/{{method}}.jsonl.meta.json",
    output:
        f"{OUT}/rmbench/{{model}}/metrics/{{method}}.json",
    log:
        f"logs/compute_rmbench_metrics/{RUN}-{{model}}-{{method}}.log",
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
    script:
        "../scripts/make_table1.py"
