"""RL on the endogenous reward (the paper's third claim, Table 3).

The initial model, frozen, scores each completion the policy samples: ``r(x, y) = sum_h [Q(s_h, a_h) - V(s_{h+1})]``
computed by the same engine as the benchmarks (:class:`endorm.core.engine.Scorer`); nothing is re-implemented here.

* :class:`EndogenousRewardFunction` is a plain TRL reward callable ``(prompts, completions, completion_ids, **kw)``.
  It takes TRL's prompts as text or chat messages and, when TRL passes them, the completion's token ids as the
  policy generated them (no re-tokenization).
* :class:`AnswerAccuracy` is the rule-based answer check (last ``\\boxed{}`` vs the gold answer, by math-verify).
  It is registered with weight 0.0, so TRL logs it (``rewards/accuracy/mean``) while the reward the policy is
  trained on is exactly ``1.0 * endorm + 0.0 * accuracy``: monitoring only. It also logs the completions' repeated
  4-gram fraction (``monitor/repetition``) so reward hacking by repetition is visible next to the length.
* The training run itself (TRL's trainer from a JSON spec, the non-finite guard, ``python -m endorm.rl.train SPEC``)
  is :mod:`endorm.rl.train`.

PPO, which the paper reports, is no longer in TRL (removed in 2026); GRPO with a KL penalty to the initial model is
the closest TRL trainer: same policy-gradient family, a group-relative baseline instead of a learned critic.
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Sequence

import torch

from ..core.encoding import PromptFormat
from ..core.engine import Scorer
from ..errors import EndormError
from ..core.loading import load_model, resolve_dtype
from ..core.reward import RewardOptions, endogenous_score

log = logging.getLogger(__name__)

ON_NONFINITE = ("stop", "skip")


def _content(message_or_text) -> str:
    """TRL passes completions as text or as [{"role": "assistant", "content": ...}]."""
    if isinstance(message_or_text, str):
        return message_or_text
    if isinstance(message_or_text, list) and message_or_text and isinstance(message_or_text[-1], dict):
        return str(message_or_text[-1].get("content", ""))
    raise EndormError(f"a completion must be text or a list of chat messages, got {type(message_or_text).__name__}")


class EndogenousRewardFunction:
    """A TRL reward function: the endogenous reward of each completion under a frozen model.

    Args:
        scorer: the engine, holding the frozen model (``requires_grad`` off, eval mode).
        reward: alpha, terminal value and aggregation (the paper's defaults: 1, 0, sum).
        keep_samples: how many (prompt, completion, reward) triples to keep per call, for the training log.
        on_nonfinite: what a non-finite reward does: ``"stop"`` raises an :class:`EndormError` naming the step, the
            completion and the value; ``"skip"`` returns ``None`` for it (TRL's "no reward") and records it in
            :attr:`nonfinite`, which :class:`NonFiniteGuard` reads to drop the step's update.

    Prompts are rendered by the engine's :class:`endorm.core.encoding.PromptEncoder`: text with the format's chat
    template and system prompt, exactly as :meth:`endorm.api.EndogenousReward.score` does; chat messages as given,
    with the generation prompt, as TRL renders them for the policy. With ``completion_ids``
    the completion is scored as those ids, up to and including the first end-of-sequence token (what the policy
    generated, including the end of turn when it finished; a truncated completion has none). Without ids the
    completion text is tokenized by the engine (end-of-turn token appended when ``score_eot``).
    """

    __name__ = "endorm"  # TRL logs each reward function under its __name__

    def __init__(self, scorer: Scorer, reward: RewardOptions | None = None, keep_samples: int = 1,
                 on_nonfinite: str = "stop") -> None:
        if on_nonfinite not in ON_NONFINITE:
            raise EndormError(f"on_nonfinite must be one of {ON_NONFINITE}, got {on_nonfinite!r}")
        self.scorer = scorer
        self.reward = reward or RewardOptions()
        self.keep_samples = keep_samples
        self.on_nonfinite = on_nonfinite
        self.samples: list[dict] = []
        self.nonfinite: list[dict] = []  # skip mode: non-finite rewards not yet seen by the guard
        self.calls = 0
        stops = {scorer.encoder.eot_id, scorer.tokenizer.eos_token_id}
        self.stop_ids = {int(t) for t in stops if t is not None}
        self.shares_reference = False  # set when the scorer's model is the trainer's reference model
        self.shared = {"completions": 0, "rewarded": 0}  # rewards taken from the reference model's forward pass
        self._from_reference: dict[tuple, object] = {}

    @classmethod
    def from_pretrained(cls, path: str, dtype: str = "float32", device: str | None = None,
                        reward: RewardOptions | None = None, fmt: PromptFormat | None = None,
                        on_nonfinite: str = "stop", **scorer_kwargs):
        model, tok = load_model(path, dtype, device)
        model.requires_grad_(False)
        model.eval()
        reward = reward or RewardOptions()
        scorer_kwargs.setdefault("progress", False)
        return cls(Scorer(model, tok, fmt, **scorer_kwargs), reward, on_nonfinite=on_nonfinite)

    def prompt_ids(self, prompt) -> list[int]:
        """Token ids of a TRL prompt (text or chat messages)."""
        return self.scorer.encoder.encode_prompt(prompt)

    def completion_ids(self, completion, ids: Sequence[int] | None) -> list[int]:
        """The completion's token ids as generated (up to the first stop token), else its text tokenized."""
        if ids is None:
            return self.scorer.encoder.encode_response(_content(completion))
        return self.scorer.encoder.completion_ids(ids, self.stop_ids)

    def __call__(self, prompts, completions, completion_ids=None, **kwargs) -> list[float]:
        if len(prompts) != len(completions):
            raise EndormError(f"{len(prompts)} prompts but {len(completions)} completions")
        if completion_ids is not None and len(completion_ids) != len(completions):
            raise EndormError(f"{len(completion_ids)} completion_ids but {len(completions)} completions")
        pairs = []
        for k, (p, c) in enumerate(zip(prompts, completions)):
            ids = self.completion_ids(c, completion_ids[k] if completion_ids is not None else None)
            pairs.append((self.prompt_ids(p), ids))
        scores = [0.0] * len(pairs)
        todo = [k for k, (_, r) in enumerate(pairs) if r]  # an empty completion takes no action: reward 0
        stats = {k: self._from_reference.pop((tuple(pairs[k][0]), tuple(pairs[k][1])), None) for k in todo}
        self._from_reference.clear()
        missing = [k for k in todo if stats[k] is None]
        self.shared["completions"] += len(todo) - len(missing)
        self.shared["rewarded"] += len(todo)
        stats.update(zip(missing, self.scorer.token_stats_ids([pairs[k] for k in missing], self.reward.alpha,
                                                              desc="reward")))
        for k in todo:
            scores[k] = float(endogenous_score(stats[k], self.reward))
        state = kwargs.get("trainer_state")
        step = state.global_step + 1 if state is not None else None  # the optimizer step these rewards train
        bad = [k for k, r in enumerate(scores) if not math.isfinite(r)]
        if bad:
            self._refuse(bad, scores, pairs, prompts, step)
        for k in range(min(self.keep_samples, len(pairs))):
            self.samples.append({"call": self.calls, "step": step, "prompt": _content(prompts[k]) if not
                                 isinstance(prompts[k], str) else prompts[k], "completion": _content(completions[k]),
                                 "completion_tokens": len(pairs[k][1]),
                                 "reward": scores[k] if math.isfinite(scores[k]) else None})
        self.calls += 1
        return [None if k in bad else r for k, r in enumerate(scores)] if bad else scores

    @torch.inference_mode()
    def reference_logps(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: int,
                        temperature: float) -> torch.Tensor | None:
        """TRL's per-token reference log-probabilities, ``log softmax(logits / temperature)`` of each completion
        token under the scorer's model (TRL's ``_get_per_token_logps_and_entropies`` on the reference model): rows
        of ``input_ids`` are a left-padded prompt and the last ``logits_to_keep`` columns, the completion (its
        tokens where ``attention_mask`` is 1). The same forward pass computes the endogenous reward of each
        completion, kept for the reward call that follows; a completion scored there that this pass did not see is
        scored anew. Returns [rows, logits_to_keep] float32 (0 where masked), or None when a sequence would not be
        scored whole (an empty prompt, the engine's length limit): the caller then runs the reference model."""
        keep = int(logits_to_keep)
        pairs = []
        for row, mask in zip(input_ids.tolist(), attention_mask.tolist()):
            pairs.append(([t for t, m in zip(row[:-keep], mask[:-keep]) if m],
                          [t for t, m in zip(row[-keep:], mask[-keep:]) if m]))
        todo = [k for k, (_, c) in enumerate(pairs) if c]
        if any(not pairs[k][0] for k in todo):
            return None
        alphas = sorted({float(temperature), float(self.reward.alpha)})
        stats = self.scorer.token_stats_alphas([pairs[k] for k in todo], alphas, desc="reference + reward")
        out = torch.zeros((len(pairs), keep), dtype=torch.float32)
        found = {}
        for j, k in enumerate(todo):
            at_t = stats[float(temperature)][j]
            if at_t.truncated or at_t.token_ids != pairs[k][1]:
                return None
            out[k, : len(pairs[k][1])] = torch.tensor(at_t.logprobs, dtype=torch.float32)
            found[(tuple(pairs[k][0]), tuple(pairs[k][1]))] = stats[float(self.reward.alpha)][j]
        self._from_reference = found
        return out.to(input_ids.device)

    def _refuse(self, bad: list[int], scores: list[float], pairs, prompts, step: int | None) -> None:
        """A non-finite reward: an EndormError (stop), or recorded for the guard and returned as None (skip)."""
        k = bad[0]
        prompt = prompts[k] if isinstance(prompts[k], str) else _content(prompts[k])
        detail = (f"endogenous reward {scores[k]!r} for completion {k} of {len(scores)} in reward call {self.calls} "
                  f"({len(pairs[k][1])} completion tokens, prompt {prompt[:80]!r}); {len(bad)} of the "
                  f"{len(scores)} rewards are not finite")
        msg = f"{f'RL step {step}: ' if step is not None else ''}non-finite {detail}"
        if self.on_nonfinite == "stop":
            raise EndormError(msg + " (rl.on_nonfinite: stop)")
        log.warning("%s; the step's update is skipped (rl.on_nonfinite: skip)", msg)
        self.nonfinite.append({"step": step, "value": repr(scores[k]), "completions": len(bad), "detail": detail})


def repeated_ngram_fraction(ids: Sequence[int], n: int = 4) -> float:
    """Share of a sequence's n-grams that already occurred earlier in it (0: no repetition)."""
    grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


class AnswerAccuracy:
    """Rule-based answer accuracy against the dataset's ``answer`` column, for monitoring (weight 0.0)."""

    __name__ = "accuracy"

    def __call__(self, prompts, completions, completion_ids=None, answer=None, log_metric=None, **kwargs):
        from ..data.answers import score_answer

        if answer is None:
            raise EndormError("the RL dataset has no 'answer' column: the monitoring accuracy needs one")
        out = [1.0 if score_answer(_content(c), str(a))[1] else 0.0 for c, a in zip(completions, answer)]
        if log_metric is not None and completion_ids is not None:
            reps = [repeated_ngram_fraction(list(ids)) for ids in completion_ids]
            log_metric("monitor/repetition", sum(reps) / max(1, len(reps)))
        return out


class ContinuousRollout:
    """A TRL ``rollout_func`` that generates the policy's completions with :func:`endorm.core.generation.generate_many`
    (continuous batching: a finished completion leaves the batch at once; each completion samples from its own
    generator, seeded by the run's seed, the optimizer step and its position in the batch, so a rollout is the same
    whatever ``max_batch``, by default every completion of the step at once). Prompts are tokenized by the trainer
    itself (its chat template and options), the
    completions stop at the trainer's stop tokens (``eos_token_ids``) and at ``max_completion_length``, and sample at
    its ``temperature``, ``top_k`` and ``top_p``, as TRL's own generation would. For one process (a CPU or one GPU);
    several processes shard the weights, and TRL's own generation (``rl.rollouts: trl``) is used there.

    ``dtype`` (e.g. ``"bfloat16"``): sample from a copy of the policy in that dtype, its weights copied from the
    policy before every rollout, while the trainer's log-probabilities, the update and the reward keep their own
    dtype. Small-batch decoding on a CPU is bound by reading the weights, so a bfloat16 copy generates about 1.5x
    faster there; its samples come from the policy rounded to bfloat16 (as rollouts from an inference engine in
    bfloat16 do), not exactly from the float32 policy the trainer scores them with. None: the policy itself.

    ``stats`` collects each rollout's token counts and seconds (generated tokens per second of the rollouts)."""

    def __init__(self, seed: int, max_batch: int | None = None, dtype: str | None = None):
        self.seed, self.max_batch, self.dtype = int(seed), max_batch, dtype
        self.stats: list[dict] = []
        self._copy = None

    def sampler(self, policy):
        """The model the rollout samples from: ``policy`` itself, or its copy in ``dtype`` with the policy's current
        weights (parameters cast; buffers such as rotary frequencies keep their dtype)."""
        dtype = None if self.dtype is None else resolve_dtype(self.dtype)
        if dtype is None or dtype == next(policy.parameters()).dtype:
            return policy
        with torch.no_grad():
            if self._copy is None:
                self._copy = copy.deepcopy(policy).requires_grad_(False).eval()
                for module in self._copy.modules():
                    # a forward set on the instance (the trainer's accelerate sets one) is bound to the policy: the
                    # copy would run the policy's weights; the class's forward runs its own
                    module.__dict__.pop("forward", None)
                for p in self._copy.parameters():
                    p.data = p.data.to(dtype)
            else:
                for dst, src in zip(self._copy.parameters(), policy.parameters(), strict=True):
                    dst.copy_(src)
        return self._copy

    def seeds(self, step: int, n: int) -> list[int]:
        from ..core.generation import derived_seeds

        return derived_seeds([self.seed, step], n)

    def __call__(self, prompts: list, trainer) -> dict:
        from ..core.generation import generate_many

        if trainer.min_p or (trainer.repetition_penalty not in (None, 1.0)):
            raise EndormError("endorm's rollouts sample at temperature with top-k and top-p only; with min_p or a "
                              "repetition penalty set rl.rollouts: trl")
        prompt_ids = trainer._tokenize_prompts(prompts)[0]  # TRL's own prompt tokenization (TRL 1.16)
        policy = trainer.accelerator.unwrap_model(trainer.model)
        training = policy.training
        policy.eval()
        try:
            completions, stats = generate_many(
                self.sampler(policy), prompt_ids, max_new_tokens=trainer.max_completion_length, stop_ids=trainer.eos_token_ids,
                temperature=float(trainer.temperature), top_k=int(trainer.top_k or 0), top_p=float(trainer.top_p or 1),
                seeds=self.seeds(trainer.state.global_step, len(prompt_ids)),
                max_batch=self.max_batch or len(prompt_ids),
                pad_id=trainer.processing_class.pad_token_id or 0)
        finally:
            policy.train(training)
        self.stats.append({"step": trainer.state.global_step, **stats})
        log.info("rollout at step %d: %d completions, %d tokens in %.1f s (%.1f tokens/s)", trainer.state.global_step,
                 len(completions), stats["generated_tokens"], stats["seconds"],
                 stats["generated_tokens"] / max(stats["seconds"], 1e-9))
        return {"prompt_ids": prompt_ids, "completion_ids": completions, "logprobs": None}
