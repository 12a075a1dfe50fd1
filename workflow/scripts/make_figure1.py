"""Figure 1's numbers (endorm.tables.figure1): Multifaceted accuracy per source, ours beside the paper's."""
from endorm.tables.figure1 import build_figure1
from endorm.io import read_json
from endorm.logs import redirect_to
from endorm.tables.common import write_tables

with redirect_to(snakemake.log[0]):
    metrics = {m: read_json(p) for m, p in zip(snakemake.params.methods, snakemake.input.metrics)}
    write_tables(snakemake.output.csv, snakemake.output.md, **build_figure1(metrics, snakemake.params.data))
