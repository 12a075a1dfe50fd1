# The report's provenance: the resolved configuration and the software versions of the run.
import hashlib
import json
import sys
import warnings

# `snakemake --report` renders each file's caption with its job's resources, evaluated inside the report's asyncio
# loop. Snakemake's default `disk_mb` (from `input.size_mb`) creates a coroutine that Snakemake's `async_run` refuses
# to run inside a running loop; Snakemake catches that (the resource shows as "TBD") but never closes the coroutine,
# so Python warns, once per report file, that it "was never awaited". Harmless to the report; silenced for exactly
# that coroutine, and only when a report is built.
if any(arg.startswith("--report") for arg in sys.argv[1:]):
    warnings.filterwarnings(
        "ignore",
        message=r"coroutine 'InputFiles\._predicated_size_files\.<locals>\.sizes' was never awaited",
        category=RuntimeWarning,
    )


rule write_provenance:
    output:
        report(
            f"{OUT}/provenance.md",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"file": "configuration and software versions"},
        ),
    params:
        # a changed configuration reruns this job
        config_md5=hashlib.md5(json.dumps(config, sort_keys=True).encode()).hexdigest(),
    log:
        f"logs/write_provenance/{RUN}.log",
    conda:
        "../envs/provenance.yaml"
    script:
        "../scripts/write_provenance.py"
