"""Table 2 (endorm.tables.table2): DSP's cross-domain matrix of the promptable endogenous reward beside the paper's."""
from endorm.io import read_json, write_json
from endorm.logs import redirect_to
from endorm.tables.table2 import build_table2, table2_metrics
from endorm.tables.common import write_tables

with redirect_to(snakemake.log[0]):
    run = read_json(snakemake.input.scores)
    metrics = table2_metrics(run)
    write_json(snakemake.output.metrics, metrics)
    write_tables(snakemake.output.csv, snakemake.output.md, **build_table2(run, metrics, snakemake.params.data))
