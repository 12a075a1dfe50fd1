"""DSP pair conversion and matrix, the Multifaceted adapter, per-source accuracy."""

import json

import pytest

from conftest import shared_file
from endorm.errors import EndormError
from endorm.benchmarks.promptable import dsp_matrix, pairwise_accuracy
from endorm.data.promptable import (DSP_DOMAINS, DSP_KEYS, dsp_pairs, load_dsp, multifaceted_rows, sample_per_source,
                                    source_label)


def dsp_fixture(n=3):
    return [{"query": f"q{i}", "responses": {k: f"{k} answer {i}" for k in DSP_KEYS}} for i in range(n)]


def test_dsp_pairs_follow_the_authors_conversion():
    rows = dsp_fixture(661)
    for d in DSP_DOMAINS:
        pairs = dsp_pairs(rows, d)
        assert len(pairs) == 2644
        assert all(good == d and other != d for _, good, other in pairs)
        # per query: the domain's response over each of the four others, in file order (normal included)
        assert [other for i, _, other in pairs if i == 0] == [k for k in DSP_KEYS if k != d]


def test_dsp_matrix_on_hand_computed_scores():
    n = 2
    # Under each reward prompt X, X's response scores 1 and the rest 0, except row 1 where 'normal' ties X.
    scores = {}
    for x in DSP_DOMAINS:
        per_row = [{k: (1.0 if k == x else 0.0) for k in DSP_KEYS} for _ in range(n)]
        per_row[1]["normal"] = 1.0
        scores[x] = per_row
    m = dsp_matrix(scores, n)
    for x in DSP_DOMAINS:
        assert m["matrix"][x][x] == pytest.approx(100 * 7 / 8)   # 8 pairs, the tie with 'normal' loses
        for d in DSP_DOMAINS:
            if d != x:
                # test domain d prefers d's response (0 under X) over X's (1) and others (0): all lose
                assert m["matrix"][x][d] == 0.0
    assert m["pairs_per_domain"] == 8
    assert m["diagonal_dominance"] == pytest.approx(87.5)


def test_dsp_missing_response_is_a_clear_error(tmp_path):
    rows = dsp_fixture(2)
    del rows[1]["responses"]["business"]
    p = tmp_path / "domain_specific_preference.test.json"
    p.write_text(json.dumps(rows))
    with pytest.raises(EndormError, match=r"test.json, row 2: field 'responses' has no 'business' response"):
        load_dsp(p)


def test_dsp_adapter_on_real_rows():
    path = shared_file("dsp", "domain_specific_preference.test.sample.json")
    rows = load_dsp(path)
    assert len(rows) == len(json.loads(path.read_text())) > 0
    assert set(rows[0]["responses"]) == set(DSP_KEYS)
    assert len(dsp_pairs(rows, "academy")) == 4 * len(rows)


def test_multifaceted_dpo_shape():
    raw = [
        {"main_source": "OpenHermesPreferences", "original_source": "CamelAI", "system": "You are terse.",
         "prompt": "Explain tides.", "chosen": [{"role": "user", "content": "Explain tides."},
                                                {"role": "assistant", "content": "Moon pulls water."}],
         "rejected": [{"role": "user", "content": "Explain tides."},
                      {"role": "assistant", "content": "Long story..."}]},
        {"main_source": "Nectar", "original_source": "x", "system": "s", "prompt": "p", "chosen": "a",
         "rejected": "b"},
    ]
    rows = multifaceted_rows(raw, "mf.jsonl")
    assert rows[0]["domain"] == "OpenHermes Preferences" and rows[0]["system"] == "You are terse."
    assert rows[0]["chosen"] == ["Moon pulls water."] and rows[0]["rejected"] == ["Long story..."]
    assert rows[1]["domain"] == "Nectar"
    with pytest.raises(EndormError, match="mf.jsonl, row 1: field 'chosen' has no assistant message"):
        multifaceted_rows([{**raw[0], "chosen": [{"role": "user", "content": "x"}]}], "mf.jsonl")
    with pytest.raises(EndormError, match="row 1: missing field 'system'"):
        multifaceted_rows([{k: v for k, v in raw[1].items() if k != "system"}], "mf.jsonl")


def test_multifaceted_rm_shape_and_labels():
    rows = multifaceted_rows([{"input": "You are X.\nDo Y.", "chosen": "a", "rejected": "b"}], "rm")
    assert rows[0]["domain"] == "all" and rows[0]["system"] == "" and rows[0]["prompt"].startswith("You are X.")
    assert source_label("ultrafeedback_binarized_cleaned") == "UltraFeedback"
    assert source_label("chatbot_arena_conversations") == "Chatbot Arena Conversations"
    assert source_label("something new") == "something new"


def test_per_source_accuracy_and_weighted_average():
    rows = ([{"domain": "A", "score_chosen": [1], "score_rejected": [0]}] * 3
            + [{"domain": "A", "score_chosen": [0], "score_rejected": [0]}]
            + [{"domain": "B", "score_chosen": [0], "score_rejected": [1]}] * 1
            + [{"domain": "B", "pair_margin": [[0.5]]}])
    acc = pairwise_accuracy(rows)
    assert {k: acc["sources"]["A"][k] for k in ("accuracy", "n")} == {"accuracy": 75.0, "n": 4}
    assert {k: acc["sources"]["B"][k] for k in ("accuracy", "n")} == {"accuracy": 50.0, "n": 2}
    assert acc["sources"]["A"]["interval"][0] < 75.0 < acc["sources"]["A"]["interval"][1]
    assert acc["weighted_average"] == pytest.approx(100 * 4 / 6)


def test_sample_per_source_is_seeded():
    rows = [{"domain": d, "i": i} for i in range(10) for d in ("A", "B")]
    a = sample_per_source(rows, 3, seed=0)
    assert len(a) == 6 and a == sample_per_source(rows, 3, seed=0)
    assert sample_per_source(rows, None, 0) == rows


def test_generation_and_dsp_scoring_on_a_tiny_model(tiny):
    from endorm.core.encoding import PromptFormat
    from conftest import default_config
    from endorm.data.adapters import prepare
    from endorm.benchmarks.promptable import generate_conditioned, score_dsp
    from endorm.data.promptable import persona_pairs
    from endorm.core.reward import endogenous_score
    from endorm.methods.scoring import ScoreOptions, make_scorer

    model, tok = tiny
    prompts, _ = prepare(default_config()["constructed"]["prompts"], "prompts", None, key="constructed.prompts",
                         options={"per_category": 1})
    assert len(prompts) == 8 and len({p["category"] for p in prompts}) == 8
    systems = {k: f"Domain {k}." for k in DSP_DOMAINS} | {"normal": None, "p": "Persona P.", "q": "Persona Q."}
    rows = generate_conditioned(model, tok, prompts[:2], systems, PromptFormat(), 5, progress=False,
                                min_new_tokens=3)
    assert all(set(r["responses"]) == set(systems) for r in rows)
    pairs = persona_pairs(rows, {"p": "Persona P.", "q": "Persona Q."}, 2, seed=0)
    assert len(pairs) == 4 and {p["system"] for p in pairs} == {"Persona P.", "Persona Q."}
    first = pairs[0]
    other = "q" if first["system"] == "Persona P." else "p"
    assert first["rejected"] == [rows[0]["responses"][other]]

    dsp = [{"id": r["id"], "query": r["prompt"], "responses": {k: r["responses"][k] for k in DSP_KEYS}} for r in rows]
    domain_prompts = {k: f"Domain {k}." for k in DSP_DOMAINS}
    opts = ScoreOptions(progress=False)
    scores = score_dsp(model, tok, dsp, domain_prompts, opts)
    # the system prompt reaches the scored prompt: EndoRM-academy of a response equals a direct engine score
    direct = make_scorer(model, tok, opts).token_stats([(dsp[1]["query"], dsp[1]["responses"]["business"],
                                                         "Domain academy.")])[0]
    assert scores["academy"][1]["business"] == pytest.approx(endogenous_score(direct, opts.reward), abs=1e-4)
    assert scores["academy"][1]["business"] != pytest.approx(scores["business"][1]["business"], abs=1e-3)
    with pytest.raises(EndormError, match="lacks"):
        score_dsp(model, tok, dsp, {"academy": "x"}, opts)


def odd_dsp_rows():
    """Three real DSP queries (shared slice), altered here: an empty response, two identical responses and an
    extra response key."""
    path = shared_file("dsp", "domain_specific_preference.test.sample.json")
    rows = json.loads(path.read_text())[:3]
    rows[1]["responses"]["normal"] = ""
    rows[2]["responses"]["business"] = rows[2]["responses"]["academy"]
    rows[0]["responses"]["general"] = "an answer under a key the matrix does not use"
    return rows


def test_dsp_keeps_empty_responses_and_identical_pairs_and_counts_them(tmp_path, capsys):
    from endorm.data.promptable import dsp_stats, log_dsp_stats

    p = tmp_path / "domain_specific_preference.test.json"
    p.write_text(json.dumps(odd_dsp_rows()))
    rows = load_dsp(p)
    assert len(rows) == 3 and rows[1]["responses"]["normal"] == ""
    assert rows[0]["extra_responses"] == {"general": "an answer under a key the matrix does not use"}
    stats = dsp_stats(rows)
    assert stats["empty_responses"] == 1 and stats["empty_response_at"] == ["row 2 (id 1): normal"]
    assert stats["rows_with_extra_responses"] == 1 and stats["extra_response_keys"] == ["general"]
    for d in DSP_DOMAINS:
        c = stats["per_domain"][d]
        assert c["pairs"] == 12 and c["pairs_with_empty_response"] == 1
        assert c["identical_pairs"] == (1 if d in ("academy", "business") else 0)
    log_dsp_stats(stats, "DSP sample")
    assert "empty response: row 2 (id 1): normal" in capsys.readouterr().out
    bad = odd_dsp_rows()
    bad[0]["responses"]["academy"] = None
    p.write_text(json.dumps(bad))
    with pytest.raises(EndormError, match=r"row 1: field 'responses.academy' must be a string, got NoneType"):
        load_dsp(p)


def test_dsp_matrix_missing_scores_lose():
    scores = {x: [{k: (None if k == "normal" else 1.0 if k == x else 0.0) for k in DSP_KEYS}] for x in DSP_DOMAINS}
    m = dsp_matrix(scores, 1)
    # under X, X's response (1) beats the other three domains (0) but not the unscored 'normal': 3 of 4 pairs
    assert all(m["matrix"][x][x] == 75.0 for x in DSP_DOMAINS)
    scores["academy"][0]["academy"] = float("nan")
    assert dsp_matrix(scores, 1)["matrix"]["academy"]["academy"] == 0.0


def card_shaped_multifaceted():
    """Rows shaped exactly as the Hub cards describe the DPO split (main_source, original_source, system, prompt,
    chosen/rejected as [{content, role}]) and the RM split (input, chosen, rejected strings). No public copy of
    the collection is known, so these stand in for it; one empty response and one identical pair each."""
    def chat(prompt, answer):
        return [{"content": prompt, "role": "user"}, {"content": answer, "role": "assistant"}]

    dpo = [{"main_source": src, "original_source": "orig", "system": f"You are persona {i}.", "prompt": f"Task {i}",
            "chosen": chat(f"Task {i}", "aligned answer " * (i + 1)), "rejected": chat(f"Task {i}", "other")}
           for i, src in enumerate(["Nectar", "OpenHermesPreferences", "ultrafeedback_binarized_cleaned",
                                    "chatbot_arena_conversations", "domain_specific_preference"])]
    dpo[1]["rejected"] = chat("Task 1", "")
    dpo[2]["rejected"] = dpo[2]["chosen"]
    rm = [{"input": "You are terse.\nExplain tides.", "chosen": "Moon.", "rejected": "The moon pulls the sea."},
          {"input": "You are kind.\nSay hi.", "chosen": "", "rejected": "Hello!"},
          {"input": "You are kind.\nSay bye.", "chosen": "Bye.", "rejected": "Bye."}]
    return dpo, rm


def test_multifaceted_card_shapes_end_to_end():
    from endorm.data.pairs import pair_stats, validate_pairs

    dpo, rm = card_shaped_multifaceted()
    for raw, sources in ((dpo, 5), (rm, 1)):
        rows = validate_pairs(multifaceted_rows(raw, "mf"), "mf")
        stats = pair_stats(rows)
        assert stats["rows"] == len(raw) and stats["empty_responses"] == 1 and stats["identical_comparisons"] == 1
        length = [{"domain": r["domain"], "score_chosen": [len(r["chosen"][0])], "score_rejected":
                   [len(r["rejected"][0])]} for r in rows]
        acc = pairwise_accuracy(length)
        assert len(acc["sources"]) == sources and acc["n"] == len(raw)
        expected = sum(len(r["chosen"][0]) > len(r["rejected"][0]) for r in rows)
        assert acc["weighted_average"] == pytest.approx(100 * expected / len(raw))
    assert multifaceted_rows(dpo, "mf")[4]["domain"] == "Domain-Specific Preference"


def test_multifaceted_reads_the_janus_dpo_config_names():
    """kaistAI/Janus's axolotl DPO config names the columns instruction / chosen_response / rejected_response."""
    rows = multifaceted_rows([{"main_source": "Nectar", "system": "s", "instruction": "Do X.",
                               "chosen_response": "done", "rejected_response": ""}], "dpo")
    assert rows[0]["prompt"] == "Do X." and rows[0]["chosen"] == ["done"] and rows[0]["rejected"] == [""]
    both = multifaceted_rows([{"main_source": "Nectar", "system": "s", "prompt": "card", "instruction": "config",
                               "chosen": "a", "rejected": "b"}], "dpo")
    assert both[0]["prompt"] == "card"  # the card's name wins when both are present


@pytest.mark.parametrize("score_eot", [True, False])
def test_dsp_scoring_of_an_empty_response(tiny, score_eot):
    from endorm.core.encoding import PromptFormat
    from endorm.benchmarks.promptable import score_dsp
    from endorm.methods.scoring import ScoreOptions

    model, tok = tiny
    rows = [{"id": 0, "query": "Convert 20 minutes into seconds.",
             "responses": {k: ("" if k == "normal" else f"1200 seconds, says {k}.") for k in DSP_KEYS}}]
    opts = ScoreOptions(fmt=PromptFormat(score_eot=score_eot), progress=False)
    scores = score_dsp(model, tok, rows, {k: f"Domain {k}." for k in DSP_DOMAINS}, opts)
    assert all(isinstance(scores[x][0][k], float) for x in DSP_DOMAINS for k in DSP_DOMAINS)
    if score_eot:
        assert all(isinstance(scores[x][0]["normal"], float) for x in DSP_DOMAINS)
    else:
        assert all(scores[x][0]["normal"] is None for x in DSP_DOMAINS)
        m = dsp_matrix(scores, 1)  # the pair (D, normal) loses; the other three are decided by the scores
        assert all(m["matrix"][x][d] <= 75.0 for x in DSP_DOMAINS for d in DSP_DOMAINS)
