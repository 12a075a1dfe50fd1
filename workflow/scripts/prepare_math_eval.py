"""Canonical rows of one math benchmark for lm-eval (Table 3).

params.source: one `math_eval.benchmarks` entry, {name, source, <its block>, n?, seed?, expect?} (see
endorm.data.mathdata.prepare_benchmark). Writes output.rows (JSONL {"id", "problem", "answer", "source"}) and output.meta
(JSON provenance: the source, its files' hashes, the rows read, dropped and kept, the manifest check).
"""
import tempfile
from pathlib import Path

from endorm.io import write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.data.mathdata import prepare_benchmark

with redirect_to(snakemake.log[0] if snakemake.log else None):
    out = Path(snakemake.output.rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        rows, meta = prepare_benchmark(dict(snakemake.params.source), tmp)
    print(f"manifest: {meta['manifest']}")
    write_jsonl(snakemake.output.rows, rows)
    write_json(snakemake.output.meta, meta)
    print(f"{meta['name']}: wrote {len(rows)} rows to {snakemake.output.rows}")
