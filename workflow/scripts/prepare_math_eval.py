"""Canonical rows of one math benchmark for lm-eval (Table 3).

params.source: {"source": "github", "name"?, "repo", "commit", "path", "sha256"?} | {"source": "path", "name", "path"}
| {"source": "hub", "dataset", "revision"?, "split"?, "name"?} | {"source": "package", "name", "n"?, "seed"?}
(see endorm.matheval.prepare_source). Writes output.rows (JSONL {"id", "problem", "answer", "source"}) and
output.meta (JSON provenance: source, revision, sha256 of the raw file, n rows).
"""

from pathlib import Path

from endorm.io import write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.matheval import prepare_source

with redirect_to(snakemake.log[0] if snakemake.log else None):
    spec = dict(snakemake.params.source)
    rows, meta = prepare_source(spec, Path(snakemake.output.rows).parent)
    meta["n"] = len(rows)
    write_jsonl(snakemake.output.rows, rows)
    write_json(snakemake.output.meta, meta)
    print(f"{meta.get('name')}: wrote {len(rows)} rows to {snakemake.output.rows}")
