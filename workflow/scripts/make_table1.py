from endorm.io import read_json
from endorm.logs import redirect_to
from endorm.tables import judge_notes, model_label, table1_rows, to_markdown, write_tables

with redirect_to(snakemake.log[0]):
    metrics = {m: read_json(p) for m, p in zip(snakemake.params.methods, snakemake.input.metrics)}
    prov = next(iter(metrics.values()))["provenance"]
    model = prov["model"]
    model_name = model_label(model)
    data = snakemake.params.data
    data_label = "RM-Bench" if data["source"] != "embedded" else "constructed from packaged data"
    columns, rows = table1_rows(metrics, f"ours ({model_name}, {data_label})")
    opts = prov["options"]
    header = [
        "# Table 1: RM-Bench accuracy (%) of training-free reward methods",
        "",
        f"* **Ours**: model `{model_name}` ({model.get('source')}; {model.get('note', '')}), dtype {prov['dtype']}, "
        f"device {prov['device']}; data `{prov['input']}` ({prov['rows']} rows, source: {data['source']}"
        + (f", {data.get('embedded')}" if data["source"] == "embedded" else "") + ").",
        f"* Reward options: {opts['reward']}; prompt format: {opts['format']}.",
        "* Metric: RM-Bench's official 3x3 accuracy (strict >, ties lose); domain = mean(easy, normal, hard); "
        "easy/normal/hard/avg = unweighted means over domains; avg_micro = mean over rows. Brackets: "
        f"{next(iter(metrics.values())).get('interval_method', '95% interval')}.",
        "* **Paper**: the paper's Table 1 as printed (Qwen2.5-7B-Instruct on the real RM-Bench; trained-RM rows are "
        "the RM-Bench paper's numbers). Its EndoRM Avg (70.2) is not the mean of its domain columns (71.45).",
    ]
    if data["source"] == "embedded":
        header.append("* The embedded default's domains are constructed from real packaged data (GSM8K, GPQA "
                      "Diamond, CHAMP) in RM-Bench's three styles; they are not RM-Bench's domains, so only the "
                      "easy/normal/hard/avg columns are comparable in spirit, not in value.")
    write_tables(snakemake.output.csv, snakemake.output.md, columns, rows, header, judge_notes(metrics))
    print(to_markdown(columns, rows))
