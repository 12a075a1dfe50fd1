"""The endogenous reward as an HTTP service (``endorm serve``): OpenRLHF's remote reward model and a native API.

Endpoints (FastAPI on uvicorn):

* ``POST /get_reward``: OpenRLHF's remote reward model protocol (``--reward.remote_url http://HOST:PORT/get_reward``;
  ``--remote_rm_url`` before OpenRLHF 0.10.2). Request ``{"query": [prompt+response texts], "prompts": [prompt
  texts], "labels": [...]}``; answer ``{"rewards": [...], "scores": [...], "extra_logs": {...}}``, one value per query.
* ``POST /score``: one prompt (text or chat messages), one or more responses, optional ``system``, per-request
  reward options, ``"tokens": true`` for the per-token rewards (dense rewards).
* ``GET /health``, ``GET /metrics`` (Prometheus text format).

Requests are tokenized by :class:`RequestEncoder` (every rendering and tokenization call of the server is there),
then queued in a :class:`endorm.serve.batcher.Batcher`, whose one engine thread merges concurrent requests into engine
batches: responses that share a prompt share its prefix pass whichever request they came in.
"""

import dataclasses
import errno
import logging
import math
import os
import socket

from ..errors import EndormError
from .metrics import Guard, Metrics

log = logging.getLogger(__name__)

@dataclasses.dataclass
class ServeLimits:
    """Batching and protection settings of the server (each is a ``endorm serve`` flag)."""

    batch_wait_ms: float = 10.0
    max_batch: int = 256
    max_queue: int = 4096
    max_request_responses: int = 1024
    max_body_bytes: int = 16 << 20
    timeout_s: float = 300.0


class RequestError(EndormError):
    """A request the server cannot score; ``field`` names the JSON field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class RequestEncoder:
    """The server's requests as token ids, through the engine's :class:`endorm.core.encoding.PromptEncoder`.

    * Native prompts: text is rendered exactly as ``endorm score`` renders it (the chat template, the server's
      ``--system-prompt`` unless the request gives ``system``); chat messages are rendered as given, with the
      generation prompt, as TRL and verl render them for the policy (``system`` adds a system message). Responses
      are tokenized as ``endorm score`` does (end-of-turn token appended unless ``--no-score-eot``; an empty
      response is then that token alone).
    * OpenRLHF queries: the trainer already applied the chat template, so nothing is templated again. The prompt
      text is tokenized as given, without added special tokens (as OpenRLHF tokenizes it for vLLM); the response is
      the rest of the query after the prompt text, tokenized the same way, special tokens included: an end-of-turn
      or EOS token the policy generated is in the query text and is scored, none is appended. Pad-token text at the
      query's ends is removed when the pad token is neither the EOS nor the end-of-turn token.
    """

    def __init__(self, scorer) -> None:
        self.encoder = scorer.encoder
        self.tok = scorer.tokenizer
        tok = self.tok
        pad = getattr(tok, "pad_token", None)
        keep = {tok.eos_token_id, self.encoder.eot_id}
        self.pad_text = pad if pad and tok.pad_token_id not in keep else None

    def _check_length(self, prompt_ids: list[int], response_ids: list[int], field: str) -> None:
        try:
            self.encoder.fit(prompt_ids, response_ids)  # the engine's own overflow rule and message
        except EndormError as exc:
            raise RequestError(field, str(exc)) from None

    def native(self, prompt, system, responses) -> tuple[list[int], list[list[int]]]:
        if isinstance(prompt, str) and not prompt.strip():
            raise RequestError("prompt", "field 'prompt' is empty")
        if not isinstance(prompt, str):
            if not prompt:
                raise RequestError("prompt", "empty message list; expected at least one message")
            if not self.encoder.fmt.chat_template:
                raise RequestError("prompt", "chat messages need the chat template (the server runs without it); "
                                             "send the prompt as text")
            if system is not None and prompt and prompt[0].get("role") == "system":
                raise RequestError("system", "the messages already start with a system message")
        from jinja2.exceptions import TemplateError

        try:
            prompt_ids = self.encoder.encode_prompt(prompt, system)
        except EndormError as exc:
            raise RequestError("prompt", str(exc)) from None
        except TemplateError as exc:  # e.g. a template that requires alternating user and assistant roles
            raise RequestError("prompt", f"the chat template refuses these messages: {exc}") from None
        out = []
        for i, text in enumerate(responses):
            if not text and self.encoder.eot_id is None:
                raise RequestError(f"responses.{i}", "empty response with no end-of-turn token to score "
                                                     "(--no-score-eot)")
            ids = self.encoder.encode_response(text)
            self._check_length(prompt_ids, ids, f"responses.{i}")
            out.append(ids)
        return prompt_ids, out

    def _strip_pad(self, text: str) -> str:
        if self.pad_text:
            while text.startswith(self.pad_text):
                text = text[len(self.pad_text):]
            while text.endswith(self.pad_text):
                text = text[: -len(self.pad_text)]
        return text

    def openrlhf(self, queries, prompts) -> list[tuple[list[int], list[int]]]:
        out = []
        for i, (query, prompt) in enumerate(zip(queries, prompts)):
            query = self._strip_pad(query)
            if not prompt.strip():
                raise RequestError(f"prompts.{i}", "empty prompt: no state s_1 to condition on")
            prompt_ids = self.encoder.encode_rendered(prompt)
            if query.startswith(prompt):
                response = query[len(prompt):]
            else:  # OpenRLHF decodes the prompt's token ids: compare with that text too
                decoded = self.tok.decode(prompt_ids, skip_special_tokens=False)
                if not query.startswith(decoded):
                    raise RequestError(f"query.{i}", "does not start with its prompt (prompts.{i}); the server splits "
                                                     "each query into prompt and response at the prompt's end")
                response = query[len(decoded):]
            response_ids = self.encoder.encode_rendered(response) if response else []
            if response_ids:
                self._check_length(prompt_ids, response_ids, f"query.{i}")
            out.append((prompt_ids, response_ids))
        return out


def _finite(x: float):
    return x if math.isfinite(x) else None


def create_app(scorer, reward, limits: ServeLimits | None = None, token: str | None = None, model_name: str = ""):
    """The FastAPI app serving ``scorer`` (the engine) with default reward options ``reward``; ``token``: the bearer
    token every request but ``GET /health`` must carry (None: no authentication; an empty one is refused)."""
    import asyncio
    import concurrent.futures
    import json
    from typing import Any, Literal

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.exceptions import HTTPException

    from .batcher import Batcher, QueueFull, ShuttingDown
    from ..io import check_unicode
    from ..core.reward import endogenous_score

    if token is not None and not token.strip():  # an empty token must never mean "no authentication"
        raise EndormError("the bearer token is empty (or whitespace only); pass None to serve without one")
    limits = limits or ServeLimits()
    state: dict = {}

    class RewardOverrides(BaseModel):  # values are checked by RewardOptions, as for `endorm score`
        model_config = ConfigDict(extra="forbid")
        alpha: float | None = None
        terminal: Literal["zero", "bootstrap"] | None = None
        aggregation: Literal["sum", "mean", "discounted"] | None = None
        gamma: float | None = None

    class Message(BaseModel):
        role: str
        content: str

    class ScoreRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        prompt: str | list[Message] = Field(description="prompt text (rendered with the chat template) or messages")
        responses: list[str] = Field(min_length=1)
        system: str | None = None
        reward: RewardOverrides = Field(default_factory=RewardOverrides)
        tokens: bool = False
        id: str | int | None = None
        timeout: float | None = Field(None, gt=0, allow_inf_nan=False)

    class RewardRequest(BaseModel):  # OpenRLHF's body; unknown fields are ignored, as its server does
        query: list[str] = Field(min_length=1)
        prompts: list[str] | None = None
        labels: list[Any] | None = None

    class ASCIIJSONResponse(JSONResponse):
        """JSON with non-ASCII characters escaped: a lone surrogate echoed in an error (a field name) stays valid."""

        def render(self, content) -> bytes:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()

    def error(status: int, message: str, field: str | None = None, headers: dict | None = None):
        return ASCIIJSONResponse({"error": message, "field": field}, status_code=status, headers=headers)

    def refuse_surrogates(value, field: str = "") -> None:
        """Lone surrogates (JSON escapes such as \\ud800) refused with `endorm score`'s words, the field named."""
        if isinstance(value, str):
            try:
                check_unicode(value, "request body", field)
            except EndormError as exc:
                raise _Answer(error(422, str(exc), field)) from None
        elif isinstance(value, dict):
            for k, v in value.items():
                refuse_surrogates(v, f"{field}.{k}" if field else k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                refuse_surrogates(v, f"{field}.{i}")

    async def lifespan(app):
        metrics = app.state.metrics
        state["batcher"] = Batcher(scorer, limits.batch_wait_ms / 1000, limits.max_batch, limits.max_queue,
                                   on_batch=metrics.on_batch)
        state["encoder"] = RequestEncoder(scorer)
        state["pool"] = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="endorm-encode")
        yield
        state["batcher"].stop()  # uvicorn has already let in-flight requests finish
        state["pool"].shutdown()

    app = FastAPI(title="endorm", lifespan=lifespan, default_response_class=ASCIIJSONResponse)
    app.state.metrics = metrics = Metrics(lambda: state["batcher"].queued if "batcher" in state else 0)
    app.add_middleware(Guard, metrics=metrics, token=token, max_body=limits.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            e = next(e for e in errors if e.get("type") == "json_invalid")
            return error(400, f"malformed JSON at character {e['loc'][-1]}: {e.get('ctx', {}).get('error', '')}")
        fields = []
        for e in errors:
            loc = [str(x) for x in e["loc"][1:] if x not in ("str", "list[Message]")]
            name = ".".join(loc) or "body"
            fields.append((name, e["msg"]))
        message = "; ".join(f"{name}: {msg}" for name, msg in dict(fields).items())
        return error(422, message, fields[0][0])

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail), None, getattr(exc, "headers", None))

    class _Answer(Exception):
        def __init__(self, response) -> None:
            self.response = response

    @app.exception_handler(_Answer)
    async def _answer(request: Request, exc: _Answer):
        return exc.response

    async def encode(fn, *args):
        try:
            return await asyncio.get_running_loop().run_in_executor(state["pool"], fn, *args)
        except RequestError as exc:
            raise _Answer(error(422, str(exc), exc.field)) from None

    async def scored(pairs, alpha: float, timeout: float):
        if not pairs:
            return []
        try:
            future = state["batcher"].submit(pairs, alpha)
        except QueueFull as exc:
            raise _Answer(error(429, str(exc), None, {"Retry-After": str(exc.retry_after)})) from None
        except ShuttingDown as exc:
            raise _Answer(error(503, str(exc), None, {"Retry-After": "5"})) from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:
            raise _Answer(error(504, f"not scored within the request timeout ({timeout:g} s)", "timeout")) from None
        except EndormError as exc:
            raise _Answer(error(422, str(exc))) from None
        except Exception as exc:  # noqa: BLE001 - e.g. out of memory: this request fails, the server goes on
            raise _Answer(error(500, f"engine error: {type(exc).__name__}: {exc}")) from None

    @app.post("/score")
    async def score(req: ScoreRequest):
        if len(req.responses) > limits.max_request_responses:
            return error(413, f"{len(req.responses)} responses; at most {limits.max_request_responses} a request",
                         "responses")
        refuse_surrogates(req.model_dump())
        over = {k: v for k, v in req.reward.model_dump().items() if v is not None}
        for k, v in over.items():
            try:
                dataclasses.replace(reward, **{k: v})
            except ValueError as exc:
                return error(422, f"reward.{k}: {exc}", f"reward.{k}")
        opts = dataclasses.replace(reward, **over)
        prompt = req.prompt if isinstance(req.prompt, str) else [m.model_dump() for m in req.prompt]
        prompt_ids, responses = await encode(state["encoder"].native, prompt, req.system, req.responses)
        timeout = min(req.timeout or limits.timeout_s, limits.timeout_s)
        stats = await scored([(prompt_ids, r) for r in responses], opts.alpha, timeout)
        out = {"id": req.id, "scores": [_finite(endogenous_score(s, opts)) for s in stats],
               "logprobs": [_finite(sum(s.logprobs)) for s in stats], "num_tokens": [len(s.token_ids) for s in stats],
               "truncated": [s.truncated for s in stats], "prompt_tokens": len(prompt_ids),
               "reward": dataclasses.asdict(opts)}
        if req.tokens:
            out["token_ids"] = [s.token_ids for s in stats]
            out["token_rewards"] = [[_finite(r) for r in s.rewards(opts.terminal)] for s in stats]
        return out

    @app.post("/get_reward")
    async def get_reward(req: RewardRequest):
        n = len(req.query)
        if n > limits.max_request_responses:
            return error(413, f"{n} queries; at most {limits.max_request_responses} a request", "query")
        if req.prompts is None:
            return error(422, "prompts: required: the endogenous reward needs each query's prompt to find where "
                              "the response starts", "prompts")
        if len(req.prompts) != n:
            return error(422, f"prompts: {len(req.prompts)} prompts for {n} queries", "prompts")
        refuse_surrogates({"query": req.query, "prompts": req.prompts})
        pairs = await encode(state["encoder"].openrlhf, req.query, req.prompts)
        todo = [k for k, (_, r) in enumerate(pairs) if r]  # an empty response takes no action: reward 0
        stats = await scored([pairs[k] for k in todo], reward.alpha, limits.timeout_s)
        rewards, logprobs, lengths = [0.0] * n, [0.0] * n, [0] * n
        for k, s in zip(todo, stats):
            rewards[k] = _finite(endogenous_score(s, reward))
            logprobs[k], lengths[k] = _finite(sum(s.logprobs)), len(s.token_ids)
        return {"rewards": rewards, "scores": rewards,
                "extra_logs": {"endorm_logprob": logprobs, "endorm_response_tokens": lengths}}

    @app.get("/health")
    async def health():
        batcher = state["batcher"]
        body = {"status": "ok" if batcher.alive else "engine stopped", "model": model_name,
                "queued_responses": batcher.queued, "reward": dataclasses.asdict(reward),
                "format": dataclasses.asdict(scorer.encoder.fmt)}
        return body if batcher.alive else JSONResponse(body, status_code=503)

    @app.get("/metrics")
    async def prometheus_metrics():
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (``port`` 0 picks a free one: read it from ``sock.getsockname()``); a failure names the
    address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP: asyncio then sets TCP_NODELAY
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            why = "the address is already in use (another server? --port 0 picks a free port)"
        elif isinstance(exc, socket.gaierror):
            why = f"unknown host ({exc.strerror})"
        else:
            why = exc.strerror or str(exc)
        raise EndormError(f"cannot listen on {host}:{port}: {why}") from None
    sock.set_inheritable(True)
    return sock


TOKEN_ENV = "ENDORM_TOKEN"


def bearer_token(token: str | None, token_file: str | None) -> tuple[str | None, str]:
    """The bearer token the server requires and where it came from: ``--token``, ``--token-file`` or
    ``$ENDORM_TOKEN`` (None when none is given). A token that is empty or whitespace only is refused, naming its
    source, so authentication is never switched off by accident; so is one an Authorization header cannot carry."""
    from ..io import read_text

    if token is not None and token_file is not None:
        raise EndormError("give --token or --token-file, not both")
    if token is not None:
        source = "--token"
    elif token_file is not None:
        source = f"--token-file {token_file}"
        try:
            token = read_text(token_file)
        except EndormError as exc:
            raise EndormError(f"--token-file {exc}") from None
    elif TOKEN_ENV in os.environ:
        token, source = os.environ[TOKEN_ENV], f"${TOKEN_ENV}"
    else:
        return None, ""
    token = token.strip()
    if not token:
        raise EndormError(f"{source}: the bearer token is empty (or whitespace only); give a token, or leave out "
                          "--token, --token-file and $ENDORM_TOKEN to serve without authentication")
    if not all("!" <= c <= "~" for c in token):
        raise EndormError(f"{source}: the bearer token holds spaces, control or non-ASCII characters, which an "
                          "Authorization header cannot carry; expected printable ASCII without spaces")
    return token, source
