"""Typo-tolerant name search over the store's records, with rapidfuzz.

Each searchable table (enterprise names, institution names, problem texts) is kept in memory as
``(id, normalised text)`` pairs, read from the store on first use and again when older than ``ttl_seconds``
or after a write through this process (``invalidate``). A query is normalised the same way as the engine
normalises text (NFKC, case, width) and scored with rapidfuzz's ``WRatio``: whole-name typos ("Gren Valey
Farm") and parts of a Chinese name ("明达机械" in "杭州明达机械有限公司") both score high. An exact id
scores 100. Inputs: a table name and a query. Outputs: ``(id, score)`` pairs, best first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rapidfuzz import fuzz, process
from sqlalchemy import Engine

from matching.normalise import normalize
from service.store.records import SEARCHABLE, searchable_texts

__all__ = ["NameIndexes", "SEARCHABLE", "SCORE_CUTOFF"]

SCORE_CUTOFF = 70.0


class NameIndexes:
    def __init__(self, engine: Engine, *, ttl_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._tables: dict[str, tuple[float, list[str], list[str]]] = {}

    def invalidate(self, table: str) -> None:
        with self._lock:
            self._tables.pop(table, None)

    def _load(self, table: str) -> tuple[list[str], list[str]]:
        with self._lock:
            entry = self._tables.get(table)
            if entry is not None and self._clock() - entry[0] < self.ttl_seconds:
                return entry[1], entry[2]
        rows = searchable_texts(self.engine, table)
        ids = [row[0] for row in rows]
        texts = [normalize(row[1]) for row in rows]
        with self._lock:
            self._tables[table] = (self._clock(), ids, texts)
        return ids, texts

    def search(self, table: str, query: str, *, limit: int, ids: set[str] | None = None) -> list[tuple[str, float]]:
        """The ``limit`` best ``(id, score)`` for ``query`` (score 0-100, at least ``SCORE_CUTOFF``).

        ``ids``, when given, restricts the search to those records (a filter applied by the caller).
        """
        all_ids, texts = self._load(table)
        wanted = normalize(query)
        if not wanted:
            return []
        if ids is not None:
            keep = [i for i, record in enumerate(all_ids) if record in ids]
            all_ids, texts = [all_ids[i] for i in keep], [texts[i] for i in keep]
        exact = [(record, 100.0) for record in all_ids if record.lower() == wanted]
        found = process.extract(wanted, texts, scorer=fuzz.WRatio, limit=limit, score_cutoff=SCORE_CUTOFF)
        hits = exact + [(all_ids[position], round(float(score), 2)) for _, score, position in found]
        seen: set[str] = set()
        unique = [(r, s) for r, s in hits if not (r in seen or seen.add(r))]
        return unique[:limit]
