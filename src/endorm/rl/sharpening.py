"""Does RL on the endogenous reward sharpen the base model? (An analysis the paper does not make.)

With the paper's terminal value the reward is ``alpha * log pi_0(y|x) + V(s_1)``, and the group baseline of GRPO/RLOO
removes ``V(s_1)``; the optimum of ``E[R] - beta * KL(pi || pi_0)`` is ``pi ∝ pi_0^(1 + alpha/beta)`` (with
``alpha`` 1 the reward's ``pi_0`` is the model itself): the base model sharpened, i.e. sequence-level sampling at
temperature ``T* = beta / (alpha + beta)``. If RL does that, its samples should sit where the base model's
lower-temperature samples sit in the plane (per-token entropy of the sampling policy, log-likelihood of the samples
under the frozen base model).

:func:`measure` samples completions for the same prompts from the RL policy (at its training temperature) and from
the base model at several temperatures, records the per-token entropy of the distribution each token was drawn from
(exact: the sampler computes it from the same scaled logits it draws from), and scores every completion with the frozen
base model through the engine (per-token ``log pi_0`` at temperature 1 and the endogenous reward at the run's
options). :func:`matching_temperatures` finds where the base model's entropy curve meets the RL policy's entropy.

Sampling is plain temperature sampling (``top_k`` 0, ``top_p`` 1), as TRL's rollouts; completions stop at the first
end-of-turn or end-of-sequence token (included, as the RL reward scores it) or at ``max_new_tokens``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from ..core.engine import Scorer
from ..errors import EndormError
from ..core.reward import RewardOptions, endogenous_score


def sample_seed(seed: int, prompt: int, sample: int) -> int:
    """The seed of completion ``sample`` of prompt ``prompt``: the same for every model and temperature, so two
    policies sampled with the same ``seed`` draw the same random numbers for the same completion (a paired
    comparison)."""
    from ..core.generation import derived_seeds

    return derived_seeds([seed, prompt, sample], 1)[0]


@torch.inference_mode()
def sample_with_entropy(model, prompts: Sequence[Sequence[int]], temperatures: Sequence[float], *, samples: int,
                        max_new_tokens: int, stop_ids: Sequence[int], pad_id: int, seed: int,
                        batch_size: int = 16) -> list[dict]:
    """``samples`` completions per prompt (token ids) at each of ``temperatures``, with the per-token entropy of the
    distribution each token was drawn from, by :func:`endorm.core.generation.generate_many` (continuous batching, up
    to ``batch_size`` rows in flight; several temperatures share a batch). Completion ``s`` of prompt ``p`` samples
    from its own generator seeded by :func:`sample_seed` (the same at every temperature and for every model), so
    the result does not depend on ``batch_size``, the other prompts or the temperatures sampled alongside.

    Returns one dict per completion, ordered (temperature, prompt, sample): ``temperature``, ``prompt`` (index),
    ``sample``, ``completion_ids`` (up to and including the first stop token), ``entropy`` (per token),
    ``finished`` (ended with a stop token)."""
    from ..core.generation import generate_many

    if samples < 1 or max_new_tokens < 1 or batch_size < 1:
        raise EndormError(f"samples, max_new_tokens and batch_size must be >= 1, got {samples}, {max_new_tokens}, "
                          f"{batch_size}")
    if not temperatures or not all(float(t) > 0 for t in temperatures):
        raise EndormError(f"temperatures must be > 0, got {list(temperatures)!r}")
    stops = {int(t) for t in stop_ids}
    jobs = [(float(t), p, s) for t in temperatures for p in range(len(prompts)) for s in range(samples)]
    completions, stats = generate_many(
        model, [prompts[p] for _, p, _ in jobs], max_new_tokens=int(max_new_tokens), stop_ids=sorted(stops),
        temperature=[t for t, _, _ in jobs], seeds=[sample_seed(seed, p, s) for _, p, s in jobs], max_batch=int(batch_size),
        pad_id=int(pad_id), entropy=True)
    return [{"temperature": t, "prompt": p, "sample": s, "completion_ids": ids, "entropy": ent,
             "finished": bool(ids) and ids[-1] in stops}
            for (t, p, s), ids, ent in zip(jobs, completions, stats["entropies"])]


def score_under_base(scorer: Scorer, prompts: Sequence[Sequence[int]], completions: Sequence[dict],
                     reward: RewardOptions) -> None:
    """Adds to each completion ``logprobs`` (per-token ``log pi_0`` at temperature 1) and ``reward`` (the endogenous
    reward at ``reward``'s options), from one forward pass of the frozen base model per sequence."""
    pairs = [(list(prompts[c["prompt"]]), c["completion_ids"]) for c in completions]
    alphas = sorted({1.0, float(reward.alpha)})
    stats = scorer.token_stats_alphas(pairs, alphas, desc="log pi_0")
    for k, c in enumerate(completions):
        c["logprobs"] = stats[1.0][k].logprobs
        c["reward"] = endogenous_score(stats[float(reward.alpha)][k], reward)


def _mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and its standard error (sample standard deviation / sqrt(n); NaN for a single value)."""
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, float("nan")
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1) / len(values))


def summarize(completions: Sequence[dict]) -> dict:
    """Token-weighted means of the entropy and of ``log pi_0`` (nats per token), per-completion means of the summed
    ``log pi_0``, the reward and the length, and standard errors over completions (of each completion's own mean;
    samples of one prompt are not independent, so read them as a rough scale); the reward's standard deviation
    within a prompt's samples (mean over prompts) and over all samples."""
    if not completions:
        raise EndormError("no completions to summarize")
    tokens = sum(len(c["completion_ids"]) for c in completions)

    by_prompt: dict = {}
    for c in completions:
        by_prompt.setdefault(c["prompt"], []).append(c["reward"])
    groups = [v for v in by_prompt.values() if len(v) > 1]
    group_std = (sum(math.sqrt(sum((r - sum(v) / len(v)) ** 2 for r in v) / (len(v) - 1)) for v in groups)
                 / len(groups)) if groups else float("nan")
    per_ent = [sum(c["entropy"]) / len(c["entropy"]) for c in completions]
    per_ll = [sum(c["logprobs"]) / len(c["logprobs"]) for c in completions]
    seq_ll, seq_ll_se = _mean_se([sum(c["logprobs"]) for c in completions])
    reward, reward_se = _mean_se([c["reward"] for c in completions])
    return {
        "entropy": sum(sum(c["entropy"]) for c in completions) / tokens,
        "entropy_se": _mean_se(per_ent)[1],
        "loglik": sum(sum(c["logprobs"]) for c in completions) / tokens,
        "loglik_se": _mean_se(per_ll)[1],
        "loglik_seq": seq_ll, "loglik_seq_se": seq_ll_se, "reward": reward, "reward_se": reward_se,
        "reward_std_group": group_std, "reward_std_batch": reward_se * math.sqrt(len(completions)),
        "length": tokens / len(completions), "finished": sum(c["finished"] for c in completions) / len(completions),
        "completions": len(completions), "tokens": tokens,
    }


def matching_temperatures(curve: Sequence[dict], entropy: float) -> list[dict]:
    """Where the base model's curve (dicts with ``temperature``, ``entropy``, ``loglik``, any order) reaches
    ``entropy``: linear interpolation between neighbouring temperatures, one entry per crossing (the curve is
    measured, so noise can make more than one), each ``{"temperature", "loglik"}``. Empty when ``entropy`` is outside
    the curve's range."""
    pts = sorted(curve, key=lambda c: c["temperature"])
    out = []
    for a, b in zip(pts, pts[1:]):
        lo, hi = sorted((a["entropy"], b["entropy"]))
        if not lo <= entropy <= hi:
            continue
        w = 0.0 if b["entropy"] == a["entropy"] else (entropy - a["entropy"]) / (b["entropy"] - a["entropy"])
        hit = {"temperature": a["temperature"] + w * (b["temperature"] - a["temperature"]),
               "loglik": a["loglik"] + w * (b["loglik"] - a["loglik"])}
        if not out or abs(out[-1]["temperature"] - hit["temperature"]) > 1e-12:
            out.append(hit)
    return out


def optimum_temperature(alpha: float, beta: float, scale: float = 1.0) -> float:
    """The temperature of the KL-regularised optimum ``pi ∝ pi_0^(1 + alpha/(beta * scale))``:
    ``beta * scale / (alpha + beta * scale)``. ``scale`` 1 is the objective ``E[R] - beta KL``; a trainer that divides
    a prompt's advantages by the reward's standard deviation ``sigma`` (GRPO's ``scale_rewards``) optimises
    ``E[R] / sigma - beta KL`` instead, i.e. ``scale = sigma``: a much milder sharpening when ``sigma`` is large."""
    if not alpha > 0 or beta < 0 or not scale > 0:
        raise EndormError(f"alpha and scale must be > 0 and beta >= 0, got {alpha!r}, {scale!r}, {beta!r}")
    return beta * scale / (alpha + beta * scale)


def advantage_scaling(trainer_config: dict) -> str:
    """How the RL run scaled advantages, from the trainer's config: ``group`` (GRPO ``scale_rewards`` group or true:
    by the reward's standard deviation within a prompt's samples), ``batch`` (GRPO ``scale_rewards`` batch, or RLOO
    ``normalize_advantages``: over the batch) or ``none``."""
    if "scale_rewards" not in trainer_config:
        return "batch" if trainer_config.get("normalize_advantages") else "none"
    value = trainer_config["scale_rewards"]
    value = {True: "group", False: "none", "true": "group", "false": "none"}.get(value, value)
    if value not in ("group", "batch", "none"):
        raise EndormError(f"unknown advantage scaling {value!r} (scale_rewards: group, batch or none)")
    return value


def measure(base_dir: str, policy_dir: str, prompt_rows: Sequence[dict], *, temperatures: Sequence[float],
            policy_temperature: float, samples: int, max_new_tokens: int, seed: int, batch_size: int,
            reward: RewardOptions, fmt=None, dtype: str = "float32", device: str | None = None,
            batch_tokens: int | None = None) -> dict:
    """The RL policy (``policy_dir``, sampled at ``policy_temperature``) and the base model (``base_dir``, at each of
    ``temperatures``) on the same prompts (RL prompt rows: ``prompt`` as chat messages), every completion scored by
    the frozen base model. Every condition uses the same ``seed``.

    Returns ``{"conditions": [{"model": "rl" | "base", "temperature", **summarize(...)}], "matches": [...],
    "paired": paired_difference(RL, initial model at the RL temperature), "completions": [...]}`` (completions
    with their decoded ``text``). The initial model is always sampled at ``policy_temperature`` too."""
    from ..defaults import DEFAULT_BATCH_TOKENS
    from ..core.loading import load_model

    if not prompt_rows:
        raise EndormError("no prompts to sample from")
    base, tok = load_model(base_dir, dtype, device)
    base.requires_grad_(False)
    base.eval()
    scorer = Scorer(base, tok, fmt, max_batch_tokens=batch_tokens or DEFAULT_BATCH_TOKENS, progress=False)
    prompts = [scorer.encoder.encode_prompt(r["prompt"]) for r in prompt_rows]
    stop_ids = sorted({int(t) for t in (scorer.encoder.eot_id, tok.eos_token_id) if t is not None})
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else stop_ids[0]
    kw = dict(samples=samples, max_new_tokens=max_new_tokens, stop_ids=stop_ids, pad_id=pad_id, seed=seed,
              batch_size=batch_size)
    policy, _ = load_model(policy_dir, dtype, device)
    policy.eval()
    t_rl = float(policy_temperature)
    runs = [("rl", sample_with_entropy(policy, prompts, [t_rl], **kw))]
    del policy
    # The initial model at the RL temperature and the others, in one call: each completion is seeded by its prompt
    # and sample only, so the initial model at the RL temperature draws the same random numbers as the RL policy,
    # and where the policies agree their samples agree (a paired comparison).
    runs.append(("base", sample_with_entropy(base, prompts, sorted({t_rl, *map(float, temperatures)}), **kw)))
    conditions, completions = [], []
    for model, comps in runs:
        score_under_base(scorer, prompts, comps, reward)
        for t in sorted({c["temperature"] for c in comps}):
            conditions.append({"model": model, "temperature": t,
                               **summarize([c for c in comps if c["temperature"] == t])})
        for c in comps:
            completions.append({"model": model, "prompt_id": prompt_rows[c["prompt"]].get("id"), **c,
                                "text": tok.decode(c["completion_ids"], skip_special_tokens=False)})
    conditions = conditions[:1] + sorted(conditions[1:], key=lambda c: c["temperature"])
    rl = conditions[0]
    curve = [c for c in conditions if c["model"] == "base"]
    pair = [[c for c in completions if c["model"] == m and c["temperature"] == t_rl] for m in ("rl", "base")]
    return {"conditions": conditions, "matches": matching_temperatures(curve, rl["entropy"]),
            "paired": paired_difference(*pair), "stop_ids": stop_ids, "completions": completions}


def paired_difference(a: Sequence[dict], b: Sequence[dict]) -> dict:
    """``a`` minus ``b``, completion by completion (matched by prompt and sample, drawn with the same random
    numbers): the mean difference of each completion's per-token entropy and per-token ``log pi_0``, their standard
    errors over pairs, and how many pairs are the same token sequence."""
    by_key = {(c["prompt"], c["sample"]): c for c in b}
    pairs = [(c, by_key[(c["prompt"], c["sample"])]) for c in a if (c["prompt"], c["sample"]) in by_key]
    if len(pairs) != len(a) or len(a) != len(b):
        raise EndormError(f"paired difference: {len(a)} and {len(b)} completions, {len(pairs)} pairs")
    out = {"pairs": len(pairs), "identical": sum(x["completion_ids"] == y["completion_ids"] for x, y in pairs)}
    for key in ("entropy", "logprobs"):
        m, se = _mean_se([sum(x[key]) / len(x[key]) - sum(y[key]) / len(y[key]) for x, y in pairs])
        name = "loglik" if key == "logprobs" else key
        out[f"{name}_diff"], out[f"{name}_diff_se"] = m, se
    return out
