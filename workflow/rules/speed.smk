# The reward's cost over a plain forward pass (`endorm bench`): `snakemake measure_scoring_speed`, or
# scoring_speed.enabled: true to include it in the default target. Written to results/, not to Snakemake's own
# benchmarks/ folder (which holds every job's time and memory).


rule measure_scoring_speed:
    input:
        model=model_dir(MODEL),
    output:
        json=f"{OUT}/scoring_speed/{MODEL}.json",
        md=f"{OUT}/scoring_speed/{MODEL}.md",
    params:
        speed=config["scoring_speed"],
        dtype=COMPUTE["dtype"],
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=60,
    log:
        f"logs/measure_scoring_speed/{RUN}-{MODEL}.log",
    conda:
        "../envs/scoring.yaml"
    script:
        "../scripts/measure_scoring_speed.py"
