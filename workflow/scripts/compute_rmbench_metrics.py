from endorm.io import read_json, read_jsonl, write_json
from endorm.logs import redirect_to
from endorm.benchmarks.metrics import rmbench_accuracy

with redirect_to(snakemake.log[0]):
    path = snakemake.input.scores
    metrics = rmbench_accuracy(read_jsonl(path), path)
    meta = read_json(snakemake.input.meta)
    metrics["provenance"] = {k: meta[k] for k in ("method", "model", "dtype", "device", "input", "rows", "options")}
    metrics["provenance"]["run"] = meta["run"]
    write_json(snakemake.output[0], metrics)
    print({k: v for k, v in metrics.items() if k not in ("domains", "provenance")})
