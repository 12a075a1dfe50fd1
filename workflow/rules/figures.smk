rule plot_table1:
    input:
        csv=f"{OUT}/rmbench/{{model}}/table1.csv",
    output:
        report(f"{OUT}/rmbench/{{model}}/table1.png", caption="../report/table1_figure.rst",
               category="Table 1: RM-Bench", labels={"figure": "Table 1 (bars)"}),
    log:
        f"logs/plot_table1/{RUN}-{{model}}.log",
    script:
        "../scripts/plot_table1.py"
