"""Table 1 (the paper's Q1): RM-Bench accuracy of every training-free method, ours beside the paper's rows.

Built by :func:`build_table1` from each method's metrics (``endorm rmbench-metrics``' JSON with the scoring run's
provenance); the workflow's ``make_table1`` only reads and writes.
"""

from __future__ import annotations

from ..benchmarks import paper
from .common import INTERVALS, METHOD_LABELS, judge_notes, model_label

LEVELS = ("easy", "normal", "hard", "avg", "avg_micro")


def table1_rows(metrics: dict[str, dict], ours_label: str) -> tuple[list[str], list[dict]]:
    """Rows of Table 1: ours (one per method), then the paper's (every printed row). Returns (columns, rows)."""
    domains: list[str] = []
    for m in metrics.values():
        domains += [d for d in m["domains"] if d not in domains]
    paper_domains = [d for d in ("chat", "math", "code", "safety") if d not in domains]
    columns = ["source", "method", *domains, *paper_domains, *LEVELS, "n"]
    rows = []
    for method, m in metrics.items():
        ci = m.get("intervals") or {}
        rows.append({"source": ours_label, "method": METHOD_LABELS.get(method, method),
                     **{d: m.get(d) for d in domains}, **{k: m.get(k) for k in LEVELS}, "n": m.get("n"),
                     INTERVALS: {c: tuple(ci[c]) for c in (*domains, *LEVELS) if c in ci and c in m}})
    for method in paper.TABLE1:
        values = paper.table1(method)
        rows.append({"source": f"paper ({paper.PAPER_MODEL_TABLE1}, RM-Bench)",
                     "method": METHOD_LABELS.get(method, method), **values})
    return columns, rows


def build_table1(metrics: dict[str, dict], data: dict) -> dict:
    """Table 1 from ``metrics`` ({method: its RM-Bench metrics with ``provenance``}, in the table's order) and the
    config's ``rmbench.data``. Returns ``{"columns", "rows", "header", "notes"}`` (:func:`endorm.tables.common.write_tables`'
    arguments)."""
    first = next(iter(metrics.values()))
    prov = first["provenance"]
    model = prov["model"]
    model_name = model_label(model)
    constructed = bool(data.get("constructed"))
    data_label = "constructed from packaged data" if constructed else "RM-Bench"
    columns, rows = table1_rows(metrics, f"ours ({model_name}, {data_label})")
    opts = prov["options"]
    header = [
        "# Table 1: RM-Bench accuracy (%) of training-free reward methods",
        "",
        f"* **Ours**: model `{model_name}` ({model.get('source')}; {model.get('note', '')}), dtype {prov['dtype']}, "
        f"device {prov['device']}; data `{prov['input']}` ({prov['rows']} rows, source: {data['source']}"
        + (f"; constructed in RM-Bench's styles, rows per set: {data['constructed']}" if constructed else "") + ").",
        f"* Reward options: {opts['reward']}; prompt format: {opts['format']}.",
        "* Metric: RM-Bench's official 3x3 accuracy (strict >, ties lose); domain = mean(easy, normal, hard); "
        "easy/normal/hard/avg = unweighted means over domains; avg_micro = mean over rows. Brackets: "
        f"{first.get('interval_method', '95% interval')}.",
        "* **Paper**: the paper's Table 1 as printed (Qwen2.5-7B-Instruct on the real RM-Bench; trained-RM rows are "
        "the RM-Bench paper's numbers). Its EndoRM Avg (70.2) is not the mean of its domain columns (71.45).",
    ]
    if constructed:
        header.append("* These domains are constructed from real packaged data (GSM8K, GPQA "
                      "Diamond, CHAMP) in RM-Bench's three styles; they are not RM-Bench's domains, so only the "
                      "easy/normal/hard/avg columns are comparable in spirit, not in value.")
    return {"columns": columns, "rows": rows, "header": header, "notes": judge_notes(metrics)}
