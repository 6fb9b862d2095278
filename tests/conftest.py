"""Shared fixtures: a fresh store for each test, on SQLite always and on PostgreSQL when it is reachable.

- ``database_url``: parametrised ``sqlite`` (a file in the test's tmp_path) and ``postgresql``. For PostgreSQL
  the session creates its own database (``smematch_test_<pid>_<random>``, dropped at the end, so parallel
  runs never collide) and each test gets its own schema in it, through the URL's ``search_path`` option. The
  ``postgresql`` case is skipped, not failed, when 127.0.0.1:5432 does not answer. Override the server
  with ``SMEMATCH_TEST_POSTGRES_URL`` (a URL of an existing database the tests may create databases from).
- ``engine``: ``make_engine(database_url)`` with the schema created (the migrations); disposed after the test.
- The checkout guard (``checkout_guard``): a run that leaves a store, a model or MLflow's files in the checkout
  fails.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from checkout_guard import pytest_sessionfinish, pytest_sessionstart  # noqa: F401  (hooks of this suite)

POSTGRES_URL = os.environ.get("SMEMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_answers(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1):
            pass
        import psycopg

        with psycopg.connect(_libpq(url), connect_timeout=3):
            return True
    except Exception:  # unreachable, refused, no driver: all mean "no PostgreSQL here"
        return False


def _libpq(url: str) -> str:
    """The URL as psycopg itself takes it (without SQLAlchemy's ``+psycopg`` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A database of this test session on the PostgreSQL server, or None when there is no server."""
    if not _postgres_answers(POSTGRES_URL):
        yield None
        return
    import psycopg

    name = f"smematch_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(POSTGRES_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(POSTGRES_URL)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(_libpq(POSTGRES_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty store of its own: SQLite, then PostgreSQL (skipped when unreachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    database = request.getfixturevalue("postgres_database")
    if database is None:
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(database), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(database)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(_libpq(database), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url`` with the store's schema created."""
    from service.store import create_schema, make_engine

    engine = make_engine(database_url)
    create_schema(engine)
    try:
        yield engine
    finally:
        engine.dispose()
