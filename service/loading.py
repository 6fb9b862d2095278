"""Where commands get their tables.

- ``load_tables_from(data=, db=, settings=)``: the one loader of "a data folder or the store": the folder
  ``data``, else the database ``db``, else the configured store (``SMEMATCH_DATABASE_URL``).

The model these commands serve comes from ``service.bundles.current_ranker``.
"""

from __future__ import annotations

from pathlib import Path

from matching.errors import InvalidInput, Issue
from matching.tables.files import Tables, read_tables
from service.settings import Settings

__all__ = ["load_tables_from"]


def load_tables_from(*, data: Path | None, db: str | None, settings: Settings) -> Tables:
    """Tables from ``data`` (a folder), else ``db`` (a database URL), else the configured store."""
    if data is not None and db is not None:
        raise InvalidInput(Issue(column="--data/--db", expected="one of --data or --db", found="both"))
    if data is not None:
        if not Path(data).is_dir():
            raise InvalidInput(Issue(column="--data", expected="an existing folder", found=str(data)))
        return read_tables(data)
    from service.store import load_tables, opened

    with opened(db or settings.database_url) as engine:
        return load_tables(engine)
