"""Scoring engine: one forward pass per sequence in length-sorted batches, the vocabulary reduced from hidden states
in chunks.

What goes in is token ids (made by :class:`endorm.core.encoding.PromptEncoder`); what comes out is per-token Q, V and
log pi (:class:`endorm.core.reward.TokenStats`) for one or several temperatures alpha from the same hidden states.
Responses that share a prompt reuse one forward pass of it (its KV cache). Batching is a pure function of the
sequences' lengths (:func:`pack`, :func:`split_responses`), so a batch never depends on the data's content.
"""

from __future__ import annotations

import logging
from typing import Iterable, Sequence

import torch
from tqdm.auto import tqdm

from ..defaults import CHUNK_BYTES, DEFAULT_ALPHA, DEFAULT_BATCH_SIZE, DEFAULT_BATCH_TOKENS
from .encoding import Encoded, Prompt, PromptEncoder, PromptFormat
from ..errors import EndormError
from .reward import TokenStats, lm_head_reduce_alphas

log = logging.getLogger(__name__)



# ----- batching: pure functions of lengths --------------------------------------------------------------------------
def pack(lengths: Sequence[int], max_tokens: int, max_size: int) -> list[list[int]]:
    """Consecutive runs of positions ``0..n-1`` (``lengths`` in the order to pack, longest first) such that a run's
    padded size (its longest length times its count) stays within ``max_tokens`` and its count within
    ``max_size``; a run always holds at least one position."""
    batches: list[list[int]] = []
    batch: list[int] = []
    width = 0
    for k, n in enumerate(lengths):
        new_width = max(width, n)
        if batch and (new_width * (len(batch) + 1) > max_tokens or len(batch) >= max_size):
            batches.append(batch)
            batch, new_width = [], n
        batch.append(k)
        width = new_width
    if batch:
        batches.append(batch)
    return batches


def split_responses(lengths: Sequence[int], prompt_width: int, max_tokens: int, max_size: int) -> list[list[int]]:
    """Sub-batches of responses (``lengths`` longest first) scored against a prefix pass ``prompt_width`` wide: each
    holds as many as ``max_tokens`` allows at its first (widest) length; a response under half that width starts
    the next sub-batch (padding it would cost more)."""
    batches, start = [], 0
    while start < len(lengths):
        width = lengths[start]
        size = max(1, min(max_size, max_tokens // max(1, width + prompt_width)))
        end = start + 1
        while end - start < size and end < len(lengths) and 2 * lengths[end] >= width:
            end += 1
        batches.append(list(range(start, end)))
        start = end
    return batches


class Scorer:
    """Computes per-token Q, V and log pi for responses, one forward pass per sequence.

    Args:
        model: a causal LM (see :func:`endorm.core.loading.load_model`).
        tokenizer, fmt: the tokenizer and format options, for the :class:`PromptEncoder` the scorer builds; or give
            ``encoder`` instead.
        max_batch_tokens: padded tokens per forward batch (length-sorted batches).
        max_batch_size: sequences per batch.
        chunk_size: positions per vocabulary-reduction chunk; ``None`` (default) sizes chunks so one chunk's float32
            logits take at most ``chunk_bytes`` (64 MiB: 110 positions at a 152k vocabulary, 341 at 49k).
        chunk_bytes: memory budget of one chunk when ``chunk_size`` is None.
        share_prefix: responses that share a prompt reuse one forward pass of the prompt (its KV cache), so a row
            of six responses pays for its prompt once. Scores equal the unshared path to float noise (tested).
        progress: show a tqdm bar.

    The temperature alpha is not the scorer's: it is an argument of each call (the caller's
    :class:`endorm.core.reward.RewardOptions`), and several can be reduced from one forward pass.
    """

    def __init__(
        self,
        model,
        tokenizer=None,
        fmt: PromptFormat | None = None,
        *,
        encoder: PromptEncoder | None = None,
        max_batch_tokens: int = DEFAULT_BATCH_TOKENS,
        max_batch_size: int = DEFAULT_BATCH_SIZE,
        chunk_size: int | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        share_prefix: bool = True,
        progress: bool = True,
    ) -> None:
        if encoder is None:
            if tokenizer is None:
                raise ValueError("Scorer needs a tokenizer or an encoder")
            encoder = PromptEncoder.for_model(model, tokenizer, fmt)
        self.encoder = encoder
        self.max_batch_tokens = int(max_batch_tokens)
        self.max_batch_size = int(max_batch_size)
        vocab = model.get_output_embeddings().weight.shape[0]
        self.chunk_size = int(chunk_size) if chunk_size else max(16, chunk_bytes // (4 * vocab))
        self.share_prefix = share_prefix
        self.progress = progress
        self.use_model(model)

    def use_model(self, model) -> None:
        """Score with ``model`` (the same architecture and vocabulary: e.g. another copy of the same weights)."""
        self.model = model
        self.lm_head = model.get_output_embeddings()
        self.decoder = model.base_model
        self.softcap = getattr(model.config, "final_logit_softcapping", None)

    @property
    def tokenizer(self):
        return self.encoder.tokenizer

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ----- scoring --------------------------------------------------------------------------------------------
    def token_stats_ids(self, pairs: Iterable[tuple[Sequence[int], Sequence[int]]], alpha: float = DEFAULT_ALPHA,
                        desc: str = "scoring", labels: Sequence[str] | None = None) -> list[TokenStats]:
        """Per-token stats for (prompt_ids, response_ids) pairs at temperature ``alpha``, in input order."""
        return self.token_stats_alphas(pairs, (alpha,), desc, labels)[alpha]

    def token_stats(self, items: Iterable[tuple[Prompt, str, str | None]], alpha: float = DEFAULT_ALPHA,
                    desc: str = "scoring", skip_unscorable: bool = False,
                    labels: Sequence[str] | None = None) -> list[TokenStats | None]:
        """Per-token stats for (prompt, response, system) triples at temperature ``alpha``, in input order.

        An empty response is scored as what it is: the end-of-turn token alone (``score_eot`` on). With
        ``score_eot`` off it has no token to score: an error, or with ``skip_unscorable`` None in its place (the
        caller counts it; a missing score loses every comparison). ``labels`` name the items in an error (``FILE, row
        N (id X), chosen[0]``).
        """
        pairs = [self.encoder.encode(prompt, response, system) for prompt, response, system in items]
        todo = [k for k, (_, r) in enumerate(pairs) if r or not skip_unscorable]
        if len(todo) == len(pairs):
            return self.token_stats_ids(pairs, alpha, desc, labels)
        log.warning("%d empty response(s) with score_eot off: nothing to score, no score given",
                    len(pairs) - len(todo))
        out: list[TokenStats | None] = [None] * len(pairs)
        kept = [labels[k] for k in todo] if labels is not None else None
        for k, stats in zip(todo, self.token_stats_ids([pairs[k] for k in todo], alpha, desc, kept) if todo else []):
            out[k] = stats
        return out

    def token_stats_alphas(self, pairs: Iterable[tuple[Sequence[int], Sequence[int]]], alphas: Sequence[float],
                           desc: str = "scoring", labels: Sequence[str] | None = None) -> dict[float, list[TokenStats]]:
        """Per-token stats for several temperatures from one forward pass: {alpha: [TokenStats in input order]}."""
        alphas = tuple(float(a) for a in alphas)
        if not alphas or not all(a > 0 for a in alphas):
            raise ValueError(f"alphas must be > 0, got {alphas!r}")
        seqs = []
        for k, (prompt_ids, response_ids) in enumerate(pairs):
            try:
                seqs.append(self.encoder.fit(prompt_ids, response_ids))
            except EndormError as exc:  # too long, or nothing to score: name the item
                if labels is None:
                    raise
                raise EndormError(f"{labels[k]}: {exc}") from None
        out: dict[float, list[TokenStats | None]] = {a: [None] * len(seqs) for a in alphas}
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, seq in enumerate(seqs):
            groups.setdefault(tuple(seq.prompt_ids), []).append(i)
        shared = [g for g in groups.values() if self.share_prefix and len(g) > 1]
        single = [i for g in groups.values() if not (self.share_prefix and len(g) > 1) for i in g]
        # Progress counts the tokens the model actually processes (a shared prompt once).
        total = sum(len(seqs[g[0]].prompt_ids) + sum(len(seqs[i].response_ids) for i in g) for g in shared)
        total += sum(seqs[i].length for i in single)
        bar = tqdm(total=total, desc=desc, unit="tok", disable=not self.progress, mininterval=2.0)
        shared.sort(key=lambda g: -len(seqs[g[0]].prompt_ids))
        for run in pack([len(seqs[g[0]].prompt_ids) for g in shared], self.max_batch_tokens, self.max_batch_size):
            batch = [shared[k] for k in run]
            self._store(out, self._forward_shared(seqs, batch, alphas))
            bar.update(sum(len(seqs[g[0]].prompt_ids) + sum(len(seqs[i].response_ids) for i in g) for g in batch))
        single.sort(key=lambda i: -seqs[i].length)
        for run in pack([seqs[i].length for i in single], self.max_batch_tokens, self.max_batch_size):
            batch = [single[k] for k in run]
            self._store(out, self._forward(seqs, batch, alphas))
            bar.update(sum(seqs[i].length for i in batch))
        bar.close()
        return out  # type: ignore[return-value]

    @staticmethod
    def _store(out: dict, results: dict[int, dict[float, TokenStats]]) -> None:
        for i, by_alpha in results.items():
            for alpha, stats in by_alpha.items():
                out[alpha][i] = stats

    def _reduce(self, flat: torch.Tensor, targets: list[int], seqs: list[Encoded], batch: list[int],
                alphas: tuple[float, ...]) -> dict[int, dict[float, TokenStats]]:
        """Q and V of the gathered states, split back into one TokenStats per sequence and alpha."""
        q, vs = lm_head_reduce_alphas(flat, torch.tensor(targets, device=flat.device), self.lm_head, alphas,
                                      self.softcap, self.chunk_size)
        q = q.double().cpu().tolist()
        vs = [v.double().cpu().tolist() for v in vs]
        out, k = {}, 0
        for i in batch:
            seq = seqs[i]
            h = len(seq.response_ids)
            out[i] = {alpha: TokenStats(list(seq.response_ids), q[k : k + h], v[k : k + h + 1], alpha, seq.truncated,
                                        list(seq.prompt_ids)) for alpha, v in zip(alphas, vs)}
            k += h + 1
        return out

    @torch.inference_mode()
    def _forward_shared(self, seqs: list[Encoded], groups: list[list[int]],
                        alphas: tuple[float, ...]) -> dict[int, dict[float, TokenStats]]:
        """One pass over several shared prompts, then their responses against the prompts' KV cache.

        Prompts are right-padded in the prefix pass (padding never precedes a real token, so no attention row is
        fully masked). Each response row takes its own prompt's cache rows; the attention mask hides the padding
        and position ids continue from the prompt's true length. Responses are length-sorted across groups into
        sub-batches (:func:`split_responses`).
        """
        device = self.device
        prompts = [seqs[g[0]].prompt_ids for g in groups]
        lengths = [len(p) for p in prompts]
        width_p = max(lengths)
        ids = torch.full((len(groups), width_p), self._pad_id(), dtype=torch.long)
        mask = torch.zeros((len(groups), width_p), dtype=torch.long)
        for k, prompt in enumerate(prompts):
            ids[k, : len(prompt)] = torch.tensor(prompt)
            mask[k, : len(prompt)] = 1
        pre = self.decoder(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=True)
        prefix_cache = pre.past_key_values
        if prefix_cache is None:
            raise EndormError("this model returns no KV cache; create the Scorer with share_prefix=False")
        last = pre.last_hidden_state[torch.arange(len(groups), device=device),
                                     torch.tensor(lengths, device=device) - 1]
        del pre
        owner = {i: k for k, g in enumerate(groups) for i in g}
        order = sorted(owner, key=lambda i: -len(seqs[i].response_ids))
        results: dict[int, dict[float, TokenStats]] = {}
        for run in split_responses([len(seqs[i].response_ids) for i in order], width_p, self.max_batch_tokens,
                                   self.max_batch_size):
            batch = [order[k] for k in run]
            width = len(seqs[batch[0]].response_ids)
            ids = torch.full((len(batch), width), self._pad_id(), dtype=torch.long)
            mask = torch.zeros((len(batch), width_p + width), dtype=torch.long)
            positions = torch.zeros((len(batch), width), dtype=torch.long)
            for b, i in enumerate(batch):
                r, p = seqs[i].response_ids, lengths[owner[i]]
                ids[b, : len(r)] = torch.tensor(r)
                mask[b, :p] = 1
                mask[b, width_p : width_p + len(r)] = 1
                positions[b] = torch.arange(p, p + width)
            cache = _select_rows(prefix_cache, torch.tensor([owner[i] for i in batch], device=device))
            hidden = self.decoder(input_ids=ids.to(device), attention_mask=mask.to(device), past_key_values=cache,
                                  position_ids=positions.to(device), use_cache=True).last_hidden_state
            del cache
            # State s_1 is the prompt's last hidden state; s_{k+1} is the response's k-th position.
            states, targets = [], []
            for b, i in enumerate(batch):
                h = len(seqs[i].response_ids)
                states += [last[owner[i]].unsqueeze(0), hidden[b, :h]]
                targets += list(seqs[i].response_ids) + [-1]
            results.update(self._reduce(torch.cat(states), targets, seqs, batch, alphas))
        return results

    def _pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    @torch.inference_mode()
    def _forward(self, seqs: list[Encoded], batch: list[int],
                 alphas: tuple[float, ...]) -> dict[int, dict[float, TokenStats]]:
        device = self.device
        width = max(seqs[i].length for i in batch)
        input_ids = torch.full((len(batch), width), self._pad_id(), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        rows, cols, targets = [], [], []
        for b, i in enumerate(batch):
            seq = seqs[i]
            ids = seq.prompt_ids + seq.response_ids
            input_ids[b, : len(ids)] = torch.tensor(ids)
            mask[b, : len(ids)] = 1
            p, h = len(seq.prompt_ids), len(seq.response_ids)
            # State s_k (k = 1..H+1) is the hidden state at position p-1+k-1; it takes token ids[p+k-1].
            rows += [b] * (h + 1)
            cols += list(range(p - 1, p + h))
            targets += seq.response_ids + [-1]
        hidden = self.decoder(input_ids=input_ids.to(device), attention_mask=mask.to(device)).last_hidden_state
        flat = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
        del hidden
        return self._reduce(flat, targets, seqs, batch, alphas)


def _select_rows(cache, rows: torch.Tensor):
    """A cache holding the given batch rows of ``cache`` (which is left unchanged), one per response."""
    import copy

    out = copy.copy(cache)
    out.layers = [copy.copy(layer) for layer in cache.layers]
    out.reorder_cache(rows)
    return out
