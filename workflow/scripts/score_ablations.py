"""Ablations: every reward variant (terminal, alpha, aggregation, RMGAP's) of the RM-Bench rows from ONE engine
run (Scorer.token_stats_alphas), written as one scores file (a row per variant and preference row) with provenance."""
import dataclasses
import json
import time

from endorm.analysis.ablations import score_variants
from endorm.data.assets import model_provenance
from endorm.data.pairs import first_per_domain, load_pairs
from endorm.core.engine import Scorer
from endorm.io import atomic_paths, jsonl_text
from endorm.logs import redirect_to
from endorm.options import load_for_job, prompt_format

p = snakemake.params
with redirect_to(snakemake.log[0]):
    rows = load_pairs(snakemake.input.pairs)
    read = len(rows)
    if p.max_rows_per_domain:  # the rows Table 1 scores with EndoRM, no more
        rows = first_per_domain(rows, p.max_rows_per_domain)
    model, tok = load_for_job(snakemake.input.model, p.compute, snakemake.threads)
    fmt = prompt_format(p.format)
    scorer = Scorer(model, tok, fmt, max_batch_tokens=p.compute["batch_tokens"])
    t0 = time.perf_counter()
    scores, variants, info = score_variants(scorer, rows, p.ablations["alphas"], p.ablations["gamma"])
    seconds = time.perf_counter() - t0
    meta = {"model": model_provenance(snakemake.input.model), "model_path": snakemake.input.model,
            "dtype": p.compute["dtype"], "device": str(next(model.parameters()).device),
            "input": snakemake.input.pairs, "rows": len(rows), "rows_read": read,
            "max_rows_per_domain": p.max_rows_per_domain, "format": dataclasses.asdict(fmt),
            "variants": [{"name": v.name, "label": v.label, **dataclasses.asdict(v)} for v in variants],
            "run": info, "wall_seconds": seconds}
    out = [r for v in variants for r in scores[v.name]]
    with atomic_paths([snakemake.output.scores, snakemake.output.meta]) as (a, b):
        a.write_text(jsonl_text(out), encoding="utf-8")
        b.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(variants)} variants of {len(rows)} rows from one engine run ({info['sequences']} sequences, "
          f"{info['rmgap_shared_sequences']} shared with RMGAP's encoding) in {seconds:.1f} s")
