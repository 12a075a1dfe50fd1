# The embedded default's data for Table 2 and Figure 1: no DSP or Multifaceted data installs offline, so the
# generator answers MT-Bench prompts under each domain system prompt and under persona system messages, the way DSP
# was built with ChatGPT. Included only when dsp or multifaceted reads `source: constructed`.


rule generate_conditioned_responses:
    input:
        model=model_dir(config["constructed"]["generator"]),
    output:
        f"{OUT}/constructed/conditioned_responses.jsonl",
    params:
        constructed=config["constructed"],
        dsp_prompts=config["dsp"]["system_prompts"] if "dsp" in config else {},
        format=config["format"],
        compute=COMPUTE,
        seed=config["seed"],
    threads: COMPUTE["threads"]
    resources:
        **gpu_resources(),
        runtime=240,
    log:
        f"logs/generate_conditioned_responses/{RUN}.log",
    benchmark:
        f"benchmarks/generate_conditioned_responses/{RUN}.tsv"
    conda:
        "../envs/scoring.yaml"
    script:
        "../scripts/generate_conditioned_responses.py"
