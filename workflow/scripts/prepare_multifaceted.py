"""Multifaceted pairs with each row's own system message (output.rows) and what was read (output.meta): the
source, the manifest check, rows not sampled, and the counts of kept odd content."""
import tempfile
from pathlib import Path

from endorm.data import pairs
from endorm.data.adapters import prepare
from endorm.io import write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.data.promptable import sample_per_source

d, seed = snakemake.params.data, snakemake.params.seed
with redirect_to(snakemake.log[0]):
    constructed = d["source"] == "constructed"
    spec = {**d, "source": "path", "path": snakemake.input[0]} if constructed else d
    with tempfile.TemporaryDirectory(dir=Path(snakemake.output.rows).parent) as tmp:
        # the manifest checks the rows read, before sampling; a local copy of a Hub split is checked against `expect`
        rows, meta = prepare(spec, "pairs", tmp, key="multifaceted.data", seed=seed,
                             name="persona-pairs" if constructed else "multifaceted",
                             options={"personas": snakemake.params.personas})
    if constructed:
        meta["manifest"] = "constructed by the embedded model: not in the manifest"
    print(f"manifest: {meta['manifest']}")
    read = len(rows)
    rows = sample_per_source(rows, d.get("per_source"), seed)
    rows = pairs.validate_pairs(rows, f"multifaceted ({d['source']})")
    stats = pairs.pair_stats(rows)
    pairs.log_pair_stats(stats, "Multifaceted pairs kept")
    not_sampled = read - len(rows)
    meta.update(rows_read=read, rows_kept=len(rows), rows_dropped=not_sampled,
                dropped={f"not sampled (per_source: {d.get('per_source')}, seed {seed})": not_sampled}
                if not_sampled else {}, content=stats)
    write_jsonl(snakemake.output.rows, rows)
    write_json(snakemake.output.meta, meta)
    counts = {}
    for r in rows:
        counts[r["domain"]] = counts.get(r["domain"], 0) + 1
    print(f"{read} rows read, {len(rows)} kept ({not_sampled} not sampled): {counts}")
