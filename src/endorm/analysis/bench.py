"""What the reward costs over a forward pass: the floor, our engine, and the common way, on the same rows.

* (a) floor: the model's plain forward pass over every sequence (prompt + response) in length-sorted batches, as
  ``model(input_ids, attention_mask)`` returns it (logits of every position, in the model's dtype). A second floor,
  ``decoder``, runs the transformer body only (no vocabulary projection).
* (b) engine: :class:`endorm.core.engine.Scorer` (shared prompt pass, response-only chunked vocabulary reduction).
* (c) reference: the common way in public reward benchmarks: one response per forward, full float32 logits,
  ``log_softmax`` and a gather.

Peak memory is measured per variant: on CUDA with the allocator's peak counter, on CPU by sampling the process's
resident memory every few milliseconds during the variant (each variant runs in a fresh process).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import torch

from ..data.assets import RANDOM_ARCHS
from ..defaults import DEFAULT_BATCH_TOKENS

# The paper's Table 1 model's architecture (Qwen/Qwen2.5-7B-Instruct's config.json, as the rehearsal's random-init
# model copies it): no weights needed, randomly initialised.
ARCHS = {"qwen2.5-7b": RANDOM_ARCHS["qwen2.5-7b-instruct"]["config"]}


@dataclass
class BenchSpec:
    """What to run: a model folder or a named architecture (random weights), and the shape of the rows."""

    model: str | None = None
    arch: str | None = None
    layers: int | None = None
    rows: int = 4
    prompt_tokens: int = 256
    response_tokens: tuple[int, ...] = (48, 320, 400)  # concise, detailed plain, detailed markdown
    dtype: str = "float32"
    device: str | None = None
    batch_tokens: int = DEFAULT_BATCH_TOKENS
    seed: int = 0
    repeats: int = 1
    variants: tuple[str, ...] = ("floor", "decoder", "engine", "engine_noshare", "reference")
    threads: int | None = None


def _build(spec: BenchSpec):
    from ..core.loading import load_model, resolve_device, resolve_dtype

    if spec.model:
        model, tok = load_model(spec.model, spec.dtype, spec.device)
        return model, tok
    from transformers import AutoConfig, AutoModelForCausalLM

    kw = dict(ARCHS[spec.arch])
    if spec.layers:
        kw["num_hidden_layers"] = spec.layers
    config = AutoConfig.for_model(**kw)
    torch.manual_seed(spec.seed)
    device = resolve_device(spec.device)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(spec.dtype))
    model.eval()
    return model, SimpleNamespace(pad_token_id=0, chat_template=None, eos_token_id=None)


def make_rows(spec: BenchSpec, vocab: int) -> list[tuple[list[int], list[list[int]]]]:
    """RM-Bench-shaped rows of random token ids: one prompt, 3 chosen + 3 rejected of the styles' lengths."""
    g = torch.Generator().manual_seed(spec.seed)
    rows = []
    for _ in range(spec.rows):
        prompt = torch.randint(100, vocab - 100, (spec.prompt_tokens,), generator=g).tolist()
        responses = [torch.randint(100, vocab - 100, (n,), generator=g).tolist()
                     for _ in range(2) for n in spec.response_tokens]
        rows.append((prompt, responses))
    return rows


def _peak_tracker(device: torch.device):
    """Returns (start, stop) where stop() gives the peak bytes above the level at start()."""
    if device.type == "cuda":
        def start():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return torch.cuda.memory_allocated()

        def stop(base):
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() - base

        return start, stop
    page = os.sysconf("SC_PAGE_SIZE")
    state = {}

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    def start():
        state["peak"], state["run"] = rss(), True

        def poll():
            while state["run"]:
                state["peak"] = max(state["peak"], rss())
                time.sleep(0.002)

        state["thread"] = threading.Thread(target=poll, daemon=True)
        state["thread"].start()
        return rss()

    def stop(base):
        state["run"] = False
        state["thread"].join()
        return max(state["peak"], rss()) - base

    return start, stop


def _floor(model, pairs, batch_tokens, decoder_only: bool) -> None:
    """Plain forward passes over every full sequence, length-sorted, padded to the batch's longest."""
    seqs = sorted((p + r for p, r in pairs), key=len, reverse=True)
    body = model.base_model if decoder_only else model
    device = next(model.parameters()).device
    k = 0
    with torch.inference_mode():
        while k < len(seqs):
            size = max(1, batch_tokens // len(seqs[k]))
            batch = seqs[k : k + size]
            k += size
            ids = torch.zeros((len(batch), len(batch[0])), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for b, s in enumerate(batch):
                ids[b, : len(s)] = torch.tensor(s)
                mask[b, : len(s)] = 1
            body(input_ids=ids.to(device), attention_mask=mask.to(device))  # timed; the output is dropped at once


def reference_scores(model, pairs) -> list[dict]:
    """The common way: one response per forward, full float32 logits, log_softmax, gather."""
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for prompt, response in pairs:
            ids = torch.tensor([prompt + response], device=device)
            logits = model(input_ids=ids).logits[0].float()
            p = len(prompt)
            states = logits[p - 1 :]  # s_1 .. s_{H+1}
            logp = torch.log_softmax(states[:-1], dim=-1)
            target = torch.tensor(response, device=device)
            lp = logp.gather(1, target[:, None]).squeeze(1)
            v = torch.logsumexp(states, dim=-1)
            out.append({"logprob": lp.double().cpu().tolist(), "values": v.double().cpu().tolist()})
            del logits, logp
    return out


def _run_variant(spec: BenchSpec, variant: str, queue) -> None:
    try:
        if spec.threads:
            torch.set_num_threads(spec.threads)
        from ..core.encoding import PromptFormat
        from ..core.engine import Scorer

        model, tok = _build(spec)
        device = next(model.parameters()).device
        vocab = model.get_output_embeddings().weight.shape[0]
        rows = make_rows(spec, vocab)
        pairs = [(p, r) for p, rs in rows for r in rs]
        fmt = PromptFormat(chat_template=False, score_eot=False, max_length=10**9)
        scorer = Scorer(model, tok, fmt, max_batch_tokens=spec.batch_tokens, progress=False,
                        share_prefix=(variant != "engine_noshare"))
        start, stop = _peak_tracker(device)

        def run(pairs):
            if variant in ("floor", "decoder"):
                _floor(model, pairs, spec.batch_tokens, decoder_only=(variant == "decoder"))
                return None
            if variant.startswith("engine"):
                stats = scorer.token_stats_ids(pairs)
                return [{"logprob": s.logprobs, "values": s.values} for s in stats]
            return reference_scores(model, pairs)

        # Warm-up on a short row, so one-time costs (kernels, allocator growth) are not timed.
        small = make_rows(BenchSpec(**{**asdict(spec), "rows": 1, "prompt_tokens": 8, "response_tokens": (4,)}), vocab)
        run([(small[0][0], r) for r in small[0][1]])
        times, result, peak = [], None, 0
        for _ in range(spec.repeats):
            base = start()
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            result = run(pairs)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            peak = max(peak, stop(base))
        tokens = sum(len(p) + len(r) for p, r in pairs)
        queue.put({"variant": variant, "seconds": min(times), "all_seconds": times, "tokens": tokens,
                   "tokens_per_second": tokens / min(times), "peak_extra_bytes": peak, "scores": result})
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        import traceback

        queue.put({"variant": variant, "error": f"{exc}\n{traceback.format_exc()}"})


def run_bench(spec: BenchSpec) -> dict:
    """Each variant in a fresh process (clean memory peaks), then ratios and a score check."""
    ctx = mp.get_context("spawn")
    results = {}
    for variant in spec.variants:
        queue = ctx.Queue()
        proc = ctx.Process(target=_run_variant, args=(spec, variant, queue))
        proc.start()
        res = None
        while res is None:
            try:
                res = queue.get(timeout=5)
            except Exception:  # noqa: BLE001 - queue.Empty: check the child is still alive
                if not proc.is_alive():
                    raise RuntimeError(f"bench variant {variant}: its process died (exit {proc.exitcode}) "
                                       "without a result") from None
        proc.join()
        if "error" in res:
            raise RuntimeError(f"bench variant {variant} failed: {res['error']}")
        results[variant] = res
    out: dict = {"spec": asdict(spec), "machine": machine(spec), "variants": {}}
    for v, r in results.items():
        out["variants"][v] = {k: r[k] for k in ("seconds", "all_seconds", "tokens_per_second", "peak_extra_bytes",
                                               "tokens")}
    t = {v: r["seconds"] for v, r in results.items()}
    ratios = {}
    if "engine" in t and "floor" in t:
        ratios["engine_over_floor"] = t["engine"] / t["floor"]
    if "engine_noshare" in t and "floor" in t:
        ratios["engine_noshare_over_floor"] = t["engine_noshare"] / t["floor"]
    if "engine" in t and "decoder" in t:
        ratios["engine_over_decoder"] = t["engine"] / t["decoder"]
    if "reference" in t and "engine" in t:
        ratios["reference_over_engine"] = t["reference"] / t["engine"]
    out["ratios"] = ratios
    mem = {v: r["peak_extra_bytes"] for v, r in results.items()}
    if "reference" in mem and "engine" in mem and "decoder" in mem:
        # Extra memory of the reward math = peak above what the transformer body alone needs.
        out["reward_math_extra_bytes"] = {v: max(0, mem[v] - mem["decoder"]) for v in ("engine", "reference")}
    if "engine" in results and "reference" in results:
        diffs, rel = [], []
        for a, b in zip(results["engine"]["scores"], results["reference"]["scores"]):
            diffs += [abs(x - y) for x, y in zip(a["logprob"], b["logprob"])]
            diffs += [abs(x - y) for x, y in zip(a["values"], b["values"])]
            # the response's endogenous reward (terminal zero): sum log pi + V(s_1)
            ra, rb = sum(a["logprob"]) + a["values"][0], sum(b["logprob"]) + b["values"][0]
            rel.append(abs(ra - rb) / max(1.0, abs(rb)))
        out["max_abs_diff_engine_vs_reference"] = max(diffs)
        out["max_rel_diff_scores_engine_vs_reference"] = max(rel)
    return out


def machine(spec: BenchSpec) -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpus": os.cpu_count(), "threads": spec.threads or torch.get_num_threads(),
            "date": time.strftime("%Y-%m-%d")}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def to_markdown(result: dict) -> str:
    s = result["spec"]
    name = s["model"] or f"{s['arch']} (random init, {s['layers'] or 'all'} layers)"
    lines = [f"model {name}, {s['dtype']}, {s['rows']} rows x 6 responses, prompt {s['prompt_tokens']} tokens, "
             f"responses {s['response_tokens']} tokens; {result['machine']}", "",
             "| variant | seconds | tokens/s | peak extra memory (MiB) |", "|---|---|---|---|"]
    for v, r in result["variants"].items():
        lines.append(f"| {v} | {r['seconds']:.2f} | {r['tokens_per_second']:.0f} | {r['peak_extra_bytes'] / 2**20:.0f} |")
    lines.append("")
    lines.append("ratios: " + ", ".join(f"{k} = {v:.3f}" for k, v in result["ratios"].items()))
    if "max_abs_diff_engine_vs_reference" in result:
        lines.append(f"max |engine - reference| over per-token log pi and V: "
                     f"{result['max_abs_diff_engine_vs_reference']:.2e}; max relative difference of response scores: "
                     f"{result['max_rel_diff_scores_engine_vs_reference']:.2e}")
    if "reward_math_extra_bytes" in result:
        lines.append("reward-math extra memory above the transformer body (MiB): " + ", ".join(
            f"{k} {v / 2**20:.0f}" for k, v in result["reward_math_extra_bytes"].items()))
    return "\n".join(lines) + "\n"


def dumps(result: dict) -> str:
    return json.dumps(result, indent=2)


def stage_throughput(arch: str = "qwen2.5-7b", layers: int | None = None, dtype: str = "bfloat16",
                     device: str | None = None, batch: int = 64, prompt_tokens: int = 256, new_tokens: int = 512,
                     train_batch: int = 4, train_tokens: int = 2048, seed: int = 0) -> dict:
    """Throughput of the other two kinds of work in the paper's stages, on a random-init paper architecture:
    ``generate`` (greedy sampling with a KV cache, as the judges, RL rollouts and lm-eval do: new tokens per second)
    and ``train`` (forward + backward with activation checkpointing, no optimizer step: tokens per second), so the
    time of each stage can be estimated from measured rates (docs/cluster.md: cost)."""
    spec = BenchSpec(arch=arch, layers=layers, dtype=dtype, device=device, seed=seed)
    model, _ = _build(spec)
    dev = next(model.parameters()).device
    vocab = model.get_output_embeddings().weight.shape[0]
    g = torch.Generator().manual_seed(seed)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    out: dict = {"spec": {"arch": arch, "layers": layers or ARCHS[arch]["num_hidden_layers"], "dtype": dtype,
                          "batch": batch, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
                          "train_batch": train_batch, "train_tokens": train_tokens},
                 "machine": machine(spec)}
    ids = torch.randint(100, vocab - 100, (batch, prompt_tokens), generator=g).to(dev)
    with torch.inference_mode():
        model.generate(ids[:, :8], attention_mask=torch.ones_like(ids[:, :8]), max_new_tokens=4, do_sample=False,
                       min_new_tokens=4, pad_token_id=0)
        sync()
        t0 = time.perf_counter()
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                       min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
        sync()
    secs = time.perf_counter() - t0
    out["generate"] = {"seconds": secs, "new_tokens_per_second": batch * new_tokens / secs}
    model.train()
    model.gradient_checkpointing_enable()
    x = torch.randint(100, vocab - 100, (train_batch, train_tokens), generator=g).to(dev)
    for step in range(2):  # the first is a warm-up
        sync()
        t0 = time.perf_counter()
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        sync()
        secs = time.perf_counter() - t0
        model.zero_grad(set_to_none=True)
    out["train"] = {"seconds": secs, "tokens_per_second": train_batch * train_tokens / secs}
    if dev.type == "cuda":
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out
