"""Table 2 (the paper's Q2): DSP's cross-domain accuracy matrix of the promptable endogenous reward, ours beside the
paper's.

Built by :func:`table2_metrics` (the matrix, from the scoring run) and :func:`build_table2` (rows, header); the
workflow's ``make_table2`` only reads and writes.
"""

from __future__ import annotations

from ..benchmarks import paper
from ..benchmarks.promptable import diagonal_dominance, dsp_matrix
from ..data.promptable import DSP_LABELS
from .common import model_label

ORDER = ("academy", "business", "literature", "entertainment")  # the paper's column order


def table2_metrics(run: dict) -> dict:
    """The 4x4 matrix and its diagonal dominance (:func:`endorm.benchmarks.promptable.dsp_matrix`) of a DSP scoring run
    (``{"scores", "ids", "provenance", "system_prompts"}``), with the run's provenance and system prompts."""
    metrics = dsp_matrix(run["scores"], len(run["ids"]))
    metrics["provenance"] = run["provenance"]
    metrics["system_prompts"] = run["system_prompts"]
    return metrics


def build_table2(run: dict, metrics: dict, data: dict) -> dict:
    """Table 2 from the scoring run, its :func:`table2_metrics` and the config's ``dsp.data``. Returns
    ``{"columns", "rows", "header", "notes"}`` (:func:`endorm.tables.common.write_tables`' arguments)."""
    model = model_label(run["provenance"]["model"])
    columns = ["source", "reward"] + [DSP_LABELS[d] for d in ORDER]
    rows = [{"source": f"ours ({model})", "reward": f"EndoRM-{DSP_LABELS[x]}",
             **{DSP_LABELS[d]: metrics["matrix"][x][d] for d in ORDER}} for x in ORDER]
    rows += [{"source": "paper (Qwen2.5-7B-Instruct, DSP test)", "reward": f"EndoRM-{DSP_LABELS[x]}",
              **{DSP_LABELS[d]: paper.TABLE2[x][d] for d in ORDER}} for x in ORDER]
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
    return {"columns": columns, "rows": rows, "header": header, "notes": []}
