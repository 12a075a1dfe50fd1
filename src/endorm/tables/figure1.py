"""Figure 1 (the paper's Q2): Multifaceted-Bench accuracy per source when the reward is given each row's own system
message, for EndoRM and the judges, ours beside the paper's.

Built by :func:`build_figure1` from each method's metrics (:func:`endorm.benchmarks.promptable.pairwise_accuracy` with the
scoring run's provenance); the workflow's ``make_figure1`` only reads and writes.
"""

from __future__ import annotations

from ..benchmarks import paper
from .common import INTERVALS, METHOD_LABELS, judge_notes, model_label

AVERAGE = "Average"  # the sample-weighted row, as the paper's Figure 1 names it


def build_figure1(metrics: dict[str, dict], data: dict) -> dict:
    """Figure 1's numbers from ``metrics`` ({method: its metrics with ``provenance``}, in the figure's order) and the
    config's ``multifaceted.data``: one row per source (sorted) and the sample-weighted average, each with 95%
    Wilson intervals, then the paper's rows. Returns ``{"columns", "rows", "header", "notes"}``
    (:func:`endorm.tables.common.write_tables`' arguments)."""
    methods = list(metrics)
    prov = metrics[methods[0]]["provenance"]
    model = model_label(prov["model"])
    sources = sorted({s for m in metrics.values() for s in m["sources"]})
    columns = ["source", "subset", *[METHOD_LABELS.get(m, m) for m in methods], "n"]
    rows = []
    for s in sources + [AVERAGE]:
        row = {"source": f"ours ({model})", "subset": s, INTERVALS: {}}
        for m in methods:
            label = METHOD_LABELS.get(m, m)
            cell = ({"accuracy": metrics[m]["weighted_average"], "interval": metrics[m]["weighted_average_interval"]}
                    if s == AVERAGE else metrics[m]["sources"].get(s, {}))
            row[label] = cell.get("accuracy")
            if cell.get("interval"):
                row[INTERVALS][label] = tuple(cell["interval"])
        row["n"] = (metrics[methods[0]]["n"] if s == AVERAGE else metrics[methods[0]]["sources"][s]["n"])
        rows.append(row)
    for s, vals in paper.FIGURE1.items():
        rows.append({"source": "paper (Qwen2.5-7B-Instruct, Multifaceted-Bench)", "subset": s,
                     **{METHOD_LABELS.get(m, m): vals.get(m) for m in methods}})
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
    return {"columns": columns, "rows": rows, "header": header, "notes": judge_notes(metrics)}
