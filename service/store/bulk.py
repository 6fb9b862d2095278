"""Moving whole tables in and out of the store: ``import_tables`` and ``load_tables``.

Inputs: validated ``matching.tables.Tables`` (from ``read_tables``). ``import_tables`` writes them in one
transaction (all or nothing), upserting on ids in batches: for each batch it reads the stored rows with the
same ids, counts what is new, changed or unchanged, and writes only the new and changed rows with the
dialect's ``INSERT .. ON CONFLICT DO UPDATE`` (SQLite, PostgreSQL). Re-importing the same files writes
nothing. Rows of the store that the files do not mention are kept: an import never deletes.

``load_tables`` reads the four tables back, ordered by id, as the same normalised frames ``read_tables``
returns, so the matching engine runs from the store exactly as from a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.sql.dml import Insert

from matching.tables import COLUMNS, KEYS, TABLE_NAMES, Tables, validate_tables
from service.store.engine import reading, writing
from service.store.errors import StoreError, translated_errors
from service.store.models import CONTRACT_MODELS

__all__ = ["TableCounts", "ImportSummary", "Progress", "import_tables", "load_tables", "count_rows"]

# (table, rows done, rows in all) after each batch.
Progress = Callable[[str, int, int], None]

# Referenced tables before the tables that reference them.
_WRITE_ORDER = ("enterprises", "institutions", "problems", "outcomes")


@dataclass(frozen=True, slots=True)
class TableCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did, per table in ``TABLE_NAMES`` order."""

    tables: dict[str, TableCounts]

    @property
    def changed(self) -> bool:
        return any(counts.inserted or counts.updated for counts in self.tables.values())


def import_tables(
    engine: Engine, tables: Tables, *, batch_size: int = 5000, progress: Progress | None = None
) -> ImportSummary:
    """Upsert ``tables`` into the store in one transaction; nothing is written if anything fails."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive. Got {batch_size} instead.")
    frames = tables.frames()
    counts: dict[str, TableCounts] = {}
    with translated_errors(), writing(engine) as connection:
        upsert = _upsert_statement(connection)
        for table in _WRITE_ORDER:
            counts[table] = _import_one(connection, upsert, table, frames[table], batch_size, progress)
    return ImportSummary({table: counts[table] for table in TABLE_NAMES})


def load_tables(engine: Engine) -> Tables:
    """The four tables of the store as normalised frames (rows ordered by id), from one snapshot."""
    frames: dict[str, pd.DataFrame] = {}
    with translated_errors(), reading(engine) as connection:
        for table in TABLE_NAMES:
            columns = _table(table).c
            query = select(*(columns[name] for name in COLUMNS[table])).order_by(columns[KEYS[table]])
            frames[table] = pd.DataFrame.from_records(connection.execute(query).all(), columns=list(COLUMNS[table]))
    return validate_tables(**frames, files={table: f"store table {table}" for table in TABLE_NAMES})


def count_rows(engine: Engine) -> dict[str, int]:
    """Rows per contract table, in ``TABLE_NAMES`` order."""
    from sqlalchemy import func

    with translated_errors(), reading(engine) as connection:
        return {
            table: int(connection.execute(select(func.count()).select_from(_table(table))).scalar_one())
            for table in TABLE_NAMES
        }


def _table(name: str) -> Table:
    return CONTRACT_MODELS[name].__table__  # type: ignore[return-value]


def _upsert_statement(connection: Connection) -> Callable[[Table], Insert]:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise StoreError(f"the store supports SQLite and PostgreSQL, not {dialect}")

    def build(table: Table) -> Insert:
        statement = insert(table)
        changes = {c.name: statement.excluded[c.name] for c in table.columns if not c.primary_key}
        return statement.on_conflict_do_update(index_elements=list(table.primary_key.columns), set_=changes)

    return build


def _import_one(
    connection: Connection,
    upsert: Callable[[Table], Insert],
    name: str,
    frame: pd.DataFrame,
    batch_size: int,
    progress: Progress | None,
) -> TableCounts:
    table, columns, key = _table(name), COLUMNS[name], KEYS[name]
    statement = upsert(table)
    rows = _plain_rows(frame, columns)
    inserted = updated = 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        query = select(*(table.c[c] for c in columns)).where(table.c[key].in_([row[0] for row in batch]))
        stored = {row[0]: tuple(row) for row in connection.execute(query)}
        changed = [row for row in batch if stored.get(row[0]) != row]
        inserted += sum(1 for row in changed if row[0] not in stored)
        updated += sum(1 for row in changed if row[0] in stored)
        if changed:
            connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in changed])
        if progress is not None:
            progress(name, start + len(batch), len(rows))
    if progress is not None and not rows:
        progress(name, 0, 0)
    return TableCounts(inserted=inserted, updated=updated, unchanged=len(rows) - inserted - updated)


def _plain_rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Rows of Python values as the database driver returns them: None for missing, lists for tuples."""
    values: list[list[Any]] = []
    for column in columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            values.append(series.dt.to_pydatetime().tolist())
        elif series.dtype == object and len(series) and isinstance(series.iat[0], tuple):
            values.append([list(items) for items in series])
        else:
            values.append(series.astype(object).where(series.notna(), None).tolist())
    return list(zip(*values, strict=True))
