"""Reward variants from one forward pass: what in the endogenous reward decides a preference?

Every variant is a function of the same per-token quantities (:class:`endorm.core.reward.TokenStats`), which the engine
computes for several temperatures from one pass over the hidden states (:meth:`endorm.core.engine.Scorer.
token_stats_alphas`: only the vocabulary reduction is repeated per alpha; ``log pi`` at ``alpha`` is
``log softmax(f / alpha)``). The variants:

* ``endorm``: ``r_h = Q(s_h, a_h) - V(s_{h+1})`` with the terminal value ``zero`` (the paper) or ``bootstrap``,
  aggregated by ``sum`` (the paper), ``mean`` or ``discounted`` (``sum_h gamma^(h-1) r_h``);
* ``loglik``: ``log pi(a_h | s_h)`` aggregated the same three ways (``sum`` at alpha 1 is Table 1's log-likelihood);
* ``rmgap``: the "EndoRM" of RMGAP, the first author's later reward-model benchmark (github.com/nanzhi84/RMGAP
  @14f17fba6bb72dcb7d1b4fc2213b3efbbea5fd21, ``src/rmgap/rm/endorm.py`` with ``cli/config/rm/endorm.yaml``):
  ``sum_k max(gamma^k, clip_min) * log pi(t_k)`` with ``gamma = 0.93``, ``clip_min = 0`` and ``log pi`` the raw
  log-softmax (alpha 1), over the tokens its chat rendering puts after the prompt (:func:`rmgap_encode`): the
  response, the end-of-turn token *and the template's text after it* (``"\\n"`` for ChatML templates). There is no
  value term and no system message.

Under the paper's terminal value, ``R(x, y) = alpha * log pi(y | x) + V(s_1)`` and ``V(s_1)`` is shared by every
response to a prompt, so ``endorm`` with ``zero`` and ``sum`` decides every comparison as ``loglik`` ``sum`` at the
same alpha (:func:`decision_agreement` measures it; the tests assert it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import EndormError
from ..core.reward import AGGREGATIONS, TERMINALS, TokenStats, aggregate

RMGAP_SOURCE = ("github.com/nanzhi84/RMGAP@14f17fba6bb72dcb7d1b4fc2213b3efbbea5fd21: src/rmgap/rm/endorm.py, "
                "src/rmgap/cli/config/rm/endorm.yaml")
RMGAP_GAMMA = 0.93
RMGAP_CLIP_MIN = 0.0
FAMILIES = ("endorm", "loglik", "rmgap")


@dataclass(frozen=True)
class Variant:
    """One way to turn a response's token stats into a score (see the module docstring)."""

    family: str
    alpha: float = 1.0
    terminal: str | None = None
    aggregation: str = "sum"
    gamma: float = RMGAP_GAMMA

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.family == "endorm" and self.terminal not in TERMINALS:
            raise ValueError(f"an endorm variant needs a terminal in {TERMINALS}, got {self.terminal!r}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")

    @property
    def name(self) -> str:
        """A stable key: ``endorm/a=1/zero/sum``, ``loglik/a=0.25/mean``, ``rmgap``."""
        if self.family == "rmgap":
            return "rmgap"
        parts = [self.family, f"a={self.alpha:g}"] + ([self.terminal] if self.terminal else []) + [self.aggregation]
        return "/".join(parts)

    @property
    def label(self) -> str:
        if self.family == "rmgap":
            return f"RMGAP EndoRM (discounted log pi, gamma {self.gamma:g})"
        agg = f"discounted (gamma {self.gamma:g})" if self.aggregation == "discounted" else self.aggregation
        if self.family == "loglik":
            return f"log-likelihood, {agg}, alpha {self.alpha:g}"
        return f"EndoRM, terminal {self.terminal}, {agg}, alpha {self.alpha:g}"


def ablation_variants(alphas, gamma: float = RMGAP_GAMMA) -> list[Variant]:
    """Every endorm (terminal x aggregation) and loglik (aggregation) variant at each alpha, then RMGAP's."""
    out = []
    for alpha in alphas:
        out += [Variant("endorm", float(alpha), t, a, gamma) for t in TERMINALS for a in AGGREGATIONS]
        out += [Variant("loglik", float(alpha), None, a, gamma) for a in AGGREGATIONS]
    return out + [Variant("rmgap", 1.0, None, "discounted", RMGAP_GAMMA)]


def rmgap_score(logprobs: list[float], gamma: float = RMGAP_GAMMA, clip_min: float = RMGAP_CLIP_MIN) -> float:
    """RMGAP's discounted sum: ``sum_k max(gamma^k, clip_min) * logprobs[k]``."""
    if not logprobs:
        raise EndormError("RMGAP score of a response with no tokens")
    return float(sum(lp * max(gamma**k, clip_min) for k, lp in enumerate(logprobs)))


def variant_score(variant: Variant, stats: TokenStats | None, rmgap_logprobs: list[float] | None = None):
    """The score of one response under ``variant`` (``stats`` at ``variant.alpha``); None where nothing is
    scorable (an empty response with the end-of-turn token off)."""
    if variant.family == "rmgap":
        return None if rmgap_logprobs is None else rmgap_score(rmgap_logprobs, variant.gamma)
    if stats is None:
        return None
    if abs(stats.alpha - variant.alpha) > 1e-12:
        raise ValueError(f"token stats at alpha={stats.alpha} for a variant at alpha={variant.alpha}")
    values = stats.rewards(variant.terminal) if variant.family == "endorm" else stats.logprobs
    return aggregate(values, variant.aggregation, variant.gamma)


# ----- RMGAP's encoding ---------------------------------------------------------------------------------------------
def _ids(encoded) -> list[int]:
    """Token ids from ``apply_chat_template(tokenize=True)`` (a list, or a BatchEncoding in transformers 5)."""
    if isinstance(encoded, dict) or hasattr(encoded, "keys"):
        encoded = encoded["input_ids"]
    return [int(t) for t in encoded]


def rmgap_encode(tokenizer, prompt, response: str) -> tuple[list[int], list[int]]:
    """(context ids, scored ids) exactly as RMGAP's EndoRM builds them.

    RMGAP renders the whole conversation (user turn, then the response as the assistant turn) with the chat
    template as text, which its sglang runtime tokenizes with the tokenizer's usual special tokens; the response
    starts at the length of the prompt rendered on its own with ``add_generation_prompt=True`` and tokenized by
    the template. Every token from there to the end is scored. Our encoding (:class:`endorm.core.encoding.
    PromptEncoder`) differs in three ways: it tokenizes prompt and response apart (no BPE merge across the
    boundary), it stops after the end-of-turn token (RMGAP also scores the template's text after it, ``"\\n"`` in
    ChatML), and it takes a row's system message (RMGAP sends none). Where a tokenizer adds a BOS to text the
    template already starts with one, RMGAP's start index is off by one and it scores the prompt's last token too;
    this function reproduces that (it does not arise with Qwen2.5 or SmolLM2).
    """
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
    prompt_ids = _ids(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))
    text = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": response}], tokenize=False,
                                         add_generation_prompt=False)
    full = [int(t) for t in tokenizer(text)["input_ids"]]
    start = len(prompt_ids)
    if start < 1 or start >= len(full):
        raise EndormError(f"RMGAP encoding: the rendered prompt ({start} tokens) leaves no response tokens in the "
                          f"rendered conversation ({len(full)} tokens)")
    return full[:start], full[start:]


def _prefix(stats: TokenStats, h: int) -> TokenStats:
    """The stats of the first ``h`` response tokens (a causal model's states do not see later tokens)."""
    return TokenStats(stats.token_ids[:h], stats.q[:h], stats.values[: h + 1], stats.alpha, stats.truncated,
                      stats.prompt_ids)


def _responses(rows):
    for r, row in enumerate(rows):
        for side in ("chosen", "rejected"):
            for k, text in enumerate(row[side]):
                yield r, side, k, text


def score_variants(scorer, rows: list[dict], alphas, gamma: float = RMGAP_GAMMA, desc: str = "ablations"):
    """Scores of every response of ``rows`` under every variant of :func:`ablation_variants`, from ONE engine run.

    Each response is one sequence: our encoding of it, extended by RMGAP's trailing template tokens where RMGAP's
    tokens are ours plus a tail (then our stats are the extended sequence's prefix, exactly: causal attention).
    Where RMGAP's tokens differ (another context, a merge across the boundary), its sequence is added to the same
    run. Returns ({variant name: score rows}, variants, run info).
    """
    alphas = tuple(dict.fromkeys(float(a) for a in alphas))
    if not alphas:
        raise EndormError("ablations need at least one alpha")
    run_alphas = alphas if 1.0 in alphas else alphas + (1.0,)  # RMGAP's log pi is at alpha 1
    encoder = scorer.encoder
    pairs: list[tuple[list[int], list[int]]] = []
    plan = []  # per response: (index of our sequence or None, our length, index of RMGAP's sequence, RMGAP length)
    shared = 0
    for r, _, _, text in _responses(rows):
        row = rows[r]
        prompt_ids, ours = encoder.encode(row["prompt"], text, row.get("system"))
        rm_ctx, rm_ids = rmgap_encode(encoder.tokenizer, row["prompt"], text)
        fits = len(prompt_ids) + len(rm_ids) <= encoder.max_length
        if ours and rm_ctx == prompt_ids and rm_ids[: len(ours)] == ours and fits:
            pairs.append((prompt_ids, rm_ids))
            plan.append((len(pairs) - 1, len(ours), len(pairs) - 1, len(rm_ids)))
            shared += 1
            continue
        mine = None
        if ours:
            pairs.append((prompt_ids, ours))
            mine = len(pairs) - 1
        pairs.append((rm_ctx, rm_ids))
        plan.append((mine, len(ours), len(pairs) - 1, len(rm_ids)))
    stats = scorer.token_stats_alphas(pairs, run_alphas, desc=desc)
    variants = ablation_variants(alphas, gamma)
    values: dict[str, list] = {v.name: [] for v in variants}
    for mine, h, theirs, h_rm in plan:
        by_alpha = {a: None if mine is None else _prefix(stats[a][mine], h) for a in alphas}
        rm = stats[1.0][theirs]
        rm_lp = rm.logprobs[:h_rm] if len(rm.token_ids) >= h_rm else rm.logprobs  # truncation keeps what fits
        for v in variants:
            values[v.name].append(variant_score(v, by_alpha.get(v.alpha), rm_lp))
    out = {}
    for v in variants:
        rows_out = [{"id": row["id"], "domain": row["domain"], "method": v.name,
                     "score_chosen": [None] * len(row["chosen"]), "score_rejected": [None] * len(row["rejected"])}
                    for row in rows]
        for (r, side, k, _), value in zip(_responses(rows), values[v.name]):
            rows_out[r][f"score_{side}"][k] = value
        out[v.name] = rows_out
    n = len(plan)
    info = {"responses": n, "sequences": len(pairs), "rmgap_shared_sequences": shared,
            "rmgap_separate_sequences": n - shared, "alphas": list(alphas), "gamma": gamma,
            "tokens": sum(len(p[1]) for p in pairs), "rmgap_source": RMGAP_SOURCE}
    return out, variants, info


# ----- comparing variants -----------------------------------------------------------------------------------------
def _margins(row: dict) -> list[float]:
    from ..benchmarks.metrics import margin_matrix

    return [x for r in margin_matrix(row) for x in r]


def decision_agreement(a_rows: list[dict], b_rows: list[dict]) -> float:
    """Share (%) of chosen-vs-rejected comparisons that two methods decide alike (win = margin > 0, as RM-Bench;
    a missing score loses)."""
    same = total = 0
    for a, b in zip(a_rows, b_rows):
        if a["id"] != b["id"]:
            raise EndormError(f"rows out of step: {a['id']!r} vs {b['id']!r}")
        for x, y in zip(_margins(a), _margins(b)):
            total += 1
            same += (not math.isnan(x) and x > 0) == (not math.isnan(y) and y > 0)
    return 100.0 * same / total if total else float("nan")


def ablation_rows(scores: dict[str, list[dict]], variants: list[Variant]) -> list[dict]:
    """One table row per variant: RM-Bench's metric (easy/normal/hard/avg, macro over domains, and the micro
    average) and the share of comparisons decided as summed log-likelihood at the same alpha; then the paper's
    EndoRM row, labelled as the paper's."""
    from ..benchmarks import paper
    from ..benchmarks.metrics import rmbench_accuracy

    out = []
    for v in variants:
        m = rmbench_accuracy(scores[v.name], v.name)
        ref = f"loglik/a={v.alpha:g}/sum"
        out.append({"source": "ours", "variant": v.name, "label": v.label, "family": v.family, "alpha": v.alpha,
                    "terminal": v.terminal or "", "aggregation": v.aggregation,
                    **{k: m[k] for k in ("easy", "normal", "hard", "avg", "avg_micro", "n")},
                    "same_decisions_as_loglik_sum": decision_agreement(scores[v.name], scores[ref])})
    p = paper.table1("endorm")
    out.append({"source": f"paper ({paper.PAPER_MODEL_TABLE1}, RM-Bench)", "variant": "paper EndoRM",
                "label": "EndoRM as the paper reports it (terminal zero, sum; alpha not reported)", "family": "endorm",
                "terminal": "zero", "aggregation": "sum", **{k: p[k] for k in ("easy", "normal", "hard", "avg")}})
    return out
