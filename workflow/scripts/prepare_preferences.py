"""RM-Bench-shaped preference rows for Table 1 (output.rows) and what was read (output.meta): each entry's source,
its manifest check, and the counts of kept odd content (empty responses, identical chosen/rejected texts)."""
import tempfile
from pathlib import Path

from endorm.data import pairs
from endorm.io import write_json, write_jsonl
from endorm.logs import redirect_to

with redirect_to(snakemake.log[0]):
    with tempfile.TemporaryDirectory(dir=Path(snakemake.output.rows).parent) as tmp:
        rows, entries = pairs.prepare_preferences(snakemake.params.data, snakemake.params.seed, tmp)
    for e in entries:
        print(f"{e['name']}: {e['n']} rows ({e['source']}); manifest: {e['manifest']}")
    rows = pairs.validate_pairs(rows, "preferences")
    stats = pairs.pair_stats(rows)
    pairs.log_pair_stats(stats, "RM-Bench rows")
    write_jsonl(snakemake.output.rows, rows)
    write_json(snakemake.output.meta, {"entries": entries, "rows_read": len(rows), "rows_kept": len(rows),
                                       "rows_dropped": 0, "content": stats})
    print(f"wrote {len(rows)} rows to {snakemake.output.rows}")
