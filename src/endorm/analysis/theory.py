"""Theorem 2 of the paper on a synthetic token MDP where the expert is known.

This module is over 400 lines on purpose: it is one self-contained experiment (the statement and its assumptions,
the MDPs, the expert, the next-token fit, its endogenous reward, exact soft and hard dynamic programming, the gaps,
the sweep and the slope fits) meant to be read top to bottom beside the theorem, like a notebook.

The statement
-------------
Source: the statement below is taken from a detailed public summary of arXiv 2506.23235 that quotes Theorem 2 with
its definitions, not from the paper's PDF; compare the two where the PDF is at hand.

Setting (the paper's token MDP): states are token sequences, actions are tokens of the vocabulary, the transition is
deterministic (``s_{h+1} = s_h + a_h``), the prompt ``s_1 ~ rho``, every response has exactly H tokens (padded after
EOS), per-step rewards ``r_h in [0, 1]``, and the value of a policy is ``V^pi_r = E_{tau ~ pi}[sum_h r(s_h, a_h)]``
(no entropy term).

Theorem 2. Let ``pi_E`` be the entropy-regularised optimal policy for an unknown true reward ``r*``, i.e.
``r*(s_h, a_h) = alpha log pi_E(a_h | s_h) + V*(s_h) - V*(s_{h+1})`` with ``V*`` its soft value. Let ``pi_hat`` be
trained by next-token prediction, ``r_hat`` its endogenous reward (``Q_hat = logits``,
``r_hat = Q_hat(s_h, a_h) - V_hat(s_{h+1})``), and ``pi_RL = argmax_pi V^pi_{r_hat}`` (optimisation error ignored).
Then

    V^{r*}(pi_E) - V^{r*}(pi_hat) <~ H^2 eps,        V^{r*}(pi_E) - V^{r*}(pi_RL) <~ H eps,

with ``eps = max_h max_{(s_h, a_h)} |log pi_E(a_h | s_h) - log pi_hat(a_h | s_h)|``. The paper says it extends to the
infinite-horizon case. The quadratic term is the compounding error of behaviour cloning (Ross & Bagnell, AISTATS
2010: cost ``<= J(pi*) + T^2 eps`` for a per-step mistake rate eps under the expert's state distribution, tight in
the worst case; interactive imitation such as DAgger gets ``O(T eps)``).

Assumptions, and what this module does about each
-------------------------------------------------
1. The expert is soft-optimal for r* (with the same alpha as the model's softmax). Met exactly: any full-support
   policy is soft-optimal for ``r* = alpha log pi_E + Phi(s) - Phi(s')`` (soft value ``V* = Phi``), so we choose a
   stationary bigram expert and a random potential Phi (terminal Phi = 0) and *define* r* that way.
2. Deterministic token transitions, fixed horizon H. Met; the Markov state is (step, last token), a bigram MDP: the
   expert and the learner condition on the last token only (the paper's state is the whole prefix; a bigram world is
   the smallest one in which a learner can leave the expert's state distribution and not come back).
3. Rewards in [0, 1]. Not met literally: ``alpha log pi_E`` is unbounded below. Only the constants of the bound
   depend on the reward range; every gap here is exact.
4. eps is a uniform (sup over all states and actions) log-probability error. Measured exactly for every fit. It is
   held roughly fixed across H by fitting every H on the same number of expert tokens (``tokens``; N = tokens / H
   demonstrations, starting from the expert's stationary distribution, so the bigram counts have the same law at
   every H). ``worst_case`` also holds eps exactly fixed (below).
5. pi_RL is an exact maximiser of the *unregularised* value under r_hat. Met: backward dynamic programming ("hard").
   Soft RL with the same alpha is also computed, as a check: since ``r_hat = alpha log pi_hat + shaping`` and the
   shaping telescopes (terminal value zero), the soft-optimal policy for r_hat is pi_hat itself (the paper's
   section 3.3 fixed point), so soft RL cannot separate from imitation; the theorem's separation needs hard RL.

What the exact quantities say before any experiment (used to read the results):

* ``J(pi) = Phi(s_1) + alpha E_pi[log pi_E(tau)]``: the true return is the expert's log-likelihood of the policy's
  own samples. So ``J(pi_E) - J(pi_hat) = alpha [Ent(pi_hat) - Ent(pi_E) + KL(pi_hat || pi_E)]`` (trajectory level),
  while the entropy-regularised gap is ``alpha KL(pi_hat || pi_E) <= alpha H eps``: linear in H for imitation too.
  A quadratic unregularised gap needs the learner to drift (a first-order error per step, accumulating over the
  horizon) into states where the expert's per-step entropy differs and stay there: slow mixing between regions of
  different entropy ("regions" MDPs below); a fast-mixing chain keeps it linear.
* Hard RL on r_hat returns the most likely response under pi_hat (a Viterbi path), and
  ``J(pi_E) - J(pi_RL) <= 2 alpha H eps`` exactly (split the gap at ``V^{r_hat}``; the potential terms cancel). The
  gap is usually *negative*: a deterministic mode-seeking policy beats the stochastic expert on the unregularised
  return by about the expert's entropy, whatever eps is. The eps-driven part is the regret to the optimum for r*,
  ``J(pi*) - J(pi_RL)`` (pi* = the expert's own most likely path), reported separately.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from ..errors import EndormError

DTYPE = torch.float64
TERMINALS = ("zero", "bootstrap")
MDP_KINDS = ("regions", "dirichlet")


# ---------------------------------------------------------------------------------------------------------------
# The MDP
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenMDP:
    """A finite-horizon bigram token MDP with a known stationary expert.

    Attributes:
        name: label in tables and figures.
        expert: [V, V] row-stochastic ``pi_E(a | last token)``, full support.
        rho: [V] distribution of the first token (the "prompt").
        potential: [V] shaping ``Phi`` of the true reward (``Phi(s_{H+1}) = 0``).
        alpha: temperature of the soft Q-function (``pi = softmax(Q / alpha)``).
    """

    name: str
    expert: torch.Tensor
    rho: torch.Tensor
    potential: torch.Tensor
    alpha: float = 1.0

    @property
    def vocab(self) -> int:
        return self.expert.shape[0]


def stationary_distribution(policy: torch.Tensor) -> torch.Tensor:
    """The stationary distribution of a row-stochastic [V, V] matrix (left eigenvector of eigenvalue 1)."""
    vals, vecs = torch.linalg.eig(policy.T.to(DTYPE))
    v = vecs[:, torch.argmin((vals - 1).abs())].real
    v = v / v.sum()
    return v.clamp(min=0) / v.clamp(min=0).sum()


def regions_mdp(name: str, focused: int, diffuse: int, switch: float, alpha: float = 1.0,
                potential_scale: float = 1.0, seed: int = 0) -> TokenMDP:
    """Two regions of tokens the expert moves between with probability ``switch`` per step, uniform within each.

    The focused region has ``focused`` tokens, the diffuse one ``diffuse``: the expert's per-step
    entropy, hence the per-step true reward ``alpha log pi_E``, differs between them by ``log(diffuse / focused)``,
    while their soft values are equal (the expert is indifferent under the entropy-regularised objective). The
    chain relaxes at rate ``2 * switch``; it starts from its stationary distribution (half the mass per region).
    """
    if focused < 1 or diffuse < 1 or not 0 < switch < 1:
        raise EndormError(f"theory MDP {name!r}: need focused >= 1, diffuse >= 1 and 0 < switch < 1")
    v = focused + diffuse
    p = torch.zeros(v, v, dtype=DTYPE)
    f, d = slice(0, focused), slice(focused, v)
    p[f, f] = (1 - switch) / focused
    p[f, d] = switch / diffuse
    p[d, d] = (1 - switch) / diffuse
    p[d, f] = switch / focused
    rho = torch.cat([torch.full((focused,), 0.5 / focused), torch.full((diffuse,), 0.5 / diffuse)]).to(DTYPE)
    return TokenMDP(name, p, rho, _potential(v, potential_scale, seed), alpha)


def dirichlet_mdp(name: str, vocab: int, concentration: float, alpha: float = 1.0, potential_scale: float = 1.0,
                  seed: int = 0) -> TokenMDP:
    """A random bigram expert, each row ~ Dirichlet(concentration); starts from its stationary distribution."""
    if vocab < 2 or not concentration > 0:
        raise EndormError(f"theory MDP {name!r}: need vocab >= 2 and concentration > 0")
    with torch.random.fork_rng(devices=[]):  # Dirichlet sampling takes no generator: seed a forked global RNG
        torch.manual_seed(seed)
        rows = torch.distributions.Dirichlet(torch.full((vocab,), float(concentration), dtype=DTYPE)).sample((vocab,))
    rows = rows.clamp(min=1e-12)
    rows = rows / rows.sum(1, keepdim=True)
    return TokenMDP(name, rows, stationary_distribution(rows), _potential(vocab, potential_scale, seed + 1), alpha)


def _potential(vocab: int, scale: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(vocab, generator=g, dtype=DTYPE)


def true_reward(mdp: TokenMDP, horizon: int) -> torch.Tensor:
    """[H, V, V] ``r*_h(s, a) = alpha log pi_E(a|s) + Phi(s) - Phi(a)``, with ``Phi = 0`` after the last step."""
    r = mdp.alpha * mdp.expert.log() + mdp.potential[:, None] - mdp.potential[None, :]
    out = r.expand(horizon, -1, -1).clone()
    out[-1] = mdp.alpha * mdp.expert.log() + mdp.potential[:, None]
    return out


def endogenous_reward(logits: torch.Tensor, alpha: float, horizon: int, terminal: str = "zero") -> torch.Tensor:
    """[H, V, V] ``r_hat_h(s, a) = Q(s, a) - V(s_{h+1})`` of a bigram model with logits ``Q`` ([V, V] or [H, V, V]).

    ``V(s) = alpha logsumexp(Q(s, .) / alpha)`` and ``s_{h+1}`` is the token ``a``; after the last step ``V = 0``
    ("zero", the paper) or ``V`` of the logits at the token after the last one ("bootstrap"), as in
    ``endorm.core.reward.TokenStats.rewards``.
    """
    if terminal not in TERMINALS:
        raise EndormError(f"theory.terminal must be one of {TERMINALS}, got {terminal!r}")
    q = logits.to(DTYPE)
    q = q.expand(horizon, -1, -1) if q.dim() == 2 else q
    value = alpha * torch.logsumexp(q / alpha, dim=-1)  # [H, V]: V_h(s)
    nxt = torch.zeros_like(value)
    nxt[:-1] = value[1:]
    if terminal == "bootstrap":
        nxt[-1] = value[-1]  # a stationary model: the state after the last token has the same logits table
    return q - nxt[:, None, :]


# ---------------------------------------------------------------------------------------------------------------
# Exact evaluation and planning (backward / forward dynamic programming over (step, last token))
# ---------------------------------------------------------------------------------------------------------------


def as_steps(policy: torch.Tensor, horizon: int) -> torch.Tensor:
    """A [V, V] stationary policy as [H, V, V]; a [H, V, V] policy unchanged."""
    return policy.expand(horizon, -1, -1) if policy.dim() == 2 else policy


def policy_return(policy: torch.Tensor, reward: torch.Tensor, rho: torch.Tensor) -> float:
    """Exact ``E_pi[sum_h r_h(s_h, a_h)]`` from ``s_1 ~ rho`` (forward propagation of the state distribution)."""
    pol = as_steps(policy, reward.shape[0])
    d, total = rho.to(DTYPE), 0.0
    for h in range(reward.shape[0]):
        total += float((d[:, None] * pol[h] * reward[h]).sum())
        d = d @ pol[h]
    return total


def soft_return(policy: torch.Tensor, reward: torch.Tensor, rho: torch.Tensor, alpha: float) -> float:
    """Exact entropy-regularised return ``E_pi[sum_h r_h - alpha log pi_h(a_h | s_h)]``."""
    pol = as_steps(policy, reward.shape[0])
    logp = torch.where(pol > 0, pol.clamp(min=1e-300).log(), torch.zeros_like(pol))
    return policy_return(pol, reward - alpha * logp, rho)


def hard_optimal_policy(reward: torch.Tensor) -> torch.Tensor:
    """[H, V, V] deterministic policy maximising the unregularised return (ties: the lowest token id)."""
    horizon, v, _ = reward.shape
    pol = torch.zeros_like(reward)
    w = torch.zeros(v, dtype=reward.dtype)
    for h in range(horizon - 1, -1, -1):
        q = reward[h] + w[None, :]
        best = q.argmax(dim=1)
        pol[h, torch.arange(v), best] = 1.0
        w = q.max(dim=1).values
    return pol


def soft_optimal_policy(reward: torch.Tensor, alpha: float) -> torch.Tensor:
    """[H, V, V] entropy-regularised optimal policy (soft Bellman backups with temperature alpha)."""
    horizon, v, _ = reward.shape
    pol = torch.zeros_like(reward)
    w = torch.zeros(v, dtype=reward.dtype)
    for h in range(horizon - 1, -1, -1):
        q = reward[h] + w[None, :]
        w = alpha * torch.logsumexp(q / alpha, dim=1)
        pol[h] = torch.exp((q - w[:, None]) / alpha)
    return pol


def worst_case_policy(expert: torch.Tensor, reward: torch.Tensor, eps: float) -> torch.Tensor:
    """[H, V, V] the policy with ``max |log pi - log pi_E| <= eps`` (at every step and state) of lowest return.

    Exact: backward induction, and at each state the linear programme ``min_p sum_a p(a) Q(a)`` over
    ``pi_E e^-eps <= p <= pi_E e^eps, sum p = 1`` is solved greedily (start every action at its lower bound, give
    the remaining mass to the lowest-Q actions first). Its gap is the largest imitation gap any model with this eps
    can have in this MDP: the tight form of the O(H^2 eps) bound here.
    """
    horizon, v, _ = reward.shape
    lo = expert.to(DTYPE) * math.exp(-eps)
    room = (expert.to(DTYPE) * math.exp(eps)).clamp(max=1.0) - lo
    pol = torch.zeros_like(reward)
    w = torch.zeros(v, dtype=reward.dtype)
    for h in range(horizon - 1, -1, -1):
        q = reward[h] + w[None, :]
        order = q.argsort(dim=1)
        r_sorted = room.gather(1, order)
        spare = (1.0 - lo.sum(1, keepdim=True)).clamp(min=0)
        before = r_sorted.cumsum(1) - r_sorted
        add = torch.minimum(r_sorted, (spare - before).clamp(min=0))
        p = lo.clone()
        p.scatter_add_(1, order, add)
        pol[h] = p
        w = (p * q).sum(1)
    return pol


# ---------------------------------------------------------------------------------------------------------------
# Demonstrations and next-token prediction
# ---------------------------------------------------------------------------------------------------------------


def sample_demonstrations(expert: torch.Tensor, rho: torch.Tensor, n: int, horizon: int,
                          generator: torch.Generator) -> torch.Tensor:
    """[n, H + 1] token ids: the first token ~ rho, then H expert actions."""
    cum = expert.to(DTYPE).cumsum(1)
    cum[:, -1] = 1.0
    x = torch.empty(n, horizon + 1, dtype=torch.long)
    first = rho.to(DTYPE).cumsum(0)
    first[-1] = 1.0
    x[:, 0] = torch.searchsorted(first, torch.rand(n, generator=generator, dtype=DTYPE), right=True)
    for h in range(horizon):
        u = torch.rand(n, 1, generator=generator, dtype=DTYPE)
        x[:, h + 1] = torch.searchsorted(cum[x[:, h]], u, right=True).squeeze(1)
    return x.clamp(max=expert.shape[0] - 1)


def fit_next_token(demos: torch.Tensor, vocab: int, smoothing: float,
                   alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token prediction of a bigram model: (policy [V, V], logits [V, V]).

    The exact minimiser of the cross-entropy of every next token given the previous one, with a Dirichlet
    (add-``smoothing``) prior so that no action has probability zero (eps would be infinite). The logits are
    ``alpha (log pi - mean_a log pi)``: those of a softmax model trained by gradient descent from zero logits (the
    gradient of the loss sums to zero over each row, so each row keeps mean zero). Their per-state offset is the
    model's soft value ``V_hat(s)``, which the endogenous reward sees as potential shaping.
    """
    counts = torch.zeros(vocab, vocab, dtype=DTYPE)
    counts.index_put_((demos[:, :-1].reshape(-1), demos[:, 1:].reshape(-1)),
                      torch.ones(demos[:, 1:].numel(), dtype=DTYPE), accumulate=True)
    policy = (counts + smoothing) / (counts + smoothing).sum(1, keepdim=True)
    logp = policy.log()
    return policy, alpha * (logp - logp.mean(1, keepdim=True))


def log_ratio_error(policy: torch.Tensor, expert: torch.Tensor) -> float:
    """The theorem's eps: ``max_{h, s, a} |log pi_E(a|s) - log pi(a|s)|`` (inf if supports differ)."""
    return float((policy.to(DTYPE).log() - expert.to(DTYPE).log()).abs().max())


# ---------------------------------------------------------------------------------------------------------------
# Slopes
# ---------------------------------------------------------------------------------------------------------------


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (nan if any y <= 0 or fewer than two points)."""
    x, y = torch.as_tensor(x, dtype=DTYPE), torch.as_tensor(y, dtype=DTYPE)
    if x.numel() < 2 or bool((y <= 0).any()) or not bool(torch.isfinite(y).all()):
        return math.nan
    lx, ly = x.log(), y.log()
    lx = lx - lx.mean()
    return float((lx * (ly - ly.mean())).sum() / (lx * lx).sum())


def bootstrap_slope(x, per_seed, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Slope of log(mean over seeds) against log x, with a percentile CI from resampling the seeds.

    ``per_seed`` is [S, len(x)]. A resample whose mean is <= 0 at some x has no slope and is dropped (counted).
    """
    y = torch.as_tensor(per_seed, dtype=DTYPE)
    x = torch.as_tensor(x, dtype=DTYPE)
    out = {"slope": loglog_slope(x, y.mean(0)), "lo": math.nan, "hi": math.nan, "dropped": 0}
    if y.shape[0] < 2 or math.isnan(out["slope"]):
        return out
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, y.shape[0], (n_boot, y.shape[0]), generator=g)
    means = y[idx].mean(1)  # [B, len(x)]
    ok = (means > 0).all(1)
    out["dropped"] = int((~ok).sum())
    if int(ok.sum()) < 10:
        return out
    lx = x.log() - x.log().mean()
    ly = means[ok].log()
    slopes = ((ly - ly.mean(1, keepdim=True)) * lx).sum(1) / (lx * lx).sum()
    q = torch.quantile(slopes, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=DTYPE))
    out["lo"], out["hi"] = float(q[0]), float(q[1])
    return out


def local_slopes(x, y) -> list[float]:
    """Slopes between consecutive points on log-log axes (nan where a value is <= 0)."""
    return [loglog_slope(x[i:i + 2], y[i:i + 2]) for i in range(len(x) - 1)]


# ---------------------------------------------------------------------------------------------------------------
# The experiment
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MDPSpec:
    """One MDP of the sweep (config ``theory.mdps[]``).

    Attributes:
        name: label.
        kind: ``"regions"`` (two regions of different expert entropy; ``focused``, ``diffuse``, ``switch``) or
            ``"dirichlet"`` (a random bigram expert; ``vocab``, ``concentration``).
    """

    name: str
    kind: str = "regions"
    focused: int = 2
    diffuse: int = 6
    switch: float = 1 / 1024
    vocab: int = 8
    concentration: float = 1.0

    def build(self, alpha: float, potential_scale: float, seed: int) -> TokenMDP:
        if self.kind == "regions":
            return regions_mdp(self.name, self.focused, self.diffuse, self.switch, alpha, potential_scale, seed)
        if self.kind == "dirichlet":
            return dirichlet_mdp(self.name, self.vocab, self.concentration, alpha, potential_scale, seed)
        raise EndormError(f"theory MDP {self.name!r}: kind must be one of {MDP_KINDS}, got {self.kind!r}")


DEFAULT_MDPS = (
    MDPSpec("slow mixing", "regions", focused=2, diffuse=6, switch=1 / 1024),
    MDPSpec("fast mixing", "regions", focused=2, diffuse=6, switch=1 / 8),
    MDPSpec("random bigram", "dirichlet", vocab=8, concentration=1.0),
)


@dataclass(frozen=True)
class Theorem2Spec:
    """The sweep (config section ``theory``; every key is documented in config/README.md).

    Attributes:
        horizons: response lengths H (default 4, 8, ..., 128).
        seeds: independent demonstration sets per (MDP, H) (default 16).
        tokens: expert tokens per fit: N = ceil(tokens / H) demonstrations, so every H sees the same amount of
            data and eps stays about fixed (default 65,536).
        demonstrations: a fixed N at every H instead (then eps shrinks as H grows); None (default) uses ``tokens``.
        smoothing: add-lambda (Dirichlet) prior of the next-token fit (default 0.5, the Jeffreys prior).
        alpha: temperature of expert, model and soft RL (default 1.0, as ``reward.alpha``).
        terminal: value after the last token in the endogenous reward, ``"zero"`` (default, the paper) or
            ``"bootstrap"``.
        worst_case_eps: eps of the exact worst-case imitation policy (default 0.1).
        potential_scale: standard deviation of the random shaping Phi of r* (default 1.0; no gap depends on it).
        bootstrap: seed resamples of the slope CIs (default 2000).
        level: CI level (default 0.95).
        seed: seed of the MDPs, the demonstrations and the bootstrap (default 0).
        mdps: the MDPs (default: slow-mixing regions, fast-mixing regions, a random bigram).
    """

    horizons: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    seeds: int = 16
    tokens: int = 65536
    demonstrations: int | None = None
    smoothing: float = 0.5
    alpha: float = 1.0
    terminal: str = "zero"
    worst_case_eps: float = 0.1
    potential_scale: float = 1.0
    bootstrap: int = 2000
    level: float = 0.95
    seed: int = 0
    mdps: tuple[MDPSpec, ...] = field(default=DEFAULT_MDPS)

    @classmethod
    def from_config(cls, cfg: dict) -> "Theorem2Spec":
        cfg = {k: v for k, v in dict(cfg).items() if k != "enabled"}
        mdps = tuple(MDPSpec(**m) for m in cfg.pop("mdps", [asdict(m) for m in DEFAULT_MDPS]))
        if "horizons" in cfg:
            cfg["horizons"] = tuple(sorted({int(h) for h in cfg["horizons"]}))
        unknown = set(cfg) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise EndormError(f"theory: unknown keys {sorted(unknown)}")
        spec = cls(mdps=mdps, **cfg)
        if len(spec.horizons) < 2 or spec.horizons[0] < 1:
            raise EndormError(f"theory.horizons: need two or more positive horizons, got {list(spec.horizons)}")
        if len({m.name for m in mdps}) != len(mdps):
            raise EndormError("theory.mdps: every MDP needs its own name")
        return spec


# Per (MDP, H, seed) quantities, all exact given the fitted model (J = unregularised true return).
SEED_FIELDS = (
    "eps",               # the theorem's eps of the fit
    "gap_imitation",     # J(pi_E) - J(pi_hat)
    "gap_imitation_soft",  # same with the entropy-regularised return: alpha KL(pi_hat || pi_E)
    "gap_rl",            # J(pi_E) - J(pi_RL), pi_RL = hard-optimal for r_hat
    "regret_rl",         # J(pi*) - J(pi_RL), pi* = hard-optimal for r*
    "gap_rl_soft",       # J(pi_E) - J(soft-optimal for r_hat): equals gap_imitation
    "bound_rl",          # 2 alpha H eps
)


def _one_fit(mdp: TokenMDP, horizon: int, reward: torch.Tensor, j_expert: float, j_star: float,
             spec: Theorem2Spec, generator: torch.Generator) -> dict:
    n = spec.demonstrations or math.ceil(spec.tokens / horizon)
    demos = sample_demonstrations(mdp.expert, mdp.rho, n, horizon, generator)
    policy, logits = fit_next_token(demos, mdp.vocab, spec.smoothing, mdp.alpha)
    r_hat = endogenous_reward(logits, mdp.alpha, horizon, spec.terminal)
    pi_rl = hard_optimal_policy(r_hat)
    pi_soft = soft_optimal_policy(r_hat, mdp.alpha)
    eps = log_ratio_error(policy, mdp.expert)
    j_hat = policy_return(policy, reward, mdp.rho)
    j_rl = policy_return(pi_rl, reward, mdp.rho)
    soft_gap = (soft_return(mdp.expert, reward, mdp.rho, mdp.alpha)
                - soft_return(policy, reward, mdp.rho, mdp.alpha))
    regret = j_star - j_rl  # >= 0 by optimality; below float noise it is exactly zero (a tie with pi*)
    regret = 0.0 if regret < 1e-9 * (1.0 + abs(j_star)) else regret
    return {"eps": eps, "gap_imitation": j_expert - j_hat, "gap_imitation_soft": soft_gap,
            "gap_rl": j_expert - j_rl, "regret_rl": regret,
            "gap_rl_soft": j_expert - policy_return(pi_soft, reward, mdp.rho),
            "bound_rl": 2 * mdp.alpha * horizon * eps, "demonstrations": n}


def run_theorem2(spec: Theorem2Spec, log=print) -> dict:
    """Every (MDP, H, seed) fit, the per-H summaries and the fitted slopes, as plain data."""
    t0 = time.perf_counter()
    hs = list(spec.horizons)
    result = {"spec": asdict(spec), "mdps": []}
    for m_index, mspec in enumerate(spec.mdps):
        mdp = mspec.build(spec.alpha, spec.potential_scale, spec.seed + 1000 * m_index)
        per_seed = {k: torch.empty(spec.seeds, len(hs), dtype=DTYPE) for k in SEED_FIELDS}
        rows, checks = [], {"soft_rl_equals_imitation": 0.0, "rl_bound_violations": 0}
        for i, horizon in enumerate(hs):
            reward = true_reward(mdp, horizon)
            j_expert = policy_return(mdp.expert, reward, mdp.rho)
            j_star = policy_return(hard_optimal_policy(reward), reward, mdp.rho)
            worst = j_expert - policy_return(worst_case_policy(mdp.expert, reward, spec.worst_case_eps), reward,
                                             mdp.rho)
            demos_n = None
            for s in range(spec.seeds):
                g = torch.Generator().manual_seed(((spec.seed * 1009 + m_index) * 100003 + horizon) * 1009 + s)
                fit = _one_fit(mdp, horizon, reward, j_expert, j_star, spec, g)
                demos_n = fit.pop("demonstrations")
                for k in SEED_FIELDS:
                    per_seed[k][s, i] = fit[k]
                checks["soft_rl_equals_imitation"] = max(checks["soft_rl_equals_imitation"],
                                                         abs(fit["gap_rl_soft"] - fit["gap_imitation"]))
                checks["rl_bound_violations"] += int(fit["gap_rl"] > fit["bound_rl"] + 1e-9)
            col = {k: per_seed[k][:, i] for k in SEED_FIELDS}
            rows.append({
                "mdp": mdp.name, "H": horizon, "demonstrations": demos_n,
                "eps": float(col["eps"].mean()), "eps_sd": float(col["eps"].std()),
                "gap_imitation": float(col["gap_imitation"].mean()),
                "gap_imitation_sd": float(col["gap_imitation"].std()),
                "abs_gap_imitation": float(col["gap_imitation"].abs().mean()),
                "positive_imitation": int((col["gap_imitation"] > 0).sum()),
                "gap_imitation_soft": float(col["gap_imitation_soft"].mean()),
                "gap_imitation_worst": worst,
                "gap_rl": float(col["gap_rl"].mean()), "gap_rl_sd": float(col["gap_rl"].std()),
                "regret_rl": float(col["regret_rl"].mean()),
                "expert_minus_optimum": j_expert - j_star,
                "bound_rl": float(col["bound_rl"].mean()),
            })
            log(f"theory: {mdp.name} H={horizon} N={demos_n} eps={rows[-1]['eps']:.3f} "
                f"gap_imitation={rows[-1]['gap_imitation']:+.4g} worst={worst:.4g} gap_rl={rows[-1]['gap_rl']:+.4g} "
                f"regret_rl={rows[-1]['regret_rl']:.3g}")
        worst_curve = [r["gap_imitation_worst"] for r in rows]
        slopes = {
            "abs_gap_imitation": bootstrap_slope(hs, per_seed["gap_imitation"].abs(), spec.bootstrap, spec.level,
                                                 spec.seed),
            "gap_imitation_soft": bootstrap_slope(hs, per_seed["gap_imitation_soft"], spec.bootstrap, spec.level,
                                                  spec.seed),
            "gap_imitation_worst": {"slope": loglog_slope(hs, worst_curve), "lo": math.nan, "hi": math.nan,
                                    "dropped": 0},
            "minus_gap_rl": bootstrap_slope(hs, -per_seed["gap_rl"], spec.bootstrap, spec.level, spec.seed),
            "regret_rl": bootstrap_slope(hs, per_seed["regret_rl"], spec.bootstrap, spec.level, spec.seed),
        }
        local = {
            "abs_gap_imitation": local_slopes(hs, [r["abs_gap_imitation"] for r in rows]),
            "gap_imitation_worst": local_slopes(hs, worst_curve),
        }
        result["mdps"].append({
            "name": mdp.name, "spec": asdict(mspec), "rows": rows, "slopes": slopes, "local_slopes": local,
            "checks": checks, "per_seed": {k: per_seed[k].tolist() for k in SEED_FIELDS},
            "expert_entropy_per_step": _entropy_rate(mdp),
        })
    result["seconds"] = time.perf_counter() - t0
    return result


def _entropy_rate(mdp: TokenMDP) -> float:
    """The expert's stationary per-step entropy (nats)."""
    ent = -(mdp.expert * mdp.expert.log()).sum(1)
    return float((stationary_distribution(mdp.expert) * ent).sum())
