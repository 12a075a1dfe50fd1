"""Batched generation for many prompts with a causal LM: continuous batching on a key-value cache.

``transformers``' ``generate`` runs a batch until its longest row ends, so every finished row keeps costing a forward
step, and it prefills every copy of a repeated prompt (several samples per problem). :func:`generate_many` keeps up to
``max_batch`` rows in flight: a row leaves the batch as soon as it ends (an end-of-sequence token, a stop string or
the token limit) and waiting prompts take the free slots, each distinct prompt prefilled once and its cache copied
to its samples. Rows are left-padded in one shared cache; each row's positions follow its own tokens, so a row's
computation does not depend on its neighbours (up to floating-point summation order).

Sampling draws each row's tokens from its own generator seeded by ``seeds[i]``, so a row's sample is the same
whatever the batch size, the other prompts or their order. Greedy decoding takes the argmax.

On a CPU the decode step of a small model is bound by reading the weights, so larger batches amortise it; the
prefill is compute-bound. Both are measured in ``docs/`` (tokens per second per stage).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import torch
from transformers.cache_utils import DynamicLayer

from ..errors import EndormError


def _sample(logits: torch.Tensor, temperature: float | torch.Tensor, top_k: int, top_p: float,
            generators: Sequence[torch.Generator] | None,
            entropy: list | None = None) -> torch.Tensor:
    """Next token per row from float32 ``logits`` [rows, vocab]: greedy when ``generators`` is None, else one draw
    from ``softmax(logits / temperature)`` (after ``top_k`` and ``top_p``) per row, by the inverse of its cumulative
    distribution at one uniform number from the row's own generator. One uniform per row keeps each row's draws
    independent of the batch; the cumulative sums are vectorised over the batch (a per-row ``torch.multinomial``
    over a 150k vocabulary costs milliseconds per row and step). ``temperature``: one for every row, or a [rows]
    tensor. ``entropy``: a list to which the entropy (nats, [rows]) of each row's sampling distribution is appended.
    ``logits`` is overwritten."""
    if generators is None:
        return logits.argmax(dim=-1)
    vocab = logits.shape[-1]
    # in place: these are [rows, 150k] passes, the cost of a step's sampling
    weights = logits.sub_(logits.amax(dim=-1, keepdim=True))
    if isinstance(temperature, torch.Tensor):
        weights = weights.div_(temperature.to(weights.dtype).unsqueeze(-1))
    else:
        weights = weights.mul_(1.0 / temperature)
    if top_k and top_k < vocab:
        weights.masked_fill_(weights < torch.topk(weights, top_k, dim=-1).values[:, -1:], float("-inf"))
    weights = weights.exp_()
    if top_p < 1.0:
        sorted_w, order = torch.sort(weights, dim=-1, descending=True)
        drop = (sorted_w.cumsum(-1) - sorted_w) / sorted_w.sum(dim=-1, keepdim=True) > top_p
        weights = weights.scatter(-1, order, sorted_w.masked_fill(drop, 0.0))
    if entropy is not None:
        entropy.append(torch.special.entr(weights / weights.sum(dim=-1, keepdim=True)).sum(-1).double())
    cdf = weights.cumsum_(dim=-1)
    u = torch.cat([torch.rand(1, generator=g) for g in generators])
    picked = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1), right=True).squeeze(-1)
    return picked.clamp_(max=logits.shape[-1] - 1)


def derived_seeds(keys: Sequence[int], n: int) -> list[int]:
    """``n`` seeds (62-bit) derived from ``keys`` by numpy's ``SeedSequence``: independent streams for every
    distinct key tuple (for example (run seed, step) or (run seed, prompt, sample))."""
    import numpy as np

    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(n, dtype=np.uint64)
    return [int(x) & ((1 << 62) - 1) for x in state]


def _room(length: int) -> int:
    """Spare cache columns after ``length`` used ones: appending a decode step then writes in place, and a full
    buffer is copied once per ``max(64, length // 2)`` steps instead of once per step (``torch.cat`` in
    ``transformers``' ``DynamicLayer`` copies the whole cache every step: about half of a decode step's time at 128
    rows and 450-token contexts on a 2-core CPU)."""
    return max(64, length // 2)


class _SlotLayer(DynamicLayer):
    """One layer's keys and values as views ``[rows, heads, start:start + length]`` of buffers with room after them.

    A ``transformers`` ``DynamicLayer`` whose ``update`` writes into the room instead of concatenating; ``keys``,
    ``values``, ``get_seq_length`` and ``get_mask_sizes`` read as a ``DynamicLayer``'s. The values are the same;
    only where they live differs. Assigning ``keys`` or ``values`` (as ``transformers``' own cache methods do) stores
    the tensor as it is."""

    def __init__(self, keys: torch.Tensor | None = None, values: torch.Tensor | None = None):
        # no super().__init__: keys and values are views of the buffers
        self._k = self._v = None
        self._start = self._length = 0
        self.is_initialized = keys is not None
        if keys is not None:
            self._fill(keys, values)

    def _fill(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        self.is_initialized, self.dtype, self.device = True, keys.dtype, keys.device
        rows, heads, length, dim = keys.shape
        self._k = keys.new_empty(rows, heads, length + _room(length), dim)
        self._v = values.new_empty(rows, values.shape[1], length + _room(length), values.shape[3])
        self._k[:, :, :length], self._v[:, :, :length] = keys, values
        self._start, self._length = 0, length

    @property
    def keys(self) -> torch.Tensor | None:
        return None if self._k is None else self._k[:, :, self._start : self._start + self._length]

    @keys.setter
    def keys(self, tensor: torch.Tensor | None) -> None:
        self._assign("_k", tensor)

    @property
    def values(self) -> torch.Tensor | None:
        return None if self._v is None else self._v[:, :, self._start : self._start + self._length]

    @values.setter
    def values(self, tensor: torch.Tensor | None) -> None:
        self._assign("_v", tensor)

    def _assign(self, name: str, tensor: torch.Tensor | None) -> None:
        """Store one of the two tensors as it is (None: reset); the other keeps its values from position 0."""
        if tensor is None:
            setattr(self, name, None)
            self._start = self._length = 0
            return
        if self._start:
            self._k, self._v, self._start = self.keys, self.values, 0
        setattr(self, name, tensor)
        self._length = tensor.shape[-2]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if self._k is None:
            self._fill(key_states, value_states)
            return self.keys, self.values
        new = key_states.shape[-2]
        end = self._start + self._length
        if end + new > self._k.shape[2]:
            self._fill(self.keys, self.values)
            end = self._length
        self._k[:, :, end : end + new], self._v[:, :, end : end + new] = key_states, value_states
        self._length += new
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self._length

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self._length + query_length, 0

    def get_max_length(self) -> int:
        return -1

    def select_rows(self, idx: torch.Tensor) -> None:
        self._k, self._v = self._k.index_select(0, idx), self._v.index_select(0, idx)

    def drop_leading(self, n: int) -> None:
        self._start += n
        self._length -= n


def growing_cache(model):
    """A ``transformers`` ``DynamicCache`` whose layers append in place (:class:`_SlotLayer`), for ``generate``'s
    ``past_key_values``: the same keys and values, fewer copies. None (``generate`` makes its own cache) for a model
    with layers other than full attention (sliding windows, linear attention)."""
    kinds = getattr(model.config.get_text_config(decoder=True), "layer_types", None) or ["full_attention"]
    return _slot_cache() if set(kinds) == {"full_attention"} else None


def _slot_cache():
    """An empty ``DynamicCache`` that makes a :class:`_SlotLayer` for each layer it meets."""
    from transformers import DynamicCache

    cache = DynamicCache()
    cache.layer_class_to_replicate = _SlotLayer
    return cache


class _Batch:
    """The rows in flight: a shared left-padded cache, each row's mask, next position and generated tokens."""

    def __init__(self, cache, mask: torch.Tensor, positions: torch.Tensor, rows: list[int]):
        self.cache, self.mask, self.positions, self.rows = cache, mask, positions, rows

    def __len__(self) -> int:
        return len(self.rows)

    def _layers(self) -> list[_SlotLayer]:
        return self.cache.layers

    def select(self, keep: list[int]) -> None:
        idx = torch.tensor(keep, dtype=torch.long)
        for layer in self._layers():
            layer.select_rows(idx)
        self.mask, self.positions = self.mask.index_select(0, idx), self.positions.index_select(0, idx)
        self.rows = [self.rows[k] for k in keep]
        self.trim()

    def trim(self) -> None:
        """Drop the leading cache columns that are padding for every row."""
        lead = int((self.mask.cumsum(dim=1) == 0).sum(dim=1).min()) if len(self) else 0
        if lead:
            for layer in self._layers():
                layer.drop_leading(lead)
            self.mask = self.mask[:, lead:]

    def merge(self, other: "_Batch") -> None:
        """Append ``other``'s rows, left-padding the shorter cache with masked zeros."""
        la, lb = self.mask.shape[1], other.mask.shape[1]
        length = max(la, lb)

        def pad(t, n):
            return t if n == 0 else torch.cat([t.new_zeros(*t.shape[:2], n, t.shape[3]), t], dim=2)

        for mine, theirs in zip(self._layers(), other._layers()):
            mine._fill(torch.cat([pad(mine.keys, length - la), pad(theirs.keys, length - lb)]),
                       torch.cat([pad(mine.values, length - la), pad(theirs.values, length - lb)]))
        self.mask = torch.cat([torch.nn.functional.pad(self.mask, (length - la, 0)),
                               torch.nn.functional.pad(other.mask, (length - lb, 0))])
        self.positions = torch.cat([self.positions, other.positions])
        self.rows += other.rows


@torch.no_grad()
def generate_many(model, prompts: Sequence[Sequence[int]], *, max_new_tokens: int | Sequence[int],
                  stop_ids: Sequence[int] = (), temperature: float | Sequence[float] = 0.0, top_k: int = 0,
                  top_p: float = 1.0, seeds: Sequence[int] | None = None, max_batch: int = 64,
                  prefill_tokens: int = 4096, stop_check: Callable[[list[int]], bool] | None = None, pad_id: int = 0,
                  progress: Callable[[int], None] | None = None,
                  entropy: bool = False) -> tuple[list[list[int]], dict]:
    """Generate a continuation of every prompt (token ids); returns (continuations, stats).

    Args:
        max_new_tokens: the token limit, one for all or one per prompt.
        stop_ids: token ids that end a row (kept as its last token, as ``generate`` keeps the EOS).
        temperature: 0 for greedy decoding; else sampling from ``softmax(logits / temperature)`` after ``top_k``
            (0: off) and ``top_p`` (1: off), each row with ``torch.Generator().manual_seed(seeds[i])``. One
            temperature for every prompt, or one per prompt (all > 0: several temperatures share a batch).
        max_batch: rows in flight at most; ``prefill_tokens``: padded prompt tokens per prefill forward pass.
        stop_check: called with a row's generated ids after each step; True ends the row (stop strings).
        progress: called with the number of rows that just finished.
        entropy: also record, for every generated token, the entropy (nats) of the distribution it was drawn from
            (``softmax(logits / temperature)`` after ``top_k`` and ``top_p``); sampling only.

    Stats: ``prompt_tokens`` (prefilled, each distinct prompt once), ``generated_tokens``, ``seconds``, ``steps``;
    with ``entropy``, ``entropies``: one list per prompt, aligned with its continuation.
    """
    n = len(prompts)
    limits = [int(max_new_tokens)] * n if isinstance(max_new_tokens, int) else [int(m) for m in max_new_tokens]
    if len(limits) != n:
        raise EndormError(f"generate_many: {n} prompts but {len(limits)} token limits")
    if any(not p for p in prompts):
        raise EndormError("generate_many: an empty prompt has no position to generate from")
    per_row = not isinstance(temperature, (int, float))
    if per_row:
        temps = torch.tensor([float(t) for t in temperature], dtype=torch.float32)
        if len(temps) != n or not bool((temps > 0).all()):
            raise EndormError(f"generate_many: one temperature > 0 per prompt ({n}), got {list(temperature)!r}")
    sampling = per_row or temperature > 0
    if sampling and (seeds is None or len(seeds) != n):
        raise EndormError("generate_many: sampling needs one seed per prompt")
    if entropy and not sampling:
        raise EndormError("generate_many: entropies are recorded when sampling (temperature > 0)")
    entropies: list[list[float]] | None = [[] for _ in range(n)] if entropy else None

    def draw(logits: torch.Tensor, rows: list[int]) -> tuple[torch.Tensor, list | None]:
        step = [] if entropy else None
        t = temps[rows] if per_row else temperature
        tokens = _sample(logits, t, top_k, top_p, [generators[r] for r in rows] if sampling else None, step)
        return tokens, (step[0].tolist() if step else None)

    generators = ([torch.Generator().manual_seed(int(s)) for s in seeds] if sampling else None)
    stop_set = {int(s) for s in stop_ids}
    out: list[list[int]] = [[] for _ in range(n)]
    # identical prompts are prefilled once: admit them together
    order = sorted(range(n), key=lambda i: (len(prompts[i]), tuple(prompts[i]), i))
    pending = list(order)
    device = next(model.parameters()).device
    stats = {"prompt_tokens": 0, "generated_tokens": 0, "steps": 0}
    start = time.perf_counter()
    batch: _Batch | None = None
    last = torch.empty(0, dtype=torch.long)  # the token each row in flight chose last

    while pending or (batch is not None and len(batch)):
        active = len(batch) if batch is not None else 0
        free = max_batch - active
        if pending and (not active or free >= max(1, max_batch // 4)):
            admit, pending = pending[:free], pending[free:]
            new, first = _prefill(model, prompts, admit, prefill_tokens, device, stats)
            tokens, step_entropy = draw(first, admit)
            if active:
                batch.merge(new)
                last = torch.cat([last, tokens])
            else:
                batch, last = new, tokens
            fresh = range(active, len(batch))  # only the new rows chose a token
        else:
            batch.mask = torch.nn.functional.pad(batch.mask, (0, 1), value=1)
            logits = model(input_ids=last.view(-1, 1).to(device), attention_mask=batch.mask.to(device),
                           position_ids=batch.positions.view(-1, 1).to(device), past_key_values=batch.cache,
                           use_cache=True).logits[:, -1].float().cpu()
            batch.positions = batch.positions + 1
            stats["steps"] += 1
            last, step_entropy = draw(logits, batch.rows)
            fresh = range(len(batch))
        # record the tokens just chosen; rows that end leave the batch
        ended = set()
        chosen = last.tolist()
        for j, k in enumerate(fresh):
            row = batch.rows[k]
            out[row].append(chosen[k])
            if entropies is not None:
                entropies[row].append(step_entropy[j])
            if chosen[k] in stop_set or len(out[row]) >= limits[row] or (stop_check and stop_check(out[row])):
                ended.add(k)
        stats["generated_tokens"] += len(fresh)
        if ended:
            if progress:
                progress(len(ended))
            keep = [k for k in range(len(batch)) if k not in ended]
            batch.select(keep)
            last = last[keep]
    stats["seconds"] = time.perf_counter() - start
    if entropies is not None:
        stats["entropies"] = entropies
    return out, stats


def _prefill(model, prompts, rows: list[int], budget: int, device, stats) -> tuple[_Batch, torch.Tensor]:
    """Prefill the distinct prompts among ``rows`` (in chunks of about ``budget`` padded tokens) and copy each
    one's cache to its rows; returns the batch and the last-position logits per row (float32, on the CPU)."""
    distinct: dict[tuple, int] = {}
    for r in rows:
        distinct.setdefault(tuple(prompts[r]), len(distinct))
    uniq = list(distinct)
    parts: list[_Batch] = []
    logits = []
    k = 0
    while k < len(uniq):
        longest, j = 0, k
        while j < len(uniq) and max(longest, len(uniq[j])) * (j - k + 1) <= max(budget, len(uniq[k])):
            longest = max(longest, len(uniq[j]))
            j += 1
        chunk = uniq[k:j]
        ids = torch.full((len(chunk), longest), 0, dtype=torch.long)
        mask = torch.zeros((len(chunk), longest), dtype=torch.long)
        for i, p in enumerate(chunk):
            ids[i, longest - len(p):] = torch.tensor(p)
            mask[i, longest - len(p):] = 1
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        cache = _slot_cache()
        logits.append(model(input_ids=ids.to(device), attention_mask=mask.to(device),
                            position_ids=positions.to(device), past_key_values=cache, use_cache=True,
                            logits_to_keep=1).logits[:, -1].float().cpu())
        stats["prompt_tokens"] += int(mask.sum())
        part = _Batch(cache, mask, mask.sum(1), list(range(k, j)))
        if parts:
            parts[0].merge(part)
        else:
            parts.append(part)
        k = j
    batch = parts[0]
    index = [distinct[tuple(prompts[r])] for r in rows]
    batch.select(index)
    batch.rows = list(rows)
    return batch, torch.cat(logits).index_select(0, torch.tensor(index))
