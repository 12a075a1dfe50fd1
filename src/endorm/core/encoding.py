"""Prompt encoding: how a (system, prompt, response) triple becomes token ids, apart from any forward pass.

One :class:`PromptEncoder` serves every caller that needs the exact tokens a model is conditioned on: the scoring
engine, the judges' and the generator's prompts, the RL reward (TRL's chat-format prompts and the policy's
completion ids) and the reward server. The rules (tested in tests/test_reward.py):

* prompt and response are tokenized separately and joined, so no BPE merge crosses the boundary, and a rendered
  chat template (which carries its own BOS) is tokenized without adding special tokens again;
* a prompt is text, rendered with the chat template and the system prompt of :class:`PromptFormat`, or chat
  messages, rendered as given (a ``system`` argument replaces or adds their system message);
* the end-of-turn token is appended to a response and scored (``score_eot``); an empty response is then that token
  alone;
* past ``max_length``, the overflow policy truncates (counted) or refuses.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence, Union

from ..errors import EndormError

log = logging.getLogger(__name__)

Overflow = Literal["error", "truncate-prompt", "truncate-response"]
OVERFLOWS = ("error", "truncate-prompt", "truncate-response")
Messages = Sequence[dict]
Prompt = Union[str, Messages]
PROMPT_CACHE = 4096  # rendered prompts kept per encoder


@dataclass(frozen=True)
class PromptFormat:
    """How a (system, prompt, response) triple becomes token ids.

    Attributes:
        chat_template: Render the prompt with the tokenizer's chat template (default True). When False the prompt
            is the raw text (system prompt, a blank line, then the prompt) with the tokenizer's usual special
            tokens (BOS).
        system_prompt: System message used when a row gives none. ``None`` (default) leaves the template's own
            behaviour (SmolLM2 and Qwen insert their default system prompt); ``""`` sends an empty system message.
            A row's ``system`` field always replaces it (never duplicates it). Prompts given as chat messages are
            rendered as given (their own system message, or the template's default).
        score_eot: Append the end-of-turn token to the response and score it (default True: a finished turn is
            part of the response the model would produce).
        eot_token: The end-of-turn token as text. ``None`` (default) finds it from the chat template (the token
            that follows an assistant message), else the tokenizer's EOS token.
        max_length: Longest prompt+response in tokens; ``None`` uses the model's ``max_position_embeddings``. A
            value above the model's context is capped to it, with a warning naming both.
        overflow: What happens past ``max_length``: ``"error"`` (default), ``"truncate-prompt"`` (drop prompt
            tokens from the left) or ``"truncate-response"`` (drop trailing response tokens). Truncations are
            counted per response (``truncated``) and logged as warnings; response tokens are never dropped silently.
    """

    chat_template: bool = True
    system_prompt: str | None = None
    score_eot: bool = True
    eot_token: str | None = None
    max_length: int | None = None
    overflow: Overflow = "error"

    def __post_init__(self) -> None:
        if self.overflow not in OVERFLOWS:
            raise ValueError(f"overflow must be one of {OVERFLOWS}, got {self.overflow!r}")


@dataclass(frozen=True)
class Encoded:
    """One sequence to score: prompt tokens (state s_1), response tokens (the actions), and how many tokens the
    overflow policy dropped."""

    prompt_ids: list[int]
    response_ids: list[int]
    truncated: int = 0

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.response_ids)


class PromptEncoder:
    """Renders and tokenizes prompts and responses under a :class:`PromptFormat`.

    Args:
        tokenizer: the model's tokenizer.
        fmt: the format options (default :class:`PromptFormat`).
        model_max_length: the model's longest sequence (``max_position_embeddings``), used when ``fmt.max_length``
            is None.
    """

    def __init__(self, tokenizer, fmt: PromptFormat | None = None, model_max_length: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.fmt = fmt or PromptFormat()
        self.max_length = self.fmt.max_length or model_max_length or 10**9
        if model_max_length and self.max_length > model_max_length:  # positions the model never learned
            log.warning("max_length %d is above the model's context (max_position_embeddings %d): capped to %d",
                        self.max_length, model_max_length, model_max_length)
            self.max_length = model_max_length
        if self.fmt.chat_template and not getattr(tokenizer, "chat_template", None):
            raise EndormError("chat_template is on but the tokenizer has no chat template; set chat_template: false")
        self.eot_id = self._find_eot_id() if self.fmt.score_eot else None
        self._prompt_cache: OrderedDict[tuple[str, str | None], list[int]] = OrderedDict()

    @classmethod
    def for_model(cls, model, tokenizer, fmt: PromptFormat | None = None) -> "PromptEncoder":
        return cls(tokenizer, fmt, getattr(model.config, "max_position_embeddings", None))

    def _find_eot_id(self) -> int:
        tok = self.tokenizer
        if self.fmt.eot_token is not None:
            ids = tok.convert_tokens_to_ids([self.fmt.eot_token])
            if not ids or ids[0] is None or ids[0] == tok.unk_token_id:
                raise EndormError(f"eot_token {self.fmt.eot_token!r} is not a single token of this tokenizer")
            return int(ids[0])
        if self.fmt.chat_template:
            marker = "\u2063ENDORM\u2063"
            text = tok.apply_chat_template(
                [{"role": "user", "content": "x"}, {"role": "assistant", "content": marker}], tokenize=False
            )
            if marker in text:
                tail = text.split(marker, 1)[1]
                ids = tok(tail, add_special_tokens=False)["input_ids"] if tail else []
                special = set(tok.all_special_ids) | set(getattr(tok, "added_tokens_decoder", {}) or {})
                if ids and ids[0] in special:
                    return int(ids[0])
        if tok.eos_token_id is None:
            raise EndormError("cannot find an end-of-turn token: set eot_token or score_eot: false")
        return int(tok.eos_token_id)

    # ----- prompts ----------------------------------------------------------------------------------------------
    def render(self, prompt: Prompt, system: str | None = None) -> str:
        """The exact prompt text the model is conditioned on (s_1 before tokenization).

        A text prompt takes ``system`` (else the format's ``system_prompt``); chat messages are rendered as given,
        with ``system`` (when not None) replacing their system message or added before them.
        """
        if not isinstance(prompt, str):
            messages = [dict(m) for m in prompt]
            if not self.fmt.chat_template:
                raise EndormError("a prompt given as chat messages needs chat_template: true")
            if system is not None:
                messages = [m for m in messages if m.get("role") != "system"]
                messages.insert(0, {"role": "system", "content": system})
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        system = self.fmt.system_prompt if system is None else system
        if not self.fmt.chat_template:
            return prompt if not system else f"{system}\n\n{prompt}"
        messages = [{"role": "user", "content": prompt}]
        if system is not None:
            messages.insert(0, {"role": "system", "content": system})
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def encode_prompt(self, prompt: Prompt, system: str | None = None) -> list[int]:
        """Token ids of the rendered prompt (the last :data:`PROMPT_CACHE` prompts are kept: a prompt shared by
        many responses, such as a GRPO group's, is rendered once)."""
        key = (prompt if isinstance(prompt, str) else json.dumps(list(prompt), sort_keys=True), system)
        if key in self._prompt_cache:
            self._prompt_cache.move_to_end(key)
            return list(self._prompt_cache[key])
        text = self.render(prompt, system)
        # A rendered chat template carries its own BOS; raw text gets the tokenizer's usual special tokens.
        ids = list(self.tokenizer(text, add_special_tokens=not self.fmt.chat_template)["input_ids"])
        if not ids:
            raise EndormError("the prompt renders to zero tokens: no state s_1 to condition on")
        self._prompt_cache[key] = ids
        if len(self._prompt_cache) > PROMPT_CACHE:
            self._prompt_cache.popitem(last=False)
        return list(ids)

    def encode_rendered(self, text: str) -> list[int]:
        """Token ids of text that is already rendered (a chat-templated prompt from a trainer, or a response with
        the special tokens it was generated with), tokenized as given: no template, no special tokens added."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def fit_prompt(self, prompt_ids: list[int], reserve: int) -> list[int]:
        """A generation prompt (judges, the generator) that leaves ``reserve`` positions, under the overflow
        policy."""
        over = len(prompt_ids) + reserve - self.max_length
        if over <= 0:
            return prompt_ids
        if self.fmt.overflow != "truncate-prompt" or over >= len(prompt_ids):
            raise EndormError(f"judge prompt ({len(prompt_ids)} tokens) + {reserve} new tokens exceeds max_length "
                              f"{self.max_length}; to truncate instead, set --overflow (format.overflow in the "
                              "workflow's config) to truncate-prompt")
        log.warning("truncating %d judge prompt tokens from the left (max_length %d)", over, self.max_length)
        return prompt_ids[over:]

    def generation_prompt(self, prompt: Prompt, system: str | None, reserve: int) -> list[int]:
        """Token ids of a prompt to generate ``reserve`` new tokens from."""
        return self.fit_prompt(self.encode_prompt(prompt, system), reserve)

    # ----- responses --------------------------------------------------------------------------------------------
    def encode_response(self, response: str) -> list[int]:
        """Token ids of a response as the model would produce it: its text, then the end-of-turn token when
        ``score_eot`` (so an empty response is the end-of-turn token alone)."""
        ids = list(self.tokenizer(response, add_special_tokens=False)["input_ids"])
        if self.eot_id is not None:
            ids.append(self.eot_id)
        return ids

    def completion_ids(self, ids: Sequence[int], stop_ids: Iterable[int]) -> list[int]:
        """Generated ids up to and including the first stop token (a truncated completion has none)."""
        stops, out = set(stop_ids), []
        for t in ids:
            out.append(int(t))
            if int(t) in stops:
                break
        return out

    # ----- sequences --------------------------------------------------------------------------------------------
    def fit(self, prompt_ids: Sequence[int], response_ids: Sequence[int]) -> Encoded:
        """One sequence within ``max_length`` under the overflow policy (truncations counted and logged)."""
        prompt_ids, response_ids = list(prompt_ids), list(response_ids)
        if not response_ids:
            raise EndormError("empty response with no end-of-turn token (score_eot off): nothing to score")
        if not prompt_ids:
            raise EndormError("empty prompt ids: no state s_1 to condition on")
        over = len(prompt_ids) + len(response_ids) - self.max_length
        if over <= 0:
            return Encoded(prompt_ids, response_ids)
        if self.fmt.overflow == "error":
            raise EndormError(
                f"prompt ({len(prompt_ids)} tokens) + response ({len(response_ids)} tokens) exceeds max_length "
                f"{self.max_length}; to truncate instead, set --overflow (format.overflow in the workflow's config) to "
                "truncate-prompt or truncate-response"
            )
        if self.fmt.overflow == "truncate-prompt":
            if over >= len(prompt_ids):
                raise EndormError(f"response alone ({len(response_ids)} tokens) exceeds max_length {self.max_length}")
            log.warning("truncating %d prompt tokens from the left (max_length %d)", over, self.max_length)
            return Encoded(prompt_ids[over:], response_ids, over)
        if over >= len(response_ids):
            raise EndormError(f"prompt alone ({len(prompt_ids)} tokens) reaches max_length {self.max_length}")
        log.warning("dropping %d trailing response tokens (max_length %d); counted in 'truncated'", over,
                    self.max_length)
        return Encoded(prompt_ids, response_ids[: len(response_ids) - over], over)

    def encode(self, prompt: Prompt, response: str, system: str | None = None) -> tuple[list[int], list[int]]:
        """(prompt ids, response ids) of one text triple, before the length policy (applied by :meth:`fit`)."""
        return self.encode_prompt(prompt, system), self.encode_response(response)
