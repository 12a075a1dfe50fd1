"""What drives the endogenous reward: reward variants from one pass against direct
computations from full logits, the length analysis on hand-made rows, and the token-level HTML/PNG views."""

import json
import math
import re

import pytest
import torch

from endorm.analysis.ablations import (ablation_rows, decision_agreement, rmgap_encode, rmgap_score,
                              score_variants)
from endorm.core.engine import Scorer
from endorm.errors import EndormError
from endorm.analysis.lengths import bin_labels, comparisons, length_scores, length_summary, response_lengths
from endorm.analysis.tokenview import (comparison_names, draw_png, render_html, scales, select_comparisons, token_records,
                              token_texts)
from test_reward import brute_force

ROWS = [
    {"id": "a", "prompt": "What is two plus two?", "chosen": ["Four.", "The answer is 4.", "### Solution\n\n**4**"],
     "rejected": ["Five.", "The answer is 5 because two plus two.", "### Solution\n\n**5**"], "domain": "math",
     "system": None},
    {"id": "b", "prompt": "Hello world", "chosen": ["Hello.", "Hello world, this is a tiny corpus.", "**Hello**"],
     "rejected": ["No.", "No A B 1 2 3", "**No**"], "domain": "chat", "system": "Be brief."},
]
ALPHAS = (0.5, 1.0, 2.0)


def _direct(v, q, values, lp):
    """A variant's score from brute-force per-token quantities, written out."""
    alpha, gamma = v.alpha, v.gamma
    boot = [alpha * lp[h] + values[h] - values[h + 1] for h in range(len(lp))]
    zero = boot[:-1] + [q[-1]]
    seq = {"zero": zero, "bootstrap": boot}.get(v.terminal, lp) if v.family == "endorm" else lp
    if v.aggregation == "sum":
        return sum(seq)
    if v.aggregation == "mean":
        return sum(seq) / len(seq)
    return sum(x * gamma**h for h, x in enumerate(seq))


def _rmgap_direct(model, tok, prompt, response):
    """RMGAP's EndoRM written out: the rendered conversation, log pi of every token after the rendered prompt."""
    messages = [{"role": "user", "content": prompt}]
    prompt_ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    prompt_ids = prompt_ids["input_ids"] if hasattr(prompt_ids, "keys") else prompt_ids
    text = tok.apply_chat_template(messages + [{"role": "assistant", "content": response}], tokenize=False)
    full = tok(text)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([full])).logits[0].double(), dim=-1)
    lps = [logp[k - 1, full[k]].item() for k in range(len(prompt_ids), len(full))]
    return sum(lp * 0.93**k for k, lp in enumerate(lps)), len(lps)


def _no_bos_tokenizer(tok):
    """The tiny tokenizer without the BOS its post-processor adds to text (as Qwen2.5 and SmolLM2 behave)."""
    import copy

    from tokenizers import processors

    out = copy.deepcopy(tok)
    out.backend_tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return out


@pytest.mark.parametrize("bos", [True, False])
def test_every_variant_matches_a_direct_computation(tiny, bos):
    model, tok = tiny
    tok = tok if bos else _no_bos_tokenizer(tok)
    scorer = Scorer(model, tok, progress=False)
    scores, variants, info = score_variants(scorer, ROWS, ALPHAS)
    assert len(variants) == len(ALPHAS) * 9 + 1 and set(scores) == {v.name for v in variants}
    # without a BOS added to text, RMGAP's tokens are ours plus the template's "\n": one sequence per response of
    # row a; row b has a system message, which RMGAP does not send: a sequence of its own
    assert info["rmgap_shared_sequences"] == (0 if bos else 6) and info["sequences"] == (24 if bos else 18)
    for r, row in enumerate(ROWS):
        for side in ("chosen", "rejected"):
            for k, text in enumerate(row[side]):
                prompt_ids, ids = scorer.encoder.encode(row["prompt"], text, row["system"])
                for alpha in ALPHAS:
                    q, values, lp = brute_force(model, prompt_ids, ids, alpha)
                    for v in (v for v in variants if v.family != "rmgap" and v.alpha == alpha):
                        got = scores[v.name][r][f"score_{side}"][k]
                        assert got == pytest.approx(_direct(v, q, values, lp), abs=2e-4, rel=1e-5), v.name
                want, n = _rmgap_direct(model, tok, row["prompt"], text)
                assert n == len(ids) + (2 if bos else 1)  # with a BOS added twice RMGAP starts a token early
                assert scores["rmgap"][r][f"score_{side}"][k] == pytest.approx(want, abs=2e-4, rel=1e-5)


def test_rmgap_encoding_scores_the_template_tail(tiny):
    _, tok = tiny
    tok = _no_bos_tokenizer(tok)
    ctx, ids = rmgap_encode(tok, "What is two plus two?", "Four.")
    assert tok.decode(ctx).endswith("<|im_start|>assistant\n")
    assert tok.decode(ids) == "Four.<|im_end|>\n"
    assert rmgap_score([-1.0, -2.0, -3.0]) == pytest.approx(-1 - 2 * 0.93 - 3 * 0.93**2)
    assert rmgap_score([-1.0, -2.0], gamma=0.5, clip_min=0.8) == pytest.approx(-1 - 2 * 0.8)


def test_terminal_zero_decides_every_comparison_as_summed_loglik(tiny):
    """R = alpha log pi(y|x) + V(s_1) under V(s_{H+1}) = 0, and V(s_1) is shared by a prompt's responses."""
    model, tok = tiny
    scores, variants, _ = score_variants(Scorer(model, tok, progress=False), ROWS, ALPHAS)
    for alpha in ALPHAS:
        zero, loglik = scores[f"endorm/a={alpha:g}/zero/sum"], scores[f"loglik/a={alpha:g}/sum"]
        for a, b in zip(zero, loglik):
            for side in ("chosen", "rejected"):
                lhs = [x - a[f"score_{side}"][0] for x in a[f"score_{side}"]]
                rhs = [alpha * (x - b[f"score_{side}"][0]) for x in b[f"score_{side}"]]
                assert lhs == pytest.approx(rhs, abs=1e-4)
        assert decision_agreement(zero, loglik) == 100.0
    rows = {r["variant"]: r for r in ablation_rows(scores, variants)}
    assert all(rows[f"endorm/a={a:g}/zero/sum"]["same_decisions_as_loglik_sum"] == 100.0 for a in ALPHAS)
    for level in ("easy", "normal", "hard", "avg"):
        assert rows["endorm/a=1/zero/sum"][level] == rows["loglik/a=1/sum"][level]
    paper = rows["paper EndoRM"]
    assert paper["avg"] == 70.2 and paper["source"].startswith("paper")


def test_decision_agreement_counts_ties_and_missing_as_losses():
    a = [{"id": 1, "score_chosen": [1.0, 0.0], "score_rejected": [0.0]}]
    b = [{"id": 1, "score_chosen": [1.0, None], "score_rejected": [0.0]}]
    c = [{"id": 1, "score_chosen": [-1.0, 1.0], "score_rejected": [0.0]}]
    assert decision_agreement(a, b) == 100.0  # 0 - 0 is a tie: a loss, as the missing score
    assert decision_agreement(a, c) == 0.0
    with pytest.raises(EndormError, match="out of step"):
        decision_agreement(a, [{**c[0], "id": 2}])


# ----- length -----------------------------------------------------------------------------------------------------
LENGTHS = {"r1": {"chosen": [5, 50, 60], "rejected": [6, 48, 70]},
           "r2": {"chosen": [10, 100, 100], "rejected": [10, 90, 140]}}
PREFS = [{"id": "r1", "domain": "math", "chosen": ["x"] * 3, "rejected": ["y"] * 3},
         {"id": "r2", "domain": "chat", "chosen": ["x"] * 3, "rejected": ["y"] * 3}]


def test_length_comparisons_bins_and_matched_subset():
    shorter = length_scores(PREFS, LENGTHS, -1, "shorter-wins")
    comps = comparisons(shorter, LENGTHS)
    assert len(comps) == 18
    c = next(c for c in comps if c["id"] == "r1" and c["i"] == 0 and c["j"] == 2)
    assert (c["diff"], c["level"], c["win"]) == (5 - 70, "hard", True)
    tie = next(c for c in comps if c["id"] == "r2" and c["i"] == 0 and c["j"] == 0)
    assert tie["diff"] == 0 and tie["win"] is False  # equal lengths: a tie, which loses
    edges = [-50, -10, 10, 50]
    s = length_summary(comps, edges, 0.1)
    assert [b["bin"] for b in s["bins"]] == bin_labels(edges) == ["<= -50", "(-50, -10]", "(-10, 10]", "(10, 50]",
                                                                  "> 50"]
    diffs = [c["diff"] for c in comps]
    assert [b["n"] for b in s["bins"]] == [sum(d <= -50 for d in diffs), sum(-50 < d <= -10 for d in diffs),
                                            sum(-10 < d <= 10 for d in diffs), sum(10 < d <= 50 for d in diffs),
                                            sum(d > 50 for d in diffs)]
    assert s["chosen_shorter"]["accuracy"] == 100.0 and s["chosen_longer"]["accuracy"] == 0.0
    # matched, |d| <= 10% of the longer response: r1 (50, 48); r2 (10, 10), (100, 90) twice; not (5, 6): 1 > 0.6
    assert s["matched"]["n"] == 4 and s["matched"]["wins"] == 0  # chosen longer or tied in all four
    assert s["levels"]["hard"]["chosen_shorter_pct"] == 100.0 and s["levels"]["hard"]["accuracy"] == 100.0
    longer = length_summary(comparisons(length_scores(PREFS, LENGTHS, 1, "longer-wins"), LENGTHS), edges, 0.1)
    assert longer["levels"]["hard"]["accuracy"] == 0.0


def test_length_comparisons_refuse_unknown_rows_and_bad_edges():
    with pytest.raises(EndormError, match="'zz' is not in the preference rows"):
        comparisons([{"id": "zz", "score_chosen": [1], "score_rejected": [0]}], LENGTHS)
    with pytest.raises(EndormError, match="strictly increasing"):
        length_summary([], [10, -10], 0.1)


def test_judge_margins_enter_the_length_analysis():
    pairwise = [{"id": "r1", "domain": "math", "pair_margin": [[1, -1, 0], [1, 1, 1], [-1, -1, -1]]}]
    comps = comparisons(pairwise, LENGTHS)
    assert sum(c["win"] for c in comps) == 4 and len(comps) == 9


def test_response_lengths_are_the_encoders(tiny):
    model, tok = tiny
    enc = Scorer(model, tok, progress=False).encoder
    lengths = response_lengths(enc, ROWS)
    assert lengths["a"]["chosen"][0] == len(tok("Four.", add_special_tokens=False)["input_ids"]) + 1


# ----- token view -------------------------------------------------------------------------------------------------
def test_html_is_self_contained_and_escapes_text(tiny):
    model, tok = tiny
    scorer = Scorer(model, tok, progress=False)
    nasty = 'Four. <script>alert("x")</script> & "quotes"\nnext'
    stats = scorer.token_stats([("What is <b>two</b>?", nasty, None), ("What is <b>two</b>?", "Five.", None)])
    recs = [token_records(s, tok, "zero") for s in stats]
    assert "".join(t["text"] for t in recs[0]) == nasty + "<|im_end|>"
    page = render_html("T <i>", ["intro & more"], [{"heading": "h <1>", "meta": ["m"], "prompt": "What is <b>two</b>?",
                                                    "responses": [{"label": "chosen", "summary": "s", "tokens": recs[0]},
                                                                  {"label": "rejected", "tokens": recs[1]}]}])
    tags = set(re.findall(r"<(/?[A-Za-z!][A-Za-z0-9]*)", page))  # every "<" in the page opens one of the writer's own tags
    assert {t.lstrip("/") for t in tags} <= {"!DOCTYPE", "html", "head", "meta", "title", "style", "body", "h1", "h2",
                                             "h3", "p", "div", "span", "b", "br", "details", "summary", "pre",
                                             "input", "label"}
    assert "<b>two</b>" not in page and "&lt;b&gt;two&lt;/b&gt;" in page and "T &lt;i&gt;" in page
    for external in ("http://", "https://", "<link", " src=", "url(", "@import"):
        assert external not in page
    assert page.count('class="t"') == len(recs[0]) + len(recs[1]) and "<br>" in page
    tips = re.findall(r'title="([^"]*)"', page)
    assert len(tips) == len(recs[0]) + len(recs[1]) and "r_h = " in tips[0] and "log pi = " in tips[0]
    import html

    assert "".join(eval(html.unescape(t).split(" ", 1)[1].rsplit(" (id", 1)[0]) for t in tips[: len(recs[0])]) == \
        nasty + "<|im_end|>"  # the hover text holds each token's exact text


def test_token_texts_split_multibyte_characters(tiny):
    _, tok = tiny
    ids = tok("é ü ok", add_special_tokens=False)["input_ids"]
    assert "".join(token_texts(tok, ids)) == "é ü ok"


def test_scales_are_shared_and_robust():
    recs = [[{"reward": r, "logprob": -abs(r), "value": 10 + r} for r in range(-50, 51)]]
    sc = scales(recs)
    assert sc["reward"].lo == -sc["reward"].hi and sc["logprob"].hi == 0.0
    assert sc["reward"].color(-1000) == "#762a83" and sc["reward"].color(0) == "#f7f7f7"
    assert sc["value"].color(1e9) == "#2166ac"


def test_select_comparisons_margins_either_way_and_seeded():
    rows = [{"id": f"r{k}", "domain": "d", "score_chosen": [k, 0, 0], "score_rejected": [0, k / 2, 0]}
            for k in range(-4, 5)]
    picked = select_comparisons(rows, 2, 2, 2, seed=0)
    assert [(c["kind"], c["rank"]) for c in picked] == [("top", 1), ("top", 2), ("bottom", 1), ("bottom", 2),
                                                        ("random", 1), ("random", 2)]
    # same-style margins of row k: k, -k/2, 0; r4's -2 is not taken: rows are distinct while rows remain
    assert [(c["id"], c["margin"]) for c in picked[:4]] == [("r4", 4), ("r3", 3), ("r-4", -4), ("r-3", -3)]
    assert all(c["i"] == c["j"] for c in picked) and len({c["id"] for c in picked}) == 6
    assert picked == select_comparisons(rows, 2, 2, 2, seed=0)
    assert comparison_names(2, 2, 2) == ["top1", "top2", "bottom1", "bottom2", "random1", "random2"]
    one = select_comparisons(rows[-1:], 2, 1, 0, seed=0)  # one row: distinct comparisons of it
    assert [(c["i"], c["margin"]) for c in one] == [(0, 4), (2, 0), (1, -2)]
    assert select_comparisons(rows, 0, 0, 3, seed=1) != select_comparisons(rows, 0, 0, 3, seed=2)
    with pytest.raises(EndormError, match="30 comparisons asked"):
        select_comparisons(rows, 10, 10, 10, seed=0)


def test_png_heat_strips(tiny, tmp_path):
    model, tok = tiny
    stats = Scorer(model, tok, progress=False).token_stats([("Hi", "Four. " * 40, None), ("Hi", "Five.", None)])
    recs = [token_records(s, tok) for s in stats]
    out = tmp_path / "x.png"
    draw_png(out, "heading", ["meta line"], [{"label": "chosen", "summary": "s", "tokens": recs[0]},
                                             {"label": "rejected", "summary": "s", "tokens": recs[1]}],
             scales(recs), max_tokens=30)
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 10000


def test_cli_token_rewards_html(tiny_dir, tmp_path, capsys):
    from endorm.cli import main

    page = tmp_path / "out.html"
    assert main(["token-rewards", "--model", str(tiny_dir), "--prompt", "What is <b>two</b> plus two?", "--response",
                 "Four.", "--response", "<b>Five</b>", "--html", str(page), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out, list) and len(out) == 2 and out[0]["tokens"][-1]["text"] == "<|im_end|>"
    text = page.read_text()
    assert "What is &lt;b&gt;two&lt;/b&gt; plus" in text and "response 2" in text and "<style>" in text
    assert text.count('class="t"') == len(out[0]["tokens"]) + len(out[1]["tokens"]) and "<b>Five" not in text
    assert main(["token-rewards", "--model", str(tiny_dir), "--prompt", "p", "--response", "x", "--html",
                 str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert math.isfinite(out[1]["total"])
