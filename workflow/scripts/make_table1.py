"""Table 1 (endorm.tables.table1): RM-Bench accuracy of every training-free method beside the paper's."""
from endorm.io import read_json
from endorm.logs import redirect_to
from endorm.tables.table1 import build_table1
from endorm.tables.common import to_markdown, write_tables

with redirect_to(snakemake.log[0]):
    metrics = {m: read_json(p) for m, p in zip(snakemake.params.methods, snakemake.input.metrics)}
    table = build_table1(metrics, snakemake.params.data)
    write_tables(snakemake.output.csv, snakemake.output.md, **table)
    print(to_markdown(table["columns"], table["rows"]))
