"""The reward math against a brute-force float64 computation from full logits."""

import math

import pytest
import torch

from endorm.core.encoding import PromptFormat
from endorm.core.engine import Scorer
from endorm.errors import EndormError
from endorm.core.reward import RewardOptions, TokenStats, aggregate, endogenous_score, lm_head_reduce

ITEMS = [
    ("What is two plus two?", "Four. The answer is 4.", None),
    ("Hello world", "Yes", "Be brief."),
    ("Rate the response on a scale of 1 to 10.", "7 because the step two is bold and the answer is 42.", None),
]


def brute_force(model, prompt_ids, response_ids, alpha):
    """Full [T, V] logits in float64: Q, V = alpha*logsumexp(f/alpha), log pi = log_softmax(f/alpha)."""
    ids = torch.tensor([prompt_ids + response_ids])
    with torch.no_grad():
        logits = model(ids).logits[0].double()
    p = len(prompt_ids)
    states = logits[p - 1 : p + len(response_ids)]  # s_1 .. s_{H+1}
    v = alpha * torch.logsumexp(states / alpha, dim=-1)
    logp = torch.log_softmax(states / alpha, dim=-1)
    q = [states[h, t].item() for h, t in enumerate(response_ids)]
    lp = [logp[h, t].item() for h, t in enumerate(response_ids)]
    return q, v.tolist(), lp


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0])
def test_token_stats_match_brute_force(tiny, alpha):
    model, tok = tiny
    scorer = Scorer(model, tok, progress=False)
    for stats in scorer.token_stats(ITEMS, alpha):
        q, v, lp = brute_force(model, stats.prompt_ids, stats.token_ids, alpha)
        assert stats.q == pytest.approx(q, abs=1e-4)
        assert stats.values == pytest.approx(v, abs=1e-4)
        assert stats.logprobs == pytest.approx(lp, abs=1e-5)
        # r_h = alpha log pi(a_h|s_h) + V(s_h) - V(s_{h+1}), with V(s_{H+1}) = 0 (paper) or bootstrapped
        boot = [alpha * lp[h] + v[h] - v[h + 1] for h in range(len(lp))]
        zero = boot[:-1] + [alpha * lp[-1] + v[-2]]
        assert stats.rewards("bootstrap") == pytest.approx(boot, abs=1e-4)
        assert stats.rewards("zero") == pytest.approx(zero, abs=1e-4)
        assert stats.rewards("zero")[-1] == pytest.approx(q[-1], abs=1e-4)  # last reward is the raw logit


def test_sum_telescopes(tiny):
    model, tok = tiny
    for alpha in (1.0, 0.7):
        scorer = Scorer(model, tok, progress=False)
        for s in scorer.token_stats(ITEMS, alpha):
            loglik = sum(s.logprobs)
            zero = endogenous_score(s, RewardOptions(alpha=alpha, terminal="zero"))
            boot = endogenous_score(s, RewardOptions(alpha=alpha, terminal="bootstrap"))
            assert zero == pytest.approx(alpha * loglik + s.values[0], abs=1e-4)
            assert boot == pytest.approx(alpha * loglik + s.values[0] - s.values[-1], abs=1e-4)


def test_alpha_scales_the_policy(tiny):
    """alpha is a softmax temperature on the same logits: Q does not change, log pi does."""
    model, tok = tiny
    a = Scorer(model, tok, progress=False).token_stats(ITEMS[:1], 1.0)[0]
    b = Scorer(model, tok, progress=False).token_stats(ITEMS[:1], 3.0)[0]
    assert a.q == pytest.approx(b.q, abs=1e-5)
    assert a.logprobs != pytest.approx(b.logprobs, abs=1e-3)
    assert all(vb >= va - 1e-5 for va, vb in zip(a.values, b.values))  # alpha*lse(f/alpha) grows with alpha


def test_aggregations():
    r = [1.0, -2.0, 4.0]
    assert aggregate(r, "sum") == 3.0
    assert aggregate(r, "mean") == 1.0
    assert aggregate(r, "discounted", 0.5) == 1.0 - 1.0 + 1.0
    with pytest.raises(ValueError):
        aggregate([], "sum")
    s = TokenStats([5, 6], [1.0, 2.0], [0.5, 1.5, 3.0], alpha=1.0)
    assert endogenous_score(s, RewardOptions(aggregation="mean")) == pytest.approx(((1 - 1.5) + 2.0) / 2)
    assert endogenous_score(s, RewardOptions(aggregation="discounted", gamma=0.5, terminal="bootstrap")) == \
        pytest.approx((1 - 1.5) + 0.5 * (2 - 3))
    with pytest.raises(ValueError):
        endogenous_score(s, RewardOptions(alpha=2.0))


@pytest.mark.parametrize("bad", [dict(alpha=0), dict(terminal="none"), dict(aggregation="max"), dict(gamma=1.5)])
def test_reward_options_reject_unknown_values(bad):
    with pytest.raises(ValueError):
        RewardOptions(**bad)


def test_batch_size_and_padding_invariance(tiny):
    model, tok = tiny
    items = ITEMS * 3 + [("x " * k, "step " * (k + 1), None) for k in range(1, 12)]
    big = Scorer(model, tok, max_batch_tokens=100000, progress=False).token_stats(items)
    one = Scorer(model, tok, max_batch_size=1, progress=False).token_stats(items)
    odd = Scorer(model, tok, max_batch_tokens=90, chunk_size=7, progress=False).token_stats(items)
    for a, b, c in zip(big, one, odd):
        assert a.token_ids == b.token_ids == c.token_ids
        for x, y in ((a, b), (a, c)):
            assert x.q == pytest.approx(y.q, abs=1e-4)
            assert x.values == pytest.approx(y.values, abs=1e-4)


def test_shared_prefix_equals_separate_passes(tiny):
    """A prompt's KV cache reused by all its responses gives the scores of one full pass per sequence."""
    model, tok = tiny
    items = [(p, r, s) for p, _, s in ITEMS for r in ("Four.", "The answer is 42, step two.", "Yes", "No " * 9)]
    shared = Scorer(model, tok, share_prefix=True, progress=False).token_stats(items)
    split = Scorer(model, tok, share_prefix=True, max_batch_tokens=60, progress=False).token_stats(items)
    separate = Scorer(model, tok, share_prefix=False, progress=False).token_stats(items)
    for a, b, c in zip(shared, split, separate):
        assert a.token_ids == c.token_ids and a.prompt_ids == c.prompt_ids
        for x in (a, b):
            assert x.q == pytest.approx(c.q, abs=1e-4)
            assert x.values == pytest.approx(c.values, abs=1e-4)


def test_vocab_reduction_is_chunked():
    """lm_head sees at most chunk_size positions at a time; q and V match a full computation."""
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 50, bias=False)
    seen = []
    head.register_forward_hook(lambda m, i, o: seen.append(o.shape[0]))
    hidden = torch.randn(23, 8)
    targets = torch.randint(0, 50, (23,))
    targets[-1] = -1
    q, v = lm_head_reduce(hidden, targets, head, alpha=1.0, chunk_size=5)
    assert max(seen) <= 5
    full = head(hidden)
    assert torch.allclose(v, torch.logsumexp(full, -1), atol=1e-5)
    assert torch.allclose(q[:-1], full[:-1].gather(1, targets[:-1, None]).squeeze(1), atol=1e-5)
    assert q[-1] == 0


def test_token_boundary_and_bos(tiny):
    """Prompt and response are tokenized separately and joined: no merge across the boundary, one BOS."""
    model, tok = tiny
    scorer = Scorer(model, tok, progress=False)
    stats = scorer.token_stats([("Hello", "world", None)])[0]
    rendered = scorer.encoder.render("Hello")
    assert stats.prompt_ids == tok(rendered, add_special_tokens=False)["input_ids"]
    assert stats.prompt_ids.count(tok.bos_token_id) == 1 and stats.prompt_ids[0] == tok.bos_token_id
    assert stats.token_ids == tok("world", add_special_tokens=False)["input_ids"] + [tok.convert_tokens_to_ids("<|im_end|>")]
    assert tok.bos_token_id not in stats.token_ids
    raw = Scorer(model, tok, PromptFormat(chat_template=False), progress=False).token_stats([("Hello", "world", None)])[0]
    assert raw.prompt_ids.count(tok.bos_token_id) == 1


def test_end_of_turn_option(tiny):
    model, tok = tiny
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    with_eot = Scorer(model, tok, progress=False).token_stats(ITEMS[:1])[0]
    without = Scorer(model, tok, PromptFormat(score_eot=False), progress=False).token_stats(ITEMS[:1])[0]
    assert with_eot.token_ids[-1] == eot and with_eot.token_ids[:-1] == without.token_ids
    assert with_eot.q[:-1] == pytest.approx(without.q, abs=1e-5)


def test_system_prompt_replaces_the_default(tiny):
    model, tok = tiny
    scorer = Scorer(model, tok, PromptFormat(system_prompt="Config system."), progress=False)
    default = Scorer(model, tok, progress=False).encoder.render("Hi")
    assert "tiny default assistant" in default
    configured = scorer.encoder.render("Hi")
    assert configured.count("<|im_start|>system") == 1 and "Config system." in configured
    assert "tiny default assistant" not in configured
    per_row = scorer.encoder.render("Hi", system="Row system.")
    assert "Row system." in per_row and "Config system." not in per_row
    assert per_row.count("<|im_start|>system") == 1


def test_truncation_never_drops_response_tokens_silently(tiny):
    model, tok = tiny
    long_prompt = "step " * 60
    with pytest.raises(EndormError, match="exceeds max_length"):
        Scorer(model, tok, PromptFormat(max_length=40), progress=False).token_stats([(long_prompt, "Yes", None)])
    s = Scorer(model, tok, PromptFormat(max_length=40, overflow="truncate-prompt"), progress=False)
    stats = s.token_stats([(long_prompt, "Yes", None)])[0]
    assert stats.truncated > 0 and len(stats.prompt_ids) + len(stats.token_ids) == 40
    r = Scorer(model, tok, PromptFormat(max_length=80, overflow="truncate-response"), progress=False)
    stats = r.token_stats([("Hi", long_prompt, None)])[0]
    assert stats.truncated > 0 and len(stats.prompt_ids) + len(stats.token_ids) == 80


def test_empty_response_is_the_end_of_turn_token_alone(tiny):
    model, tok = tiny
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    scorer = Scorer(model, tok, progress=False)
    empty, word = scorer.token_stats([("Hi", "", None), ("Hi", "Yes", None)])
    assert empty.token_ids == [eot]
    q, v, _ = brute_force(model, empty.prompt_ids, [eot], 1.0)
    assert empty.q == pytest.approx(q, abs=1e-4) and empty.values == pytest.approx(v, abs=1e-4)
    assert empty.values[0] == pytest.approx(word.values[0], abs=1e-5)  # same state s_1
    off = Scorer(model, tok, PromptFormat(score_eot=False), progress=False)
    with pytest.raises(EndormError, match="empty response with no end-of-turn token"):
        off.token_stats([("Hi", "", None)])
    skipped, kept = off.token_stats([("Hi", "", None), ("Hi", "Yes", None)], skip_unscorable=True)
    assert skipped is None and kept.token_ids == tok("Yes", add_special_tokens=False)["input_ids"]


@pytest.mark.slow  # the packaged SmolLM2, converted and run (about a minute)
def test_real_model_token_rewards_match_logits(smol_dir, capsys):
    """Smoke test on the real packaged model: `endorm token-rewards` equals a direct computation from its logits."""
    import json

    from endorm.cli import main
    from endorm.core.loading import load_model

    assert main(["token-rewards", "--model", str(smol_dir), "--prompt", "What is 12 times 3?",
                 "--response", "12 times 3 is 36.", "--threads", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["prompt"].startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert out["tokens"][-1]["text"] == "<|im_end|>"
    model, _ = load_model(smol_dir)
    ids = [t["token_id"] for t in out["tokens"]]
    q, v, lp = brute_force(model, out["prompt_ids"], ids, 1.0)
    assert [t["q"] for t in out["tokens"]] == pytest.approx(q, abs=1e-3)
    assert [t["logprob"] for t in out["tokens"]] == pytest.approx(lp, abs=1e-4)
    assert [t["value"] for t in out["tokens"]] == pytest.approx(v[:-1], abs=1e-3)
    rewards = [q[h] - v[h + 1] for h in range(len(ids) - 1)] + [q[-1]]  # terminal zero
    assert [t["reward"] for t in out["tokens"]] == pytest.approx(rewards, abs=1e-3)
    assert out["total"] == pytest.approx(sum(lp) + v[0], abs=1e-3)
    assert not any(math.isnan(x) for x in v)


def test_high_level_api_matches_the_engine(tiny_dir, tiny):
    from endorm import EndogenousReward

    rm = EndogenousReward.from_pretrained(str(tiny_dir), reward=RewardOptions(terminal="bootstrap"))
    scores = rm.score_batch([p for p, _, _ in ITEMS], [r for _, r, _ in ITEMS], [s for _, _, s in ITEMS])
    stats = Scorer(*tiny, progress=False).token_stats(ITEMS)
    assert scores == pytest.approx([sum(s.rewards("bootstrap")) for s in stats], abs=1e-4)
    assert rm.score(*ITEMS[0]) == pytest.approx(scores[0], abs=1e-4)


# ----- the encoder and the engine's pure parts ----------------------------------------------------------------------
def test_pack_is_a_function_of_lengths_only():
    from endorm.core.engine import pack, split_responses

    lengths = [50, 40, 40, 30, 10, 10, 5]
    runs = pack(lengths, max_tokens=100, max_size=3)
    assert sorted(k for run in runs for k in run) == list(range(len(lengths)))  # every position once, in order
    for run in runs:
        assert len(run) <= 3 and (len(run) == 1 or max(lengths[k] for k in run) * len(run) <= 100)
    assert pack([500], max_tokens=100, max_size=3) == [[0]]  # a run always holds one
    subs = split_responses([40, 30, 19, 18, 5], prompt_width=10, max_tokens=200, max_size=8)
    assert subs[0] == [0, 1] and [k for s in subs for k in s] == list(range(5))  # 19 < 40 / 2 starts a new one


def test_several_alphas_from_one_pass_equal_separate_runs(tiny):
    model, tok = tiny
    scorer = Scorer(model, tok, progress=False)
    pairs = [scorer.encoder.encode(p, r, s) for p, r, s in ITEMS]
    multi = scorer.token_stats_alphas(pairs, (0.5, 1.0, 2.0))
    for alpha in (0.5, 1.0, 2.0):
        single = scorer.token_stats_ids(pairs, alpha)
        for a, b in zip(multi[alpha], single):
            assert a.alpha == b.alpha == alpha and a.q == b.q and a.values == b.values


def test_encoder_renders_chat_messages_as_given(tiny):
    from endorm.core.encoding import PromptEncoder

    _, tok = tiny
    enc = PromptEncoder(tok, PromptFormat(system_prompt="Config system."))
    messages = [{"role": "user", "content": "Hi"}]
    as_given = enc.render(messages)
    assert "Config system." not in as_given and as_given == tok.apply_chat_template(messages, tokenize=False,
                                                                                  add_generation_prompt=True)
    with_system = enc.render([{"role": "system", "content": "Old."}, *messages], system="New.")
    assert "New." in with_system and "Old." not in with_system
    assert enc.encode_prompt(messages) == list(tok(as_given, add_special_tokens=False)["input_ids"])
    assert enc.render("Hi").count("Config system.") == 1  # a text prompt takes the format's system prompt
    stop = enc.eot_id
    assert enc.completion_ids([5, 6, stop, 7], {stop}) == [5, 6, stop] and enc.completion_ids([5, 6], {stop}) == [5, 6]
