"""Continuous-batching generation (endorm.core.generation) against transformers' generate, and its lm-eval wiring."""

import pytest
import torch

from endorm.core.generation import generate_many

TEXTS = ["Hello world", "The answer is 42. Final", "Yes", "Rate the response on a scale of 1 to", "Hello world",
         "What is two plus two?"]


@pytest.fixture(scope="module")
def prompts(tiny):
    _, tok = tiny
    return [tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS]


def reference(model, tok, prompts, n):
    out = []
    for p in prompts:
        g = model.generate(torch.tensor([p]), max_new_tokens=n, do_sample=False, eos_token_id=tok.eos_token_id,
                           pad_token_id=tok.pad_token_id)
        out.append(g[0, len(p):].tolist())
    return out


@pytest.mark.parametrize("max_batch", [1, 2, 4, 6])
def test_greedy_equals_generate_whatever_the_batch(tiny, prompts, max_batch):
    model, tok = tiny
    got, stats = generate_many(model, prompts, max_new_tokens=10, stop_ids=[tok.eos_token_id], max_batch=max_batch)
    assert got == reference(model, tok, prompts, 10)
    assert stats["generated_tokens"] == sum(len(g) for g in got)
    if max_batch == len(prompts):  # admitted together, the repeated prompt is prefilled once
        assert stats["prompt_tokens"] == sum(len(p) for p in prompts) - len(prompts[0])


def test_cache_room_changes_nothing(tiny, prompts, monkeypatch):
    """Decode steps append to the cache in place (room left after each row's keys and values); with no spare room
    every step refills the buffers, and rows leaving, joining and trimmed padding go through the same paths."""
    import endorm.core.generation as generation

    model, tok = tiny
    want = reference(model, tok, prompts, 12)
    for room in (1, 3):
        monkeypatch.setattr(generation, "_room", lambda length, room=room: room)
        got, _ = generate_many(model, prompts, max_new_tokens=[12, 3, 12, 7, 12, 1], stop_ids=[tok.eos_token_id],
                               max_batch=3)
        assert got == [w[:n] for w, n in zip(want, [12, 3, 12, 7, 12, 1])]


def test_sampling_is_per_row_whatever_the_batch_or_order(tiny, prompts):
    model, tok = tiny
    seeds = [11, 12, 13, 14, 15, 16]
    a, _ = generate_many(model, prompts, max_new_tokens=8, temperature=1.0, seeds=seeds, max_batch=6)
    b, _ = generate_many(model, prompts, max_new_tokens=8, temperature=1.0, seeds=seeds, max_batch=2)
    c, _ = generate_many(model, prompts[::-1], max_new_tokens=8, temperature=1.0, seeds=seeds[::-1], max_batch=3)
    assert a == b == c[::-1]
    d, _ = generate_many(model, prompts, max_new_tokens=8, temperature=1.0, seeds=[s + 100 for s in seeds])
    assert d != a  # other seeds, other samples
    # the two copies of "Hello world" share a prefill but sample with their own generators
    e, _ = generate_many(model, [prompts[0]] * 2, max_new_tokens=8, temperature=1.0, seeds=[1, 2])
    assert e[0] != e[1]


def test_sampling_matches_its_distribution(tiny, prompts):
    """With top-k 1 sampling is greedy; the first sampled token's frequency follows softmax(logits / T)."""
    model, tok = tiny
    greedy, _ = generate_many(model, prompts, max_new_tokens=6)
    topk1, _ = generate_many(model, prompts, max_new_tokens=6, temperature=0.7, top_k=1, seeds=range(6))
    assert topk1 == greedy
    n = 400
    draws, _ = generate_many(model, [prompts[2]] * n, max_new_tokens=1, temperature=1.0, seeds=range(n))
    with torch.no_grad():
        probs = torch.softmax(model(torch.tensor([prompts[2]])).logits[0, -1].float(), -1)
    top = int(probs.argmax())
    freq = sum(d[0] == top for d in draws) / n
    assert abs(freq - float(probs[top])) < 4 * (float(probs[top]) * (1 - float(probs[top])) / n) ** 0.5 + 1e-9


def test_per_row_temperatures_and_entropies(tiny, prompts):
    """Each row samples at its own temperature (as it would alone) and records the exact entropy of the distribution
    each token was drawn from: softmax(logits / T) after top-k, against a teacher-forced forward pass."""
    model, tok = tiny
    temps, seeds = [0.5, 2.0, 1.0, 0.5, 2.0, 1.0], [21, 22, 23, 24, 25, 26]
    mixed, stats = generate_many(model, prompts, max_new_tokens=6, temperature=temps, seeds=seeds, max_batch=4,
                                 entropy=True, top_k=50)
    for t in set(temps):
        rows = [i for i, x in enumerate(temps) if x == t]
        alone, _ = generate_many(model, [prompts[i] for i in rows], max_new_tokens=6, temperature=[t] * len(rows),
                                 seeds=[seeds[i] for i in rows], top_k=50)
        assert alone == [mixed[i] for i in rows]
    assert [len(e) for e in stats["entropies"]] == [len(m) for m in mixed]
    for p, ids, t, ent in zip(prompts, mixed, temps, stats["entropies"]):
        with torch.no_grad():
            logits = model(torch.tensor([p + ids])).logits[0, len(p) - 1 : len(p) - 1 + len(ids)].double() / t
        logits = logits.masked_fill(logits < logits.topk(50, -1).values[:, -1:], float("-inf"))
        want = torch.special.entr(torch.softmax(logits, -1)).sum(-1)
        assert ent == pytest.approx(want.tolist(), abs=1e-4)
    from endorm.errors import EndormError

    with pytest.raises(EndormError, match="one temperature > 0 per prompt"):
        generate_many(model, prompts, max_new_tokens=2, temperature=[1.0, 0.0, 1, 1, 1, 1], seeds=seeds)
    with pytest.raises(EndormError, match="one temperature > 0 per prompt"):
        generate_many(model, prompts, max_new_tokens=2, temperature=[1.0], seeds=seeds)
    with pytest.raises(EndormError, match="when sampling"):
        generate_many(model, prompts, max_new_tokens=2, entropy=True)


def test_stops_limits_and_bad_input(tiny, prompts):
    model, tok = tiny
    full, _ = generate_many(model, prompts[:3], max_new_tokens=10)
    limited, _ = generate_many(model, prompts[:3], max_new_tokens=[2, 5, 1])
    assert [len(x) for x in limited] == [2, 5, 1] and all(f[:len(x)] == x for f, x in zip(full, limited))
    first = full[0][3]
    stopped, _ = generate_many(model, prompts[:1], max_new_tokens=10, stop_ids=[first])
    assert stopped[0] == full[0][:full[0].index(first) + 1]
    checked, _ = generate_many(model, prompts[:1], max_new_tokens=10, stop_check=lambda ids: len(ids) >= 4)
    assert checked[0] == full[0][:4]
    from endorm.errors import EndormError

    with pytest.raises(EndormError, match="one seed per prompt"):
        generate_many(model, prompts, max_new_tokens=2, temperature=1.0, seeds=[1])
    with pytest.raises(EndormError, match="empty prompt"):
        generate_many(model, [[]], max_new_tokens=2)


def test_lm_eval_model_generate_equals_hflm(tiny_dir):
    """The lm-eval seam: the continuous model's _model_generate returns what HFLM's returns (greedy)."""
    from lm_eval.models.huggingface import HFLM

    from endorm.benchmarks.lmeval import continuous_hflm

    fast = continuous_hflm(pretrained=str(tiny_dir), dtype="float32", max_batch=2, device="cpu")
    plain = HFLM(pretrained=fast.model, tokenizer=fast.tokenizer, batch_size=4, device="cpu")
    ctx, mask = fast.tok_batch_encode(TEXTS[:4])
    kw = dict(max_length=ctx.shape[1] + 7, stop=["<|im_end|>", "2"], do_sample=False, temperature=0.0)
    a = fast._model_generate(ctx, attention_mask=mask, **dict(kw))
    b = plain._model_generate(ctx, attention_mask=mask, **dict(kw))

    def text(t):  # what lm-eval keeps: the continuation decoded, cut at the first stop string
        s = fast.tok_decode(t[ctx.shape[1]:].tolist())
        for stop in kw["stop"]:
            s = s.split(stop)[0]
        return s

    assert [text(x) for x in a] == [text(x) for x in b]
    assert fast.generation_stats and fast.generation_stats[0]["rows"] == 4


def test_growing_cache_in_generate_changes_nothing(tiny, prompts):
    """transformers' generate with the in-place cache gives the tokens of its own cache, greedy and sampled, with
    left padding."""
    from endorm.core.generation import growing_cache

    model, tok = tiny
    assert growing_cache(model) is not None  # the tiny test model is full attention
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in prompts])
    mask = (torch.arange(width) >= torch.tensor([width - len(p) for p in prompts]).unsqueeze(1)).long()
    for kwargs in ({"do_sample": False}, {"do_sample": True, "top_k": 0}):
        runs = []
        for cache in (None, growing_cache(model)):
            torch.manual_seed(0)
            runs.append(model.generate(ids, attention_mask=mask, max_new_tokens=80, pad_token_id=tok.pad_token_id,
                                       past_key_values=cache, **kwargs))
        assert torch.equal(runs[0], runs[1])
