"""Theorem 2 on a synthetic token MDP (endorm.analysis.theory): exact DP against brute force, the endogenous reward of the
expert, the next-token fit, the slopes, and a tiny sweep end to end."""

import itertools
import math

import pytest
import torch
import yaml

from conftest import ROOT
from endorm.analysis import theory
from endorm.tables import theory_tables
from endorm.errors import EndormError
from endorm.core.reward import TokenStats

D = theory.DTYPE


def tiny_mdp(vocab=3, seed=0, alpha=0.7):
    return theory.dirichlet_mdp("tiny", vocab, 0.8, alpha=alpha, potential_scale=1.5, seed=seed)


def trajectories(vocab, horizon):
    """Every (first token, action sequence)."""
    return [(s, seq) for s in range(vocab) for seq in itertools.product(range(vocab), repeat=horizon)]


def path_prob(policy, s, seq):
    p, prev = 1.0, s
    for h, a in enumerate(seq):
        p *= float(policy[h, prev, a])
        prev = a
    return p


def path_return(reward, s, seq):
    r, prev = 0.0, s
    for h, a in enumerate(seq):
        r += float(reward[h, prev, a])
        prev = a
    return r


def test_policy_return_and_planners_match_brute_force():
    mdp = tiny_mdp()
    horizon = 3
    reward = theory.true_reward(mdp, horizon) + torch.randn(horizon, 3, 3, generator=torch.Generator().manual_seed(1),
                                                            dtype=D)  # any reward, not only soft-optimal ones
    g = torch.Generator().manual_seed(2)
    stochastic = torch.rand(horizon, 3, 3, generator=g, dtype=D)
    stochastic /= stochastic.sum(-1, keepdim=True)
    paths = trajectories(3, horizon)
    brute = sum(float(mdp.rho[s]) * path_prob(stochastic, s, seq) * path_return(reward, s, seq) for s, seq in paths)
    assert theory.policy_return(stochastic, reward, mdp.rho) == pytest.approx(brute, abs=1e-12)

    # Hard optimum of a deterministic MDP: the best action sequence from each first token.
    best = {s: max(path_return(reward, s2, seq) for s2, seq in paths if s2 == s) for s in range(3)}
    hard = theory.hard_optimal_policy(reward)
    assert theory.policy_return(hard, reward, mdp.rho) == pytest.approx(
        sum(float(mdp.rho[s]) * best[s] for s in range(3)), abs=1e-12)

    # Soft optimum: trajectory law proportional to exp(R(tau) / alpha), soft value alpha logsumexp of returns.
    alpha = 0.6
    soft = theory.soft_optimal_policy(reward, alpha)
    for s in range(3):
        returns = torch.tensor([path_return(reward, s, seq) for s2, seq in paths if s2 == s], dtype=D)
        law = torch.softmax(returns / alpha, 0)
        got = torch.tensor([path_prob(soft, s, seq) for s2, seq in paths if s2 == s], dtype=D)
        torch.testing.assert_close(got, law, rtol=0, atol=1e-12)
    soft_value = sum(float(mdp.rho[s]) * alpha * float(torch.logsumexp(torch.tensor(
        [path_return(reward, s, seq) for s2, seq in paths if s2 == s], dtype=D) / alpha, 0)) for s in range(3))
    assert theory.soft_return(soft, reward, mdp.rho, alpha) == pytest.approx(soft_value, abs=1e-10)


def test_worst_case_policy_matches_brute_force_over_vertices():
    # Two tokens: the eps-ball of a state is an interval for p(0); a linear objective is minimised at an end point,
    # so the worst policy is one of the 2^(H * V) end-point assignments.
    mdp = tiny_mdp(vocab=2, seed=3)
    horizon, eps = 3, 0.3
    reward = theory.true_reward(mdp, horizon)
    e = mdp.expert
    ends = [(float(torch.clamp(e[s, 0] * math.exp(-eps), min=1 - min(1.0, float(e[s, 1] * math.exp(eps))))),
             float(torch.clamp(e[s, 0] * math.exp(eps), max=1 - float(e[s, 1] * math.exp(-eps)))))
            for s in range(2)]
    best = math.inf
    for choice in itertools.product((0, 1), repeat=horizon * 2):
        pol = torch.empty(horizon, 2, 2, dtype=D)
        for h in range(horizon):
            for s in range(2):
                p0 = ends[s][choice[2 * h + s]]
                pol[h, s] = torch.tensor([p0, 1 - p0], dtype=D)
        best = min(best, theory.policy_return(pol, reward, mdp.rho))
    worst = theory.worst_case_policy(e, reward, eps)
    assert theory.policy_return(worst, reward, mdp.rho) == pytest.approx(best, abs=1e-12)
    assert float((worst.log() - e.log()).abs().max()) <= eps + 1e-12
    assert torch.allclose(worst.sum(-1), torch.ones(horizon, 2, dtype=D))


@pytest.mark.parametrize("mdp", [tiny_mdp(4, seed=5), theory.regions_mdp("r", 2, 3, 0.05, alpha=1.3, seed=6)])
def test_endogenous_reward_of_the_expert_recovers_the_true_reward_up_to_shaping(mdp):
    horizon = 5
    reward = theory.true_reward(mdp, horizon)
    offsets = torch.randn(mdp.vocab, 1, generator=torch.Generator().manual_seed(7), dtype=D)  # per-state logit shift
    r_hat = theory.endogenous_reward(mdp.alpha * mdp.expert.log() + offsets, mdp.alpha, horizon, "zero")
    # Shaping: on every path the two returns differ by a function of the first token only.
    for s in range(mdp.vocab):
        diffs = {round(path_return(r_hat, s, seq) - path_return(reward, s, seq), 9)
                 for seq in itertools.product(range(mdp.vocab), repeat=horizon)}
        assert len(diffs) == 1
    assert not torch.allclose(r_hat, reward)  # the rewards differ, only by potential shaping
    # Soft RL on it returns the expert (gap 0); hard RL on it does exactly as well as hard RL on r* itself.
    soft = theory.soft_optimal_policy(r_hat, mdp.alpha)
    torch.testing.assert_close(soft, mdp.expert.expand(horizon, -1, -1), rtol=0, atol=1e-12)
    j_rl = theory.policy_return(theory.hard_optimal_policy(r_hat), reward, mdp.rho)
    assert j_rl == pytest.approx(theory.policy_return(theory.hard_optimal_policy(reward), reward, mdp.rho), abs=1e-10)
    # ... which beats the stochastic expert on the unregularised return (the RL gap to the expert is negative).
    assert j_rl > theory.policy_return(mdp.expert, reward, mdp.rho) + 1e-3


def test_endogenous_reward_matches_the_lm_implementation_along_a_path():
    mdp = tiny_mdp(4, seed=8)
    horizon = 6
    logits = torch.randn(4, 4, generator=torch.Generator().manual_seed(9), dtype=D)
    path = [2, 0, 3, 3, 1, 0, 2]  # first token, then H actions
    for terminal in ("zero", "bootstrap"):
        table = theory.endogenous_reward(logits, mdp.alpha, horizon, terminal)
        values = [float(mdp.alpha * torch.logsumexp(logits[t] / mdp.alpha, 0)) for t in path]
        stats = TokenStats(token_ids=path[1:], q=[float(logits[path[h], path[h + 1]]) for h in range(horizon)],
                           values=values, alpha=mdp.alpha)
        got = [float(table[h, path[h], path[h + 1]]) for h in range(horizon)]
        assert got == pytest.approx(stats.rewards(terminal), abs=1e-12)


def test_next_token_fit_recovers_the_expert_and_rl_gap_stays_under_its_bound():
    mdp = theory.regions_mdp("r", 2, 2, 0.2, seed=0)
    g = torch.Generator().manual_seed(0)
    demos = theory.sample_demonstrations(mdp.expert, mdp.rho, 4000, 25, g)
    assert demos.shape == (4000, 26) and int(demos.min()) >= 0 and int(demos.max()) < 4
    policy, logits = theory.fit_next_token(demos, 4, 0.5, mdp.alpha)
    assert theory.log_ratio_error(policy, mdp.expert) < 0.1  # 100k transitions: a close fit
    torch.testing.assert_close(torch.softmax(logits / mdp.alpha, -1), policy)
    assert float(logits.mean(-1).abs().max()) < 1e-12  # gradient descent from zero logits keeps row means at zero
    # A coarse fit (few tokens): eps is large, yet the RL gap never exceeds 2 alpha H eps.
    for seed in range(5):
        small = theory.sample_demonstrations(mdp.expert, mdp.rho, 4, 10, torch.Generator().manual_seed(seed))
        pol, lg = theory.fit_next_token(small, 4, 0.5, mdp.alpha)
        reward = theory.true_reward(mdp, 10)
        gap = (theory.policy_return(mdp.expert, reward, mdp.rho)
               - theory.policy_return(theory.hard_optimal_policy(theory.endogenous_reward(lg, mdp.alpha, 10)),
                                      reward, mdp.rho))
        assert gap <= 2 * mdp.alpha * 10 * theory.log_ratio_error(pol, mdp.expert) + 1e-9


def test_slopes_on_synthetic_data():
    hs = [4, 8, 16, 32, 64]
    assert theory.loglog_slope(hs, [3.0 * h**2 for h in hs]) == pytest.approx(2.0, abs=1e-12)
    assert theory.loglog_slope(hs, [0.1 * h for h in hs]) == pytest.approx(1.0, abs=1e-12)
    assert math.isnan(theory.loglog_slope(hs, [1.0, 2.0, -1.0, 4.0, 5.0]))
    assert theory.local_slopes(hs, [h**1.5 for h in hs]) == pytest.approx([1.5] * 4)
    # Multiplicative noise per seed: the bootstrap interval brackets the true slope and is not degenerate.
    g = torch.Generator().manual_seed(0)
    per_seed = torch.tensor([[0.5 * h**1.7 for h in hs]], dtype=D) * torch.exp(0.3 * torch.randn(24, 5, generator=g,
                                                                                                 dtype=D))
    fit = theory.bootstrap_slope(hs, per_seed, n_boot=2000, seed=1)
    assert fit["lo"] < 1.7 < fit["hi"] and fit["hi"] - fit["lo"] > 0.01 and fit["dropped"] == 0
    assert fit["slope"] == pytest.approx(theory.loglog_slope(hs, per_seed.mean(0)))
    zeros = theory.bootstrap_slope(hs, torch.zeros(4, 5, dtype=D))
    assert math.isnan(zeros["slope"]) and math.isnan(zeros["lo"])


def test_worst_case_gap_is_quadratic_only_when_mixing_is_slow():
    eps, hs = 0.1, [8, 16, 32, 64]

    def worst(mdp):
        out = []
        for h in hs:
            reward = theory.true_reward(mdp, h)
            out.append(theory.policy_return(mdp.expert, reward, mdp.rho)
                       - theory.policy_return(theory.worst_case_policy(mdp.expert, reward, eps), reward, mdp.rho))
        return theory.local_slopes(hs, out)

    slow = worst(theory.regions_mdp("slow", 2, 6, 1 / 4096))
    fast = worst(theory.regions_mdp("fast", 2, 6, 1 / 4))
    assert slow[-1] > 1.8 and slow == sorted(slow)
    assert abs(fast[-1] - 1.0) < 0.05


def test_tiny_sweep_and_its_tables():
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())["theory"]
    spec = theory.Theorem2Spec.from_config(cfg)
    assert [m.name for m in spec.mdps] == [m.name for m in theory.DEFAULT_MDPS] and spec.horizons[0] == 4
    tiny = theory.Theorem2Spec.from_config({**cfg, "horizons": [8, 4, 16], "seeds": 3, "tokens": 2048,
                                            "bootstrap": 200})
    assert tiny.horizons == (4, 8, 16)
    result = theory.run_theorem2(tiny, log=lambda *_: None)
    assert [m["name"] for m in result["mdps"]] == [m.name for m in tiny.mdps]
    for m in result["mdps"]:
        assert [r["H"] for r in m["rows"]] == [4, 8, 16]
        assert m["checks"]["rl_bound_violations"] == 0 and m["checks"]["soft_rl_equals_imitation"] < 1e-9
        assert all(r["gap_rl"] <= r["expert_minus_optimum"] + r["regret_rl"] + 1e-9 for r in m["rows"])
        assert all(r["demonstrations"] == math.ceil(2048 / r["H"]) for r in m["rows"])
    columns, rows = theory_tables.csv_table(result)
    assert columns[:4] == ["mdp", "H", "demonstrations", "quantity"]
    assert sum(r["H"] == "fit" for r in rows) == len(theory_tables.SLOPES) * 3
    text = theory_tables.markdown_report(result, ["# t"])
    assert text.count("\n## ") == 4 and "| slow mixing |" in text
    built = theory_tables.build_theorem2({**result, "provenance": {"threads": 1, "torch": "9.9"}})
    assert (built["columns"], built["rows"]) == (columns, rows)
    md = built["markdown"]
    assert md.startswith("# Theorem 2 on a synthetic token MDP") and "ceil(2048 / H) demonstrations" in md
    assert "3 seeds per H;" in md and "on 1 CPU thread(s), torch 9.9." in md and md.count("\n## ") == 4
    assert md.endswith(f"* {theory_tables.NOTES[-1]}\n")
    with pytest.raises(EndormError, match="unknown keys"):
        theory.Theorem2Spec.from_config({"horizon": [4, 8]})


THEORY_CONFIG_CASES = [
    ("key-typo", {"horizon": [4, 8]}, ["theory.horizon: unknown key", "did you mean 'horizons'"]),
    ("horizon-range", {"horizons": [0, 8]}, ["theory.horizons[0]", "0"]),
    ("one-horizon", {"horizons": [8]}, ["theory.horizons"]),
    ("terminal-enum", {"terminal": "later"}, ["theory.terminal", "'later'"]),
    ("seeds-range", {"seeds": 1}, ["theory.seeds", "1"]),
    ("regions-missing-switch", {"mdps": [{"name": "a", "kind": "regions", "focused": 2, "diffuse": 3}]},
     ["theory.mdps[0]", "'switch'"]),
    ("dirichlet-with-region-key", {"mdps": [{"name": "a", "kind": "dirichlet", "vocab": 4, "concentration": 1,
                                             "switch": 0.1}]}, ["theory.mdps[0]"]),
    ("mdp-key-typo", {"mdps": [{"name": "a", "kind": "dirichlet", "vocab": 4, "concentrations": 1}]},
     ["theory.mdps[0].concentrations: unknown key"]),
]


@pytest.mark.parametrize("name,override,expected", THEORY_CONFIG_CASES, ids=[c[0] for c in THEORY_CONFIG_CASES])
def test_bad_theory_config_is_named(name, override, expected):
    from snakemake.utils import update_config

    from endorm.configcheck import ConfigError, check_config

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    update_config(config, {"theory": override})
    with pytest.raises(ConfigError) as exc:
        check_config(config, ROOT / "workflow/schemas/config.schema.yaml", ROOT / "workflow/lm_eval_tasks")
    for part in expected:
        assert part in str(exc.value), f"{part!r} not in: {exc.value}"


def test_schema_defaults_are_the_library_defaults():
    from snakemake.utils import validate

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["theory"] = {}
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
    assert theory.Theorem2Spec.from_config(config["theory"]) == theory.Theorem2Spec()
