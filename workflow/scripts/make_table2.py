from endorm import paper
from endorm.io import read_json, write_json
from endorm.logs import redirect_to
from endorm.promptable import DSP_LABELS, diagonal_dominance, dsp_matrix
from endorm.tables import model_label, write_tables

ORDER = ("academy", "business", "literature", "entertainment")  # the paper's column order
with redirect_to(snakemake.log[0]):
    run = read_json(snakemake.input.scores)
    metrics = dsp_matrix(run["scores"], len(run["ids"]))
    metrics["provenance"] = run["provenance"]
    metrics["system_prompts"] = run["system_prompts"]
    write_json(snakemake.output.metrics, metrics)
    model = model_label(run["provenance"]["model"])
    columns = ["source", "reward"] + [DSP_LABELS[d] for d in ORDER]
    rows = [{"source": f"ours ({model})", "reward": f"EndoRM-{DSP_LABELS[x]}",
             **{DSP_LABELS[d]: metrics["matrix"][x][d] for d in ORDER}} for x in ORDER]
    rows += [{"source": "paper (Qwen2.5-7B-Instruct, DSP test)", "reward": f"EndoRM-{DSP_LABELS[x]}",
              **{DSP_LABELS[d]: paper.TABLE2[x][d] for d in ORDER}} for x in ORDER]
    data = snakemake.params.data
    constructed = data["source"] == "constructed"
    header = [
        "# Table 2: DSP cross-domain accuracy (%) of the promptable endogenous reward",
        "",
        "Rows: the reward's system prompt (EndoRM-X); columns: the test domain D (D's response preferred over each "
        f"of the other four responses of the same query, {metrics['pairs_per_domain']} pairs per domain).",
        "",
        f"* **Ours**: model {model}, {run['provenance']['dtype']}; {len(run['ids'])} queries, source: {data['source']}"
        + (" (CONSTRUCTED: the embedded model's own greedy answers to MT-Bench prompts under each domain's system "
           "prompt; not the DSP data)" if constructed else "") + ".",
        f"* Diagonal mean {metrics['diagonal_mean']:.1f}, off-diagonal mean {metrics['off_diagonal_mean']:.1f}: "
        f"diagonal dominance {metrics['diagonal_dominance']:+.1f} points (the paper's: "
        f"{diagonal_dominance(paper.TABLE2)['diagonal_dominance']:+.1f}).",
        "* **Paper**: the paper's Table 2 (Qwen2.5-7B-Instruct on DSP's 661 test queries, 2,644 pairs per domain).",
        "* System prompts used (ours; the DSP paper's verbatim prompts are not in its repository): "
        + "; ".join(f"{DSP_LABELS[k]}: \"{v}\"" for k, v in run["system_prompts"].items()),
    ]
    write_tables(snakemake.output.csv, snakemake.output.md, columns, rows, header)

