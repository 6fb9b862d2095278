"""Enterprises, problems, institutions and outcomes as plain dicts: read by id, list ids, replace or create one
record (with its audit event, in the same transaction), list outcomes by filter, and a fingerprint of what the
matcher's catalogue is fitted on.

Records come back shaped as the HTTP API returns them: a problem's ``stated_at`` as a date, an institution's
``sectors`` and ``regions`` as lists. ``upsert_record`` locks the stored row before it calls the caller's
``precondition`` (the API's ``If-Match`` check), so two writers cannot both pass it. Outcomes are written by
``service.store.outcomes.record_outcome``; this module reads them, by page or in batches of short
transactions (``outcome_batches``: an export of any size holds no connection between batches).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from matching.errors import InvalidInput, Issue
from service.store.audit import write_event
from service.store.clock import naive_utc
from service.store.engine import reading, writing
from service.store.errors import translated_errors
from service.store.models import EnterpriseRow, InstitutionRow, OutcomeRow, ProblemRow, table_of

__all__ = [
    "RECORD_TABLES", "OUTCOME_COLUMNS", "Actor", "Precondition", "OutcomeFilter",
    "get_records", "get_record", "list_ids", "filtered_ids", "upsert_record", "catalogue_fingerprint",
    "SEARCHABLE", "searchable_texts", "list_outcomes", "outcome_batches",
]

# table name -> (its SQLAlchemy table, its key column)
RECORD_TABLES: dict[str, tuple[Table, str]] = {
    "enterprises": (table_of(EnterpriseRow), "enterprise_id"),
    "problems": (table_of(ProblemRow), "problem_id"),
    "institutions": (table_of(InstitutionRow), "institution_id"),
    "outcomes": (table_of(OutcomeRow), "outcome_id"),
}
# table name -> the column name search reads: enterprise and institution names, problem texts
SEARCHABLE = {"enterprises": "name", "institutions": "name", "problems": "text"}
OUTCOME_COLUMNS = ("outcome_id", "problem_id", "institution_id", "status", "amount", "recorded_at", "recorded_by")

Actor = tuple[str, str | None]  # (key id, key name) of who makes the edit
Precondition = Callable[[dict[str, Any] | None], None]  # raises when the stored record (None: none) refuses it


def _shape(table: str, row: dict[str, Any]) -> dict[str, Any]:
    if table == "problems" and isinstance(row.get("stated_at"), datetime):
        row["stated_at"] = row["stated_at"].date()
    if table == "institutions":
        row["sectors"], row["regions"] = list(row["sectors"] or []), list(row["regions"] or [])
    return row


def get_records(engine: Engine, table: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The records of ``table`` with the given ids, by id (unknown ids are left out)."""
    sql, key = RECORD_TABLES[table]
    if not ids:
        return {}
    with translated_errors(), reading(engine) as connection:
        rows = connection.execute(select(sql).where(sql.c[key].in_(ids))).all()
    return {row._mapping[key]: _shape(table, dict(row._mapping)) for row in rows}


def get_record(engine: Engine, table: str, record_id: str) -> dict[str, Any] | None:
    return get_records(engine, table, [record_id]).get(record_id)


def list_ids(engine: Engine, table: str, *, limit: int, offset: int, where: dict[str, Any] | None = None) -> list[str]:
    """Ids of ``table`` in id order, optionally filtered by equality on columns."""
    sql, key = RECORD_TABLES[table]
    query = select(sql.c[key]).order_by(sql.c[key]).limit(limit).offset(offset)
    for column, value in (where or {}).items():
        query = query.where(sql.c[column] == value)
    with translated_errors(), reading(engine) as connection:
        return [row[0] for row in connection.execute(query)]


def filtered_ids(engine: Engine, table: str, where: dict[str, Any]) -> set[str]:
    """Every id of ``table`` whose columns equal ``where``'s values."""
    sql, key = RECORD_TABLES[table]
    query = select(sql.c[key])
    for column, value in where.items():
        query = query.where(sql.c[column] == value)
    with translated_errors(), reading(engine) as connection:
        return {row[0] for row in connection.execute(query)}


def searchable_texts(engine: Engine, table: str) -> list[tuple[str, str]]:
    """``(id, searched text)`` of every record of ``table`` (a key of ``SEARCHABLE``), by id."""
    sql, key = RECORD_TABLES[table]
    column = SEARCHABLE[table]
    with translated_errors(), reading(engine) as connection:
        return [(row[0], row[1]) for row in connection.execute(select(sql.c[key], sql.c[column]).order_by(sql.c[key]))]


def upsert_record(engine: Engine, table: str, values: dict[str, Any], *, actor: Actor,
                  precondition: Precondition | None = None,
                  references: dict[str, str] | None = None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Insert or replace one row of ``table`` and append its audit event, in one transaction.

    ``references``: column -> table whose key it must name (``InvalidInput`` naming the column otherwise).
    ``precondition`` is called with the stored record (None when the id is new) while its row is locked.
    Returns (the record before, None when created; the record after).
    """
    sql, key = RECORD_TABLES[table]
    with translated_errors(), writing(engine) as connection:
        issues = []
        for column, other in (references or {}).items():
            other_sql, other_key = RECORD_TABLES[other]
            found = connection.execute(select(other_sql.c[other_key]).where(other_sql.c[other_key] == values[column]))
            if found.first() is None:
                issues.append(Issue(column=column, expected=f"the {column} of a stored record",
                                    found=repr(values[column])))
        if issues:
            raise InvalidInput(issues)
        # Locked until the commit on PostgreSQL (SQLite's write transaction locks the whole database): two
        # writers with the same precondition cannot both pass it.
        old = connection.execute(select(sql).where(sql.c[key] == values[key]).with_for_update()).first()
        before = None if old is None else _shape(table, dict(old._mapping))
        if precondition is not None:
            precondition(before)
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        statement = insert(sql).values(values)
        statement = statement.on_conflict_do_update(index_elements=[key],
                                                    set_={c: values[c] for c in values if c != key})
        connection.execute(statement)
        after = _shape(table, dict(connection.execute(select(sql).where(sql.c[key] == values[key])).one()._mapping))
        write_event(connection, actor=actor, action="create" if before is None else "replace",
                    entity=table, record_id=values[key], before=before, after=after)
    return before, after


def catalogue_fingerprint(engine: Engine) -> tuple[int, int, int]:
    """A cheap signature of what the matcher's catalogue is fitted on: the institutions (every column), the
    number of outcomes (track record) and the districts of the enterprises."""
    institutions, enterprises = table_of(InstitutionRow), table_of(EnterpriseRow)
    with translated_errors(), reading(engine) as connection:
        rows = connection.execute(select(institutions).order_by(institutions.c.institution_id)).all()
        outcomes = connection.execute(select(func.count()).select_from(table_of(OutcomeRow))).scalar_one()
        regions = connection.execute(select(enterprises.c.region).distinct().order_by(enterprises.c.region)).all()
    return hash(tuple(tuple(map(repr, row)) for row in rows)), int(outcomes), hash(tuple(r[0] for r in regions))


# ------------------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class OutcomeFilter:
    """Which outcomes to read: every field given must match (``recorded_after`` inclusive, ``recorded_before``
    exclusive; ``enterprise_id`` through the outcome's problem)."""

    problem_id: str | None = None
    institution_id: str | None = None
    enterprise_id: str | None = None
    status: str | None = None
    recorded_by: str | None = None
    recorded_after: datetime | None = None
    recorded_before: datetime | None = None


def _outcomes(wanted: OutcomeFilter) -> Select[Any]:
    """The outcomes ``wanted`` names, oldest first (ties by id)."""
    table = table_of(OutcomeRow)
    query = select(table).order_by(table.c.recorded_at, table.c.outcome_id)
    given = asdict(wanted)
    for column in ("problem_id", "institution_id", "status", "recorded_by"):
        if given[column] is not None:
            query = query.where(table.c[column] == given[column])
    if wanted.enterprise_id is not None:
        problems = table_of(ProblemRow)
        query = query.where(table.c.problem_id.in_(
            select(problems.c.problem_id).where(problems.c.enterprise_id == wanted.enterprise_id)))
    if wanted.recorded_after is not None:
        query = query.where(table.c.recorded_at >= naive_utc(wanted.recorded_after))
    if wanted.recorded_before is not None:
        query = query.where(table.c.recorded_at < naive_utc(wanted.recorded_before))
    return query


def list_outcomes(engine: Engine, wanted: OutcomeFilter, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """One page of the outcomes ``wanted`` names, oldest first."""
    with translated_errors(), reading(engine) as connection:
        return [dict(row._mapping) for row in connection.execute(_outcomes(wanted).limit(limit).offset(offset))]


def outcome_batches(engine: Engine, wanted: OutcomeFilter, *, batch: int = 2000) -> Iterator[list[dict[str, Any]]]:
    """Every outcome ``wanted`` names, by outcome id, in lists of at most ``batch``; the last list is shorter
    than ``batch`` (possibly empty). Each list is its own read (keyset on the id): nothing is held between
    them."""
    table = table_of(OutcomeRow)
    query = _outcomes(wanted).order_by(None).order_by(table.c.outcome_id).limit(batch)
    last: str | None = None
    while True:
        page = query if last is None else query.where(table.c.outcome_id > last)
        with translated_errors(), reading(engine) as connection:
            rows = [dict(row._mapping) for row in connection.execute(page)]
        yield rows
        if len(rows) < batch:
            return
        last = rows[-1]["outcome_id"]
