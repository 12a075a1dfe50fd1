"""Score preference rows with any method: the endogenous reward, likelihood baselines, and LLM judges.

Output rows: ``{id, domain, method, score_chosen: [..], score_rejected: [..]}`` (pointwise methods) or with
``pair_margin`` (a chosen x rejected matrix; GenRM-pairwise). The three likelihood methods share one forward pass.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

from .baselines import (DEFAULT_JUDGE_PROMPTS, VERIFIER_ANSWER, generate, pairwise_margin, parse_pairwise,
                        parse_pointwise)
from ..core.encoding import PromptEncoder, PromptFormat
from ..defaults import DEFAULT_BATCH_SIZE, DEFAULT_BATCH_TOKENS, DEFAULT_JUDGE_MAX_NEW_TOKENS
from ..core.engine import Scorer
from ..errors import EndormError
from .names import LIKELIHOOD_METHODS, METHODS
from ..core.reward import RewardOptions, aggregate, endogenous_score

log = logging.getLogger(__name__)

@dataclass
class ScoreOptions:
    """Everything that decides a score besides the model and the data.

    Attributes:
        reward: the endogenous reward's alpha, terminal value, aggregation and gamma (method ``endorm``).
        fmt: chat template, system prompt, end-of-turn token, truncation.
        judge_prompts: prompt templates of the judge baselines (defaults in ``endorm.methods.baselines``).
        max_new_tokens: generation budget of the generative judges.
        max_batch_tokens, max_batch_size, chunk_size: batching (never changes a score beyond float noise).
        progress: show progress bars.
    """

    reward: RewardOptions = field(default_factory=RewardOptions)
    fmt: PromptFormat = field(default_factory=PromptFormat)
    judge_prompts: dict = field(default_factory=lambda: dict(DEFAULT_JUDGE_PROMPTS))
    max_new_tokens: int = DEFAULT_JUDGE_MAX_NEW_TOKENS
    max_batch_tokens: int = DEFAULT_BATCH_TOKENS
    max_batch_size: int = DEFAULT_BATCH_SIZE
    chunk_size: int | None = None
    progress: bool = True

    def describe(self) -> dict:
        """The options that decide a score, for an output's provenance."""
        return {"reward": dataclasses.asdict(self.reward), "format": dataclasses.asdict(self.fmt),
                "judge_prompts": self.judge_prompts, "max_new_tokens": self.max_new_tokens}


def make_scorer(model, tokenizer, opts: ScoreOptions, fmt: PromptFormat | None = None) -> Scorer:
    """The engine with ``opts``' batching and progress, and ``fmt`` (default ``opts.fmt``)."""
    return Scorer(model, tokenizer, fmt or opts.fmt, max_batch_tokens=opts.max_batch_tokens,
                  max_batch_size=opts.max_batch_size, chunk_size=opts.chunk_size, progress=opts.progress)


def _responses(rows):
    """(row index, side, position, response) for every response, chosen first."""
    for r, row in enumerate(rows):
        for side in ("chosen", "rejected"):
            for k, text in enumerate(row[side]):
                yield r, side, k, text


def _row_name(row: dict, names: dict | None) -> str:
    """``FILE, row N (id X)`` where ``names`` (:func:`endorm.data.pairs.row_names`) knows the row, else its id."""
    return (names or {}).get(row["id"]) or f"row id {row['id']!r}"


def _labels(rows, names: dict | None) -> list[str]:
    """Each response named for an error message: ``FILE, row N (id X), chosen[0]``."""
    return [f"{_row_name(rows[r], names)}, {side}[{k}]" for r, side, k, _ in _responses(rows)]


def _named(label: str, make):
    """``make()``, an error prefixed with ``label`` (which row and response)."""
    try:
        return make()
    except EndormError as exc:
        raise EndormError(f"{label}: {exc}") from None


def _assemble(rows, method, values) -> list[dict]:
    out = [{"id": row["id"], "domain": row["domain"], "method": method,
            "score_chosen": [None] * len(row["chosen"]), "score_rejected": [None] * len(row["rejected"])}
           for row in rows]
    for (r, side, k, _), v in zip(_responses(rows), values):
        out[r][f"score_{side}"][k] = v
    return out


def likelihood_scores(model, tokenizer, rows, methods, opts: ScoreOptions,
                      names: dict | None = None) -> tuple[dict[str, list[dict]], dict]:
    """Scores of every response of ``rows`` by each likelihood method (``endorm``, ``loglik``, ``loglik-mean``), all
    from one forward pass per response. Returns ({method: score rows}, run info)."""
    scorer = make_scorer(model, tokenizer, opts)
    items = [(rows[r]["prompt"], text, rows[r].get("system")) for r, _, _, text in _responses(rows)]
    # An empty response is the end-of-turn token alone; with score_eot off it gets no score (None: it loses).
    stats = scorer.token_stats(items, opts.reward.alpha, desc="endogenous reward", skip_unscorable=True,
                               labels=_labels(rows, names))
    scored = [s for s in stats if s is not None]
    result = {}
    for method in methods:
        if method == "endorm":
            values = [None if s is None else endogenous_score(s, opts.reward) for s in stats]
        elif method == "loglik":
            values = [None if s is None else aggregate(s.logprobs, "sum") for s in stats]
        elif method == "loglik-mean":
            values = [None if s is None else aggregate(s.logprobs, "mean") for s in stats]
        else:
            raise EndormError(f"{method!r} is not a likelihood method")
        result[method] = _assemble(rows, method, values)
    truncated = sum(1 for s in scored if s.truncated)
    return result, {"responses": len(stats), "tokens": sum(len(s.token_ids) for s in scored),
                    "prompt_tokens": sum(len(s.prompt_ids) for s in scored),
                    "truncated_responses": truncated, "unscorable_empty_responses": len(stats) - len(scored)}


def _fill(template: str, **kw) -> str:
    try:
        return template.format(**kw)
    except KeyError as exc:
        raise EndormError(f"judge prompt has an unknown placeholder {{{exc.args[0]}}}; allowed: {sorted(kw)}") from None


def verifier_scores(model, tokenizer, rows, opts: ScoreOptions, names: dict | None = None) -> tuple[list[dict], dict]:
    """Generative verifier (Zhang et al. 2024): log p("Yes") to the verification question about each response."""
    scorer = make_scorer(model, tokenizer, opts, dataclasses.replace(opts.fmt, score_eot=False))
    template = opts.judge_prompts["generative-verifier"]
    items = [(_fill(template, prompt=rows[r]["prompt"], response=text), VERIFIER_ANSWER, rows[r].get("system"))
             for r, _, _, text in _responses(rows)]
    stats = scorer.token_stats(items, opts.reward.alpha, desc="generative verifier", labels=_labels(rows, names))
    # log p(first token of "Yes") at the start of the assistant turn.
    return _assemble(rows, "generative-verifier", [s.logprobs[0] for s in stats]), {
        "responses": len(stats), "tokens": sum(len(s.token_ids) for s in stats),
        "prompt_tokens": sum(len(s.prompt_ids) for s in stats)}


def _generation_tokens(tokenizer, prompts: list[list[int]], replies: list[str]) -> dict:
    """Token counts of a judge's generations (replies re-tokenized: special tokens were dropped in decoding)."""
    return {"prompt_tokens": sum(len(p) for p in prompts),
            "new_tokens": sum(len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in replies)}


def pointwise_scores(model, tokenizer, rows, opts: ScoreOptions, names: dict | None = None) -> tuple[list[dict], dict]:
    """GenRM-pointwise: the 1-10 score the model writes for each response (None where it writes none)."""
    encoder = PromptEncoder.for_model(model, tokenizer, opts.fmt)
    template = opts.judge_prompts["genrm-pointwise"]
    prompts = [_named(label, lambda: encoder.generation_prompt(
        _fill(template, prompt=rows[r]["prompt"], response=text), rows[r].get("system"), opts.max_new_tokens))
               for (r, _, _, text), label in zip(_responses(rows), _labels(rows, names))]
    replies = generate(model, tokenizer, prompts, opts.max_new_tokens, progress=opts.progress,
                       max_batch_tokens=opts.max_batch_tokens, desc="genrm-pointwise")
    values = [parse_pointwise(t) for t in replies]
    failures = sum(v is None for v in values)
    return _assemble(rows, "genrm-pointwise", values), {"responses": len(values), "parse_failures": failures,
                                                        "replies_sample": replies[:5],
                                                        **_generation_tokens(tokenizer, prompts, replies)}


def pairwise_scores(model, tokenizer, rows, opts: ScoreOptions, names: dict | None = None) -> tuple[list[dict], dict]:
    """GenRM-pairwise: the model names the better of chosen and rejected, in both orders; the margin is the mean
    vote (:func:`endorm.methods.baselines.pairwise_margin`)."""
    encoder = PromptEncoder.for_model(model, tokenizer, opts.fmt)
    template = opts.judge_prompts["genrm-pairwise"]
    jobs, prompts = [], []
    for r, row in enumerate(rows):
        for i, c in enumerate(row["chosen"]):
            for j, rej in enumerate(row["rejected"]):
                for order, (a, b) in enumerate(((c, rej), (rej, c))):
                    jobs.append((r, i, j, order))
                    label = f"{_row_name(row, names)}, chosen[{i}] vs rejected[{j}]"
                    prompts.append(_named(label, lambda: encoder.generation_prompt(
                        _fill(template, prompt=row["prompt"], response_a=a, response_b=b), row.get("system"),
                        opts.max_new_tokens)))
    replies = generate(model, tokenizer, prompts, opts.max_new_tokens, progress=opts.progress,
                       max_batch_tokens=opts.max_batch_tokens, desc="genrm-pairwise")
    choices = [parse_pairwise(t) for t in replies]
    votes = {}
    for (r, i, j, order), choice in zip(jobs, choices):
        votes.setdefault((r, i, j), [None, None])[order] = choice
    out = []
    for r, row in enumerate(rows):
        margin = [[pairwise_margin(*votes[(r, i, j)]) for j in range(len(row["rejected"]))]
                  for i in range(len(row["chosen"]))]
        out.append({"id": row["id"], "domain": row["domain"], "method": "genrm-pairwise", "score_chosen": None,
                    "score_rejected": None, "pair_margin": margin})
    failures = sum(c is None for c in choices)
    position_a = sum(c == "A" for c in choices)
    return out, {"judgements": len(choices), "parse_failures": failures, "chose_A": position_a,
                 "replies_sample": replies[:5], **_generation_tokens(tokenizer, prompts, replies)}


def score_pairs(model, tokenizer, rows: list[dict], methods: list[str], opts: ScoreOptions | None = None,
                names: dict | None = None):
    """Score validated pair rows with each of ``methods``; returns ({method: rows}, {method: run info}).

    ``names`` (:func:`endorm.data.pairs.row_names`) name a row's file and number in an error. Empty or whitespace-only
    responses are kept and scored as written (with the end-of-turn token, an empty response is that token alone):
    they are counted in each method's run info (``empty_responses``, ``empty_response_at``) and logged once.
    """
    from ..data.pairs import pair_stats

    opts = opts or ScoreOptions()
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise EndormError(f"unknown method(s) {unknown}; expected one of {list(METHODS)}")
    stats = pair_stats(rows, limit=20)
    if stats["empty_responses"]:
        log.warning("%d of %d responses are empty or whitespace only (%s%s): kept and scored as written (an empty "
                    "response is the end-of-turn token alone); counted as empty_responses in the metadata",
                    stats["empty_responses"], stats["responses"], "; ".join(stats["empty_response_at"][:5]),
                    "; ..." if stats["empty_responses"] > 5 else "")
    empty = {"empty_responses": stats["empty_responses"], "empty_response_at": stats["empty_response_at"]}
    results, info = {}, {}
    lik = [m for m in methods if m in LIKELIHOOD_METHODS]
    if lik:
        t0 = time.perf_counter()
        res, meta = likelihood_scores(model, tokenizer, rows, lik, opts, names)
        meta["seconds"] = time.perf_counter() - t0
        results.update(res)
        info.update({m: meta for m in lik})
    for method, fn in (("generative-verifier", verifier_scores), ("genrm-pointwise", pointwise_scores),
                       ("genrm-pairwise", pairwise_scores)):
        if method in methods:
            t0 = time.perf_counter()
            results[method], info[method] = fn(model, tokenizer, rows, opts, names)
            info[method]["seconds"] = time.perf_counter() - t0
    for meta in info.values():  # the likelihood methods share one dict
        meta.update(empty)
    return results, info


def write_scores(paths: list[str], methods: list[str], results: dict, info: dict, *, model, model_path: str,
                 dtype: str, input_path: str, rows: int, opts: ScoreOptions, seconds: float) -> None:
    """Each method's scores (``paths[k]``, JSONL) and provenance (``paths[k] + ".meta.json"``), all or nothing."""
    import json

    from ..data.assets import model_provenance
    from ..io import atomic_paths, jsonl_text

    files, texts = [], []
    for method, path in zip(methods, paths):
        meta = {"method": method, "model": model_provenance(model_path), "model_path": model_path, "dtype": dtype,
                "device": str(next(model.parameters()).device), "input": input_path, "rows": rows,
                "options": opts.describe(), "run": info[method], "wall_seconds": seconds}
        files += [path, f"{path}.meta.json"]
        texts += [jsonl_text(results[method]), json.dumps(meta, indent=2, ensure_ascii=False) + "\n"]
    with atomic_paths(files) as tmps:
        for tmp, text in zip(tmps, texts):
            tmp.write_text(text, encoding="utf-8")
