"""What every table shares: the methods' display names, CSV and Markdown with 95% intervals, the scored model's
label, the judges' notes, and writing a table (each table's rows and notes are built in its own module:
``table1``, ``table2``, ``figure1``, ``table3``, ``analysis_tables``, ``theory_tables``). Ours beside the
paper's numbers, always labelled as the paper's."""

from __future__ import annotations

import csv
import io
import math

METHOD_LABELS = {
    "endorm": "EndoRM",
    "loglik": "Log-likelihood (sum)",
    "loglik-mean": "Log-likelihood (mean)",
    "generative-verifier": "Generative Verifier",
    "genrm-pointwise": "GenRM-Pointwise",
    "genrm-pairwise": "GenRM-Pairwise",
}


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v:.1f}" if isinstance(v, float) else str(v)


# A row's 95% intervals ride in ``row[INTERVALS] = {column: (lo, hi)}``: the CSV gets ``<column>_lo`` and
# ``<column>_hi`` columns after each column that has one, the Markdown shows ``value [lo, hi]`` in the cell.
INTERVALS = "intervals"


def _csv_columns(columns: list[str], rows: list[dict]) -> list[str]:
    with_ci = {c for r in rows for c in (r.get(INTERVALS) or {})}
    return [x for c in columns for x in ((c, f"{c}_lo", f"{c}_hi") if c in with_ci else (c,))]


def _csv_cell(row: dict, column: str) -> str:
    for suffix, k in (("_lo", 0), ("_hi", 1)):
        base = column.removesuffix(suffix)
        if column.endswith(suffix) and base in (row.get(INTERVALS) or {}):
            return _fmt(row[INTERVALS][base][k])
    return _fmt(row.get(column))


def _md_cell(row: dict, column: str) -> str:
    ci = (row.get(INTERVALS) or {}).get(column)
    value = _fmt(row.get(column))
    return f"{value} [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci and value else value


def error_bars(rows: list[dict], column: str) -> list[list[float]]:
    """matplotlib's ``yerr`` (distances below and above each value) from CSV rows with ``<column>_lo/_hi``; 0 where
    a row has no interval."""
    def num(r, k):
        return float(r[k]) if r.get(k) not in (None, "") else float("nan")

    below, above = [], []
    for r in rows:
        v, lo, hi = num(r, column), num(r, f"{column}_lo"), num(r, f"{column}_hi")
        ok = lo == lo and hi == hi and v == v
        below.append(v - lo if ok else 0.0)
        above.append(hi - v if ok else 0.0)
    return [below, above]


def to_csv(columns: list[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    fields = _csv_columns(columns, rows)
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _csv_cell(row, c) for c in fields})
    return buf.getvalue()


def to_markdown(columns: list[str], rows: list[dict]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md_cell(r, c) for c in columns) + " |" for r in rows]
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
    from ..io import write_text

    write_text(csv_path, to_csv(columns, rows))
    body = to_markdown(columns, rows) + ("\n" + "\n".join(f"* {n}" for n in notes) + "\n" if notes else "")
    write_text(md_path, "\n".join(header) + "\n\n" + body)
