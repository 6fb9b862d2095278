"""The recommendation log: what was shown, to whom, by which model, for audits and for unbiased training.

Input: ``matching.records.Recommendation`` plus the problem text and the request. Stored: the request id, time,
problem and enterprise ids, the SHA-256 of the text (never the text itself: the request's own ``text`` key
is dropped too), the model version, the request as JSON and one item per ranked institution (rank,
institution id, score and, when the caller knows it, the propensity: the probability the serving policy
showed that institution at that rank). Output: the recommendation ids, in order.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Table, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite

from matching.errors import InvalidInput, Issue
from matching.records import Recommendation
from service.store.engine import reading, writing
from service.store.errors import translated_errors
from service.store.models import RecommendationItemRow, RecommendationRow, table_of
from service.store.outcomes import naive_utc, utc_now

__all__ = ["LoggedRecommendation", "log_recommendation", "log_recommendations", "log_rows", "write_log_rows",
           "check_log_writable", "text_hash", "get_logged", "logged_propensities"]


@dataclass(frozen=True, slots=True)
class LoggedRecommendation:
    """One entry of the log, as given to ``log_recommendations`` and as returned by ``get_logged``."""

    recommendation: Recommendation
    text: str | None = None  # hashed, never stored
    request: Mapping[str, Any] = field(default_factory=dict)
    enterprise_id: str | None = None
    propensities: Sequence[float | None] | None = None  # one per ranked institution
    recommendation_id: str | None = None  # default: a new UUID
    created_at: datetime | None = None  # default: now (UTC)
    text_hash: str | None = None  # filled in from ``text`` when logging


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def log_recommendation(engine: Engine, recommendation: Recommendation, **details: Any) -> str:
    """Log one recommendation; ``details`` are the other fields of ``LoggedRecommendation``. Returns its id."""
    return log_recommendations(engine, [LoggedRecommendation(recommendation, **details)])[0]


def log_recommendations(engine: Engine, entries: Iterable[LoggedRecommendation]) -> list[str]:
    """Log many recommendations in one transaction (a batch run logs thousands). Returns their ids."""
    heads, items = log_rows(entries)
    write_log_rows(engine, heads, items)
    return [head["recommendation_id"] for head in heads]


def log_rows(entries: Iterable[LoggedRecommendation]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of ``recommendations`` and ``recommendation_items`` that log ``entries`` (plain values)."""
    heads: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for entry in entries:
        ranked = entry.recommendation.institutions
        if entry.propensities is not None and len(entry.propensities) != len(ranked):
            raise InvalidInput(
                Issue(
                    column="propensities",
                    expected=f"one per ranked institution ({len(ranked)})",
                    found=f"{len(entry.propensities)} values",
                )
            )
        identifier = entry.recommendation_id or uuid.uuid4().hex
        heads.append(
            {
                "recommendation_id": identifier,
                "created_at": naive_utc(entry.created_at or utc_now()),
                "problem_id": entry.recommendation.problem_id,
                "enterprise_id": entry.enterprise_id,
                "text_hash": entry.text_hash or text_hash(entry.text or ""),
                "model_version": entry.recommendation.model_version,
                "request": {key: value for key, value in entry.request.items() if key != "text"},
            }
        )
        for position, shown in enumerate(ranked):
            propensity = None if entry.propensities is None else entry.propensities[position]
            items.append(
                {
                    "recommendation_id": identifier,
                    "rank": shown.rank,
                    "institution_id": shown.institution_id,
                    "score": float(shown.score),
                    "propensity": None if propensity is None else float(propensity),
                }
            )
    return heads, items


def write_log_rows(engine: Engine, heads: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]], *,
                   replay: bool = False) -> None:
    """Write rows made by ``log_rows`` in one transaction. ``replay``: rows already in the log are skipped
    (a spool drained twice, by two workers or after a crash, writes each recommendation once)."""
    if not heads:
        return
    with translated_errors(), writing(engine) as connection:
        for table, rows in ((table_of(RecommendationRow), heads), (table_of(RecommendationItemRow), items)):
            if not rows:
                continue
            if replay:
                insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
                connection.execute(insert(table).on_conflict_do_nothing(), list(rows))
            else:
                _insert(connection, table, rows)


def check_log_writable(engine: Engine) -> None:
    """Take what a log write takes, without writing: SQLite's write lock (``BEGIN IMMEDIATE``), PostgreSQL's
    insert lock on ``recommendations``; raises ``StoreError`` when the store does not grant it within the
    engine's lock wait (see ``make_engine(wait_seconds=...)``)."""
    with translated_errors(), writing(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("LOCK TABLE recommendations IN ROW EXCLUSIVE MODE"))


def _insert(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``INSERT`` many rows through the driver's ``executemany``, each value through its column type's own bind
    processing (what ``connection.execute(table.insert(), rows)`` does, without compiling the statement and
    building the parameters row by row: the log write of a batch of 16 recommendations went from ~2.1 to
    ~1.6 ms, most of what is left being the commit's fsync). ``tests/test_store.py`` reads the rows back."""
    dialect = connection.dialect
    # Per dialect object (its processors close over its settings, e.g. its JSON serialiser), kept on it.
    statements: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]] = dialect.__dict__.setdefault(
        "_smematch_log_statements", {})
    names = tuple(rows[0])
    key = (table.name, names)
    prepared = statements.get(key)
    if prepared is None:
        columns = [table.c[name] for name in names]
        marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
        if marker is None:  # a driver with another parameter style: the general path
            connection.execute(table.insert(), list(rows))
            return
        quote = dialect.identifier_preparer.quote
        sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(column.name) for column in columns)}) "
               f"VALUES ({', '.join([marker] * len(columns))})")
        processors = tuple((position, process) for position, process in enumerate(
            column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns) if process is not None)
        prepared = statements[key] = (sql, processors)
    sql, processors = prepared
    parameters = []
    for row in rows:
        values = [row[name] for name in names]  # by name: rows need not share an insertion order
        for position, process in processors:
            values[position] = process(values[position])
        parameters.append(tuple(values))
    connection.exec_driver_sql(sql, parameters)


def get_logged(engine: Engine, recommendation_id: str) -> dict[str, Any] | None:
    """One logged recommendation as plain data (its items ordered by rank), or None."""
    heads, rows = table_of(RecommendationRow), table_of(RecommendationItemRow)
    with translated_errors(), reading(engine) as connection:
        head = connection.execute(select(heads).where(heads.c.recommendation_id == recommendation_id)).first()
        if head is None:
            return None
        shown = connection.execute(
            select(rows).where(rows.c.recommendation_id == recommendation_id).order_by(rows.c.rank)
        ).all()
    return {**head._asdict(), "items": [row._asdict() for row in shown]}


def logged_propensities(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The log as training reads it: ``recommendations`` (recommendation_id, problem_id) and
    ``recommendation_items`` (recommendation_id, institution_id, propensity); None when the store has no log
    or no logged items."""
    if not {"recommendations", "recommendation_items"} <= set(inspect(engine).get_table_names()):
        return None
    recommendations = pd.read_sql_table("recommendations", engine, columns=["recommendation_id", "problem_id"])
    items = pd.read_sql_table("recommendation_items", engine,
                              columns=["recommendation_id", "institution_id", "propensity"])
    return (recommendations, items) if len(items) else None
