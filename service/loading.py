"""Where commands get their tables and how a folder of tables reaches the store.

- ``load_tables_from(data=, db=, settings=)``: the one loader of "a data folder or the store": the folder
  ``data``, else the database ``db``, else the configured store (``SMEMATCH_DATABASE_URL``).
- ``import_into_store(tables, url)``: validated tables upserted into the store (schema created first), all or
  nothing.

The model these commands serve comes from ``service.bundles.current_ranker``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from matching.errors import InvalidInput, Issue
from matching.tables.files import Tables, read_tables
from service.settings import Settings

if TYPE_CHECKING:
    from service.store import ImportSummary, Progress

__all__ = ["load_tables_from", "import_into_store"]


def load_tables_from(*, data: Path | None, db: str | None, settings: Settings) -> Tables:
    """Tables from ``data`` (a folder), else ``db`` (a database URL), else the configured store."""
    if data is not None and db is not None:
        raise InvalidInput(Issue(column="--data/--db", expected="one of --data or --db", found="both"))
    if data is not None:
        if not Path(data).is_dir():
            raise InvalidInput(Issue(column="--data", expected="an existing folder", found=str(data)))
        return read_tables(data)
    from service.store import load_tables, make_engine

    engine = make_engine(db or settings.database_url)
    try:
        return load_tables(engine)
    finally:
        engine.dispose()


def import_into_store(tables: Tables, url: str, *, progress: Progress | None = None) -> ImportSummary:
    """Upsert ``tables`` into the store at ``url`` in one transaction, creating its schema when new."""
    from service.store import create_schema, import_tables, make_engine

    engine = make_engine(url)
    try:
        create_schema(engine)
        return import_tables(engine, tables, progress=progress)
    finally:
        engine.dispose()
