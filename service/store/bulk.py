"""Moving whole tables in and out of the store: ``import_tables`` and ``load_tables``.

Inputs: validated ``matching.tables.files.Tables`` (from ``read_tables``). ``import_tables`` writes them in one
transaction (all or nothing), upserting on ids in batches: for each batch it reads the stored rows with the
same ids, counts what is new, changed or unchanged, and writes only the new and changed rows with the
dialect's ``INSERT .. ON CONFLICT DO UPDATE`` (SQLite, PostgreSQL). Re-importing the same files writes
nothing. Rows of the store that the files do not mention are kept: an import never deletes.

``load_tables`` reads the four tables back, ordered by id, as the same normalised frames ``read_tables``
returns, so the matching engine runs from the store exactly as from a folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import JSON, ColumnElement, Connection, Engine, Table, Text, any_, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY

from matching.tables.files import COLUMNS, KEYS, TABLE_NAMES, Tables, validate_tables
from service.store.engine import reading, writing
from service.store.errors import StoreError, translated_errors
from service.store.models import CONTRACT_MODELS, table_of

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
        for table in _WRITE_ORDER:
            counts[table] = _import_one(connection, table, frames[table], batch_size, progress)
    return ImportSummary({table: counts[table] for table in TABLE_NAMES})


def load_tables(engine: Engine) -> Tables:
    """The four tables of the store as normalised frames (rows ordered by id), from one snapshot."""
    frames: dict[str, pd.DataFrame] = {}
    with translated_errors(), reading(engine) as connection:
        for table in TABLE_NAMES:
            columns = _table(table).c
            query = select(*(columns[name] for name in COLUMNS[table])).order_by(columns[KEYS[table]])
            rows = [tuple(row) for row in connection.execute(query)]
            frames[table] = pd.DataFrame.from_records(rows, columns=list(COLUMNS[table]))
    return validate_tables(**frames, files={table: f"store table {table}" for table in TABLE_NAMES})


def count_rows(engine: Engine) -> dict[str, int]:
    """Rows per contract table, in ``TABLE_NAMES`` order."""
    with translated_errors(), reading(engine) as connection:
        return {
            table: int(connection.execute(select(func.count()).select_from(_table(table))).scalar_one())
            for table in TABLE_NAMES
        }


def _table(name: str) -> Table:
    return table_of(CONTRACT_MODELS[name])


class _Upsert:
    """Reads stored rows by id and upserts rows of one table, the fastest way each dialect allows.

    SQLite: ``id IN (...)`` and an executemany of ``INSERT .. ON CONFLICT DO UPDATE``. PostgreSQL: one array
    parameter per column, ``id = ANY(:ids)`` and ``INSERT .. SELECT unnest(..) .. ON CONFLICT DO UPDATE``, so
    a batch is one statement with a dozen parameters instead of thousands of statements.
    """

    def __init__(self, connection: Connection, name: str) -> None:
        self.connection, self.table = connection, _table(name)
        self.columns, self.key = COLUMNS[name], self.table.c[KEYS[name]]
        self.postgres = connection.dialect.name == "postgresql"
        if connection.dialect.name not in ("sqlite", "postgresql"):
            raise StoreError(f"the store supports SQLite and PostgreSQL, not {connection.dialect.name}")
        self.json = [name for name in self.columns if isinstance(self.table.c[name].type, JSON)]
        statement: postgresql.Insert | sqlite.Insert
        if self.postgres:
            source = select(*(self._unnest(name) for name in self.columns))
            statement = postgresql.insert(self.table).from_select(list(self.columns), source)
        else:
            statement = sqlite.insert(self.table)
        changes = {name: statement.excluded[name] for name in self.columns if name != self.key.name}
        self.statement = statement.on_conflict_do_update(index_elements=[self.key], set_=changes)

    def _unnest(self, name: str) -> ColumnElement[Any]:
        if name in self.json:  # JSON travels as text: nested lists would make a 2-D array
            return cast(func.unnest(bindparam(name, type_=ARRAY(Text))), self.table.c[name].type)
        return func.unnest(bindparam(name, type_=ARRAY(self.table.c[name].type)))

    def stored(self, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        """The stored rows among ``ids``, as tuples in contract column order."""
        which = (
            self.key == any_(bindparam("ids", ids, type_=ARRAY(self.key.type)))
            if self.postgres
            else (self.key.in_(ids))
        )
        query = select(*(self.table.c[name] for name in self.columns)).where(which)
        return {row[0]: tuple(row) for row in self.connection.execute(query)}

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if not self.postgres:
            self.connection.execute(self.statement, [dict(zip(self.columns, row, strict=True)) for row in rows])
            return
        values = {name: [row[i] for row in rows] for i, name in enumerate(self.columns)}
        for name in self.json:
            values[name] = [json.dumps(value, ensure_ascii=False) for value in values[name]]
        self.connection.execute(self.statement, values)


def _import_one(
    connection: Connection, name: str, frame: pd.DataFrame, batch_size: int, progress: Progress | None
) -> TableCounts:
    upsert = _Upsert(connection, name)
    rows = _plain_rows(frame, COLUMNS[name])
    inserted = updated = 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        stored = upsert.stored([row[0] for row in batch])
        changed = [row for row in batch if stored.get(row[0]) != row]
        inserted += sum(1 for row in changed if row[0] not in stored)
        updated += sum(1 for row in changed if row[0] in stored)
        if changed:
            upsert.write(changed)
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
