"""Controls for Table 3 that need no training: best-of-N by the base model's own endogenous reward.

Under the paper's terminal value, ``R(x, y) = alpha * log pi(y|x) + V(s_1)``; in GRPO/RLOO the group baseline removes
``V(s_1)``, so RL on this reward maximises the frozen model's log-likelihood of its own samples with a KL penalty
``beta`` to that same model, whose optimum is the initial model sharpened, ``pi ∝ pi_0^(1 + alpha/beta)``. Sampling
the base model at a lower temperature, greedy decoding, and best-of-N by that reward are the natural controls.

Best-of-N here: the base model's samples of a problem (drawn once, by lm-eval: :class:`endorm.benchmarks.lmeval.Sampling`) are
scored by the frozen base model through the engine, exactly as any response is scored (:class:`endorm.core.engine.Scorer`,
the run's :class:`endorm.core.reward.RewardOptions` and format); best-of-N keeps the highest reward among the FIRST N
samples (so best-of-4 and best-of-8 share their samples), ties to the lowest sample index.
"""

from __future__ import annotations

import math
from typing import Sequence

from ..core.engine import Scorer
from ..errors import EndormError
from ..core.reward import RewardOptions, endogenous_score


def best_index(rewards: Sequence[float], n: int) -> int:
    """Index of the highest reward among the first ``n`` (ties: the lowest index; NaN counts as -inf)."""
    if n < 1 or n > len(rewards):
        raise EndormError(f"best-of-{n} needs at least {n} samples, got {len(rewards)}")
    key = [r if not math.isnan(r) else -math.inf for r in rewards[:n]]
    return max(range(n), key=lambda k: (key[k], -k))


def score_generations(scorer: Scorer, records: Sequence[dict], reward: RewardOptions) -> list[float]:
    """The endogenous reward of each record's ``generation`` given its ``prompt`` (the rendered chat-templated
    context lm-eval generated from, tokenized as given), scored as a response: its text, then the end-of-turn token
    when ``score_eot`` (a generation cut at the token limit is scored as if it ended there). A generation with no
    token to score (empty, ``score_eot`` off) gets -inf: never preferred."""
    enc = scorer.encoder
    pairs, todo = [], []
    for k, r in enumerate(records):
        if not isinstance(r.get("prompt"), str) or not r["prompt"]:
            raise EndormError(f"sample record {k} ({r.get('task')}, {r.get('id')}): field 'prompt' must be the "
                              "rendered prompt text lm-eval generated from")
        response = enc.encode_response(r.get("generation") or "")
        if response:
            pairs.append((enc.encode_rendered(r["prompt"]), response))
            todo.append(k)
    scores = [-math.inf] * len(records)
    for k, stats in zip(todo, scorer.token_stats_ids(pairs, reward.alpha, desc="best-of-N")):
        scores[k] = endogenous_score(stats, reward)
    return scores


def group_samples(records: Sequence[dict]) -> dict[tuple[str, str], list[int]]:
    """{(task, id): indices of its records in sample order}; every problem must hold samples 0..k-1."""
    groups: dict[tuple[str, str], dict[int, int]] = {}
    for i, r in enumerate(records):
        if "sample" not in r:
            raise EndormError(f"sample record {i} ({r.get('task')}, {r.get('id')}): no 'sample' index (a greedy "
                              "run's records cannot be used for best-of-N)")
        slot = groups.setdefault((str(r["task"]), str(r["id"])), {})
        if int(r["sample"]) in slot:
            raise EndormError(f"sample record {i}: {r['task']} {r['id']} sample {r['sample']} appears twice")
        slot[int(r["sample"])] = i
    out = {}
    for key, slot in groups.items():
        if sorted(slot) != list(range(len(slot))):
            raise EndormError(f"{key[0]} {key[1]}: samples {sorted(slot)} are not 0..{len(slot) - 1}")
        out[key] = [slot[k] for k in range(len(slot))]
    return out


def best_of_n(records: Sequence[dict], rewards: Sequence[float], ns: Sequence[int]) -> dict:
    """Best-of-N accuracy per task for each N in ``ns``, from the same samples.

    Returns ``{"best_of": {N: {task: {"accuracy", "n"}}}, "selected": [{"task", "id", "N", "sample", "reward",
    "correct"}], "mean_tokens": {"all": .., N: ..}}``; ``mean_tokens`` (the mean ``tokens`` of all samples and of
    the selected ones: a summed log-likelihood prefers short generations) only when every record has ``tokens``."""
    if len(records) != len(rewards):
        raise EndormError(f"{len(records)} sample records but {len(rewards)} rewards")
    groups = group_samples(records)
    out: dict = {"best_of": {}, "selected": []}
    for n in ns:
        per_task: dict[str, list[bool]] = {}
        for (task, pid), idx in groups.items():
            k = best_index([rewards[i] for i in idx], n)
            rec = records[idx[k]]
            per_task.setdefault(task, []).append(bool(rec["correct"]))
            out["selected"].append({"task": task, "id": pid, "N": int(n), "sample": k, "reward": rewards[idx[k]],
                                    "correct": bool(rec["correct"])})
        out["best_of"][int(n)] = {t: {"accuracy": sum(v) / len(v), "n": len(v)} for t, v in per_task.items()}
    if records and all("tokens" in r for r in records):
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        out["mean_tokens"] = {"all": mean([r["tokens"] for r in records]), **{
            int(n): mean([records[groups[(s["task"], s["id"])][s["sample"]]]["tokens"] for s in out["selected"]
                          if s["N"] == n]) for n in ns}}
    return out
