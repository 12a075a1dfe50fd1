# Models: a local transformers folder from a packaged GGUF, a local folder, or a Hub id (config `models:`).


rule prepare_model:
    output:
        directory("results/models/{model}"),
    params:
        spec=lambda wc: model_spec(wc.model),
    resources:
        mem_mb=lambda wc: 40000 if config["models"][wc.model]["source"] == "hub" else 4000,
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "benchmarks/prepare_model/{model}.tsv"
    conda:
        model_env
    script:
        "../scripts/prepare_model.py"
