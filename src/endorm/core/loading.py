"""Loading a model for scoring: a causal LM and its tokenizer, checked to be what they claim.

``load_model`` refuses, with the folder named, what would otherwise give silently wrong rewards: a checkpoint with
missing, unexpected or mis-shaped weights (transformers would initialise a missing output head at random), a model
that is not a left-to-right LM, a folder without weights or tokenizer, a device that does not exist.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ..errors import EndormError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str | None) -> torch.device:
    """A torch device, checked: a CUDA device must exist (``auto``/None: CUDA when present, else the CPU)."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise EndormError(f"device {device!r}: not a torch device ({exc}); expected cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise EndormError(f"device {device!r}: no CUDA device is available here; use cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise EndormError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise EndormError(f"device {device!r}: MPS is not available here")
    return dev


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise EndormError(f"unknown dtype {dtype!r}; expected one of {sorted(DTYPES)}")
    return DTYPES[dtype]


WEIGHT_FILES = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json")


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tiktoken.model", "*.tiktoken")


def _one_line(exc: BaseException) -> str:
    """A library's exception as one line: its type and message, whitespace collapsed."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _names(keys, limit: int = 8) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def check_loading_info(info: dict, model, where: str) -> None:
    """Refuse a checkpoint whose weights do not match the architecture (``from_pretrained(...,
    output_loading_info=True)``): transformers would initialise missing ones at random and drop unexpected ones."""
    problems = []
    if info.get("missing_keys"):
        problems.append(f"missing weights (would be random): {_names(info['missing_keys'])}")
    if info.get("unexpected_keys"):
        problems.append(f"unexpected weights: {_names(info['unexpected_keys'])}")
    if info.get("mismatched_keys"):
        names = (str(k[0]) if isinstance(k, tuple) else str(k) for k in info["mismatched_keys"])
        problems.append(f"weights of the wrong shape: {_names(names)}")
    if problems:
        raise EndormError(f"{where}: the checkpoint does not match {type(model).__name__}: " + "; ".join(problems))


def check_causal(model, where: str) -> None:
    """Refuse a model whose earlier positions see later tokens (a bidirectional encoder loaded as an LM head).

    One tiny check, two forward passes of 6 tokens: changing the last token must leave the logits of the earlier
    positions unchanged.
    """
    vocab = model.get_output_embeddings().weight.shape[0]
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (1, 6), generator=g)
    other = ids.clone()
    other[0, -1] = (ids[0, -1] + 1) % vocab
    device = next(model.parameters()).device
    with torch.inference_mode():
        a = model(input_ids=ids.to(device)).logits[0, :-1].float()
        b = model(input_ids=other.to(device)).logits[0, :-1].float()
    # A causal model's earlier rows are the same computation in both passes (equal to float noise); tolerance by
    # the weights' precision.
    tol = (1e-5 if model.dtype == torch.float32 else 1e-2) * (1 + float(a.abs().max()))
    if float((a - b).abs().max()) > tol:
        raise EndormError(f"{where}: not a causal LM: changing a later token changes the logits of earlier positions "
                          "(a bidirectional model); the endogenous reward needs a left-to-right language model")


def load_model(path: str | os.PathLike, dtype: str | torch.dtype = "float32", device: str | None = None):
    """Load a causal LM and its tokenizer from a local folder (or a Hub id where the Hub is reachable).

    Refused, with the folder named: a folder without config, weights or tokenizer; a checkpoint with missing,
    unexpected or mis-shaped weights (transformers would initialise the missing ones at random); a model that is not
    a causal LM (an encoder-decoder, or a bidirectional encoder); a tokenizer with more tokens than the embedding
    table has rows.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                                        MODEL_FOR_MASKED_LM_MAPPING_NAMES)

    target = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    path = str(path)
    local = Path(path)
    where = f"model folder {path}" if local.exists() else f"model {path}"
    if not local.exists() and not re.fullmatch(r"[\w-][\w.-]*(/[\w-][\w.-]*)?", path):  # not a Hub id either
        raise EndormError(f"model folder {path}: not found; expected a transformers model folder (or a Hub id)")
    if local.exists():
        if not local.is_dir():
            raise EndormError(f"{where}: not a folder; expected a transformers model folder")
        if not (local / "config.json").is_file():
            raise EndormError(f"{where}: no config.json; expected a transformers model folder")
    try:
        config = AutoConfig.from_pretrained(path)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise EndormError(f"{where}: cannot read its config ({_one_line(exc)})") from None
    kind = f"model_type={getattr(config, 'model_type', None)!r}, architectures={getattr(config, 'architectures', None)}"
    causal_classes = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    archs = getattr(config, "architectures", None) or []
    # Families that are also masked LMs (BERT, RoBERTa, ...) attend both ways unless configured as decoders.
    bidirectional = config.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES and not getattr(config, "is_decoder", False)
    if (getattr(config, "is_encoder_decoder", False) or bidirectional
            or config.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
            or (archs and not causal_classes & set(archs))):
        raise EndormError(f"{where}: not a causal LM ({kind}); expected a decoder-only model such as "
                          "...ForCausalLM")
    if local.is_dir() and not any(f for pattern in WEIGHT_FILES for f in local.glob(pattern)):
        raise EndormError(f"{where}: no weights (expected *.safetensors or pytorch_model*.bin files)")
    try:
        model, info = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, output_loading_info=True)
    except ValueError as exc:
        raise EndormError(f"{where}: not a causal LM ({kind}): {_one_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - a truncated or unreadable weights file
        raise EndormError(f"{where}: cannot load its weights ({_one_line(exc)})") from None
    check_loading_info(info, model, where)
    if local.is_dir() and not any(f for pattern in TOKENIZER_FILES for f in local.glob(pattern)):
        raise EndormError(f"{where}: no tokenizer files (expected tokenizer.json, or tokenizer.model, or vocab.json "
                          "with merges.txt)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # noqa: BLE001 - re-raised with the path
        raise EndormError(f"{where}: cannot load its tokenizer ({_one_line(exc)})") from None
    if tokenizer is None or not hasattr(tokenizer, "convert_tokens_to_ids"):
        raise EndormError(f"{where}: no tokenizer files (tokenizer.json or a sentencepiece model)")
    rows = min(model.get_input_embeddings().weight.shape[0], model.get_output_embeddings().weight.shape[0])
    if len(tokenizer) > rows:  # a token id past the table would fail mid-run (or read another token's row)
        raise EndormError(f"{where}: the tokenizer has {len(tokenizer)} tokens but the model's embedding table has "
                          f"{rows} rows; expected the tokenizer of this model")
    model.to(target).eval()
    check_causal(model, where)
    return model, tokenizer
