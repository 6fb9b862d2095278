"""Catalogue refits off the request path, coalesced: a burst of edits leads to one refit, not one per edit.

An edit calls ``Refits.request()`` (no waiting) and answers. A background task waits for a request, then for
the edits to pause (``quiet_seconds`` without a new request) but never longer than ``max_delay_seconds`` after
the first request it has not served, and then refits once. Requests that arrive while a refit runs lead to one
more refit after it. So during a steady stream of edits the catalogue is refitted about every
``max_delay_seconds``, and ``quiet_seconds`` after the last edit it shows every edit
(``benchmarks/bench_refits.py`` counts refits and measures recommendation latency during a burst).

Inputs: the refit coroutine (the app's ``refresh_catalogue``). Outputs: none; ``settled()`` lets a caller
(tests, a recommendation that needs a fresh catalogue) wait until no refit is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

__all__ = ["Refits"]

log = logging.getLogger("smematch.api")


class Refits:
    def __init__(self, refit: Callable[[], Awaitable[None]], *, quiet_seconds: float = 1.0,
                 max_delay_seconds: float = 5.0) -> None:
        self._refit = refit
        self.quiet_seconds = quiet_seconds
        self.max_delay_seconds = max_delay_seconds
        self._wanted = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    def request(self) -> None:
        """Ask for a refit soon; returns at once."""
        self._last = time.monotonic()
        self._idle.clear()
        self._wanted.set()

    async def settled(self) -> None:
        """Wait until every requested refit has run."""
        await self._idle.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            first = time.monotonic()
            while True:
                now = time.monotonic()
                wait = min(self._last + self.quiet_seconds, first + self.max_delay_seconds) - now
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self._wanted.clear()
            try:
                await self._refit()
            except Exception as error:  # the edit is stored; the next request or the follower retries the refit
                log.warning("catalogue refit failed", extra={"exception": type(error).__name__})
            if not self._wanted.is_set():
                self._idle.set()
