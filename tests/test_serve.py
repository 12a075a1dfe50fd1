"""The reward server on loopback with the tiny model: both protocols against the offline engine, dense rewards, the
verl function, bad requests (and 2,000 random ones: never a 5xx), auth, start-up checks before the model loads, queue
limits, timeouts, a bounded load test, and graceful shutdown of the CLI."""

from __future__ import annotations

import asyncio
import collections
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from endorm.core.engine import PromptFormat, Scorer  # noqa: E402
from endorm.core.reward import RewardOptions, endogenous_score  # noqa: E402
from endorm.serve.server import RequestEncoder, ServeLimits, bind, create_app  # noqa: E402

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
    with pytest.raises(RuntimeError, match="422.*'prompt' is empty"):
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


def raw_post(server, path, body, **kw):
    """``body`` as Python's json writes it: NaN and Infinity as JavaScript literals, lone surrogates as escapes."""
    return httpx.post(server.url + path, content=json.dumps(body, allow_nan=True).encode(),
                      headers={"content-type": "application/json"}, timeout=60, **kw)


def test_server_refuses_what_score_refuses(server, tiny_dir, tmp_path, capsys):
    """Lone surrogates, non-finite or out-of-range reward options and empty prompts are 422s naming the field, in
    `endorm score`'s words; never a 500, never a 200 with null scores."""
    from endorm.cli import main

    def refused(resp, field, *words):
        assert resp.status_code == 422, (resp.status_code, resp.text)
        body = resp.json()  # valid JSON even when the request held a lone surrogate
        assert body["field"] == field, body
        for w in words:
            assert w in body["error"], body
        return body["error"]

    ok = {"prompt": "What is two plus two?", "responses": ["Four.", "4"]}
    surrogate = "holds a lone surrogate (\\ud800), which is not valid Unicode; expected text"
    said = refused(raw_post(server, "/score", {**ok, "prompt": "x\ud800"}), "prompt", surrogate)
    refused(raw_post(server, "/score", {**ok, "responses": ["a", "b\ud800"]}), "responses.1", surrogate)
    refused(raw_post(server, "/score", {**ok, "system": "\udfff"}), "system", "lone surrogate (\\udfff)")
    refused(raw_post(server, "/score", {**ok, "prompt": [{"role": "user", "content": "\ud800"}]}), "prompt.0.content",
            surrogate)
    refused(raw_post(server, "/score", {**ok, "id": "\ud800"}), "id", surrogate)
    refused(raw_post(server, "/get_reward", {"query": ["a\ud800b"], "prompts": ["a"]}), "query.0", surrogate)
    assert raw_post(server, "/score", {**ok, "\ud800": 1}).status_code == 422  # an unknown key, echoed as JSON
    # `endorm score` says the same of a pair file's row
    (tmp_path / "p.jsonl").write_text('{"id": 1, "prompt": "x\\ud800", "chosen": "a", "rejected": "b"}\n')
    assert main(["score", "--model", str(tiny_dir), "--input", str(tmp_path / "p.jsonl"), "--output",
                 str(tmp_path / "o.jsonl")]) == 2
    assert surrogate in capsys.readouterr().err and surrogate in said

    alpha_range = "a finite number in [0.001, 1000]"
    for alpha in (float("inf"), float("nan"), 1e-300, 1e300, 0, -1):
        refused(raw_post(server, "/score", {**ok, "reward": {"alpha": alpha}}), "reward.alpha", alpha_range)
    for gamma in (float("inf"), float("nan"), 0, 2):
        refused(raw_post(server, "/score", {**ok, "reward": {"aggregation": "discounted", "gamma": gamma}}),
                "reward.gamma", "(0, 1]")
    refused(raw_post(server, "/score", {**ok, "timeout": float("inf")}), "timeout", "finite")
    assert main(["score", "--model", str(tiny_dir), "--input", str(tmp_path / "p.jsonl"), "--output",
                 str(tmp_path / "o.jsonl"), "--alpha", "1e-300"]) == 2
    assert alpha_range in capsys.readouterr().err
    # the bounds give finite scores at both ends
    for alpha in (0.001, 1000):
        r = post(server, "/score", {**ok, "reward": {"alpha": alpha}, "tokens": True})
        assert r.status_code == 200 and all(isinstance(x, float) for x in r.json()["scores"]), r.text

    refused(post(server, "/score", {**ok, "prompt": []}), "prompt", "empty message list")
    refused(post(server, "/score", {**ok, "prompt": " \n "}), "prompt", "field 'prompt' is empty")
    refused(post(server, "/get_reward", {"query": [" a"], "prompts": [" "]}), "prompts.0", "empty prompt")
    assert httpx.get(server.url + "/health").json()["status"] == "ok"


# ----- random requests: 2xx or 4xx, never a 5xx, and the server still answers ------------------------------------
TEXT = st.text(max_size=12) | st.text(st.sampled_from("a \n\x00\u00e9\ud800\udfff"), max_size=6)  # surrogates often
NUMBER = (st.floats() | st.integers(-(2**70), 2**70)
          | st.sampled_from([1e-300, 1e300, 0.0, -0.0, 0.001, 1000.0, float("inf"), float("nan")]))
KEYS = st.sampled_from(["prompt", "responses", "system", "reward", "tokens", "id", "timeout", "query", "prompts",
                        "labels", "alpha", "terminal", "aggregation", "gamma", "role", "content"]) | TEXT
ANY = st.recursive(st.none() | st.booleans() | NUMBER | TEXT,
                   lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=6)
WORD = st.sampled_from(WORDS + PROMPTS + ["", " ", "\n", "<|im_end|>", "<s>", "<|im_start|>assistant"]) | TEXT
MESSAGES = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "tool"]),
                                           "content": WORD}), max_size=3)
REWARD = st.fixed_dictionaries({}, optional={"alpha": NUMBER, "gamma": NUMBER,
                                             "terminal": st.sampled_from(["zero", "bootstrap", "none"]),
                                             "aggregation": st.sampled_from(["sum", "mean", "discounted", "max"])})
NATIVE = st.fixed_dictionaries(
    {"prompt": WORD | MESSAGES, "responses": st.lists(WORD, max_size=3)},
    optional={"system": st.none() | WORD, "reward": REWARD, "tokens": st.booleans(), "id": st.none() | NUMBER | WORD,
              "extra": ANY,
              # a tiny positive timeout is a legitimate 504; these are refused or harmless
              "timeout": st.sampled_from([0, -1, 30, 1e300, float("inf"), float("nan"), "x", None])})


@st.composite
def openrlhf(draw):
    """A group of queries, mostly prompt + response as OpenRLHF sends them, with odd texts and mismatches."""
    prompt, n = draw(WORD), draw(st.integers(1, 3))
    queries = [prompt + draw(WORD) if draw(st.integers(0, 3)) else draw(WORD) for _ in range(n)]
    prompts = draw(st.sampled_from(["same", "same", "same", "other", "none"]))
    body = {"query": queries, "prompts": [prompt] * n if prompts == "same" else
            draw(st.lists(WORD, max_size=3)) if prompts == "other" else None}
    if draw(st.booleans()):
        body["labels"] = draw(ANY)
    return body


BODY = st.one_of(st.binary(max_size=40), ANY.map(lambda v: json.dumps(v, allow_nan=True).encode()),
                 NATIVE.map(lambda v: json.dumps(v, allow_nan=True).encode()),
                 openrlhf().map(lambda v: json.dumps(v, allow_nan=True).encode()))
BODIES_PER_EXAMPLE = 4


@pytest.fixture(scope="module")
def quick(scorer):
    """A server that scores at once (no batch wait), for many small requests."""
    live = LiveServer(create_app(scorer, RewardOptions(), ServeLimits(batch_wait_ms=0, max_request_responses=8)))
    live.http = httpx.Client(base_url=live.url, timeout=60)
    live.sent = collections.Counter()
    yield live
    live.http.close()
    live.stop()


@settings(max_examples=2000 // BODIES_PER_EXAMPLE, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies=st.lists(BODY, min_size=BODIES_PER_EXAMPLE, max_size=BODIES_PER_EXAMPLE))
def test_random_requests_never_get_a_5xx(quick, bodies):
    """Random bodies (bytes, any JSON, and bodies shaped like each protocol's with odd values) at both POST endpoints,
    the GET endpoints in between: every answer is 2xx or 4xx, an error says what is wrong, a score is a number."""
    for body in bodies:
        for path in ("/score", "/get_reward"):
            r = quick.http.post(path, content=body, headers={"content-type": "application/json"})
            quick.sent[path, r.status_code] += 1
            assert r.status_code < 500, (path, body, r.status_code, r.text)
            if r.status_code >= 400:
                assert r.json()["error"]
            elif path == "/score":
                assert all(isinstance(x, float) for x in r.json()["scores"])  # never null scores
    path = ("/health", "/metrics")[len(bodies[0]) % 2]
    r = quick.http.get(path)
    quick.sent[path, r.status_code] += 1
    assert r.status_code == 200, r.text


def test_server_answers_after_the_random_requests(quick, scorer):
    sent = dict(quick.sent)
    print("random requests by endpoint and status:", sorted(sent.items()))
    for path in ("/score", "/get_reward"):  # enough of them, and some were scored
        assert sum(n for (p, _), n in sent.items() if p == path) >= 2000 and sent.get((path, 200), 0) >= 10, sent
    assert quick.http.get("/health").json()["status"] == "ok"
    r = quick.http.post("/score", json={"prompt": PROMPTS[0], "responses": ["Four."]})
    assert r.status_code == 200 and relclose(r.json()["scores"][0], offline(scorer, [(PROMPTS[0], "Four.", None)])[0])
    assert 'status="5' not in quick.http.get("/metrics").text  # no request before this one ended in a 5xx either


@pytest.fixture(scope="module")
def strict(scorer):
    """A server with a bearer token, a 4-response queue and a long batch wait (so requests stay queued)."""
    limits = ServeLimits(batch_wait_ms=1000, max_batch=64, max_queue=4)
    live = LiveServer(create_app(scorer, RewardOptions(), limits, token="s3cret"))
    yield live
    live.stop()


# ----- start-up: refused before the model loads, naming the token's source, the file or the address ---------------
@pytest.fixture
def no_model(monkeypatch):
    """``endorm serve`` whose model load fails the test: what is refused is refused before it."""
    import endorm.options

    def load(args):
        raise AssertionError("the model was loaded before the start-up problem was found")

    monkeypatch.setattr(endorm.options, "load_from_args", load)
    monkeypatch.delenv("ENDORM_TOKEN", raising=False)


@pytest.mark.parametrize("way,value,source", [("--token", "", "--token"), ("--token", " \t ", "--token"),
                                              ("--token-file", "\n", "--token-file"),
                                              ("--token-file", "", "--token-file"),
                                              ("ENDORM_TOKEN", " ", "$ENDORM_TOKEN"),
                                              ("ENDORM_TOKEN", "", "$ENDORM_TOKEN")])
def test_empty_token_is_refused_at_start(way, value, source, no_model, tmp_path, monkeypatch, capsys):
    from endorm.cli import main

    argv = ["serve", "--model", "m", "--port", "0"]
    if way == "--token":
        argv += ["--token", value]
    elif way == "--token-file":
        (tmp_path / "token").write_text(value)
        argv += ["--token-file", str(tmp_path / "token")]
    else:
        monkeypatch.setenv(way, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"endorm: error: {source}") and "bearer token is empty" in err, err


@pytest.mark.parametrize("case", ["token-file-missing", "token-not-ascii", "token-and-file", "port-in-use",
                                  "port-file-is-token-file"])
def test_start_up_problems_are_named_before_the_model_loads(case, no_model, tmp_path, capsys):
    from endorm.cli import main

    (tmp_path / "token").write_text("tok\n")
    argv = ["serve", "--model", "m", "--port", "0"]
    held = None
    if case == "token-file-missing":
        argv += ["--token-file", str(tmp_path / "nope")]
        expected = [f"--token-file {tmp_path / 'nope'}: file not found"]
    elif case == "token-not-ascii":
        argv += ["--token", "s\u00e9cret"]
        expected = ["--token", "printable ASCII"]
    elif case == "token-and-file":
        argv += ["--token", "a", "--token-file", str(tmp_path / "token")]
        expected = ["not both"]
    elif case == "port-in-use":
        held = bind("127.0.0.1", 0)
        argv += ["--port", str(held.getsockname()[1])]
        expected = [f"cannot listen on 127.0.0.1:{held.getsockname()[1]}", "already in use"]
    else:
        argv += ["--token-file", str(tmp_path / "token"), "--port-file", str(tmp_path / "token")]
        expected = ["--port-file", "is the input file"]
    try:
        assert main(argv) == 2
    finally:
        if held is not None:
            held.close()
    err = capsys.readouterr().err
    assert all(part in err for part in expected) and "model was loaded" not in err, err
    assert (tmp_path / "token").read_text() == "tok\n"


def test_start_up_line_says_whether_a_token_is_required(tiny_dir, monkeypatch, caplog):
    """The token from $ENDORM_TOKEN is required (and said so); without one the line says the server is open."""
    import logging

    import uvicorn
    from starlette.testclient import TestClient

    from endorm.cli import main

    apps = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets: (apps.append(self.config.app), sockets[0].close()))
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("ENDORM_TOKEN", "env-token")
    assert main(["serve", "--model", str(tiny_dir), "--port", "0", "--threads", "1"]) == 0
    assert "bearer token required (from $ENDORM_TOKEN)" in caplog.text
    with TestClient(apps[0]) as client:
        body = {"prompt": "x", "responses": ["a"]}
        assert client.post("/score", json=body).status_code == 401
        assert client.post("/score", json=body, headers={"Authorization": "Bearer env-token"}).status_code == 200
    caplog.clear()
    monkeypatch.delenv("ENDORM_TOKEN")
    assert main(["serve", "--model", str(tiny_dir), "--port", "0", "--threads", "1"]) == 0
    assert "NO bearer token: anyone who can reach 127.0.0.1:" in caplog.text


def test_empty_token_never_means_open(scorer):
    from endorm.errors import EndormError

    for token in ("", "  ", "\n"):
        with pytest.raises(EndormError, match="bearer token is empty"):
            create_app(scorer, RewardOptions(), token=token)


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


@pytest.mark.slow  # a load test
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


@pytest.mark.slow  # a real server process, started and stopped
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
        assert f"bearer token required (from --token-file {tmp_path / 'token'})" in out
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

    from endorm.serve.batcher import Batcher

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
