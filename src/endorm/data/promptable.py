"""DSP's and Multifaceted's rows (the promptable reward's data, paper Q2): reading and checking them, DSP's pairs,
the constructed persona pairs. Their scoring (Table 2's matrix, Figure 1's accuracy) is
:mod:`endorm.benchmarks.promptable`.

DSP (Cheng et al. 2023, Linear95/DSP ``data/domain_specific_preference.test.json``): a JSON list of
``{"query", "responses": {"academy", "business", "entertainment", "literature", "normal"}}``. The authors'
conversion (``reward_datasets.py``, ``--to_pairs``) prefers domain D's response over each of the other responses of
the same query, in the order of the file's keys, and keeps every row: 4 pairs per query per domain (2,644 for the
661 test queries), including the row whose ``normal`` response is empty and the pairs whose two texts are identical.
So does this module (an empty response is scored as the end-of-turn token alone; identical texts tie and lose).
"""

from __future__ import annotations

from ..errors import EndormError
from ..io import read_rows, require

DSP_DOMAINS = ("academy", "business", "entertainment", "literature")


DSP_KEYS = DSP_DOMAINS + ("normal",)


DSP_LABELS = {"academy": "Academy", "business": "Business", "entertainment": "Entertainment",
              "literature": "Literature&Art", "normal": "Normal"}


def validate_dsp(rows: list[dict], source: str) -> list[dict]:
    """DSP rows checked: a query and all five responses, each a string (an empty one is kept, as the authors'
    conversion keeps it; :func:`dsp_stats` counts it). Responses under other keys are set aside in
    ``extra_responses`` (the matrix uses the five keys) and counted."""
    if not rows:
        raise EndormError(f"{source}: no rows")
    out = []
    for n, row in enumerate(rows, 1):
        where = f"{source}, row {n}"
        query = require(row, "query", str, where)
        responses = require(row, "responses", dict, where)
        for key in DSP_KEYS:
            if key not in responses:
                raise EndormError(f"{where}: field 'responses' has no {key!r} response "
                                  f"(expected {', '.join(DSP_KEYS)})")
            if not isinstance(responses[key], str):
                raise EndormError(f"{where}: field 'responses.{key}' must be a string, "
                                  f"got {type(responses[key]).__name__}")
        item = {"id": row.get("id", n - 1), "query": query, "responses": {k: responses[k] for k in DSP_KEYS}}
        extra = {k: v for k, v in responses.items() if k not in DSP_KEYS}
        if extra:
            item["extra_responses"] = extra
        out.append(item)
    return out


def dsp_stats(rows: list[dict], limit: int = 200) -> dict:
    """What the DSP pairs hold beyond the ordinary, per test domain: pairs with an empty response (scored as the
    end-of-turn token alone) and pairs whose two texts are identical (they tie, so they lose under strict ``>``)."""
    empty = [f"row {i + 1} (id {row['id']}): {k}" for i, row in enumerate(rows) for k in DSP_KEYS
             if not row["responses"][k].strip()]
    per_domain = {}
    for d in DSP_DOMAINS:
        pairs = dsp_pairs(rows, d)
        res = [(rows[i]["responses"][a], rows[i]["responses"][b]) for i, a, b in pairs]
        per_domain[d] = {"pairs": len(pairs),
                         "pairs_with_empty_response": sum(1 for a, b in res if not a.strip() or not b.strip()),
                         "identical_pairs": sum(1 for a, b in res if a == b)}
    extra = sorted({k for row in rows for k in row.get("extra_responses", {})})
    return {"queries": len(rows), "responses": len(rows) * len(DSP_KEYS), "empty_responses": len(empty),
            "empty_response_at": empty[:limit], "per_domain": per_domain,
            "rows_with_extra_responses": sum(1 for r in rows if r.get("extra_responses")),
            "extra_response_keys": extra}


def log_dsp_stats(stats: dict, label: str) -> None:
    print(f"{label}: {stats['queries']} queries, {stats['responses']} responses, {stats['empty_responses']} empty "
          "response(s) kept (scored as the end-of-turn token alone)")
    for where in stats["empty_response_at"]:
        print(f"  empty response: {where}")
    for d, c in stats["per_domain"].items():
        print(f"  test domain {d}: {c['pairs']} pairs, {c['pairs_with_empty_response']} with an empty response, "
              f"{c['identical_pairs']} with identical texts (they lose under strict >)")
    if stats["rows_with_extra_responses"]:
        print(f"  {stats['rows_with_extra_responses']} row(s) have responses under other keys "
              f"{stats['extra_response_keys']}: set aside (not in the four test domains' pairs)")


def load_dsp(path) -> list[dict]:
    return validate_dsp(read_rows(path), str(path))


def dsp_pairs(rows: list[dict], domain: str) -> list[tuple[int, str, str]]:
    """(row index, preferred key, other key) for test domain ``domain``, in the DSP authors' order."""
    if domain not in DSP_DOMAINS:
        raise EndormError(f"unknown DSP domain {domain!r}; expected one of {DSP_DOMAINS}")
    return [(i, domain, other) for i in range(len(rows)) for other in DSP_KEYS if other != domain]


# ----- Multifaceted (Janus) ----------------------------------------------------------------------------------------
MULTIFACETED_SOURCES = (
    # (substring of the source column, the paper's label)
    ("nectar", "Nectar"),
    ("openhermes", "OpenHermes Preferences"),
    ("ultrafeedback", "UltraFeedback"),
    ("arena", "Chatbot Arena Conversations"),
    ("domain", "Domain-Specific Preference"),
)


def source_label(raw: str) -> str:
    low = raw.lower()
    for key, label in MULTIFACETED_SOURCES:
        if key in low:
            return label
    return raw


def _assistant_text(value, where: str, field: str) -> str:
    """A response given as a string or as chat messages (the last assistant message's content)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        texts = [m.get("content") for m in value if m.get("role") == "assistant"]
        if not texts or not isinstance(texts[-1], str):
            raise EndormError(f"{where}: field {field!r} has no assistant message")
        text = texts[-1]
    else:
        raise EndormError(f"{where}: field {field!r} must be a string or a list of chat messages")
    return text


# Column names of the Janus authors' DPO training config, read as the Hub card's names.
MULTIFACETED_ALIASES = {"instruction": "prompt", "chosen_response": "chosen", "rejected_response": "rejected"}


def multifaceted_rows(rows: list[dict], source: str) -> list[dict]:
    """Multifaceted Collection preference rows in the pair schema, with the per-item system message.

    Two shapes are accepted:

    * the DPO/ORPO splits: ``main_source``, ``original_source``, ``system``, ``prompt``, ``chosen``, ``rejected``
      (responses as strings or chat messages); ``domain`` = the paper's label of ``main_source``. The names of
      the Janus authors' DPO training config (``instruction``, ``chosen_response``, ``rejected_response``;
      kaistAI/Janus ``train/axolotl/config/janus-7b-dpo.yml``) are read as well;
    * the RM split: ``input`` (system message and instruction in one string), ``chosen``, ``rejected``; it has no
      source column, so ``domain`` is ``"all"`` and the whole input is the user turn (``system`` = ``""``, so no
      template default is added).

    Empty responses and identical chosen/rejected texts are kept (``endorm.data.pairs.pair_stats`` counts them).
    """
    out = []
    for n, row in enumerate(rows, 1):
        where = f"{source}, row {n}"
        row = {**row, **{new: row[old] for old, new in MULTIFACETED_ALIASES.items() if old in row and new not in row}}
        if "input" in row and "prompt" not in row:
            prompt, system, domain = require(row, "input", str, where), "", "all"
        else:
            prompt = require(row, "prompt", str, where)
            system = require(row, "system", str, where)
            domain = source_label(require(row, "main_source", str, where))
        out.append({"id": row.get("id", n - 1), "prompt": prompt, "system": system, "domain": domain,
                    "chosen": [_assistant_text(require(row, "chosen", (str, list), where), where, "chosen")],
                    "rejected": [_assistant_text(require(row, "rejected", (str, list), where), where, "rejected")]})
    return out


def sample_per_source(rows: list[dict], n: int | None, seed: int) -> list[dict]:
    """Up to ``n`` rows of each source, drawn with ``seed`` (all rows when ``n`` is None), in input order."""
    import random

    if n is None:
        return rows
    by_source: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_source.setdefault(r["domain"], []).append(i)
    keep: set[int] = set()
    rng = random.Random(seed)
    for idx in by_source.values():
        keep.update(idx if len(idx) <= n else rng.sample(idx, n))
    return [r for i, r in enumerate(rows) if i in keep]


def persona_pairs(rows: list[dict], personas: dict[str, str], per_prompt: int, seed: int) -> list[dict]:
    """Multifaceted-shaped pairs: for a prompt answered under personas P and Q, the system message P prefers P's
    answer over Q's (and Q prefers Q's), as the Janus collection pairs a system message's aligned response with one
    written for another system message of the same instruction. ``domain`` = the prompt's MT-Bench category."""
    import random

    rng = random.Random(seed)
    keys = sorted(personas)
    out = []
    for row in rows:
        chosen_keys = rng.sample(keys, min(per_prompt, len(keys)))
        for k, key in enumerate(chosen_keys):
            other = chosen_keys[(k + 1) % len(chosen_keys)]
            if other == key:
                continue
            out.append({"id": f"{row['id']}-{key}", "prompt": row["prompt"], "system": personas[key],
                        "domain": row["category"], "chosen": [row["responses"][key]],
                        "rejected": [row["responses"][other]]})
    return out
