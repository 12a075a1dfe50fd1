"""Table 3's controls and the sharpening analysis: best-of-N selection by the endogenous reward, the sampling option
of the lm-eval runner, and the entropy / log-likelihood measurement of the sharpening analysis, each against a
direct computation on the tiny model."""

from __future__ import annotations

import math

import pytest
import torch

from endorm.benchmarks import lmeval
from endorm.data import mathdata
from endorm.rl import controls, sharpening
from endorm.errors import EndormError
from endorm.io import write_jsonl
from endorm.core.reward import RewardOptions


# ----- best-of-N ---------------------------------------------------------------------------------------------------
def test_best_index_highest_first_of_ties_and_nan():
    assert controls.best_index([1.0, 3.0, 2.0], 3) == 1
    assert controls.best_index([5.0, 1.0, 5.0, 5.0], 4) == 0          # ties: the lowest sample index
    assert controls.best_index([-2.0, 7.0, -1.0, 9.0], 2) == 1        # only the first N count
    assert controls.best_index([float("nan"), -5.0], 2) == 1          # NaN is never preferred
    assert controls.best_index([-math.inf, -math.inf], 2) == 0
    with pytest.raises(EndormError, match="best-of-3 needs at least 3"):
        controls.best_index([1.0, 2.0], 3)


def _records(correct_by_problem):
    return [{"task": "gsm8k", "id": pid, "sample": k, "correct": c}
            for pid, cs in correct_by_problem.items() for k, c in enumerate(cs)]


def test_best_of_n_uses_the_first_n_of_the_same_samples():
    # problem a: the best reward among the first 4 is sample 2 (wrong); sample 6 (right) wins among all 8
    # problem b: a tie between samples 1 and 3 (both the highest): sample 1 (right) is taken for N = 4 and 8
    recs = _records({"a": [False, False, False, True, False, False, True, False],
                     "b": [False, True, False, False, False, False, False, False]})
    rewards = [0.0, 1.0, 3.0, 2.0, 0.0, 0.0, 9.0, 0.0,
               0.0, 4.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0]
    out = controls.best_of_n(recs, rewards, [4, 8])
    sel = {(s["id"], s["N"]): s["sample"] for s in out["selected"]}
    assert sel == {("a", 4): 2, ("a", 8): 6, ("b", 4): 1, ("b", 8): 1}
    assert out["best_of"][4]["gsm8k"] == {"accuracy": 0.5, "n": 2}
    assert out["best_of"][8]["gsm8k"] == {"accuracy": 1.0, "n": 2}
    assert "mean_tokens" not in out
    for k, r in enumerate(recs):
        r["tokens"] = k
    lengths = controls.best_of_n(recs, rewards, [4, 8])["mean_tokens"]
    assert lengths == {"all": 7.5, 4: (2 + 9) / 2, 8: (6 + 9) / 2}
    # the same samples in another file order give the same selection
    order = list(reversed(range(len(recs))))
    again = controls.best_of_n([recs[i] for i in order], [rewards[i] for i in order], [4, 8])
    assert again["best_of"] == out["best_of"]


def test_best_of_n_refuses_incomplete_or_greedy_records():
    with pytest.raises(EndormError, match="not 0..1"):
        controls.group_samples([{"task": "t", "id": "a", "sample": 0}, {"task": "t", "id": "a", "sample": 2}])
    with pytest.raises(EndormError, match="no 'sample' index"):
        controls.group_samples([{"task": "t", "id": "a"}])
    with pytest.raises(EndormError, match="best-of-4 needs at least 4"):
        controls.best_of_n(_records({"a": [True, False]}), [0.0, 1.0], [4])


def test_score_generations_is_the_engine_reward(tiny):
    from endorm.api import EndogenousReward
    from endorm.core.engine import Scorer

    model, tok = tiny
    scorer = Scorer(model, tok, progress=False)
    rendered = scorer.encoder.render("What is two plus two?")
    recs = [{"task": "t", "id": "a", "prompt": rendered, "generation": g} for g in ("Four.", "The answer is 42.", "")]
    opts = RewardOptions()
    got = controls.score_generations(scorer, recs, opts)
    rm = EndogenousReward(model, tok, reward=opts)
    want = rm.score_batch(["What is two plus two?"] * 3, ["Four.", "The answer is 42.", ""])
    assert got == pytest.approx(want, abs=1e-4)
    with pytest.raises(EndormError, match="field 'prompt'"):
        controls.score_generations(scorer, [{"task": "t", "id": "a", "generation": "x"}], opts)


# ----- the runner's sampling option ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    path = tmp_path_factory.mktemp("rows") / "gsm8k.jsonl"
    write_jsonl(path, [{"id": f"g{k}", "problem": f"Problem {k}: what is two plus two?", "answer": "4",
                        "source": "gsm8k"} for k in range(3)])
    return path


def test_sampling_task_yaml_asks_for_repeats(rows, tmp_path):
    from lm_eval.tasks import TaskManager

    sampling = lmeval.Sampling(temperature=0.7, samples=3, seed=5)
    names = lmeval.write_task_configs({"gsm8k": rows}, tmp_path / "tasks", max_gen_toks=9, stop=["<|im_end|>"],
                                      sampling=sampling)
    task = TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False).load(
        list(names.values()))["tasks"][names["gsm8k"]]
    gen = task.config.generation_kwargs
    assert task.config.repeats == 3
    assert gen["do_sample"] is True and gen["temperature"] == 0.7 and gen["top_k"] == 0 and gen["top_p"] == 1.0
    assert gen["max_gen_toks"] == 9 and gen["until"] == ["<|im_end|>"]
    greedy = lmeval.write_task_configs({"gsm8k": rows}, tmp_path / "greedy", max_gen_toks=9)
    g = TaskManager(include_path=str(tmp_path / "greedy"), include_defaults=False).load(
        list(greedy.values()))["tasks"][greedy["gsm8k"]]
    assert g.config.repeats == 1 and g.config.generation_kwargs["do_sample"] is False
    with pytest.raises(EndormError, match="temperature must be > 0"):
        lmeval.Sampling(temperature=0.0)


def test_sampled_lm_eval_run_on_the_tiny_model(tiny_dir, rows, tmp_path):
    sampling = lmeval.Sampling(temperature=5.0, samples=2, seed=3)
    kw = dict(max_gen_toks=6, batch_size=4, limit=2, device="cpu", instruction=mathdata.DEFAULT_INSTRUCTION)
    res = lmeval.evaluate(tiny_dir, {"gsm8k": rows}, tmp_path / "a", sampling=sampling, **kw)
    recs = res["samples"]
    assert [(r["id"], r["sample"]) for r in recs] == [("g0", 0), ("g0", 1), ("g1", 0), ("g1", 1)]
    t = res["tasks"]["gsm8k"]
    assert t["n"] == 2 and t["n_samples"] == 4 and t["samples_per_problem"] == 2
    assert t["accuracy"] == sum(r["correct"] for r in recs) / 4
    assert t["pass_at_k"] == sum(any(r["correct"] for r in recs if r["id"] == i) for i in ("g0", "g1")) / 2
    assert res["options"]["do_sample"] is True and res["options"]["sampling"]["seed"] == 3
    assert len({r["generation"] for r in recs}) > 1  # at temperature 5 the samples differ
    assert recs[0]["prompt"] == recs[1]["prompt"]  # the same prompt for every sample of a problem
    again = lmeval.evaluate(tiny_dir, {"gsm8k": rows}, tmp_path / "b", sampling=sampling, **kw)["samples"]
    assert [r["generation"] for r in again] == [r["generation"] for r in recs]  # seeded: reproducible


# ----- sharpening: entropy and log-likelihood against a direct computation ------------------------------------
def test_sampled_entropy_and_base_loglik_match_a_direct_computation(tiny):
    from endorm.core.engine import Scorer

    model, tok = tiny
    scorer = Scorer(model, tok, progress=False)
    prompts = [scorer.encoder.encode_prompt(p) for p in ("What is two plus two?", "Hello world, yes or no?")]
    stop = [tok.eos_token_id]
    comps = sharpening.sample_with_entropy(model, prompts, [0.5, 2.0], samples=2, max_new_tokens=7, stop_ids=stop,
                                           pad_id=tok.pad_token_id, seed=0, batch_size=3)
    assert [(c["temperature"], c["prompt"], c["sample"]) for c in comps] == [
        (t, p, s) for t in (0.5, 2.0) for p in range(2) for s in range(2)]
    sharpening.score_under_base(scorer, prompts, comps, RewardOptions())
    for c in comps:
        ids = c["completion_ids"]
        assert 1 <= len(ids) <= 7 and len(c["entropy"]) == len(c["logprobs"]) == len(ids)
        assert c["finished"] == (ids[-1] in stop) and all(t not in stop for t in ids[:-1])
        p = prompts[c["prompt"]]
        with torch.no_grad():
            logits = model(torch.tensor([p + ids])).logits[0, len(p) - 1 : len(p) - 1 + len(ids)].double()
        probs = torch.softmax(logits / c["temperature"], -1)
        entropy = -(probs * torch.log_softmax(logits / c["temperature"], -1)).sum(-1)
        logp = torch.log_softmax(logits, -1)[torch.arange(len(ids)), torch.tensor(ids)]
        assert c["entropy"] == pytest.approx(entropy.tolist(), abs=1e-4)
        assert c["logprobs"] == pytest.approx(logp.tolist(), abs=1e-4)
    summary = sharpening.summarize([c for c in comps if c["temperature"] == 0.5])
    tokens = sum(len(c["completion_ids"]) for c in comps if c["temperature"] == 0.5)
    assert summary["tokens"] == tokens and summary["completions"] == 4
    assert summary["entropy"] == pytest.approx(
        sum(sum(c["entropy"]) for c in comps if c["temperature"] == 0.5) / tokens)
    hot = sharpening.summarize([c for c in comps if c["temperature"] == 2.0])
    assert hot["entropy"] > summary["entropy"]  # a higher temperature draws from flatter distributions
    # each completion has its own seed: the same samples whatever the batch size or the temperatures beside it
    again = sharpening.sample_with_entropy(model, prompts, [0.5, 2.0], samples=2, max_new_tokens=7, stop_ids=stop,
                                           pad_id=tok.pad_token_id, seed=0, batch_size=8)
    assert [c["completion_ids"] for c in again] == [c["completion_ids"] for c in comps]
    assert sum((c["entropy"] for c in again), []) == pytest.approx(sum((c["entropy"] for c in comps), []), abs=1e-5)
    alone = sharpening.sample_with_entropy(model, prompts, [2.0], samples=2, max_new_tokens=7, stop_ids=stop,
                                           pad_id=tok.pad_token_id, seed=0, batch_size=1)
    assert [c["completion_ids"] for c in alone] == [c["completion_ids"] for c in comps if c["temperature"] == 2.0]
    other = sharpening.sample_with_entropy(model, prompts, [2.0], samples=2, max_new_tokens=7, stop_ids=stop,
                                           pad_id=tok.pad_token_id, seed=1, batch_size=4)
    assert [c["completion_ids"] for c in other] != [c["completion_ids"] for c in alone]
    with pytest.raises(EndormError, match="temperatures must be > 0"):
        sharpening.sample_with_entropy(model, prompts, [0.0], samples=1, max_new_tokens=2, stop_ids=stop,
                                       pad_id=tok.pad_token_id, seed=0)


def test_matching_temperatures_and_optimum():
    curve = [{"temperature": 1.0, "entropy": 3.0, "loglik": -3.0}, {"temperature": 0.5, "entropy": 1.0,
                                                                      "loglik": -1.0},
             {"temperature": 0.75, "entropy": 2.0, "loglik": -1.5}]
    (hit,) = sharpening.matching_temperatures(curve, 2.5)
    assert hit["temperature"] == pytest.approx(0.875) and hit["loglik"] == pytest.approx(-2.25)
    assert sharpening.matching_temperatures(curve, 0.5) == []
    assert sharpening.optimum_temperature(1.0, 0.01) == pytest.approx(0.01 / 1.01)
    assert sharpening.optimum_temperature(1.0, 0.01, 40.0) == pytest.approx(0.4 / 1.4)  # GRPO's scaling by sigma
    assert sharpening.advantage_scaling({"scale_rewards": "group"}) == "group"
    assert sharpening.advantage_scaling({"scale_rewards": False}) == "none"
    assert sharpening.advantage_scaling({"normalize_advantages": True}) == "batch"  # RLOO
    assert sharpening.advantage_scaling({"normalize_advantages": False}) == "none"
    with pytest.raises(EndormError, match="unknown advantage scaling"):
        sharpening.advantage_scaling({"scale_rewards": "prompt"})


def test_paired_difference():
    def comp(p, k, ids, ent, lp):
        return {"prompt": p, "sample": k, "completion_ids": ids, "entropy": ent, "logprobs": lp}

    a = [comp(0, 0, [1, 2], [1.0, 3.0], [-1.0, -1.0]), comp(0, 1, [3], [1.0], [-4.0])]
    b = [comp(0, 1, [3], [2.0], [-4.0]), comp(0, 0, [1, 2], [1.0, 1.0], [-2.0, -2.0])]
    d = sharpening.paired_difference(a, b)
    assert d["pairs"] == 2 and d["identical"] == 2
    assert d["entropy_diff"] == pytest.approx((1.0 - 1.0) / 2) and d["loglik_diff"] == pytest.approx(0.5)
    assert d["entropy_diff_se"] == pytest.approx(1.0)  # differences +1 and -1
    with pytest.raises(EndormError, match="1 pairs"):
        sharpening.paired_difference(a, b[:1] + [comp(1, 0, [1], [1.0], [-1.0])])


def test_reward_spread_within_and_across_prompts():
    comps = [{"prompt": p, "completion_ids": [1, 2], "entropy": [1.0, 1.0], "logprobs": [-1.0, -1.0], "reward": r,
              "finished": False} for p, r in ((0, 1.0), (0, 3.0), (1, 10.0), (1, 10.0))]
    s = sharpening.summarize(comps)
    assert s["reward_std_group"] == pytest.approx((math.sqrt(2.0) + 0.0) / 2)
    assert s["reward_std_batch"] == pytest.approx(torch.tensor([1.0, 3.0, 10.0, 10.0]).std().item())
