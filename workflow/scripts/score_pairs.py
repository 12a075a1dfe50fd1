"""Scores a suite's preference pairs with the job's methods (score_likelihood: the three likelihood methods from
one forward pass; score_judge: one judge), and writes each method's scores and provenance."""
import time

from endorm.data.pairs import first_per_domain, load_pairs, row_names
from endorm.logs import redirect_to
from endorm.options import load_for_job, score_options
from endorm.methods.scoring import score_pairs, write_scores

p = snakemake.params
with redirect_to(snakemake.log[0]):
    rows = load_pairs(snakemake.input.pairs)
    names = row_names(rows, snakemake.input.pairs)
    caps = [p.opts["max_rows_per_domain"][m] for m in p.methods if m in p.opts["max_rows_per_domain"]]
    if caps:  # costly judges on a CPU: the first rows of each domain
        rows = first_per_domain(rows, min(caps))
    opts = score_options(p.opts)
    compute = p.opts["compute"]
    model, tok = load_for_job(snakemake.input.model, compute, snakemake.threads)
    t0 = time.perf_counter()
    results, info = score_pairs(model, tok, rows, list(p.methods), opts, names)
    outputs = snakemake.output.scores if isinstance(snakemake.output.scores, list) else [snakemake.output.scores]
    write_scores(list(outputs), list(p.methods), results, info, model=model, model_path=snakemake.input.model,
                 dtype=compute["dtype"], input_path=snakemake.input.pairs, rows=len(rows), opts=opts,
                 seconds=time.perf_counter() - t0)
    print(f"scored {len(rows)} rows with {', '.join(p.methods)}")
