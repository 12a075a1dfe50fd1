"""The reward server on loopback with the tiny model: both protocols against the offline engine, dense rewards, the
verl function, bad requests, auth, queue limits, timeouts, a bounded load test, and graceful shutdown of the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from endorm.engine import PromptFormat, Scorer  # noqa: E402
from endorm.reward import RewardOptions, endogenous_score  # noqa: E402
from endorm.serve import RequestEncoder, ServeLimits, bind, create_app  # noqa: E402

PROMPTS = ["What is two plus two?", "Rate the response on a scale of 1 to 10.", "Which response is better?",
           "Solution: step one, step two.", "Hello world, this is a tiny corpus.", "The mass dimension is -1."]
WORDS = "The answer is 42 . Final answer : 7 Four Yes No A B 1 2 3 step one two **bold** ### Hello world".split()
TOL = 1e-4


class LiveServer:
    """The FastAPI app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, app) -> None:
        import uvicorn

        sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=30))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def relclose(a, b, tol=TOL) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


@pytest.fixture(scope="module")
def scorer(tiny):
    model, tok = tiny
    return Scorer(model, tok, PromptFormat(), progress=False)


@pytest.fixture(scope="module")
def server(scorer):
    limits = ServeLimits(batch_wait_ms=20, max_request_responses=64, max_body_bytes=64 << 10)
    live = LiveServer(create_app(scorer, RewardOptions(), limits, model_name="tiny"))
    yield live
    live.stop()


def offline(scorer, items, reward=RewardOptions()):
    """Scores of (prompt, response, system) triples by the offline engine, as ``endorm score`` computes them."""
    return [endogenous_score(t, reward) for t in scorer.token_stats(items, reward.alpha)]


def post(server, path, body, **kw):
    return httpx.post(server.url + path, json=body, timeout=60, **kw)


def openrlhf_query(scorer, prompt, response):
    """What OpenRLHF sends: the chat-templated prompt, and the query = prompt + response + end of turn (decoded with
    special tokens kept)."""
    rendered = scorer.encoder.render(prompt)
    return rendered, rendered + response + scorer.tokenizer.convert_ids_to_tokens(scorer.encoder.eot_id)


def test_native_score_equals_endorm_score_cli(server, scorer, tiny_dir, tmp_path):
    from endorm.cli import main

    row = {"id": "r1", "prompt": PROMPTS[0], "chosen": ["Four.", "The answer is 4."],
           "rejected": ["Five.", "The answer is 42 ."], "domain": "math", "system": "Answer briefly."}
    (tmp_path / "pairs.jsonl").write_text(json.dumps(row) + "\n")
    out = tmp_path / "scores.jsonl"
    assert main(["score", "--model", str(tiny_dir), "--input", str(tmp_path / "pairs.jsonl"), "--output", str(out),
                 "--quiet"]) == 0
    cli = json.loads(out.read_text())
    r = post(server, "/score", {"prompt": row["prompt"], "system": row["system"], "id": 7,
                                "responses": row["chosen"] + row["rejected"]})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["id"] == 7 and len(data["scores"]) == 4
    for got, want in zip(data["scores"], cli["score_chosen"] + cli["score_rejected"]):
        assert relclose(got, want)
    assert data["prompt_tokens"] == len(scorer.encoder.encode_prompt(row["prompt"], row["system"]))
    # A different system prompt changes the reward (the field is used, not ignored).
    other = post(server, "/score", {"prompt": row["prompt"], "responses": row["chosen"]}).json()["scores"]
    assert not relclose(other[0], data["scores"][0], 1e-6)


def test_dense_rewards_and_reward_options(server, scorer):
    responses = ["The answer is 42 .", "Yes"]
    data = post(server, "/score", {"prompt": PROMPTS[1], "responses": responses, "tokens": True}).json()
    for k, text in enumerate(responses):
        ids = scorer.encoder.encode_response(text)
        assert data["token_ids"][k] == ids and data["num_tokens"][k] == len(ids)
        assert len(data["token_rewards"][k]) == len(ids)
        assert relclose(sum(data["token_rewards"][k]), data["scores"][k])  # sum aggregation, zero terminal
    for opts in ({"terminal": "bootstrap"}, {"alpha": 0.5}, {"aggregation": "discounted", "gamma": 0.5}):
        got = post(server, "/score", {"prompt": PROMPTS[1], "responses": responses, "reward": opts}).json()
        assert got["reward"] == {**{"alpha": 1.0, "terminal": "zero", "aggregation": "sum", "gamma": 0.93}, **opts}
        want = offline(scorer, [(PROMPTS[1], t, None) for t in responses], RewardOptions(**opts))
        assert all(relclose(a, b) for a, b in zip(got["scores"], want)), (opts, got["scores"], want)
        assert not relclose(got["scores"][0], data["scores"][0], 1e-6)


def test_chat_messages_prompt(server, scorer):
    text = post(server, "/score", {"prompt": PROMPTS[2], "responses": ["A"]}).json()["scores"]
    chat = post(server, "/score", {"prompt": [{"role": "user", "content": PROMPTS[2]}], "responses": ["A"]}).json()
    assert relclose(chat["scores"][0], text[0])  # the template's default system prompt either way
    sys_chat = post(server, "/score", {"prompt": [{"role": "system", "content": "Be brief."},
                                                  {"role": "user", "content": PROMPTS[2]}], "responses": ["A"]})
    sys_text = post(server, "/score", {"prompt": PROMPTS[2], "system": "Be brief.", "responses": ["A"]})
    assert relclose(sys_chat.json()["scores"][0], sys_text.json()["scores"][0])
    both = post(server, "/score", {"prompt": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}],
                                   "system": "z", "responses": ["A"]})
    assert both.status_code == 422 and both.json()["field"] == "system"


def test_openrlhf_protocol(server, scorer):
    responses = ["Four.", "The answer is 42 .", "No"]
    pairs = [openrlhf_query(scorer, PROMPTS[0], t) for t in responses]
    body = {"query": [q for _, q in pairs] + [pairs[0][0]], "prompts": [p for p, _ in pairs] + [pairs[0][0]],
            "labels": ["4", "4", "4", None]}
    r = post(server, "/get_reward", body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) == {"rewards", "scores", "extra_logs"}
    assert data["scores"] == data["rewards"] and len(data["rewards"]) == 4
    want = offline(scorer, [(PROMPTS[0], t, None) for t in responses])  # the native encoding, not the query split
    assert all(relclose(a, b) for a, b in zip(data["rewards"][:3], want))
    assert data["rewards"][3] == 0.0 and data["extra_logs"]["endorm_response_tokens"][3] == 0  # empty response
    assert data["extra_logs"]["endorm_response_tokens"][:3] == [len(scorer.encoder.encode_response(t)) for t in responses]
    # Without the end-of-turn token in the query (a truncated response), none is scored.
    cut = post(server, "/get_reward", {"query": [pairs[0][0] + responses[0]], "prompts": [pairs[0][0]]}).json()
    assert cut["extra_logs"]["endorm_response_tokens"][0] == len(scorer.encoder.encode_response(responses[0])) - 1
    bad = post(server, "/get_reward", {"query": [pairs[0][1], "unrelated text"], "prompts": [pairs[0][0]] * 2})
    assert bad.status_code == 422 and bad.json()["field"] == "query.1"
    missing = post(server, "/get_reward", {"query": [pairs[0][1]]})
    assert missing.status_code == 422 and missing.json()["field"] == "prompts"
    uneven = post(server, "/get_reward", {"query": [pairs[0][1]], "prompts": []})
    assert uneven.status_code == 422 and "1 queries" in uneven.json()["error"]


def test_verl_compute_score(server, scorer):
    from endorm.integrations.verl import compute_score, compute_score_batch

    want = offline(scorer, [(PROMPTS[3], "step one", None), (PROMPTS[4], "Hello", None)])
    got = compute_score("gsm8k", "step one", "1", extra_info={"question": PROMPTS[3], "index": 0}, url=server.url)
    assert relclose(got, want[0])
    messages = [{"role": "user", "content": PROMPTS[3]}]
    assert relclose(compute_score("gsm8k", "step one", "1", {"prompt": messages}, url=server.url), want[0])
    assert compute_score("gsm8k", "", "1", {"prompt": messages}, url=server.url) == 0.0
    batch = compute_score_batch(["a"] * 3, ["step one", "Hello", "step one"], ["1"] * 3,
                                [{"prompt": messages}, {"question": PROMPTS[4]}, {"prompt": PROMPTS[3]}],
                                url=server.url)
    assert all(relclose(a, b) for a, b in zip(batch, [want[0], want[1], want[0]]))
    with pytest.raises(ValueError, match="extra_info"):
        compute_score("gsm8k", "x", "1", {"index": 3}, url=server.url)
    with pytest.raises(ValueError, match="role and content"):
        compute_score("gsm8k", "x", "1", {"prompt": [{"role": "user"}]}, url=server.url)
    with pytest.raises(RuntimeError, match="422.*empty prompt"):
        compute_score("gsm8k", "x", "1", {"prompt": ""}, url=server.url)


def test_bad_requests_get_clear_4xx(server, scorer):
    def check(resp, status, field=None, text=None):
        assert resp.status_code == status, resp.text
        body = resp.json()
        assert "error" in body
        if field is not None:
            assert body["field"] == field, body
        if text is not None:
            assert text in body["error"], body

    raw = dict(headers={"content-type": "application/json"}, timeout=30)
    check(httpx.post(server.url + "/score", content=b'{"prompt": "x", "responses": ["a"', **raw), 400,
          text="malformed JSON")
    check(httpx.post(server.url + "/get_reward", content=b"not json", **raw), 400)
    check(post(server, "/score", {"responses": ["a"]}), 422, "prompt", "Field required")
    check(post(server, "/score", {"prompt": "x"}), 422, "responses")
    check(post(server, "/score", {"prompt": "x", "responses": []}), 422, "responses")
    check(post(server, "/score", {"prompt": "x", "responses": "a"}), 422, "responses")
    # an empty response is scored as the end-of-turn token alone, as `endorm score` scores it
    empty = post(server, "/score", {"prompt": "x", "responses": ["a", ""]})
    assert empty.status_code == 200 and relclose(empty.json()["scores"][1], offline(scorer, [("x", "", None)])[0])
    check(post(server, "/score", {"prompt": "x", "responses": ["a"], "respones": 1}), 422, "respones")
    check(post(server, "/score", {"prompt": "x", "responses": ["a"], "reward": {"alpha": -1}}), 422, "reward.alpha")
    check(post(server, "/score", {"prompt": "x", "responses": ["a"], "reward": {"terminal": "x"}}), 422,
          "reward.terminal")
    check(post(server, "/score", {"prompt": 3, "responses": ["a"]}), 422, "prompt")
    check(post(server, "/score", [1, 2]), 422, "body")
    check(post(server, "/get_reward", {"query": "one text"}), 422, "query")
    check(post(server, "/score", {"prompt": "x", "responses": ["a"] * 65}), 413, "responses")
    check(post(server, "/get_reward", {"query": ["a"] * 65, "prompts": ["a"] * 65}), 413, "query")
    check(post(server, "/score", {"prompt": "x" * (70 << 10), "responses": ["a"]}), 413)

    def chunks():  # no Content-Length: the limit applies as the body arrives
        yield b'{"prompt": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'", "responses": ["a"]}'

    check(httpx.post(server.url + "/score", content=chunks(), **raw), 413)
    check(post(server, "/score", {"prompt": "x " * 5000, "responses": ["a"]}), 422, "responses.0", "max_length")
    assert httpx.get(server.url + "/score").status_code == 405
    assert httpx.get(server.url + "/nowhere").status_code == 404
    health = httpx.get(server.url + "/health").json()  # still serving
    assert health["status"] == "ok" and health["queued_responses"] == 0
    metrics = httpx.get(server.url + "/metrics").text
    assert 'endorm_request_errors_total{endpoint="/score",status="422"}' in metrics


@pytest.fixture(scope="module")
def strict(scorer):
    """A server with a bearer token, a 4-response queue and a long batch wait (so requests stay queued)."""
    limits = ServeLimits(batch_wait_ms=1000, max_batch=64, max_queue=4)
    live = LiveServer(create_app(scorer, RewardOptions(), limits, token="s3cret"))
    yield live
    live.stop()


def test_auth(strict):
    body = {"prompt": "x", "responses": ["a"]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        r = httpx.post(strict.url + "/score", json=body, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and r.json()["field"]
    assert httpx.get(strict.url + "/metrics").status_code == 401
    assert httpx.get(strict.url + "/health").status_code == 200
    ok = httpx.post(strict.url + "/score", json=body, headers={"Authorization": "Bearer s3cret"}, timeout=30)
    assert ok.status_code == 200 and len(ok.json()["scores"]) == 1


def test_queue_full_and_timeout(strict):
    auth = {"Authorization": "Bearer s3cret"}
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(httpx.post, strict.url + "/score", json={"prompt": "x", "responses": ["a", "b", "c"]},
                            headers=auth, timeout=30)
        while scraped(strict.url, "endorm_queue_depth", auth) < 3:  # the first waits 1 s in the queue for company
            assert not first.done(), first.result().text
            time.sleep(0.02)
        full = httpx.post(strict.url + "/score", json={"prompt": "y", "responses": ["a", "b"]}, headers=auth)
        assert full.status_code == 429 and int(full.headers["retry-after"]) >= 1
        assert first.result().status_code == 200
    late = httpx.post(strict.url + "/score", json={"prompt": "x", "responses": ["a"], "timeout": 0.1}, headers=auth,
                      timeout=30)
    assert late.status_code == 504 and late.json()["field"] == "timeout"
    again = httpx.post(strict.url + "/score", json={"prompt": "x", "responses": ["a"]}, headers=auth, timeout=30)
    assert again.status_code == 200 and len(again.json()["scores"]) == 1
    assert httpx.get(strict.url + "/health").json()["queued_responses"] == 0


def scraped(url: str, name: str, headers: dict | None = None) -> float:
    for line in httpx.get(url + "/metrics", headers=headers).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_load_32_clients_nothing_lost_or_mixed(server, scorer):
    """32 concurrent clients for a bounded time, both protocols mixed; every answer checked against the offline
    engine, every response scored exactly once, and requests merged into shared engine batches."""
    rng = random.Random(0)
    rendered = {p: scorer.encoder.render(p) for p in PROMPTS}
    eot = scorer.tokenizer.convert_ids_to_tokens(scorer.encoder.eot_id)
    scored_before = scraped(server.url, "endorm_scored_responses_total")
    batches_before = scraped(server.url, "endorm_batch_responses_count")
    answers: list[tuple[str, list[str], list[float]]] = []
    failures: list[str] = []

    async def client(c: int, http, stop_at: float):
        for i in range(40):
            if time.monotonic() > stop_at:
                break
            prompt = PROMPTS[rng.randrange(len(PROMPTS))]
            responses = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) for _ in range(
                rng.randint(1, 4))]
            if (c + i) % 2:
                r = await http.post("/score", json={"prompt": prompt, "responses": responses, "id": f"{c}-{i}"})
                if r.status_code != 200 or r.json()["id"] != f"{c}-{i}":
                    failures.append(r.text)
                    continue
                values = r.json()["scores"]
            else:
                q = [rendered[prompt] + t + eot for t in responses]
                r = await http.post("/get_reward", json={"query": q, "prompts": [rendered[prompt]] * len(q)})
                if r.status_code != 200:
                    failures.append(r.text)
                    continue
                values = r.json()["rewards"]
            answers.append((prompt, responses, values))

    async def main():
        stop_at = time.monotonic() + 12
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http:
            await asyncio.gather(*(client(c, http, stop_at) for c in range(32)))

    asyncio.run(main())
    assert not failures, failures[:3]
    sent = sum(len(r) for _, r, _ in answers)
    assert len(answers) >= 64 and sent == sum(len(v) for _, _, v in answers)
    want = offline(scorer, [(p, t, None) for p, rs, _ in answers for t in rs])
    got = [v for _, _, vs in answers for v in vs]
    bad = [(g, w) for g, w in zip(got, want) if not relclose(g, w)]
    assert not bad, f"{len(bad)} of {len(got)} answers differ from the offline engine: {bad[:3]}"
    assert scraped(server.url, "endorm_scored_responses_total") - scored_before == sent  # none twice, none lost
    batches = scraped(server.url, "endorm_batch_responses_count") - batches_before
    print(f"load: {len(answers)} requests, {sent} responses, {batches:.0f} engine batches")
    assert batches < len(answers) / 2, f"{batches} engine batches for {len(answers)} requests: little merging"


def test_cli_serve_graceful_shutdown(tiny_dir, scorer, tmp_path):
    """``endorm serve`` in its own process: token from a file, SIGTERM while requests are queued, every one of them
    still answered with the right scores, then a clean exit."""
    (tmp_path / "token").write_text("tok-123\n")
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in [str(_src()), os.environ.get("PYTHONPATH")] if p)}
    proc = subprocess.Popen([sys.executable, "-m", "endorm.cli", "serve", "--model", str(tiny_dir), "--port", "0",
                             "--port-file", str(port_file), "--token-file", str(tmp_path / "token"), "--threads", "1",
                             "--batch-wait-ms", "1500"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while not (port_file.is_file() and port_file.read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else "slow"
            time.sleep(0.1)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        auth = {"Authorization": "Bearer tok-123"}
        assert httpx.post(url + "/score", json={"prompt": "x", "responses": ["a"]}).status_code == 401
        bodies = [{"prompt": PROMPTS[k % 2], "responses": [WORDS[k], WORDS[k + 1]]} for k in range(4)]
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(httpx.post, url + "/score", json=b, headers=auth, timeout=60) for b in bodies]
            deadline = time.monotonic() + 30
            while scraped(url, "endorm_requests_in_flight", auth) < 5:  # the 4 (and this scrape) are in
                assert time.monotonic() < deadline
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            answers = [f.result() for f in futures]
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        for body, answer in zip(bodies, answers):
            want = offline(scorer, [(body["prompt"], t, None) for t in body["responses"]])
            assert all(relclose(g, w) for g, w in zip(answer.json()["scores"], want))
        proc.wait(60)
        out = proc.stdout.read()
        assert proc.returncode in (0, -signal.SIGTERM), out
        assert "Application shutdown complete" in out and "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()


def _src():
    import endorm

    return os.path.dirname(os.path.dirname(endorm.__file__))


def test_encoder_strips_distinct_pad_token(scorer):
    """OpenRLHF rule: pad-token text at the query's ends is dropped only when the pad token is not EOS/EOT."""
    import copy

    enc = RequestEncoder(scorer)
    assert enc.pad_text is None  # the tiny tokenizer pads with its EOS: never stripped
    enc = copy.copy(enc)
    enc.pad_text = "<unk>"
    prompt, query = openrlhf_query(scorer, PROMPTS[0], "Four.")
    padded = enc.openrlhf(["<unk><unk>" + query + "<unk>"], [prompt])
    assert padded == enc.openrlhf([query], [prompt])


def test_batcher_shares_a_prompt_across_requests(scorer):
    """Two requests with one response each to the same prompt (OpenRLHF's shape) meet in one engine call and one
    shared prefix pass; scores equal the offline engine's."""
    import copy

    from endorm.batcher import Batcher

    spy = copy.copy(scorer)
    groups = []

    def forward_shared(seqs, batch_groups, alphas):
        groups.append([len(g) for g in batch_groups])
        return Scorer._forward_shared(spy, seqs, batch_groups, alphas)

    spy._forward_shared = forward_shared
    batcher = Batcher(spy, wait_s=0.3)
    try:
        prompt = scorer.encoder.encode_prompt(PROMPTS[5])
        a = batcher.submit([(prompt, scorer.encoder.encode_response("Yes"))], 1.0)
        b = batcher.submit([(prompt, scorer.encoder.encode_response("No"))], 1.0)
        got = [endogenous_score(s, RewardOptions()) for s in a.result(30) + b.result(30)]
    finally:
        batcher.stop(30)
    assert not batcher.alive
    assert groups == [[2]]
    want = offline(scorer, [(PROMPTS[5], "Yes", None), (PROMPTS[5], "No", None)])
    assert all(relclose(g, w) for g, w in zip(got, want))
