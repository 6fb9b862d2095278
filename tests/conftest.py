"""Shared fixtures: a fresh store for each test, on SQLite and on PostgreSQL.

- ``database_url``: parametrised ``sqlite`` (a file in the test's tmp_path) and ``postgresql``. For PostgreSQL
  the session creates its own database (``smematch_test_<pid>_<random>``, dropped at the end, so parallel
  runs never collide) and each test gets its own schema in it, through the URL's ``search_path`` option. The
  server is ``127.0.0.1:5432`` (``SMEMATCH_TEST_POSTGRES_URL`` overrides it: a URL of an existing database the
  tests may create databases from). When it does not answer, the ``postgresql`` cases fail, saying how to
  start it (``.ci/run`` starts it; by hand: ``pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql)
  main start``): they are never skipped.
- ``SMEMATCH_TEST_DATABASES``: the backends to test, comma-separated, ``sqlite,postgresql`` by default. Only
  an explicit ``SMEMATCH_TEST_DATABASES=sqlite`` leaves PostgreSQL out: its cases (those marked ``postgres``)
  are then deselected, and pytest's summary counts them as deselected.
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
DATABASES = ("sqlite", "postgresql")
DATABASES_VARIABLE = "SMEMATCH_TEST_DATABASES"


def _databases() -> tuple[str, ...]:
    """The backends ``SMEMATCH_TEST_DATABASES`` asks for (all by default); a name it does not know stops the run."""
    wanted = tuple(name.strip() for name in os.environ.get(DATABASES_VARIABLE, ",".join(DATABASES)).split(",")
                   if name.strip())
    unknown = sorted(set(wanted) - set(DATABASES))
    if unknown or not wanted:
        raise pytest.UsageError(f"{DATABASES_VARIABLE}={os.environ.get(DATABASES_VARIABLE)!r}: expected a "
                                f"comma-separated list of {', '.join(DATABASES)}")
    return wanted


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the PostgreSQL cases when ``SMEMATCH_TEST_DATABASES`` leaves PostgreSQL out (never skip them)."""
    if "postgresql" in _databases():
        return
    left_out = [item for item in items if item.get_closest_marker("postgres") is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item.get_closest_marker("postgres") is None]


def _postgres_problem(url: str) -> str | None:
    """Why the server at ``url`` cannot be used, or None when it answers."""
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1):
            pass
    except OSError as error:
        return f"nothing answers on {parsed.host}:{parsed.port} ({error})"
    try:
        import psycopg
    except ImportError as error:
        return f"the PostgreSQL driver is not installed ({error}; `make install-dev` installs it)"
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"{parsed.render_as_string(hide_password=True)} refuses the connection ({str(error).strip()})"


def _libpq(url: str) -> str:
    """The URL as psycopg itself takes it (without SQLAlchemy's ``+psycopg`` driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test session on the PostgreSQL server; fails (never skips) when there is no server."""
    problem = _postgres_problem(POSTGRES_URL)
    if problem is not None:
        pytest.fail(f"PostgreSQL is needed for the postgresql cases and {problem}. Start it: `.ci/run` does, or "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`; or point "
                    "SMEMATCH_TEST_POSTGRES_URL at another server; or run SQLite only with "
                    f"{DATABASES_VARIABLE}=sqlite (the PostgreSQL cases are then deselected).", pytrace=False)
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
    """A URL of an empty store of its own: SQLite, then PostgreSQL (failing when the server does not answer)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    database = request.getfixturevalue("postgres_database")
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
