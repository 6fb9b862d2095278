"""The recommendation log as the service writes it: to the store at once, else to a durable local spool.

An answer is sent only once its log rows are durable, but never waits long on the store: the write goes to
an engine whose lock waits are short (``Settings.log_write_timeout_seconds``); when the store does not take
it in time (another process holds SQLite's write lock, PostgreSQL is unreachable), the rows go to the spool
(``service.store.spool``, fsync'd) and the answer goes out. From then on every batch goes straight to the
spool, in order, until a drain (every second, in the background) has moved all of it into the store.

``health()`` is what ``/readyz`` reports for the store's writes: ``ok``, how many batches wait and why, or
that the store does not take a write now.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sqlalchemy import Engine

from service.api.batching import Job
from service.api.metrics import Metrics
from service.api.recommending import log_entries, move_cases
from service.store.errors import StoreError
from service.store.log import check_log_writable, log_rows, write_log_rows
from service.store.spool import Spool

__all__ = ["LogBook"]

log = logging.getLogger("smematch.api")


class LogBook:
    """Write with ``write`` (the micro-batcher's ``LogWriter``, one thread); ``drain`` from another thread."""

    def __init__(self, engine: Engine, spool: Spool, metrics: Metrics) -> None:
        self.engine = engine
        self.spool = spool
        self.metrics = metrics
        self._spooling = threading.Event()
        self._last_error: str | None = None
        if spool.pending():  # left by an earlier run (a crash, or the store down when it stopped)
            self._spooling.set()

    def write(self, jobs: Sequence[Job]) -> None:
        heads, items = log_rows(log_entries(jobs))
        if not self._spooling.is_set():
            try:
                write_log_rows(self.engine, heads, items)
            except StoreError as error:  # locked, unreachable, timed out: the spool takes it
                self._spooling.set()
                self._last_error = str(error)
                log.warning("the recommendation log is spooled: the store did not take it",
                            extra={"exception": type(error.__cause__ or error).__name__})
            else:
                self._move_cases(jobs)
                return
        self.spool.append(heads, items)
        self.metrics.log_spooled.inc()

    def _move_cases(self, jobs: Sequence[Job]) -> None:
        """The engine's case moves (recommended, escalated), once the log is in the store. Not spooled: when the
        store does not take them in time they are left out (a caseworker or a rule can still move the case)."""
        try:
            move_cases(self.engine, jobs)
        except StoreError as error:
            log.warning("the engine's case moves were not recorded: the store did not take them",
                        extra={"exception": type(error.__cause__ or error).__name__})

    def drain(self) -> int:
        """Move what the spool holds into the store; returns the batches moved. Raises ``StoreError`` while the
        store still refuses (the rows stay spooled)."""
        try:
            moved = self.spool.drain(self.engine)
        except StoreError as error:
            self._last_error = str(error)
            raise
        if moved:
            self.metrics.log_drained.inc(moved)
        if self._spooling.is_set() and self.spool.pending() == 0:
            self._spooling.clear()
            self._last_error = None
        return moved

    def health(self) -> str:
        """``ok``; or how many batches wait in the spool and why; or why the lock a log write needs was not
        granted within the write timeout (``check_log_writable``). Blocking."""
        if self._spooling.is_set():
            return (f"spooling: {self.spool.pending()} log batch(es) wait for the store "
                    f"({self._last_error or 'left by an earlier run'})")
        try:
            check_log_writable(self.engine)
        except StoreError as error:
            return f"not taking writes: {error}"
        return "ok"

    def close(self) -> None:
        self.spool.close()
