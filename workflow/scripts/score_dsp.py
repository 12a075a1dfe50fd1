import time

from endorm.data.assets import model_provenance
from endorm.io import read_json, write_json
from endorm.logs import redirect_to
from endorm.options import load_for_job, score_options
from endorm.benchmarks.promptable import score_dsp

p = snakemake.params
with redirect_to(snakemake.log[0]):
    rows = all_rows = read_json(snakemake.input.dsp)
    if p.max_rows:  # dsp.max_rows: only the first N queries (a CPU rehearsal); Table 2 states the count
        rows = all_rows[: int(p.max_rows)]
        print(f"scoring the first {len(rows)} of {len(all_rows)} DSP queries (dsp.max_rows)")
    opts = score_options(p.opts)
    model, tok = load_for_job(snakemake.input.model, p.opts["compute"], snakemake.threads)
    t0 = time.perf_counter()
    scores = score_dsp(model, tok, rows, p.prompts, opts)
    write_json(snakemake.output[0], {
        "scores": scores, "ids": [r["id"] for r in rows], "system_prompts": p.prompts,
        "provenance": {"method": "endorm", "model": model_provenance(snakemake.input.model),
                       "dtype": p.opts["compute"]["dtype"], "input": snakemake.input.dsp,
                       "rows": len(rows), "rows_in_file": len(all_rows), "options": opts.describe(),
                       "seconds": time.perf_counter() - t0},
    })
