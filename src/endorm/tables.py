"""Tables of our numbers beside the paper's (always labelled as the paper's)."""

from __future__ import annotations

import csv
import io
import math

from . import paper
from .errors import EndormError

METHOD_LABELS = {
    "endorm": "EndoRM",
    "loglik": "Log-likelihood (sum)",
    "loglik-mean": "Log-likelihood (mean)",
    "generative-verifier": "Generative Verifier",
    "genrm-pointwise": "GenRM-Pointwise",
    "genrm-pairwise": "GenRM-Pairwise",
}
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
        rows.append({"source": ours_label, "method": METHOD_LABELS.get(method, method),
                     **{d: m.get(d) for d in domains}, **{k: m.get(k) for k in LEVELS}, "n": m.get("n")})
    for method in paper.TABLE1:
        values = paper.table1(method)
        rows.append({"source": f"paper ({paper.PAPER_MODEL_TABLE1}, RM-Bench)",
                     "method": METHOD_LABELS.get(method, method), **values})
    return columns, rows


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def to_csv(columns: list[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _fmt(row.get(c)) for c in columns})
    return buf.getvalue()


def to_markdown(columns: list[str], rows: list[dict]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def model_label(provenance: dict) -> str:
    """A readable name of the scored model, from its provenance record."""
    if provenance.get("id"):
        return f"{provenance['id'].split('/')[-1]} ({provenance['id']}@{str(provenance.get('revision'))[:8]})"
    if provenance.get("parts"):
        first, last = provenance["parts"][0], provenance["parts"][-1]
        return (f"{provenance.get('name') or provenance['file']} (GGUF from {first['package']}..{last['package']} "
                f"{first.get('version')})")
    if provenance.get("file"):
        stem = provenance["file"].rsplit("/", 1)[-1].removesuffix(".gguf")
        return f"{stem} (GGUF from {provenance.get('package')} {provenance.get('version')})"
    if provenance.get("source") == "random":
        return f"RANDOM-INIT {provenance.get('arch')} ({provenance.get('layers')} layers, seed {provenance.get('seed')})"
    return str(provenance.get("path"))


def judge_notes(metrics: dict[str, dict]) -> list[str]:
    """What the judges did: parse failures and position preference, from the scoring runs' records."""
    notes = []
    for method, m in metrics.items():
        run = m.get("provenance", {}).get("run", {})
        label = METHOD_LABELS.get(method, method)
        if "judgements" in run:
            notes.append(f"{label}: {run['judgements']} judgements on {m['n']} rows (every chosen-rejected pair, "
                         "both orders); "
                         f"{run['parse_failures']} unparsable; answered 'A' {run['chose_A']} times. A judge that "
                         "always names the same position gives no preference once both orders are counted.")
        elif "parse_failures" in run:
            notes.append(f"{label}: {run['parse_failures']} of {run['responses']} replies had no score 1-10 "
                         "(counted as losses).")
    return notes


def write_tables(csv_path, md_path, columns: list[str], rows: list[dict], header: list[str],
                 notes: list[str] = ()) -> None:
    """One table as CSV, and as Markdown under ``header`` lines with ``notes`` as a list after it."""
    from .io import write_text

    write_text(csv_path, to_csv(columns, rows))
    body = to_markdown(columns, rows) + ("\n" + "\n".join(f"* {n}" for n in notes) + "\n" if notes else "")
    write_text(md_path, "\n".join(header) + "\n\n" + body)


def table3_controls(names: list[str], greedy: dict[str, list[dict]], runs: list[dict], run_samples: list[list[dict]],
                    best: dict, rl_temperature: float) -> dict:
    """Table 3's control rows, all on the controls' problems (like with like): the greedy rows restricted to them
    (``greedy``: {row label: lm-eval sample records}), each sampled run of the base model (its summary in ``runs``,
    records in ``run_samples``; accuracy = the mean over samples), the reference run at ``rl_temperature`` first,
    then best-of-N (``best``: :func:`endorm.controls.best_of_n`'s JSON). Accuracies are fractions.

    Returns ``{"rows": [{"finetuning", "decoding", "accuracy": {task: fraction}}], "n": {task: problems},
    "reference": the rl_temperature run's summary}``; refuses runs on different problems."""
    keys = {(r["task"], r["id"]) for r in run_samples[0]}
    if any({(r["task"], r["id"]) for r in s} != keys for s in run_samples[1:]):
        raise EndormError("the sampled control runs were evaluated on different problems")
    n = {t: len({i for task, i in keys if task == t}) for t in names}
    if any(list(r["tasks"]) != names for r in runs) or any(runs[0]["tasks"][t]["n"] != n[t] for t in names):
        raise EndormError(f"the sampled control runs do not cover the benchmarks {names}")
    rows = []
    for label, recs in greedy.items():
        got = {t: [r["correct"] for r in recs if r["task"] == t and (r["task"], r["id"]) in keys] for t in names}
        if any(len(got[t]) != n[t] for t in names):
            raise EndormError(f"{label}: the greedy records do not hold every problem of the controls")
        rows.append({"finetuning": label, "decoding": "greedy, same problems",
                     "accuracy": {t: sum(v) / len(v) for t, v in got.items()}})
    runs = sorted(runs, key=lambda r: (r["options"]["sampling"]["temperature"] != rl_temperature,
                                       -r["options"]["sampling"]["temperature"]))
    if runs[0]["options"]["sampling"]["temperature"] != rl_temperature:
        raise EndormError(f"no sampled control run at the RL temperature {rl_temperature}")
    for k, run in enumerate(runs):
        smp = run["options"]["sampling"]
        what = " (RL's temperature: the reference)" if k == 0 else ""
        rows.append({"finetuning": "None (base)",
                     "decoding": f"sampled T={smp['temperature']:g}{what}, mean of {smp['samples']}",
                     "accuracy": {t: run["tasks"][t]["accuracy"] for t in names}})
    for n_best, tasks in best["best_of"].items():
        rows.append({"finetuning": "None (base)",
                     "decoding": f"best-of-{n_best} by its endogenous reward (T={rl_temperature:g} samples)",
                     "accuracy": {t: tasks[t]["accuracy"] for t in names}})
    return {"rows": rows, "n": n, "reference": runs[0]}
