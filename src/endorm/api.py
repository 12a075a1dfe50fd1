"""High-level API: the endogenous reward of any causal LM in three lines.

    from endorm import EndogenousReward
    rm = EndogenousReward.from_pretrained("results/models/smollm2-135m-instruct")
    rm.score("What is 2+2?", "4")               # R(x, y), the paper's defaults
"""

from __future__ import annotations

from typing import Sequence

from .core.encoding import PromptFormat
from .core.engine import Scorer
from .core.loading import load_model
from .core.reward import RewardOptions, TokenStats, endogenous_score


class EndogenousReward:
    """The reward inside a causal LM: r_h = Q(s_h, a_h) - V(s_{h+1}) summed over the response.

    Args:
        model, tokenizer: a causal LM and its tokenizer.
        reward: alpha, terminal value, aggregation (defaults: the paper's: alpha 1, V(s_{H+1}) = 0, sum).
        fmt: chat template, system prompt, end-of-turn token, truncation.
        **scorer_kwargs: batching options of :class:`endorm.core.engine.Scorer`.
    """

    def __init__(self, model, tokenizer, reward: RewardOptions | None = None, fmt: PromptFormat | None = None,
                 **scorer_kwargs) -> None:
        self.reward = reward or RewardOptions()
        scorer_kwargs.setdefault("progress", False)
        self.scorer = Scorer(model, tokenizer, fmt, **scorer_kwargs)

    @classmethod
    def from_pretrained(cls, path: str, dtype: str = "float32", device: str | None = None, **kwargs):
        model, tokenizer = load_model(path, dtype, device)
        return cls(model, tokenizer, **kwargs)

    def token_rewards(self, prompt: str, response: str, system: str | None = None) -> TokenStats:
        """Per-token Q, V and log pi of one response (``.rewards(terminal)`` gives r_h)."""
        return self.scorer.token_stats([(prompt, response, system)], self.reward.alpha)[0]

    def score_batch(self, prompts: Sequence[str], responses: Sequence[str],
                    systems: Sequence[str | None] | None = None) -> list[float]:
        """R(x, y) of each (prompt, response), one forward pass each, batched by length."""
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        systems = list(systems) if systems is not None else [None] * len(prompts)
        stats = self.scorer.token_stats(zip(prompts, responses, systems), self.reward.alpha)
        return [endogenous_score(s, self.reward) for s in stats]

    def score(self, prompt: str, response: str, system: str | None = None) -> float:
        """R(x, y) of one response."""
        return self.score_batch([prompt], [response], [system])[0]
