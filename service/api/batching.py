"""The recommendation hot path: a micro-batcher that answers concurrent requests with one engine call.

The engine is vectorised over problems, with a fixed cost per call (the trees, sparse products and a feature
frame), so one call for many problems costs far less than one call each (``benchmarks/bench_api.py`` reports
the engine's cost per problem at the micro-batch sizes the server reaches). So requests do not call the engine
themselves; they queue a ``Job`` and await it. A loop takes *everything* queued (an idle service answers at
once; a busy one batches what arrived while it worked, lingering up to ``linger_seconds`` for the clients it
just answered), groups it by ``k``, calls ``Matcher.recommend`` once per group on the current model snapshot
(in the event loop's thread: the engine holds the GIL nearly all the time, so a thread would only add
hand-offs), writes the recommendation log (one transaction per batch) in the log thread (I/O: the loop serves
other requests meanwhile), and only then answers the waiting requests and takes the next batch. One stage, not
a pipeline: overlapping scoring and logging would split the clients into two alternating groups, halve the
batches and cost more CPU per request, and so would scoring in a process of its own (the clients split the
same way); ``bench_api.py`` reports the CPU time per request and the mean batch size that show it.

Inputs: problems as plain rows (dicts with the keys of ``matching.understand.problems.PROBLEM_COLUMNS``; checked at the
edge) and ``k``. Outputs: ``Recommendation`` lists in input order, already logged. The engine validates again; a
problem it refuses fails only its own request (the batch is then scored job by job).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from matching.records import Recommendation
from service.api.metrics import Metrics
from service.api.state import ModelState

__all__ = ["Job", "Recommender", "LogWriter"]


@dataclass(slots=True)
class Job:
    """One request's problems; ``meta`` travels to the log writer (request id, key id, ...)."""

    rows: list[dict[str, Any]]
    k: int
    meta: dict[str, Any] = field(default_factory=dict)
    results: list[Recommendation] | None = None
    error: BaseException | None = None


LogWriter = Callable[[Sequence[Job]], None]


class Recommender:
    def __init__(self, state: ModelState, metrics: Metrics, *, log: LogWriter, max_batch: int = 64,
                 linger_seconds: float = 0.002) -> None:
        self.state = state
        self.metrics = metrics
        self.log = log
        self.max_batch = max_batch
        self.linger_seconds = linger_seconds
        self._queue: asyncio.Queue[tuple[Job, asyncio.Future[Job]]] | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="smematch-reclog")
        self._task = asyncio.create_task(self._run(), name="smematch-recommender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    async def recommend(self, job: Job) -> list[Recommendation]:
        """Queue ``job``, wait until it is scored and logged; raises what scoring or logging raised."""
        if self._queue is None:
            raise RuntimeError("the recommender is not started")
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        await self._queue.put((job, future))
        done = await future
        if done.error is not None:
            raise done.error
        assert done.results is not None
        return done.results

    async def _run(self) -> None:
        assert self._queue is not None
        active = 0  # clients seen active at the end of the last batch: the ones in it and the ones queued since
        while True:
            batch = [await self._queue.get()]
            await self._linger(min(active, self.max_batch) - 1)
            while not self._queue.empty() and len(batch) < self.max_batch:
                batch.append(self._queue.get_nowait())
            jobs = [job for job, _ in batch]
            try:
                # In the loop's own thread: a thread hop and the GIL hand-offs around it cost CPU per request
                # (``bench_api.py``), and the loop would not serve other requests faster meanwhile anyway.
                self._score(jobs)
            except Exception as error:  # keep serving: the batch fails, the loop does not
                for job in jobs:
                    job.error = error
            await self._finish(batch)
            active = len(batch) + self._queue.qsize()

    async def _linger(self, expected: int) -> None:
        """Wait a moment until ``expected`` more requests are queued: the clients just answered coming back.

        Without this, a closed loop of N clients splits into two groups that alternate (one is scored while
        the other is answered and comes back), halving the batch and doubling the engine's fixed cost per
        request. Only when the last batch had several requests (there is concurrency), at most
        ``linger_seconds``; an idle service answers at once.
        """
        assert self._queue is not None
        if expected <= 0:
            return
        deadline = time.perf_counter() + self.linger_seconds
        while self._queue.qsize() < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.0002)

    async def _finish(self, batch: list[tuple[Job, asyncio.Future[Job]]]) -> None:
        loop = asyncio.get_running_loop()
        done = [job for job, _ in batch if job.error is None]
        if done:
            try:
                await loop.run_in_executor(self._writer, self.log, done)
            except Exception as error:  # nothing unlogged is shown: the requests fail
                for job in done:
                    job.error = error
        for job, future in batch:
            if not future.done():
                future.set_result(job)

    def _score(self, jobs: list[Job]) -> None:
        """One ``recommend`` call per distinct k over the current model snapshot."""
        matcher = self.state.current.matcher
        groups: dict[int, list[Job]] = defaultdict(list)
        for job in jobs:
            groups[job.k].append(job)
        for k, group in groups.items():
            # One call per k: the engine's fixed cost per call is most of a small batch's cost. The rows go in
            # as they are: the engine reads them column by column, and a frame built here would only add work.
            try:
                results = matcher.recommend([row for job in group for row in job.rows], k=k)
            except Exception:
                # One bad problem fails the whole call: score the jobs one by one to fail only its request.
                for job in group:
                    try:
                        job.results = matcher.recommend(job.rows, k=k)
                    except Exception as error:
                        job.error = error
                continue
            start = 0
            for job in group:
                job.results = results[start : start + len(job.rows)]
                start += len(job.rows)
        answered = [r for job in jobs if job.results for r in job.results]
        self.metrics.batch_size.observe(len(answered))
        self.metrics.served(len(answered), sum(r.escalate for r in answered))

