"""Database engines for the store: SQLite (embedded default) or PostgreSQL, from one URL.

``make_engine(url)`` accepts ``sqlite:///path.db`` and ``postgresql://`` / ``postgres://`` /
``postgresql+psycopg://`` URLs (the plain forms are upgraded to the psycopg 3 driver). On SQLite every
connection gets ``journal_mode=WAL``, ``synchronous=FULL``, ``foreign_keys=ON`` and a busy timeout, and
transactions are real SQLite transactions (``BEGIN``, reads included); ``writing(engine)`` opens one with
``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead of failing on a lock upgrade.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from matching.errors import InvalidInput, Issue

__all__ = ["make_engine", "opened", "create_schema", "database_url", "writing", "reading", "describe", "checkpoint",
           "ping"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "smematch_write"


def database_url(url: str | URL) -> URL:
    """``url`` with the driver the store uses: psycopg 3 for PostgreSQL. A bad URL is ``InvalidInput``."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.get_backend_name() not in ("sqlite", "postgresql", "postgres"):
        shown = describe(url) if parsed is not None else "an unreadable URL"
        raise InvalidInput(
            Issue(
                column="database_url",
                expected="a sqlite:///file.db or postgresql://user@host/database URL",
                found=shown,
            )
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def describe(url: str | URL) -> str:
    """The URL as it may be shown to people: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str | URL, *, background_checkpoints: bool = False, wait_seconds: float | None = None,
                **options: Any) -> Engine:
    """An engine for ``url``; ``options`` go to ``sqlalchemy.create_engine``.

    ``background_checkpoints`` (SQLite): no commit copies the write-ahead log back into the database file
    (``wal_autocheckpoint=0``); the owner calls ``checkpoint(engine)`` from elsewhere, as the HTTP service
    does every second. Otherwise the commit that fills the log to 1,000 pages does it, fsync of the database
    file included, and that commit stalls every request waiting on it (recommendation latency:
    ``benchmarks/bench_api.py``). Durability is the same: a transaction is durable once its log frames are
    synced, which every commit does.

    ``wait_seconds``: how long a statement may wait for a lock (SQLite's busy timeout; PostgreSQL's
    ``lock_timeout`` and ``statement_timeout``, and a short connect timeout) before it fails; default: SQLite
    waits ``SQLITE_BUSY_TIMEOUT_MS``, PostgreSQL as long as it takes. The service's recommendation log uses
    a short one, so that an answer never waits long on the store (``service.store.spool``)."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **options)
        busy = SQLITE_BUSY_TIMEOUT_MS if wait_seconds is None else max(1, int(wait_seconds * 1000))
        _configure_sqlite(engine, autocheckpoint=not background_checkpoints, busy_timeout_ms=busy)
        return engine
    if wait_seconds is None:
        return create_engine(parsed, pool_pre_ping=True, **options)
    connect = {"connect_timeout": max(2, round(wait_seconds)), **options.pop("connect_args", {})}
    engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect, **options)
    _limit_postgresql_waits(engine, int(wait_seconds * 1000))
    return engine


def _limit_postgresql_waits(engine: Engine, milliseconds: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET lock_timeout = {milliseconds}")
            cursor.execute(f"SET statement_timeout = {milliseconds}")
        finally:
            cursor.close()
        dbapi_connection.commit()


def checkpoint(engine: Engine) -> tuple[int, int] | None:
    """Copy what the SQLite write-ahead log holds into the database file without waiting for anyone
    (``PASSIVE``: readers and writers go on meanwhile). Returns (log frames, frames checkpointed), or
    ``None`` for another database."""
    if engine.dialect.name != "sqlite":
        return None
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()  # autocommit (see ``_configure_sqlite``): no transaction around it
        try:
            _busy, frames, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            cursor.close()
    finally:
        connection.close()
    return int(frames), int(copied)


def ping(engine: Engine) -> None:
    """Run ``SELECT 1`` on a connection of ``engine``; raises whatever the driver raises when the database
    does not answer."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@contextmanager
def opened(url: str | URL, *, schema: bool = False, **options: Any) -> Iterator[Engine]:
    """An engine for ``url`` for the length of a ``with`` block, disposed at its end (pooled connections
    closed), as a command that opens the store once needs; ``schema``: migrate it to the newest revision first
    (``create_schema``). ``options`` go to ``make_engine``."""
    engine = make_engine(url, **options)
    try:
        if schema:
            create_schema(engine)
        yield engine
    finally:
        engine.dispose()


def create_schema(engine: Engine) -> None:
    """Bring the store's schema to the newest migration (``service.store.migrate.upgrade_schema``): an empty
    database gets every table, a store at the head is left as it is."""
    from service.store.migrate import upgrade_schema

    upgrade_schema(engine)


def _configure_sqlite(engine: Engine, *, autocheckpoint: bool = True,
                      busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below, not the sqlite3 module, decide where transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            if not autocheckpoint:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction: committed on success, rolled back on any error."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection in a read transaction that sees one consistent snapshot of the store."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection
