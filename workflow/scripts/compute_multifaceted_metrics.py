from endorm.io import read_json, read_jsonl, write_json
from endorm.logs import redirect_to
from endorm.benchmarks.promptable import pairwise_accuracy

with redirect_to(snakemake.log[0]):
    metrics = pairwise_accuracy(read_jsonl(snakemake.input.scores))
    meta = read_json(snakemake.input.meta)
    metrics["provenance"] = {k: meta[k] for k in ("method", "model", "dtype", "device", "input", "rows", "options",
                                                   "run")}
    write_json(snakemake.output[0], metrics)
    print(metrics["sources"], metrics["weighted_average"])
