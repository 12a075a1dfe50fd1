"""Training-free baselines on the same model: a generative verifier and two LLM-as-judge prompts.

The paper does not give its judge prompts; the defaults below are ours, documented, and every one can be replaced
from the config (``judge_prompts``). Placeholders: ``{prompt}``, ``{response}``, ``{response_a}``, ``{response_b}``.
"""

from __future__ import annotations

import re
from typing import Sequence

import torch
from tqdm.auto import tqdm

from ..defaults import DEFAULT_BATCH_TOKENS, DEFAULT_JUDGE_MAX_NEW_TOKENS

DEFAULT_JUDGE_PROMPTS = {
    # Zhang et al. 2024 (Generative Verifiers): the reward is log p("Yes") to a correctness question.
    "generative-verifier": (
        "Here is a question and a response.\n\nQuestion:\n{prompt}\n\nResponse:\n{response}\n\n"
        "Is the response correct and helpful? Answer Yes or No."
    ),
    "genrm-pointwise": (
        "Rate the response to the question on a scale of 1 to 10, where 10 is a perfect, correct and helpful "
        "response.\n\nQuestion:\n{prompt}\n\nResponse:\n{response}\n\nReply with the score only, a number from 1 to 10."
    ),
    "genrm-pairwise": (
        "Which response answers the question better?\n\nQuestion:\n{prompt}\n\nResponse A:\n{response_a}\n\n"
        "Response B:\n{response_b}\n\nReply with one letter: A or B."
    ),
}
VERIFIER_ANSWER = "Yes"
_SCORE = re.compile(r"(?<![\d.])(10|[1-9])(?![\d.]*\d)")
_CHOICE = re.compile(r"\b([AB])\b")


def parse_pointwise(text: str) -> float | None:
    """The first integer 1..10 in a judge's reply, else None (a parse failure, counted by the caller)."""
    m = _SCORE.search(text)
    return float(m.group(1)) if m else None


def parse_pairwise(text: str) -> str | None:
    """'A' or 'B': the first standalone letter in the reply (``Response A``, ``A.``, ``**B**``), else None."""
    m = _CHOICE.search(text.replace("*", " "))
    return m.group(1) if m else None


def pairwise_margin(first: str | None, second: str | None) -> float:
    """Chosen's margin from two judgements: order 1 puts chosen as A, order 2 puts chosen as B.

    Each order votes +1 for chosen, -1 for rejected, 0 for a parse failure; the margin is the mean vote, so chosen
    wins (margin > 0) only if the orders do not cancel.
    """
    v1 = {"A": 1.0, "B": -1.0}.get(first or "", 0.0)
    v2 = {"B": 1.0, "A": -1.0}.get(second or "", 0.0)
    return (v1 + v2) / 2


@torch.inference_mode()
def generate(
    model,
    tokenizer,
    prompts_ids: Sequence[list[int]],
    max_new_tokens: int = DEFAULT_JUDGE_MAX_NEW_TOKENS,
    max_batch_size: int = 16,
    max_batch_tokens: int = DEFAULT_BATCH_TOKENS,
    progress: bool = True,
    desc: str = "generating",
    **gen_kwargs,
) -> list[str]:
    """Greedy continuations of already-tokenized prompts, in input order (left-padded, length-sorted batches).

    Plain greedy decoding: a model's ``generation_config`` defaults that change greedy output (Qwen2.5-7B-Instruct's
    ``repetition_penalty: 1.05``, a ``no_repeat_ngram_size``) are switched off unless ``gen_kwargs`` sets them."""
    from ..core.generation import growing_cache

    gen_kwargs = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, **gen_kwargs}
    order = sorted(range(len(prompts_ids)), key=lambda i: -len(prompts_ids[i]))
    out: list[str] = [""] * len(prompts_ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    bar = tqdm(total=len(order), desc=desc, disable=not progress, mininterval=2.0)
    k = 0
    while k < len(order):
        width = len(prompts_ids[order[k]]) + max_new_tokens
        size = max(1, min(max_batch_size, max_batch_tokens // width))
        batch = order[k : k + size]
        k += size
        w = max(len(prompts_ids[i]) for i in batch)
        ids = torch.full((len(batch), w), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), w), dtype=torch.long)
        for b, i in enumerate(batch):
            p = prompts_ids[i]
            ids[b, w - len(p) :] = torch.tensor(p)
            mask[b, w - len(p) :] = 1
        gen = model.generate(
            input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new_tokens,
            do_sample=False, pad_token_id=pad, temperature=None, top_p=None, top_k=None,
            past_key_values=growing_cache(model), **gen_kwargs,
        )
        for b, i in enumerate(batch):
            out[i] = tokenizer.decode(gen[b, w:], skip_special_tokens=True)
        bar.update(len(batch))
    bar.close()
    return out
