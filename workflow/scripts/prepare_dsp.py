"""The DSP queries with their five responses (output.rows) and what was read (output.meta): the source, the
manifest check, and per test domain the pairs with an empty response or identical texts (all kept)."""
import tempfile
from pathlib import Path

from endorm.data.adapters import prepare
from endorm.io import write_json
from endorm.logs import redirect_to
from endorm.data.promptable import dsp_stats, log_dsp_stats

d = snakemake.params.data
with redirect_to(snakemake.log[0]):
    constructed = d["source"] == "constructed"
    spec = {"source": "path", "path": snakemake.input[0]} if constructed else d
    with tempfile.TemporaryDirectory(dir=Path(snakemake.output.rows).parent) as tmp:
        rows, meta = prepare(spec, "dsp", tmp, key="dsp.data", name="constructed" if constructed else "dsp")
    if constructed:
        meta["manifest"] = "constructed by the embedded model: not in the manifest"
    print(f"manifest: {meta['manifest']}")
    stats = dsp_stats(rows)
    log_dsp_stats(stats, f"DSP ({d['source']})")
    meta.update(rows_read=len(rows), rows_kept=len(rows), rows_dropped=0, content=stats)
    write_json(snakemake.output.rows, rows)
    write_json(snakemake.output.meta, meta)
