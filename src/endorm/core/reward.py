"""The endogenous reward: a causal LM's logits read as a soft Q-function.

Notation (the paper's): the state ``s_h`` is the prompt plus the response tokens
before position ``h``; the action ``a_h`` is the next token. With ``pi(.|s) = softmax(f(s, .) / alpha)``:

* ``Q(s_h, a_h) = f(s_h, a_h)`` (the logit of the taken token),
* ``V(s) = alpha * logsumexp(f(s, .) / alpha)``,
* ``log pi(a_h | s_h) = (Q(s_h, a_h) - V(s_h)) / alpha``,
* ``r_h = Q(s_h, a_h) - V(s_{h+1}) = alpha * log pi(a_h | s_h) + V(s_h) - V(s_{h+1})`` (inverse soft Bellman).

The paper takes the terminal value ``V(s_{H+1}) = 0`` ("zero"), so the last token's reward is its raw logit and
the sum telescopes to ``alpha * log pi(y|x) + V(s_1)``. "bootstrap" keeps ``V(s_{H+1})`` from the logits after the
last response token, so the sum is ``alpha * log pi(y|x) + V(s_1) - V(s_{H+1})``.

Everything here works on per-position quantities computed from hidden states in chunks (``lm_head_reduce``),
so a float32 [batch, length, vocab] tensor is never built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from ..defaults import ALPHA_MAX, ALPHA_MIN, DEFAULT_AGGREGATION, DEFAULT_ALPHA, DEFAULT_GAMMA, DEFAULT_TERMINAL

Terminal = Literal["zero", "bootstrap"]
Aggregation = Literal["sum", "mean", "discounted"]
TERMINALS = ("zero", "bootstrap")
AGGREGATIONS = ("sum", "mean", "discounted")


@dataclass(frozen=True)
class RewardOptions:
    """How token rewards are formed and summed into one score.

    Attributes:
        alpha: Temperature of the soft Q-function: ``pi = softmax(logits / alpha)``, in [0.001, 1000] (finite
            values in float32). Default 1.0 (raw logits; the paper does not report its value).
        terminal: Value of the state after the last response token. ``"zero"`` (default, the paper's finite
            horizon) or ``"bootstrap"`` (``V`` computed from the logits after the last token).
        aggregation: ``"sum"`` (default, the paper's ``R(x, y) = sum_h r_h``), ``"mean"`` (sum divided by the
            number of response tokens) or ``"discounted"`` (``sum_h gamma^(h-1) r_h``).
        gamma: Discount used only by ``aggregation="discounted"``. Default 0.93 (the value in the first author's
            related public benchmark).
    """

    alpha: float = DEFAULT_ALPHA
    terminal: Terminal = DEFAULT_TERMINAL
    aggregation: Aggregation = DEFAULT_AGGREGATION
    gamma: float = DEFAULT_GAMMA

    def __post_init__(self) -> None:
        if not ALPHA_MIN <= self.alpha <= ALPHA_MAX:
            raise ValueError(f"alpha must be a finite number in [{ALPHA_MIN:g}, {ALPHA_MAX:g}], got {self.alpha!r}")
        if self.terminal not in TERMINALS:
            raise ValueError(f"terminal must be one of {TERMINALS}, got {self.terminal!r}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma!r}")


@dataclass
class TokenStats:
    """Per-token quantities of one response, all float64 lists of length H (number of response tokens).

    ``values`` has length H + 1: ``V(s_1) .. V(s_{H+1})``, the last one from the logits after the final token
    (used only by the bootstrap terminal).
    """

    token_ids: list[int]
    q: list[float]
    values: list[float]
    alpha: float
    truncated: int = 0
    prompt_ids: list[int] = field(default_factory=list)

    @property
    def logprobs(self) -> list[float]:
        return [(q - v) / self.alpha for q, v in zip(self.q, self.values[:-1])]

    def rewards(self, terminal: Terminal = DEFAULT_TERMINAL) -> list[float]:
        """r_h = Q(s_h, a_h) - V(s_{h+1}), with V(s_{H+1}) set by ``terminal``."""
        if terminal not in TERMINALS:
            raise ValueError(f"terminal must be one of {TERMINALS}, got {terminal!r}")
        nxt = list(self.values[1:])
        if terminal == "zero" and nxt:
            nxt[-1] = 0.0
        return [q - v for q, v in zip(self.q, nxt)]


def aggregate(values: list[float], aggregation: Aggregation = DEFAULT_AGGREGATION,
              gamma: float = DEFAULT_GAMMA) -> float:
    """Sum, mean or discounted sum of a per-token list (empty lists are an error upstream)."""
    if not values:
        raise ValueError("cannot aggregate an empty response (no tokens to score)")
    if aggregation == "sum":
        return float(sum(values))
    if aggregation == "mean":
        return float(sum(values) / len(values))
    if aggregation == "discounted":
        return float(sum(v * gamma**i for i, v in enumerate(values)))
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")


def endogenous_score(stats: TokenStats, options: RewardOptions) -> float:
    """The response's endogenous reward R(x, y) under ``options`` (alpha is fixed when the stats are computed)."""
    if abs(stats.alpha - options.alpha) > 1e-12:
        raise ValueError(f"token stats were computed with alpha={stats.alpha}, options ask alpha={options.alpha}")
    return aggregate(stats.rewards(options.terminal), options.aggregation, options.gamma)


def lm_head_reduce(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    lm_head: torch.nn.Module,
    alpha: float = DEFAULT_ALPHA,
    softcap: float | None = None,
    chunk_size: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Q of each target token and V of each state, from hidden states, ``chunk_size`` positions at a time.

    Args:
        hidden: [N, D] final hidden states of the N states to evaluate (any dtype).
        targets: [N] token id taken at each state; ``-1`` where no token is taken (a terminal state: only V).
        lm_head: the model's output projection (hidden -> vocab logits).
        alpha: soft-Q temperature.
        softcap: the model's final logit soft-capping (Gemma-2/3), or None.
        chunk_size: positions per chunk; peak extra memory is about ``chunk_size * vocab * 4`` bytes.

    Returns:
        (q, v), float32 tensors of shape [N]; ``q`` is 0 where ``targets == -1``.
    """
    q, (v,) = lm_head_reduce_alphas(hidden, targets, lm_head, (alpha,), softcap, chunk_size)
    return q, v


def lm_head_reduce_alphas(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    lm_head: torch.nn.Module,
    alphas: tuple[float, ...],
    softcap: float | None = None,
    chunk_size: int = 1024,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """:func:`lm_head_reduce` for several temperatures from one pass over the logits: Q does not depend on alpha,
    and each V is ``alpha * logsumexp(logits / alpha)`` of the same chunk. Returns (q, [v per alpha])."""
    n = hidden.shape[0]
    q = torch.zeros(n, dtype=torch.float32, device=hidden.device)
    vs = [torch.empty(n, dtype=torch.float32, device=hidden.device) for _ in alphas]
    for start in range(0, n, chunk_size):
        h = hidden[start : start + chunk_size]
        logits = lm_head(h).float()
        if softcap is not None:
            logits = torch.tanh(logits / softcap) * softcap
        for v, alpha in zip(vs, alphas):
            v[start : start + h.shape[0]] = alpha * torch.logsumexp(logits / alpha, dim=-1)
        t = targets[start : start + h.shape[0]]
        taken = t >= 0
        gathered = logits.gather(1, t.clamp(min=0).unsqueeze(1)).squeeze(1)
        q[start : start + h.shape[0]] = torch.where(taken, gathered, torch.zeros_like(gathered))
        del logits
    return q, vs
