# The paper's Theorem 2 (imitation gap <~ H^2 eps, RL on the endogenous reward <~ H eps) on
# synthetic token MDPs where the expert is known; exact dynamic programming, CPU, seconds.


rule run_theorem2:
    output:
        csv=report(
            f"{OUT}/theory/theorem2.csv",
            caption="../report/theorem2.rst",
            category="Theory: Theorem 2",
            labels={"table": "Theorem 2 sweep", "format": "CSV"},
        ),
        md=report(
            f"{OUT}/theory/theorem2.md",
            caption="../report/theorem2.rst",
            category="Theory: Theorem 2",
            labels={"table": "Theorem 2 sweep", "format": "Markdown"},
        ),
        png=report(
            f"{OUT}/theory/theorem2.png",
            caption="../report/theorem2_figure.rst",
            category="Theory: Theorem 2",
            labels={"figure": "Theorem 2: gap vs horizon"},
        ),
        json=f"{OUT}/theory/theorem2.json",
    params:
        theory=config["theory"],
    threads: 1
    log:
        f"logs/run_theorem2/{RUN}.log",
    benchmark:
        f"benchmarks/run_theorem2/{RUN}.tsv"
    conda:
        "../envs/tables.yaml"
    script:
        "../scripts/run_theorem2.py"
