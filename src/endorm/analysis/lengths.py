"""Length under control: accuracy against the token-length difference of chosen and rejected.

RM-Bench compares each of a row's three chosen responses with each of its three rejected ones (9 comparisons;
styles concise < detailed plain < detailed markdown). Its "hard" cells pair a chosen response with a *more* styled,
usually longer, rejected one (chosen i < rejected j), "easy" cells the reverse. So a reward that prefers shorter
responses wins the hard column and loses the easy one, whatever it knows about correctness. This module measures
that directly, for any method's scores:

* every comparison's length difference ``d = tokens(chosen) - tokens(rejected)`` (response tokens as the reward
  model's :class:`endorm.core.encoding.PromptEncoder` encodes them, end-of-turn token included on both sides), binned
  by fixed edges, with the accuracy and count per bin;
* the accuracy on the length-matched subset: ``|d| <= matched_within * max(tokens(chosen), tokens(rejected))``;
* the accuracy when the chosen response is the shorter one and when it is the longer one;
* two trivial methods scored the same way: "shorter wins" (score = -tokens) and "longer wins" (score = +tokens).

A win is ``margin > 0`` (strict, as RM-Bench; ties and missing scores lose). Accuracies here are means over
comparisons (micro), not RM-Bench's macro average over domains.
"""

from __future__ import annotations

import math

from ..errors import EndormError
from ..benchmarks.metrics import margin_matrix, rmbench_accuracy

LEVEL_OF = {(i, j): ("hard" if i < j else "normal" if i == j else "easy") for i in range(3) for j in range(3)}
BASELINES = {"shorter-wins": -1, "longer-wins": 1}


def response_lengths(encoder, rows: list[dict]) -> dict[str, dict[str, list[int]]]:
    """{row id: {"chosen": [tokens], "rejected": [tokens]}}, as the encoder encodes each response."""
    return {row["id"]: {side: [len(encoder.encode_response(t)) for t in row[side]] for side in ("chosen", "rejected")}
            for row in rows}


def length_scores(rows: list[dict], lengths: dict, sign: int, method: str) -> list[dict]:
    """Score rows of a trivial method: ``sign * tokens`` (sign -1: shorter wins; +1: longer wins)."""
    return [{"id": row["id"], "domain": row["domain"], "method": method,
             "score_chosen": [sign * n for n in lengths[row["id"]]["chosen"]],
             "score_rejected": [sign * n for n in lengths[row["id"]]["rejected"]]} for row in rows]


def comparisons(score_rows: list[dict], lengths: dict, source: str = "scores") -> list[dict]:
    """Every chosen-vs-rejected comparison of the scored rows with its length difference and outcome."""
    out = []
    for n, row in enumerate(score_rows, 1):
        rid = str(row.get("id"))
        if rid not in lengths:
            raise EndormError(f"{source}, row {n}: id {rid!r} is not in the preference rows")
        m = margin_matrix(row, f"{source}, row {n}")
        lc, lr = lengths[rid]["chosen"], lengths[rid]["rejected"]
        if len(m) != len(lc) or any(len(r) != len(lr) for r in m):
            raise EndormError(f"{source}, row {n}: {len(m)}x{len(m[0]) if m else 0} margins for {len(lc)} chosen "
                              f"and {len(lr)} rejected responses")
        for i, r in enumerate(m):
            for j, x in enumerate(r):
                out.append({"id": rid, "domain": row.get("domain", "all"), "i": i, "j": j,
                            "level": LEVEL_OF.get((i, j), ""), "chosen_tokens": lc[i], "rejected_tokens": lr[j],
                            "diff": lc[i] - lr[j], "win": (not math.isnan(x)) and x > 0})
    return out


def bin_labels(edges: list[float]) -> list[str]:
    """Labels of the bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    fmt = lambda e: f"{e:g}"  # noqa: E731
    return ([f"<= {fmt(edges[0])}"] + [f"({fmt(a)}, {fmt(b)}]" for a, b in zip(edges, edges[1:])]
            + [f"> {fmt(edges[-1])}"])


def bin_index(diff: float, edges: list[float]) -> int:
    for k, e in enumerate(edges):
        if diff <= e:
            return k
    return len(edges)


def matched(c: dict, within: float) -> bool:
    """Length-matched: ``|d| <= within * max(tokens(chosen), tokens(rejected))``."""
    return abs(c["diff"]) <= within * max(c["chosen_tokens"], c["rejected_tokens"])


def _acc(items: list[dict]) -> dict:
    n = len(items)
    wins = sum(c["win"] for c in items)
    return {"n": n, "wins": wins, "accuracy": 100.0 * wins / n if n else float("nan")}


def length_summary(comps: list[dict], edges: list[float], within: float) -> dict:
    """Accuracy per length-difference bin, on the length-matched subset, with the chosen shorter / longer, and
    per RM-Bench level (with the share of that level's comparisons where the chosen response is shorter)."""
    if list(edges) != sorted(edges) or len(set(edges)) != len(edges):
        raise EndormError(f"length bins: edges must be strictly increasing, got {edges}")
    bins = [[] for _ in range(len(edges) + 1)]
    for c in comps:
        bins[bin_index(c["diff"], edges)].append(c)
    levels = {}
    for level in ("easy", "normal", "hard"):
        items = [c for c in comps if c["level"] == level]
        shorter = sum(c["diff"] < 0 for c in items)
        levels[level] = {**_acc(items), "chosen_shorter_pct": 100.0 * shorter / len(items) if items else float("nan")}
    return {
        "all": _acc(comps),
        "bins": [{"bin": label, **_acc(b)} for label, b in zip(bin_labels(edges), bins)],
        "matched": _acc([c for c in comps if matched(c, within)]),
        "chosen_shorter": _acc([c for c in comps if c["diff"] < 0]),
        "chosen_longer": _acc([c for c in comps if c["diff"] > 0]),
        "equal_length": _acc([c for c in comps if c["diff"] == 0]),
        "levels": levels,
    }


def summarize_methods(results: dict[str, list[dict]], lengths: dict, edges: list[float],
                      within: float) -> tuple[dict[str, dict], dict[str, dict]]:
    """Per method (``results``: {method: its score rows}): its :func:`length_summary` and RM-Bench's metric of the
    same scores. Returns (summaries, metrics)."""
    summaries = {m: length_summary(comparisons(rows, lengths, m), edges, within) for m, rows in results.items()}
    return summaries, {m: rmbench_accuracy(rows, m) for m, rows in results.items()}
