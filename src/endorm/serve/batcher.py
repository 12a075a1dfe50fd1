"""Cross-request batching for the reward server: a bounded queue and one engine thread.

Requests arrive as already tokenized (prompt_ids, response_ids) pairs. The engine thread waits for the first job,
then up to ``wait_s`` more for others (a job that already waited that long, because the engine was busy, starts at
once), and scores every job it took in one :meth:`endorm.core.engine.Scorer.token_stats_ids` call. That call groups
identical prompt ids, so responses to one prompt share one prefix pass whichever request they came in (a GRPO group
sent one response per request, as OpenRLHF does, still pays for its prompt once).

Nothing here parses HTTP or tokenizes text: the server does that before :meth:`Batcher.submit`.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

log = logging.getLogger(__name__)

Pairs = Sequence[tuple[list[int], list[int]]]


class QueueFull(Exception):
    """The queue holds ``max_queue`` responses; ``retry_after`` is a guess of the seconds until there is room."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


class ShuttingDown(Exception):
    """The server is stopping and takes no new work."""


@dataclass
class Job:
    pairs: Pairs
    alpha: float
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    submitted: float = field(default_factory=time.monotonic)

    @property
    def size(self) -> int:
        return len(self.pairs)


class Batcher:
    """Merges concurrent jobs into engine batches on one thread.

    Args:
        scorer: the engine (:class:`endorm.core.engine.Scorer`). Jobs that ask for different temperatures alpha share
            one forward pass: the engine reduces every alpha of the batch from the same hidden states.
        wait_s: how long the first job of a batch waits for others (seconds).
        max_batch: responses per engine call (a larger single job is still taken whole).
        max_queue: responses waiting (not yet in the engine) before :meth:`submit` raises :class:`QueueFull`.
        on_batch: called after every engine call with (jobs, responses, tokens, seconds), for metrics.
    """

    def __init__(self, scorer, wait_s: float = 0.01, max_batch: int = 256, max_queue: int = 4096,
                 on_batch: Callable[[int, int, int, float], None] | None = None) -> None:
        self.scorer = scorer
        self.wait_s = float(wait_s)
        self.max_batch = int(max_batch)
        self.max_queue = int(max_queue)
        self.on_batch = on_batch
        self._queue: deque[Job] = deque()
        self._queued = 0  # responses in the queue
        self._cond = threading.Condition()
        self._stopping = False
        self._rate = 0.0  # responses per second of the last engine call, for Retry-After
        self._thread = threading.Thread(target=self._run, name="endorm-engine", daemon=True)
        self._thread.start()

    # ----- client side (any thread) -----------------------------------------------------------------------------
    @property
    def queued(self) -> int:
        return self._queued

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, pairs: Pairs, alpha: float) -> concurrent.futures.Future:
        """Queue one request's pairs; the future's result is their TokenStats in order."""
        job = Job(list(pairs), float(alpha))
        with self._cond:
            if self._stopping:
                raise ShuttingDown("the server is shutting down")
            if self._queued and self._queued + job.size > self.max_queue:
                wait = self._queued / self._rate if self._rate > 0 else 1.0
                raise QueueFull(max(1, min(60, round(wait))))
            self._queue.append(job)
            self._queued += job.size
            self._cond.notify_all()
        return job.future

    def stop(self, timeout: float | None = None) -> None:
        """Take no new jobs, finish every queued one, then end the engine thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # ----- engine thread --------------------------------------------------------------------------------------
    def _take(self) -> list[Job] | None:
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait()
            deadline = self._queue[0].submitted + self.wait_s
            while not self._stopping and self._queued < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            jobs, n = [], 0
            while self._queue and (not jobs or n + self._queue[0].size <= self.max_batch):
                job = self._queue.popleft()
                self._queued -= job.size
                n += job.size
                jobs.append(job)
            return jobs

    def _run(self) -> None:
        while (jobs := self._take()) is not None:
            # A job whose request timed out was cancelled: skip it; the others can no longer be cancelled.
            jobs = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            try:
                self._score(jobs)
            except Exception as exc:  # noqa: BLE001 - the engine thread must outlive any one batch
                log.exception("engine thread: unexpected error")
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _score(self, jobs: list[Job]) -> None:
        pairs = [p for job in jobs for p in job.pairs]
        t0 = time.perf_counter()
        try:
            by_alpha = self.scorer.token_stats_alphas(pairs, sorted({job.alpha for job in jobs}), desc="serve")
        except Exception as exc:  # noqa: BLE001 - isolate the failing request, answer the others
            if len(jobs) == 1:
                log.warning("engine error on one request: %s", exc)
                jobs[0].future.set_exception(exc)
                return
            log.warning("engine error on a merged batch of %d requests (%s); scoring them one by one", len(jobs), exc)
            for job in jobs:
                self._score([job])
            return
        seconds = time.perf_counter() - t0
        self._rate = len(pairs) / max(seconds, 1e-9)
        k = 0
        for job in jobs:
            job.future.set_result(by_alpha[job.alpha][k : k + job.size])
            k += job.size
        if self.on_batch is not None:  # after the answers: a metrics problem never holds a request back
            prompts = {tuple(p) for p, _ in pairs}
            tokens = sum(len(p) for p in prompts) + sum(len(r) for _, r in pairs)
            self.on_batch(len(jobs), len(pairs), tokens, seconds)
