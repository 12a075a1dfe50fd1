"""The promptable reward (paper Q2): DSP's cross-domain matrix (Table 2) and Multifaceted per-source accuracy (Fig. 1).

DSP (Cheng et al. 2023, Linear95/DSP ``data/domain_specific_preference.test.json``): a JSON list of
``{"query", "responses": {"academy", "business", "entertainment", "literature", "normal"}}``. The authors'
conversion (``reward_datasets.py``, ``--to_pairs``) prefers domain D's response over each of the other responses of
the same query, in the order of the file's keys, and keeps every row: 4 pairs per query per domain (2,644 for the
661 test queries), including the row whose ``normal`` response is empty and the pairs whose two texts are identical.
So does this module (an empty response is scored as the end-of-turn token alone; identical texts tie and lose).

EndoRM-X scores every response with domain X's system prompt as the system message; the matrix entry (X, D) is the
accuracy of EndoRM-X on the pairs of test domain D.
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


def dsp_matrix(scores: dict[str, list[dict[str, float]]], n_rows: int) -> dict:
    """The 4x4 accuracy matrix (in %) from per-response scores.

    Args:
        scores: reward domain X -> one dict per DSP row mapping each response key to its score under X's prompt.
        n_rows: number of DSP rows (each list must have this length).

    Returns: ``{"matrix": {X: {D: acc}}, "pairs_per_domain": 4 * n_rows, "diagonal_mean", "off_diagonal_mean",
    "diagonal_dominance"}``. A pair counts as correct only if the preferred response scores strictly higher.
    """
    matrix: dict[str, dict[str, float]] = {}
    for reward_domain, per_row in scores.items():
        if len(per_row) != n_rows:
            raise EndormError(f"reward domain {reward_domain!r}: {len(per_row)} scored rows, expected {n_rows}")
        matrix[reward_domain] = {}
        for test_domain in DSP_DOMAINS:
            pairs = dsp_pairs([None] * n_rows, test_domain)  # type: ignore[list-item]
            wins = sum(1 for i, good, other in pairs if _beats(per_row[i][good], per_row[i][other]))
            matrix[reward_domain][test_domain] = 100.0 * wins / len(pairs)
    return {"matrix": matrix, "pairs_per_domain": 4 * n_rows, **diagonal_dominance(matrix)}


def _beats(a, b) -> bool:
    """Strict ``a > b``; a missing score (None or NaN: nothing could be scored) loses."""
    return a is not None and b is not None and a > b


def diagonal_dominance(matrix: dict[str, dict[str, float]]) -> dict:
    """Mean diagonal, mean off-diagonal, and their difference (points) of a reward x test-domain matrix."""
    diag = [matrix[d][d] for d in matrix if d in matrix[d]]
    off = [matrix[x][d] for x in matrix for d in matrix[x] if d != x]
    if not diag or not off:
        return {}
    return {"diagonal_mean": sum(diag) / len(diag), "off_diagonal_mean": sum(off) / len(off),
            "diagonal_dominance": sum(diag) / len(diag) - sum(off) / len(off)}


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


def pairwise_accuracy(score_rows: list[dict]) -> dict:
    """Per-source accuracy (%) of one-chosen-vs-one-rejected rows, and the sample-weighted average.

    A row is correct when its margin is strictly positive (ties and missing scores lose), read from
    ``score_chosen``/``score_rejected`` or ``pair_margin``.
    """
    from .metrics import margin_matrix

    per: dict[str, list[float]] = {}
    for n, row in enumerate(score_rows, 1):
        m = margin_matrix(row, f"row {n}")
        if len(m) != 1 or len(m[0]) != 1:
            raise EndormError(f"row {n}: expected one chosen and one rejected score")
        x = m[0][0]
        per.setdefault(row.get("domain", "all"), []).append(1.0 if x == x and x > 0 else 0.0)
    if not per:
        raise EndormError("no rows")
    from ..stats import wilson_interval

    def rate(v):
        lo, hi = wilson_interval(sum(v), len(v))
        return {"accuracy": 100 * sum(v) / len(v), "n": len(v), "interval": [100 * lo, 100 * hi]}

    out = {"sources": {s: rate(v) for s, v in per.items()}}
    every = [x for v in per.values() for x in v]
    out["weighted_average"] = 100 * sum(every) / len(every)
    out["weighted_average_interval"] = rate(every)["interval"]
    out["n"] = len(every)
    out["interval_method"] = "95% Wilson score interval (pairs as independent trials)"
    return out


# ----- embedded default: conditioned responses to MT-Bench prompts (endorm.data.adapters.promptable) ----------------
def generate_conditioned(model, tokenizer, prompts: list[dict], systems: dict[str, str | None], fmt,
                         max_new_tokens: int, progress: bool = True, **gen_kwargs) -> list[dict]:
    """Greedy answers of ``model`` to each prompt under each system message (``None`` = the template's default).

    Returns one row per prompt: ``{id, prompt, category, responses: {system key: text}}``.
    """
    from ..methods.baselines import generate
    from ..core.encoding import PromptEncoder

    encoder = PromptEncoder.for_model(model, tokenizer, fmt)
    jobs = [(i, key) for i in range(len(prompts)) for key in systems]
    ids = [encoder.generation_prompt(prompts[i]["prompt"], systems[key], max_new_tokens) for i, key in jobs]
    texts = generate(model, tokenizer, ids, max_new_tokens, progress=progress, desc="conditioned responses",
                     **gen_kwargs)
    out = [{**p, "responses": {}} for p in prompts]
    for (i, key), text in zip(jobs, texts):
        text = text.strip()
        if not text:
            raise EndormError(f"the generator gave an empty response to {prompts[i]['id']} under {key!r}")
        out[i]["responses"][key] = text
    return out


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


def score_dsp(model, tokenizer, rows: list[dict], domain_prompts: dict[str, str], opts) -> dict:
    """EndoRM-X scores of every response under every reward domain X's system prompt.

    Returns ``{X: [{response key: score} per row]}``; the five responses of a (query, X) share one prompt pass.
    """
    from ..core.reward import endogenous_score
    from ..methods.scoring import make_scorer

    missing = [d for d in DSP_DOMAINS if d not in domain_prompts]
    if missing:
        raise EndormError(f"dsp.system_prompts lacks {missing}")
    scorer = make_scorer(model, tokenizer, opts)
    items, keys = [], []
    for x in DSP_DOMAINS:
        for i, row in enumerate(rows):
            for k in DSP_KEYS:
                items.append((row["query"], row["responses"][k], domain_prompts[x]))
                keys.append((x, i, k))
    # An empty response is the end-of-turn token alone; with score_eot off it gets None (its pairs lose).
    stats = scorer.token_stats(items, opts.reward.alpha, desc="DSP under 4 reward prompts", skip_unscorable=True)
    out: dict[str, list[dict[str, float | None]]] = {x: [{} for _ in rows] for x in DSP_DOMAINS}
    for (x, i, k), s in zip(keys, stats):
        out[x][i][k] = None if s is None else endogenous_score(s, opts.reward)
    return out
