"""Table 3 (endorm.tables.table3): the base and RL models' zero-shot accuracy beside the paper's, with the controls that
need no training when math_eval.controls is on, 95% intervals, paired comparisons, and Appendix-E-style examples."""
import csv
from pathlib import Path

from endorm.io import read_json, read_jsonl, write_text
from endorm.logs import redirect_to
from endorm.tables.table3 import build_table3, examples_markdown, paired_markdown
from endorm.tables.common import model_label, to_csv, to_markdown

i = snakemake.input
with redirect_to(snakemake.log[0]):
    base, rl = read_json(i.base), read_json(i.rl)
    base_samples, rl_samples = read_jsonl(i.base_samples), read_jsonl(i.rl_samples)
    with open(i.log_table) as f:
        train_log = list(csv.DictReader(f))
    controls = None
    if "controls" in i.keys():
        controls = {"runs": [read_json(f) for f in i.controls], "run_samples": [read_jsonl(f) for f in i.control_samples],
                    "best": read_json(i.best_of_n), "rl_temperature": snakemake.params.rl_temperature}
    model = model_label(base["model_provenance"])
    t = build_table3(base, rl, base_samples, rl_samples, read_json(Path(i.train) / "endorm_rl.json"),
                     read_json(i.prompts_meta), train_log, model=model, controls=controls)
    write_text(snakemake.output.csv, to_csv(t["columns"], t["rows"]))
    write_text(snakemake.output.paired, to_csv(t["paired_columns"], t["paired"]))
    write_text(snakemake.output.md, "\n".join(t["header"]) + "\n\n" + to_markdown(t["columns"], t["rows"]) + "\n"
               + "\n".join(f"* {n}" for n in t["notes"]) + "\n" + "\n".join(paired_markdown(t["paired"], t["labels"]))
               + "\n")
    write_text(snakemake.output.examples, examples_markdown(base_samples, rl_samples, t["names"], t["labels"], model,
                                                            base["options"]["max_gen_toks"], snakemake.params.examples))
