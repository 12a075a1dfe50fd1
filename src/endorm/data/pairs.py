"""Preference data: validation of pair files, RM-Bench's rows, and the preparation of Table 1's pairs.

A pair file (JSONL) has rows ``{id, prompt, chosen, rejected, domain?, system?}``; ``chosen``/``rejected`` are a
string or a list of strings. RM-Bench rows carry three of each, in the styles [concise, detailed plain, detailed
markdown].

Released files are read whole: a row the benchmark's own code keeps, the project keeps. An empty response is kept
(the scorer scores it as the end-of-turn token alone) and a pair whose chosen and rejected texts are identical is
kept (it loses under the strict ``>`` metric); :func:`pair_stats` counts both for the output's metadata. A row
whose structure is wrong (a missing field, a number where text belongs) is an error naming the file, row and field.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import EndormError
from ..io import read_rows, require

STYLES = ("concise", "detailed_plain", "detailed_markdown")
RMBENCH_FILE_DOMAINS = {
    "chat_filtered": "chat",
    "math_filtered": "math",
    "code_filtered": "code",
    "safety-refuse_filtered": "safety-refuse",
    "safety-response_filtered": "safety-response",
}


def _as_list(value, where: str, field: str) -> list[str]:
    """A response or a list of responses as a list of strings (an empty string is a response: kept, counted)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise EndormError(f"{where}: field {field!r} must be a string or a non-empty list of strings")
    for k, item in enumerate(items):
        if not isinstance(item, str):
            raise EndormError(f"{where}: field {field!r}[{k}] must be a string, got {type(item).__name__}")
    return items


def validate_pairs(rows: list[dict], source: str) -> list[dict]:
    """Normalise pair rows (lists everywhere); any problem names the file, row and field."""
    out, seen = [], set()
    for n, row in enumerate(rows, 1):
        where = f"{source}, row {n}"
        rid = require(row, "id", (str, int), where)
        if isinstance(rid, bool):
            raise EndormError(f"{where}: field 'id' must be a string or an integer, got {rid!r}")
        rid = str(rid)  # ids are strings in every output; 1 and "1" are the same row
        if rid in seen:
            raise EndormError(f"{where}: duplicate id {rid!r}")
        seen.add(rid)
        prompt = require(row, "prompt", str, where)
        if not prompt.strip():
            raise EndormError(f"{where}: field 'prompt' is empty")
        system = row.get("system")
        if system is not None and not isinstance(system, str):
            raise EndormError(f"{where}: field 'system' must be a string or null")
        domain = row.get("domain", "all")
        if not isinstance(domain, str):
            raise EndormError(f"{where}: field 'domain' must be a string")
        out.append({
            "id": rid,
            "prompt": prompt,
            "chosen": _as_list(require(row, "chosen", (str, list), where), where, "chosen"),
            "rejected": _as_list(require(row, "rejected", (str, list), where), where, "rejected"),
            "domain": domain,
            "system": system,
        })
    if not out:
        raise EndormError(f"{source}: no rows")
    return out


def row_names(rows: list[dict], source: str) -> dict[str, str]:
    """``{id: "FILE, row N (id X)"}`` of validated pair rows, for messages about a row once rows are selected."""
    return {row["id"]: f"{source}, row {n} (id {row['id']!r})" for n, row in enumerate(rows, 1)}


def pair_stats(rows: list[dict], limit: int = 200) -> dict:
    """Counts of the odd but kept content of validated pair rows, for the output's metadata and the log.

    ``empty_responses``: responses that are empty or whitespace only; ``identical_comparisons``: (chosen i,
    rejected j) comparisons of a row whose texts are identical (the metric compares every chosen with every
    rejected response of a row: 9 per RM-Bench row, 1 per pair). Up to ``limit`` of each are named by row id.
    """
    empty, identical, per_domain = [], [], {}
    for row in rows:
        d = per_domain.setdefault(row.get("domain", "all"), {"rows": 0, "empty_responses": 0,
                                                              "identical_comparisons": 0})
        d["rows"] += 1
        for side in ("chosen", "rejected"):
            for k, text in enumerate(row[side]):
                if not text.strip():
                    empty.append(f"{row['id']}: {side}[{k}]")
                    d["empty_responses"] += 1
        for i, c in enumerate(row["chosen"]):
            for j, r in enumerate(row["rejected"]):
                if c == r:
                    identical.append(f"{row['id']}: chosen[{i}] == rejected[{j}]")
                    d["identical_comparisons"] += 1
    return {"rows": len(rows), "responses": sum(len(r["chosen"]) + len(r["rejected"]) for r in rows),
            "empty_responses": len(empty), "identical_comparisons": len(identical), "per_domain": per_domain,
            "empty_response_at": empty[:limit], "identical_at": identical[:limit]}


def log_pair_stats(stats: dict, label: str) -> None:
    """Print what :func:`pair_stats` found (the workflow's prepare steps send stdout to their log)."""
    print(f"{label}: {stats['rows']} rows, {stats['responses']} responses; kept as released: "
          f"{stats['empty_responses']} empty response(s), {stats['identical_comparisons']} comparison(s) of "
          "identical chosen and rejected texts (they lose under strict >)")
    for key, what in (("empty_response_at", "empty response"), ("identical_at", "identical texts")):
        for where in stats[key]:
            print(f"  {what}: {where}")


def first_per_domain(rows: list[dict], n: int) -> list[dict]:
    """The first ``n`` rows of each domain, in input order."""
    counts: dict[str, int] = {}
    out = []
    for row in rows:
        d = row.get("domain", "all")
        if counts.get(d, 0) < n:
            out.append(row)
            counts[d] = counts.get(d, 0) + 1
    return out


def load_pairs(path: str | Path) -> list[dict]:
    return validate_pairs(read_rows(path), str(path))


# ----- RM-Bench ---------------------------------------------------------------------------------------------------
def rmbench_rows(rows: list[dict], source: str, domain: str | None = None) -> list[dict]:
    """RM-Bench rows (a per-domain released file, or the combined Hub split) in the pair schema.

    The per-domain files carry no ``domain`` field (it is the file's name): pass ``domain``. Safety parts keep
    their names (``safety-refuse``, ``safety-response``); the metric merges them.
    """
    out = []
    for n, row in enumerate(rows, 1):
        where = f"{source}, row {n}"
        d = row.get("domain", domain)
        if not isinstance(d, str):
            raise EndormError(f"{where}: no 'domain' field and no domain given for the file")
        chosen = _as_list(require(row, "chosen", list, where), where, "chosen")
        rejected = _as_list(require(row, "rejected", list, where), where, "rejected")
        if len(chosen) != 3 or len(rejected) != 3:
            raise EndormError(f"{where}: RM-Bench rows have 3 chosen and 3 rejected responses, got "
                              f"{len(chosen)} and {len(rejected)}")
        out.append({"id": f"{d}-{require(row, 'id', (int, str), where)}", "prompt": require(row, "prompt", str, where),
                    "chosen": chosen, "rejected": rejected, "domain": d})
    return out


def rmbench_file_domain(name: str) -> str | None:
    """The domain of a released RM-Bench file, from its name (``chat_filtered.json`` -> ``chat``), else None."""
    return RMBENCH_FILE_DOMAINS.get(Path(name).name.split(".")[0])


def load_rmbench_file(path: str | Path) -> list[dict]:
    """One released RM-Bench file (``data/<domain>_filtered.json``) or a combined JSON/JSONL with ``domain``."""
    return rmbench_rows(read_rows(path), str(path), rmbench_file_domain(str(path)))


def prepare_preferences(entries: list[dict], seed: int, work_dir, key: str = "rmbench.data") -> tuple[list[dict],
                                                                                                  list[dict]]:
    """The pair rows of every entry (in order; each fetched, adapted by its ``pairs`` adapter and checked against the
    manifest, with its rows per domain) and each entry's provenance."""
    from .adapters import prepare

    rows, metas = [], []
    for i, entry in enumerate(entries):
        got, meta = prepare(entry, "pairs", work_dir, key=f"{key}[{i}]", seed=seed, count_domains=True)
        rows += got
        metas.append(meta)
    return rows, metas
