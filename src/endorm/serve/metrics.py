"""Metrics and the request guard of the reward server (``endorm serve``): Prometheus counters, gauges and
histograms in a registry of the server's own, and an ASGI middleware that checks the bearer token and the body size
before anything is read, and records every request's status and latency."""

import hmac
import json
import time
from collections import deque

ENDPOINTS = ("/score", "/get_reward", "/health", "/metrics")


class Metrics:
    """Prometheus metrics of one server (its own registry, so several servers can live in one process)."""

    def __init__(self, queue_depth) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        self.requests = Counter("endorm_requests", "HTTP requests by endpoint and status", ["endpoint", "status"],
                                registry=r)
        self.errors = Counter("endorm_request_errors", "HTTP requests answered with a 4xx or 5xx status",
                              ["endpoint", "status"], registry=r)
        self.latency = Histogram("endorm_request_latency_seconds", "request latency, arrival to answer",
                                 ["endpoint"], registry=r,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300))
        self.in_flight = Gauge("endorm_requests_in_flight", "requests being handled", registry=r)
        Gauge("endorm_queue_depth", "responses queued for the engine", registry=r).set_function(queue_depth)
        self.responses = Counter("endorm_scored_responses", "responses scored by the engine", registry=r)
        self.tokens = Counter("endorm_scored_tokens", "tokens through the engine (a shared prompt once)", registry=r)
        self.batch = Histogram("endorm_batch_responses", "responses per engine batch", registry=r,
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
        self.engine = Histogram("endorm_engine_seconds", "seconds per engine batch", registry=r,
                                buckets=(.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60))
        self._window: deque = deque()
        Gauge("endorm_tokens_per_second", "engine tokens per second over the last 10 s",
              registry=r).set_function(self.tokens_per_second)

    def on_batch(self, jobs: int, responses: int, tokens: int, seconds: float) -> None:
        self.responses.inc(responses)
        self.tokens.inc(tokens)
        self.batch.observe(responses)
        self.engine.observe(seconds)
        self._window.append((time.monotonic(), tokens))

    def tokens_per_second(self) -> float:
        horizon = time.monotonic() - 10.0
        while self._window and self._window[0][0] < horizon:
            self._window.popleft()
        return sum(t for _, t in self._window) / 10.0

    def observe(self, path: str, status: int, seconds: float) -> None:
        endpoint = path if path in ENDPOINTS else "other"
        self.requests.labels(endpoint, str(status)).inc()
        if status >= 400:
            self.errors.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)


class Guard:
    """ASGI middleware, before any body is read: the bearer token (every path but /health), the body size (declared,
    then as received: a longer chunked body is stopped too), and request metrics."""

    def __init__(self, app, metrics: Metrics, token: str | None, max_body: int) -> None:
        self.app, self.metrics, self.token, self.max_body = app, metrics, token, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        async def refuse(code: int, message: str, field: str | None, headers=()):
            body = json.dumps({"error": message, "field": field}).encode()
            await send_status({"type": "http.response.start", "status": code,
                               "headers": [(b"content-type", b"application/json"), *headers]})
            await send_status({"type": "http.response.body", "body": body})

        self.metrics.in_flight.inc()
        try:
            headers = dict(scope["headers"])
            if self.token is not None and scope["path"] != "/health":
                auth = headers.get(b"authorization", b"")
                if not hmac.compare_digest(auth, f"Bearer {self.token}".encode()):  # constant time
                    return await refuse(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                                        "Authorization", [(b"www-authenticate", b"Bearer")])
            size = headers.get(b"content-length", b"0")
            if size.isdigit() and int(size) > self.max_body:
                return await refuse(413, f"request body of {int(size)} bytes; at most {self.max_body}", None)
            received = 0

            async def receive_limited():
                nonlocal received
                message = await receive()
                received += len(message.get("body", b""))
                if received > self.max_body:
                    from starlette.exceptions import HTTPException

                    raise HTTPException(413, f"request body over {self.max_body} bytes")
                return message

            await self.app(scope, receive_limited, send_status)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.observe(scope["path"], status[0], time.perf_counter() - t0)
