"""``endorm bench-serve``: the reward server under 1, 8, 32 concurrent clients against the offline engine, same rows.

Rows are RM-Bench-shaped groups (one prompt, 3 chosen + 3 rejected responses: a GRPO-like group of 6). Each
measurement is a pair, taken back to back so both halves meet the same load on a shared machine: the offline engine
on every row in one :meth:`Scorer.token_stats_ids` call (the best batching it can do), then the server (``endorm
serve`` in its own process, same threads and options) on the same rows at one client count, for one protocol:

* ``native``: one ``POST /score`` per row (the group in one request);
* ``openrlhf``: one ``POST /get_reward`` per response (as OpenRLHF's single-turn executor sends them), so a group
  reaches the server as 6 separate requests that only cross-request batching can bring together again.

Every answer is checked against the offline scores. Throughput is responses (and sequence tokens) per second of
wall time; latency percentiles are per request.
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import EndormError


def bench_rows(path: str, n: int, max_chars: int | None) -> list[dict]:
    from ..data.pairs import load_rmbench_file

    rows = load_rmbench_file(path)[:n]
    if max_chars:
        for row in rows:
            row["chosen"] = [t[:max_chars] for t in row["chosen"]]
            row["rejected"] = [t[:max_chars] for t in row["rejected"]]
    return rows


def _requests(rows, encoder, protocol: str) -> list[tuple[str, dict, list[int]]]:
    """(path, body, indices of the flat response list it covers) for each request."""
    out, k = [], 0
    for row in rows:
        responses = row["chosen"] + row["rejected"]
        if protocol == "native":
            out.append(("/score", {"prompt": row["prompt"], "responses": responses}, list(range(k, k + 6))))
        else:  # the trainer's rendered prompt + the response + the end-of-turn token, as the policy emits it
            rendered = encoder.encoder.render(row["prompt"])
            eot = encoder.tok.convert_ids_to_tokens(encoder.encoder.eot_id)
            for j, text in enumerate(responses):
                out.append(("/get_reward", {"query": [rendered + text + eot], "prompts": [rendered]}, [k + j]))
        k += len(responses)
    return out


async def _drive(url: str, requests, clients: int, token: str | None) -> tuple[float, list[float], dict]:
    import asyncio

    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    todo = list(enumerate(requests))
    latencies, scores = [], {}

    async def client(http):
        while todo:
            i, (path, body, idx) = todo.pop(0)
            t0 = time.perf_counter()
            r = await http.post(url + path, json=body, headers=headers)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise EndormError(f"bench-serve: {path} answered {r.status_code}: {r.text[:300]}")
            data = r.json()
            values = data["scores"] if path == "/score" else data["rewards"]
            for j, v in zip(idx, values):
                scores[j] = v

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=600, limits=limits) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - t0
    return wall, latencies, scores


def _engine_counters(url: str) -> tuple[float, float]:
    """(engine batches, engine seconds) so far, from the server's /metrics."""
    import httpx

    values = {}
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        if line.startswith(("endorm_engine_seconds_count ", "endorm_engine_seconds_sum ")):
            name, value = line.split()
            values[name] = float(value)
    return values["endorm_engine_seconds_count"], values["endorm_engine_seconds_sum"]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(q / 100 * len(values) + 0.5)) - 1))]


def start_server(args_list: list[str], log_path: Path, timeout: float = 300) -> tuple[subprocess.Popen, int]:
    """``endorm serve ARGS --port 0`` in a child process; returns it and its port once /health answers."""
    import httpx

    port_file = Path(tempfile.mkdtemp(prefix="endorm-serve-")) / "port"
    cmd = [sys.executable, "-m", "endorm.cli", "serve", *args_list, "--host", "127.0.0.1", "--port", "0",
           "--port-file", str(port_file)]
    logf = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise EndormError(f"endorm serve exited with {proc.returncode}; see {log_path}")
        if port_file.is_file() and port_file.read_text().strip():
            port = int(port_file.read_text())
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                    return proc, port
            except httpx.TransportError:
                pass
        time.sleep(0.2)
    proc.kill()
    raise EndormError(f"endorm serve did not answer within {timeout} s; see {log_path}")


def run(args) -> dict:
    import asyncio

    import torch

    from ..options import load_from_args
    from ..core.encoding import PromptFormat
    from ..core.engine import Scorer
    from ..core.reward import RewardOptions, endogenous_score
    from .server import RequestEncoder

    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = bench_rows(args.rows_file, args.rows, args.max_chars)
    model, tok = load_from_args(args)
    reward = RewardOptions()
    scorer = Scorer(model, tok, PromptFormat(chat_template=not args.no_chat_template),
                    max_batch_tokens=args.batch_tokens, progress=False)
    encoder = RequestEncoder(scorer)
    pairs = []
    for row in rows:
        prompt_ids, responses = encoder.native(row["prompt"], None, row["chosen"] + row["rejected"])
        pairs += [(prompt_ids, r) for r in responses]
    seq_tokens = sum(len(p) + len(r) for p, r in pairs)
    protocols = args.protocols.split(",")
    clients_list = [int(c) for c in args.clients.split(",")]
    plan = {p: _requests(rows, encoder, p) for p in protocols}
    serve_args = ["--model", args.model, "--dtype", args.dtype, "--threads", str(threads), "--quiet",
                  "--batch-tokens", str(args.batch_tokens), "--batch-wait-ms", str(args.batch_wait_ms)]
    if args.device:
        serve_args += ["--device", args.device]
    if args.no_chat_template:
        serve_args.append("--no-chat-template")
    log_path = Path(tempfile.mkdtemp(prefix="endorm-bench-serve-")) / "server.log"
    proc, port = start_server(serve_args, log_path)
    url = f"http://127.0.0.1:{port}"
    runs = []
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        # Warm-up: one row through each path, so no variant pays first-call costs.
        scorer.token_stats_ids(pairs[:6])
        for p in protocols:
            asyncio.run(_drive(url, plan[p][:1], 1, None))
        for rep in range(args.repeats):
            for p in protocols:
                for c in clients_list:
                    # Paired: the offline engine right before each server run, so both meet the same machine load.
                    t0 = time.perf_counter()
                    stats = scorer.token_stats_ids(pairs)
                    off = time.perf_counter() - t0
                    offline = [endogenous_score(s, reward) for s in stats]
                    before = _engine_counters(url)
                    wall, lat, scores = asyncio.run(_drive(url, plan[p], c, None))
                    after = _engine_counters(url)
                    missing = [j for j in range(len(pairs)) if j not in scores]
                    if missing:
                        raise EndormError(f"bench-serve: {len(missing)} responses got no score")
                    rel = max(abs(scores[j] - offline[j]) / max(1.0, abs(offline[j])) for j in range(len(pairs)))
                    runs.append({"repeat": rep, "protocol": p, "clients": c, "requests": len(plan[p]),
                                 "offline_seconds": off, "server_seconds": wall,
                                 "offline_responses_per_s": len(pairs) / off,
                                 "server_responses_per_s": len(pairs) / wall, "ratio": off / wall,
                                 "p50_ms": 1000 * _pct(lat, 50), "p99_ms": 1000 * _pct(lat, 99),
                                 "engine_batches": after[0] - before[0], "engine_seconds": after[1] - before[1],
                                 "max_rel_diff_vs_offline": rel})
                    r = runs[-1]
                    print(f"[{rep}] {p} x{c}: offline {off:.2f} s, server {wall:.2f} s (ratio {r['ratio']:.2f}), "
                          f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, {r['engine_batches']:.0f} engine "
                          f"batches busy {r['engine_seconds']:.1f} s, max rel diff {rel:.1e}", flush=True)
    finally:
        proc.terminate()
        proc.wait(60)
    return {"model": args.model, "dtype": args.dtype, "device": str(scorer.device), "rows_file": args.rows_file,
            "rows": len(rows), "responses": len(pairs), "sequence_tokens": seq_tokens, "max_chars": args.max_chars,
            "batch_wait_ms": args.batch_wait_ms, "batch_tokens": args.batch_tokens,
            "machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "torch": torch.__version__, "cpus": os.cpu_count(), "threads": threads,
                        "date": time.strftime("%Y-%m-%d")},
            "runs": runs, "summary": summarize(runs)}


def summarize(runs: list[dict]) -> list[dict]:
    """Median and range over repeats per (protocol, clients); the ratio is server / offline throughput of a pair."""
    out = []
    for p, c in sorted({(r["protocol"], r["clients"]) for r in runs}):
        sel = [r for r in runs if r["protocol"] == p and r["clients"] == c]
        med = lambda key: statistics.median(r[key] for r in sel)  # noqa: E731
        out.append({"protocol": p, "clients": c, "repeats": len(sel), "requests": sel[0]["requests"],
                    "offline_responses_per_s": med("offline_responses_per_s"),
                    "server_responses_per_s": med("server_responses_per_s"),
                    "server_min": min(r["server_responses_per_s"] for r in sel),
                    "server_max": max(r["server_responses_per_s"] for r in sel),
                    "ratio": med("ratio"), "ratio_min": min(r["ratio"] for r in sel),
                    "ratio_max": max(r["ratio"] for r in sel), "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"),
                    "engine_batches": med("engine_batches"),
                    "engine_busy": statistics.median(r["engine_seconds"] / r["server_seconds"] for r in sel),
                    "max_rel_diff_vs_offline": max(r["max_rel_diff_vs_offline"] for r in sel)})
    return out


def to_markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"model {result['model']}, {result['dtype']}, {result['device']}; {result['rows']} RM-Bench rows "
             f"({result['rows_file']}, responses cut to {result['max_chars']} characters) = {result['responses']} "
             f"responses, {result['sequence_tokens']} prompt+response tokens; batch wait {result['batch_wait_ms']} ms; "
             f"{m['platform']}, torch {m['torch']}, {m['cpus']} CPUs, {m['threads']} threads, {m['date']}", "",
             "| protocol | clients | requests | offline responses/s | server responses/s (range) | server / offline "
             "(median, range) | p50 ms | p99 ms | engine batches | engine busy | max rel. diff |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["summary"]:
        lines.append(f"| {r['protocol']} | {r['clients']} | {r['requests']} | {r['offline_responses_per_s']:.2f} | "
                     f"{r['server_responses_per_s']:.2f} ({r['server_min']:.2f}-{r['server_max']:.2f}) | "
                     f"{r['ratio']:.2f} ({r['ratio_min']:.2f}-{r['ratio_max']:.2f}) | {r['p50_ms']:.0f} | "
                     f"{r['p99_ms']:.0f} | {r['engine_batches']:.0f} | {100 * r['engine_busy']:.0f}% | "
                     f"{r['max_rel_diff_vs_offline']:.1e} |")
    return "\n".join(lines) + "\n"
