"""Fixtures: a tiny random-weight Llama with a trained BPE tokenizer and a ChatML template (built here, in
seconds), and the real packaged SmolLM2 converted once per session for the smoke tests."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def default_config() -> dict:
    """config/config.yaml as written: the embedded default's sources (packaged data and model) for the tests."""
    import yaml

    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


def default_benchmark(name: str) -> dict:
    """The embedded default's `math_eval.benchmarks` entry ``name`` (a packaged benchmark)."""
    return next(dict(b) for b in default_config()["math_eval"]["benchmarks"] if b["name"] == name)

CHATML = (
    "{{ bos_token }}{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a tiny default assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "The answer is 42. Final answer: 7. What is two plus two? Four.",
    "Hello world, this is a tiny corpus for a tiny tokenizer. Yes No A B 1 2 3 4 5 6 7 8 9 10",
    "Rate the response on a scale of 1 to 10. Which response is better? Response A: Response B:",
    "Solution: step one, step two. ### **bold** 1. 2. 3. The mass dimension is -1.",
]


def build_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<unk>", "<s>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 5, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="<|im_end|>", unk_token="<unk>",
                                   pad_token="<|im_end|>")
    fast.chat_template = CHATML
    return fast


def build_model_dir(path: Path, tie: bool = False, seed: int = 0) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=tie, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger logits than the default init, so rewards differ clearly between tokens
        model.lm_head.weight.mul_(20)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    from endorm.core.loading import load_model

    return load_model(tiny_dir)


@pytest.fixture(scope="session")
def smol_dir(tmp_path_factory) -> Path:
    """The real embedded model (SmolLM2-135M-Instruct, packaged GGUF), converted once (about 40 s)."""
    if importlib.util.find_spec("gguf") is None:
        pytest.skip("gguf is not installed")
    from endorm.data.assets import packaged_file, prepare_model
    from endorm.errors import EndormError

    spec = default_config()["models"]["smollm2-135m-instruct"]
    try:
        packaged_file(spec["package"]["distribution"], spec["package"]["path"])
    except EndormError as exc:
        pytest.skip(f"packaged model not installed: {exc}")
    out = tmp_path_factory.mktemp("smol") / "model"
    prepare_model(spec, out)
    return out


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} is absent (real dataset samples exist only in the project's shared/ folder)")
    return path
