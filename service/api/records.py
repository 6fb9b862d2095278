"""Queries and writes behind the record routes: enterprises, problems, institutions and outcomes.

Routes stay thin; the SQL is here. Reads return plain dicts shaped like the ``*Out`` schemas; writes are one
transaction each (``service.store.writing``). ``put_*`` replaces a record or creates it when the id is new and
says which it did; in the same transaction it checks the caller's ``If-Match`` against the stored record's ETag
(412 when stale, so no update is lost) and appends an audit event (who, before, after). ``etag(record)`` is a
hash of the record as ``get_record`` returns it, the same for GET and PUT. Outcomes are written by
``service.store.record_outcome`` (idempotent); this module lists and exports them. Inputs: an engine and
validated ``*In`` schemas. Outputs: dicts, or ``None`` for an unknown id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, time
from typing import Any

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.sql.dml import Insert

from matching.errors import InvalidInput, Issue
from service.api.errors import ApiError
from service.api.schemas import EnterpriseIn, InstitutionIn, ProblemIn
from service.api.security import Caller
from service.store import (
    EnterpriseRow,
    InstitutionRow,
    OutcomeRow,
    ProblemRow,
    naive_utc,
    reading,
    translated_errors,
    writing,
)
from service.store.audit import write_event

__all__ = [
    "get_record", "get_records", "list_ids", "put_enterprise", "put_problem", "put_institution",
    "outcome_query", "list_outcomes", "outcome_csv", "OUTCOME_COLUMNS", "catalogue_fingerprint", "filtered_ids",
    "etag", "Stored",
]

TABLES: dict[str, Any] = {
    "enterprises": (EnterpriseRow.__table__, "enterprise_id"),
    "problems": (ProblemRow.__table__, "problem_id"),
    "institutions": (InstitutionRow.__table__, "institution_id"),
    "outcomes": (OutcomeRow.__table__, "outcome_id"),
}
OUTCOME_COLUMNS = ("outcome_id", "problem_id", "institution_id", "status", "amount", "recorded_at", "recorded_by")


def _shape(table: str, row: dict[str, Any]) -> dict[str, Any]:
    if table == "problems" and isinstance(row.get("stated_at"), datetime):
        row["stated_at"] = row["stated_at"].date()
    if table == "institutions":
        row["sectors"], row["regions"] = list(row["sectors"] or []), list(row["regions"] or [])
    return row


def get_records(engine: Engine, table: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The records of ``table`` with the given ids, by id (unknown ids are left out)."""
    sql, key = TABLES[table]
    if not ids:
        return {}
    with translated_errors(), reading(engine) as connection:
        rows = connection.execute(select(sql).where(sql.c[key].in_(ids))).all()
    return {row._mapping[key]: _shape(table, dict(row._mapping)) for row in rows}


def get_record(engine: Engine, table: str, record_id: str) -> dict[str, Any] | None:
    return get_records(engine, table, [record_id]).get(record_id)


def list_ids(engine: Engine, table: str, *, limit: int, offset: int, where: dict[str, Any] | None = None) -> list[str]:
    """Ids of ``table`` in id order, optionally filtered by equality on columns."""
    sql, key = TABLES[table]
    query = select(sql.c[key]).order_by(sql.c[key]).limit(limit).offset(offset)
    for column, value in (where or {}).items():
        query = query.where(sql.c[column] == value)
    with translated_errors(), reading(engine) as connection:
        return [row[0] for row in connection.execute(query)]


def filtered_ids(engine: Engine, table: str, where: dict[str, Any]) -> set[str]:
    sql, key = TABLES[table]
    query = select(sql.c[key])
    for column, value in where.items():
        query = query.where(sql.c[column] == value)
    with translated_errors(), reading(engine) as connection:
        return {row[0] for row in connection.execute(query)}


Stored = tuple[dict[str, Any], bool, str]  # (the record as stored, created?, its ETag)


def etag(record: dict[str, Any]) -> str:
    """A strong ETag of ``record`` as ``get_record`` shapes it: changes whenever any column does."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def _check_precondition(if_match: str | None, table: str, record_id: str, before: dict[str, Any] | None) -> None:
    """RFC 9110 ``If-Match`` with strong comparison: ``*`` needs the record to exist, a list of tags needs the
    stored record's tag among them."""
    if if_match is None:
        return
    given = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    if before is not None and ("*" in given or etag(before) in given):
        return
    found = "no such record" if before is None else "the record has changed since that ETag was read"
    raise ApiError(412, f"the {table[:-1]} {record_id!r} does not match If-Match: {found}; read it again",
                   [{"field": "If-Match", "problem": found}])


def _upsert(engine: Engine, table: str, values: dict[str, Any], *, actor: Caller, if_match: str | None = None,
            check: dict[str, str] | None = None) -> Stored:
    """Insert or replace one row, with its precondition and audit event. ``check``: column -> table it must
    name."""
    sql, key = TABLES[table]
    with translated_errors(), writing(engine) as connection:
        issues = []
        for column, other in (check or {}).items():
            other_sql, other_key = TABLES[other]
            found = connection.execute(select(other_sql.c[other_key]).where(other_sql.c[other_key] == values[column]))
            if found.first() is None:
                issues.append(Issue(column=column, expected=f"the {column} of a stored record",
                                    found=repr(values[column])))
        if issues:
            raise InvalidInput(issues)
        # Locked until the commit on PostgreSQL (SQLite's write transaction locks the whole database): two PUTs
        # with the same If-Match cannot both pass the check.
        old = connection.execute(select(sql).where(sql.c[key] == values[key]).with_for_update()).first()
        before = None if old is None else _shape(table, dict(old._mapping))
        _check_precondition(if_match, table, values[key], before)
        statement: Insert = _insert(connection.dialect.name, sql).values(values)
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=[key], set_={c: values[c] for c in values if c != key}
        )
        connection.execute(statement)
        after = _shape(table, dict(connection.execute(select(sql).where(sql.c[key] == values[key])).one()._mapping))
        write_event(connection, actor=(actor.key_id, actor.name), action="create" if before is None else "replace",
                    entity=table, record_id=values[key], before=before, after=after)
    return after, before is None, etag(after)


def _insert(dialect: str, table: Any) -> Insert:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _same_id(column: str, path: str, body: str | None) -> None:
    """A body may carry its record's id (a record fetched with GET is PUT back unchanged), but only the path's."""
    if body is not None and body != path:
        raise InvalidInput(Issue(column=column, expected=f"the id in the path ({path!r}) or no {column}",
                                 found=repr(body)))


def put_enterprise(engine: Engine, enterprise_id: str, body: EnterpriseIn, *, actor: Caller,
                   if_match: str | None = None) -> Stored:
    _same_id("enterprise_id", enterprise_id, body.enterprise_id)
    values = {**body.model_dump(mode="json"), "enterprise_id": enterprise_id}
    return _upsert(engine, "enterprises", values, actor=actor, if_match=if_match)


def put_problem(engine: Engine, problem_id: str, body: ProblemIn, *, actor: Caller,
                if_match: str | None = None) -> Stored:
    _same_id("problem_id", problem_id, body.problem_id)
    values = {**body.model_dump(exclude={"status", "history"}), "problem_id": problem_id}
    values["stated_at"] = datetime.combine(body.stated_at, time())
    return _upsert(engine, "problems", values, actor=actor, if_match=if_match,
                   check={"enterprise_id": "enterprises"})


def put_institution(engine: Engine, institution_id: str, body: InstitutionIn, *, actor: Caller,
                    if_match: str | None = None) -> Stored:
    _same_id("institution_id", institution_id, body.institution_id)
    values = {**body.model_dump(mode="json"), "institution_id": institution_id}
    return _upsert(engine, "institutions", values, actor=actor, if_match=if_match)


def catalogue_fingerprint(engine: Engine) -> tuple[int, int, int]:
    """A cheap signature of what the matcher's catalogue is fitted on: the institutions (every column), the
    number of outcomes (track record) and the districts of the enterprises."""
    institutions, enterprises = InstitutionRow.__table__, EnterpriseRow.__table__
    with translated_errors(), reading(engine) as connection:
        rows = connection.execute(select(institutions).order_by(institutions.c.institution_id)).all()
        outcomes = connection.execute(select(func.count()).select_from(OutcomeRow.__table__)).scalar_one()
        regions = connection.execute(select(enterprises.c.region).distinct().order_by(enterprises.c.region)).all()
    return hash(tuple(tuple(map(repr, row)) for row in rows)), int(outcomes), hash(tuple(r[0] for r in regions))


# ------------------------------------------------------------------------------------------- outcomes


def outcome_query(
    *,
    problem_id: str | None = None,
    institution_id: str | None = None,
    enterprise_id: str | None = None,
    status: str | None = None,
    recorded_by: str | None = None,
    recorded_after: datetime | None = None,
    recorded_before: datetime | None = None,
) -> Select[Any]:
    """Outcomes matching every filter given, oldest first (ties by id)."""
    table = OutcomeRow.__table__
    query = select(table).order_by(table.c.recorded_at, table.c.outcome_id)
    for column, value in (("problem_id", problem_id), ("institution_id", institution_id), ("status", status),
                          ("recorded_by", recorded_by)):
        if value is not None:
            query = query.where(table.c[column] == value)
    if enterprise_id is not None:
        problems = ProblemRow.__table__
        query = query.where(table.c.problem_id.in_(
            select(problems.c.problem_id).where(problems.c.enterprise_id == enterprise_id)))
    if recorded_after is not None:
        query = query.where(table.c.recorded_at >= naive_utc(recorded_after))
    if recorded_before is not None:
        query = query.where(table.c.recorded_at < naive_utc(recorded_before))
    return query


def list_outcomes(engine: Engine, query: Select[Any], *, limit: int, offset: int) -> list[dict[str, Any]]:
    with translated_errors(), reading(engine) as connection:
        return [dict(row._mapping) for row in connection.execute(query.limit(limit).offset(offset))]


def outcome_csv(engine: Engine, query: Select[Any], *, batch: int = 2000) -> Iterator[bytes]:
    """The outcomes of ``query`` as CSV (header first, by outcome id), in batches of short transactions.

    Each batch is its own read (keyset on the id), so the stream holds no connection between batches and
    memory stays bounded whatever the table's size.
    """
    table = OutcomeRow.__table__
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(OUTCOME_COLUMNS)
    last: str | None = None
    while True:
        page = query.order_by(None).order_by(table.c.outcome_id).limit(batch)
        if last is not None:
            page = page.where(table.c.outcome_id > last)
        with translated_errors(), reading(engine) as connection:
            rows = [dict(row._mapping) for row in connection.execute(page)]
        for values in rows:
            writer.writerow([_cell(values[c]) for c in OUTCOME_COLUMNS])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < batch:
            return
        last = rows[-1]["outcome_id"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
