"""The promptable reward (paper Q2), scored: DSP's cross-domain matrix (Table 2) and Multifaceted
per-source accuracy (Fig. 1); the conditioned responses of the embedded default. The rows and DSP's pairs are
:mod:`endorm.data.promptable`'s.

EndoRM-X scores every response with domain X's system prompt as the system message; the matrix entry (X, D) is the
accuracy of EndoRM-X on the pairs of test domain D.
"""

from __future__ import annotations

from ..data.promptable import DSP_DOMAINS, DSP_KEYS, dsp_pairs
from ..errors import EndormError


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
