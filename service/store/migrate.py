"""Schema migrations: Alembic owns the store's schema; its revisions ship inside the package.

Inputs: an engine (``make_engine``). Outputs: the store at the head revision, and the revision a store is at.

    upgrade_schema(engine)         # idempotent: a store at head is left as it is
    current_revision(engine)       # "0002", or None for an empty database
    head_revision()                # the newest revision this code knows

The revisions live in ``service/store/migrations/versions``; ``env.py`` there runs them on the connection
handed in. ``upgrade_schema`` runs in one write transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: DDL is
transactional, and an advisory lock serialises starters), so the workers and replicas of a fleet that start
together migrate one after another and the later ones find the store at head. A store created before
migrations existed (tables present, no ``alembic_version``) is stamped at the first revision, whose schema it
has, and upgraded from there.

Adding a revision: change ``models.py``, then
``python -m service.store.migrate revision "what changed"`` writes ``versions/NNNN_what_changed.py`` by
autogenerate against a scratch SQLite store at head; review it, and ``tests/test_migrations.py`` checks that
the head matches the models on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from service.store.engine import make_engine, writing
from service.store.errors import StoreError, translated_errors

__all__ = ["upgrade_schema", "current_revision", "head_revision", "alembic_config", "FIRST_REVISION", "MIGRATIONS"]

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
FIRST_REVISION = "0001"
VERSION_TABLE = "alembic_version"
# The key of PostgreSQL's transaction-scoped advisory lock taken around a migration (any fixed number).
_LOCK_KEY = 5_170_320_001


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration of the store's migrations, running on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the store has no migrations"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the store is at; None when it has no version table (empty or created before migrations)."""
    with translated_errors(), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(engine: Engine, revision: str = "head") -> str | None:
    """Bring the store to ``revision`` (default: the head); returns the revision it is at afterwards."""
    with translated_errors(), _alembic_errors(), writing(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        config = alembic_config(connection)
        tables = set(inspect(connection).get_table_names())
        if VERSION_TABLE not in tables and "enterprises" in tables:
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, revision)
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _alembic_errors() -> Iterator[None]:
    """Alembic's own failures (a store at a revision this code does not know: newer code migrated it) as
    ``StoreError``, which the CLI and the service report without a traceback."""
    try:
        yield
    except CommandError as error:
        raise StoreError(f"cannot migrate the store: {error}") from None


def _new_revision(message: str) -> None:
    """Autogenerate the next revision from the difference between the head and ``models.py``."""
    script = ScriptDirectory.from_config(alembic_config())
    number = f"{int(script.get_current_head() or '0') + 1:04d}"
    with tempfile.TemporaryDirectory(prefix="smematch-revision-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'head.db'}")
        try:
            upgrade_schema(engine)
            with engine.begin() as connection:
                slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40]
                command.revision(alembic_config(connection), message=message, autogenerate=True, rev_id=number,
                                 head="head")
                print(f"written: versions/{number}_{slug}.py (review it before committing)")
        finally:
            engine.dispose()


if __name__ == "__main__":  # python -m service.store.migrate revision "message"
    if len(sys.argv) != 3 or sys.argv[1] != "revision":
        raise SystemExit('usage: python -m service.store.migrate revision "what changed"')
    _new_revision(sys.argv[2])
