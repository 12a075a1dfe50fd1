"""Judge baselines: reply parsing, the pairwise vote, and each method run on a tiny model."""

import pytest

from endorm.methods.baselines import pairwise_margin, parse_pairwise, parse_pointwise
from endorm.core.encoding import PromptFormat
from endorm.core.engine import Scorer
from endorm.methods.scoring import ScoreOptions, score_pairs

ROWS = [
    {"id": 1, "prompt": "What is two plus two?", "chosen": ["Four.", "The answer is 4.", "**4**"],
     "rejected": ["Five.", "The answer is 5.", "**5**"], "domain": "math", "system": None},
    {"id": 2, "prompt": "Hello world", "chosen": ["Hello."], "rejected": ["No."], "domain": "chat", "system": "Be kind."},
]


@pytest.mark.parametrize("text,expected", [
    ("7", 7.0), (" 10/10", 10.0), ("Score: 3.", 3.0), ("I rate it 8 out of 10", 8.0), ("10", 10.0),
    ("0", None), ("11", None), ("no idea", None), ("", None), ("2.5", None),
])
def test_parse_pointwise(text, expected):
    assert parse_pointwise(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("A", "A"), (" B.", "B"), ("Response A is better", "A"), ("**B**", "B"), ("As a judge", None), ("", None),
])
def test_parse_pairwise(text, expected):
    assert parse_pairwise(text) == expected


def test_pairwise_margin_cancels_position_bias():
    assert pairwise_margin("A", "B") == 1.0      # chosen preferred in both orders
    assert pairwise_margin("A", "A") == 0.0      # always the first position: no preference (a loss)
    assert pairwise_margin("B", "A") == -1.0
    assert pairwise_margin(None, "B") == 0.5
    assert pairwise_margin(None, None) == 0.0


def test_every_method_runs_and_has_its_shape(tiny):
    model, tok = tiny
    methods = ["endorm", "loglik", "loglik-mean", "generative-verifier", "genrm-pointwise", "genrm-pairwise"]
    results, info = score_pairs(model, tok, ROWS, methods, ScoreOptions(progress=False, max_new_tokens=3))
    for m in methods:
        assert [r["id"] for r in results[m]] == [1, 2]
    assert len(results["endorm"][0]["score_chosen"]) == 3 and len(results["endorm"][1]["score_rejected"]) == 1
    assert len(results["genrm-pairwise"][0]["pair_margin"]) == 3
    assert info["genrm-pairwise"]["judgements"] == 2 * (9 + 1)
    assert 0 <= info["genrm-pointwise"]["parse_failures"] <= 8


def test_verifier_is_log_prob_of_yes(tiny):
    model, tok = tiny
    results, _ = score_pairs(model, tok, ROWS[:1], ["generative-verifier"], ScoreOptions(progress=False))
    opts = ScoreOptions()
    prompt = opts.judge_prompts["generative-verifier"].format(prompt=ROWS[0]["prompt"], response="Four.")
    stats = Scorer(model, tok, PromptFormat(score_eot=False), progress=False).token_stats([(prompt, "Yes", None)])[0]
    assert results["generative-verifier"][0]["score_chosen"][0] == pytest.approx(stats.logprobs[0], abs=1e-6)


def test_likelihood_methods_share_one_pass_and_agree(tiny):
    model, tok = tiny
    both, _ = score_pairs(model, tok, ROWS, ["endorm", "loglik"], ScoreOptions(progress=False))
    alone, _ = score_pairs(model, tok, ROWS, ["loglik"], ScoreOptions(progress=False))
    assert both["loglik"] == alone["loglik"]
    # terminal zero: endorm - loglik = V(s_1), the same for every response to one prompt
    diffs = [e - l for e, l in zip(both["endorm"][0]["score_chosen"], both["loglik"][0]["score_chosen"])]
    assert max(diffs) - min(diffs) < 1e-4
