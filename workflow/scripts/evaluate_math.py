"""Zero-shot math evaluation of one model with lm-eval (Table 3): greedy, or sampled (Table 3's controls).

input.model: a transformers folder; input.rows: canonical JSONL files in the order of params.tasks (names of
workflow/lm_eval_tasks/<name>.yaml); params.opts: max_gen_toks, batch_size, dtype, device, instruction,
system_prompt, limit (optionally stop, threads; torch threads default to the rule's threads); params.sampling
(optional): temperature, samples (per problem), seed: endorm.benchmarks.lmeval.Sampling.
Writes output.summary (per-task accuracy and n, options, model provenance, and each rows file's provenance from
input.meta or params.meta, in the order of params.tasks, else a <rows stem>.meta.json beside the rows file) and
output.samples (JSONL records with a task field). lm-eval's own files go beside the summary, in
<summary stem>.lm_eval/.
"""

from pathlib import Path

from endorm.data.assets import model_provenance
from endorm.errors import EndormError
from endorm.gpus import claim
from endorm.io import read_json, write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.benchmarks.lmeval import Sampling, evaluate

with redirect_to(snakemake.log[0] if snakemake.log else None):
    names = list(snakemake.params.tasks)
    rows = [snakemake.input.rows] if isinstance(snakemake.input.rows, str) else list(snakemake.input.rows)
    if len(names) != len(rows):
        raise EndormError(f"evaluate_math: {len(names)} task names but {len(rows)} rows files")
    opts = dict(snakemake.params.opts)
    if opts["device"] in ("auto", "cuda"):
        claim(1)  # local multi-GPU runs: one distinct GPU per job (no-op under SLURM or without GPUs)
    sampling = getattr(snakemake.params, "sampling", None)
    summary_path = Path(snakemake.output.summary)
    result = evaluate(
        snakemake.input.model, dict(zip(names, rows)), summary_path.parent / f"{summary_path.stem}.lm_eval",
        max_gen_toks=int(opts["max_gen_toks"]), batch_size=opts["batch_size"], limit=opts["limit"],
        dtype=opts["dtype"], device=opts["device"],
        system_prompt=opts.get("system_prompt"), instruction=opts.get("instruction"),
        stop=opts.get("stop"), threads=opts.get("threads") or getattr(snakemake, "threads", None),
        sampling=Sampling(**sampling) if sampling else None)
    samples = result.pop("samples")
    provenance = {}
    metas = getattr(snakemake.input, "meta", None) or getattr(snakemake.params, "meta", None) or []
    metas = [metas] if isinstance(metas, str) else list(metas)
    for name, path in zip(names, rows):
        meta = Path(path).with_suffix(".meta.json")
        provenance[name] = read_json(meta) if meta.is_file() else None
    for name, path in zip(names, metas):
        provenance[name] = read_json(path)
    result["model_provenance"] = model_provenance(snakemake.input.model)
    result["data_provenance"] = provenance
    write_jsonl(snakemake.output.samples, samples)
    write_json(snakemake.output.summary, result)
    for name, t in result["tasks"].items():
        generations = t.get("n_samples", t["n"])
        print(f"{name}: accuracy {t['accuracy']:.3f} on {t['n']} problems ({t['n_boxed']} of {generations} "
              "generations with a \\boxed answer)")
