"""A durable local spool for the recommendation log: what the store could not take at once waits here.

The HTTP service answers a recommendation only after it is logged; when the store does not take the log write
within its short write timeout (SQLite's lock held elsewhere, PostgreSQL unreachable), the rows go here
instead, and a background task drains them into the store later. The spool is one SQLite file in a local
folder (``Settings.spool_dir``), written with ``synchronous=FULL`` (a commit is on disk before the answer),
created only when first needed; every worker process of a host may share it. Draining writes each spooled
batch in one store transaction that skips rows already logged, then deletes it here: a batch drained twice
(two workers, or a crash between the two steps) is logged once.

Input and output: the rows of ``service.store.log.log_rows`` (plain values; times as naive UTC).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from service.store.log import write_log_rows

__all__ = ["Spool", "SPOOL_FILE"]

SPOOL_FILE = "recommendation-log.sqlite"
_BUSY_TIMEOUT_MS = 10_000  # only this host's workers share the file, each for a short write


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"cannot spool a {type(value).__name__}")


def _decode(mapping: dict[str, Any]) -> Any:
    return datetime.fromisoformat(mapping["$datetime"]) if set(mapping) == {"$datetime"} else mapping


class Spool:
    """The spool file in ``folder``; ``append`` and ``drain`` may run from different threads."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / SPOOL_FILE
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                         timeout=_BUSY_TIMEOUT_MS / 1000)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("CREATE TABLE IF NOT EXISTS spooled (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                               "rows TEXT NOT NULL)")
            self._connection = connection
        return self._connection

    def append(self, heads: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]) -> None:
        """Keep one batch of log rows, durably (on disk when this returns)."""
        payload = json.dumps({"heads": list(heads), "items": list(items)}, default=_encode, ensure_ascii=False)
        with self._lock:
            self._open().execute("INSERT INTO spooled (rows) VALUES (?)", (payload,))

    def pending(self) -> int:
        """Batches waiting (0 when the spool was never needed)."""
        if self._connection is None and not self.path.exists():
            return 0
        with self._lock:
            return int(self._open().execute("SELECT count(*) FROM spooled").fetchone()[0])

    def drain(self, engine: Engine, *, batches: int = 200) -> int:
        """Move up to ``batches`` spooled batches into the store, oldest first; returns how many moved. Raises
        the store's error (``StoreError``) when it still does not take them; they stay spooled."""
        if self._connection is None and not self.path.exists():
            return 0
        with self._lock:
            waiting = self._open().execute("SELECT id, rows FROM spooled ORDER BY id LIMIT ?", (batches,)).fetchall()
        moved = 0
        for identifier, payload in waiting:
            rows = json.loads(payload, object_hook=_decode)
            write_log_rows(engine, rows["heads"], rows["items"], replay=True)
            with self._lock:
                self._open().execute("DELETE FROM spooled WHERE id = ?", (identifier,))
            moved += 1
        return moved

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
