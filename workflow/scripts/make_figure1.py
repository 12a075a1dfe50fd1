from endorm import paper
from endorm.io import read_json
from endorm.logs import redirect_to
from endorm.tables import INTERVALS, METHOD_LABELS, judge_notes, model_label, write_tables

with redirect_to(snakemake.log[0]):
    methods = snakemake.params.methods
    metrics = {m: read_json(p) for m, p in zip(methods, snakemake.input.metrics)}
    prov = next(iter(metrics.values()))["provenance"]
    model = model_label(prov["model"])
    sources = sorted({s for m in metrics.values() for s in m["sources"]})
    columns = ["source", "subset", *[METHOD_LABELS.get(m, m) for m in methods], "n"]
    rows = []
    for s in sources + ["Average"]:
        row = {"source": f"ours ({model})", "subset": s, INTERVALS: {}}
        for m in methods:
            label = METHOD_LABELS.get(m, m)
            cell = ({"accuracy": metrics[m]["weighted_average"], "interval": metrics[m]["weighted_average_interval"]}
                    if s == "Average" else metrics[m]["sources"].get(s, {}))
            row[label] = cell.get("accuracy")
            if cell.get("interval"):
                row[INTERVALS][label] = tuple(cell["interval"])
        row["n"] = (metrics[methods[0]]["n"] if s == "Average" else metrics[methods[0]]["sources"][s]["n"])
        rows.append(row)
    for s, vals in paper.FIGURE1.items():
        rows.append({"source": "paper (Qwen2.5-7B-Instruct, Multifaceted-Bench)", "subset": s,
                     **{METHOD_LABELS.get(m, m): vals.get(m) for m in methods}})
    data = snakemake.params.data
    constructed = data["source"] == "constructed"
    header = [
        "# Figure 1: accuracy (%) of training-free rewards given a per-item system message",
        "",
        f"* **Ours**: model {model}, {prov['dtype']}; {prov['rows']} pairs, source: {data['source']}"
        + (" (CONSTRUCTED: the embedded model's answers to MT-Bench prompts under persona system messages; "
           "chosen = the answer written for the row's persona, rejected = one written for another persona; subsets "
           "are MT-Bench categories, not the paper's sources)" if constructed else "") + ".",
        "* Accuracy: chosen scores strictly above rejected (ties lose); Average is sample-weighted. Brackets: 95% "
        "Wilson score interval (pairs counted as independent trials).",
        "* **Paper**: the paper's Figure 1 (Qwen2.5-7B-Instruct; five source datasets of the Multifaceted "
        "Collection).",
    ]
    write_tables(snakemake.output.csv, snakemake.output.md, columns, rows, header, judge_notes(metrics))
