"""What the record routes do between the HTTP edge and the store: enterprises, problems, institutions and
outcomes.

Reads come from ``service.store.records`` as plain dicts shaped like the ``*Out`` schemas. ``put_*`` replaces
a record or creates it when the id is new and says which it did; the store checks, with the stored row locked,
the caller's ``If-Match`` against the stored record's ETag (412 when stale, so no update is lost) and appends
an audit event (who, before, after) in the same transaction. ``etag(record)`` is a hash of the record as
``get_record`` returns it, the same for GET and PUT. Outcomes are written by ``service.store.record_outcome``
(idempotent); this module lists them and exports them as CSV. Inputs: an engine and validated ``*In``
schemas. Outputs: dicts, or ``None`` for an unknown id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import datetime, time
from typing import Any

from sqlalchemy import Engine

from matching.errors import InvalidInput, Issue
from service.api.errors import ApiError
from service.api.schemas import EnterpriseIn, InstitutionIn, ProblemIn
from service.api.security import Caller
from service.store.records import (
    OUTCOME_COLUMNS,
    OutcomeFilter,
    catalogue_fingerprint,
    filtered_ids,
    get_record,
    get_records,
    list_ids,
    list_outcomes,
    outcome_batches,
    upsert_record,
)

__all__ = [
    "get_record", "get_records", "list_ids", "put_enterprise", "put_problem", "put_institution",
    "outcome_query", "list_outcomes", "outcome_csv", "OUTCOME_COLUMNS", "catalogue_fingerprint", "filtered_ids",
    "etag", "Stored",
]

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


def _upsert(engine: Engine, table: str, key: str, values: dict[str, Any], *, actor: Caller,
            if_match: str | None = None, references: dict[str, str] | None = None) -> Stored:
    """Insert or replace one row, with its precondition and audit event. ``references``: column -> table it
    must name."""
    record_id = values[key]
    before, after = upsert_record(
        engine, table, values, actor=(actor.key_id, actor.name), references=references,
        precondition=lambda stored: _check_precondition(if_match, table, record_id, stored))
    return after, before is None, etag(after)


def _same_id(column: str, path: str, body: str | None) -> None:
    """A body may carry its record's id (a record fetched with GET is PUT back unchanged), but only the path's."""
    if body is not None and body != path:
        raise InvalidInput(Issue(column=column, expected=f"the id in the path ({path!r}) or no {column}",
                                 found=repr(body)))


def put_enterprise(engine: Engine, enterprise_id: str, body: EnterpriseIn, *, actor: Caller,
                   if_match: str | None = None) -> Stored:
    _same_id("enterprise_id", enterprise_id, body.enterprise_id)
    values = {**body.model_dump(mode="json"), "enterprise_id": enterprise_id}
    return _upsert(engine, "enterprises", "enterprise_id", values, actor=actor, if_match=if_match)


def put_problem(engine: Engine, problem_id: str, body: ProblemIn, *, actor: Caller,
                if_match: str | None = None) -> Stored:
    _same_id("problem_id", problem_id, body.problem_id)
    values = {**body.model_dump(exclude={"status", "history"}), "problem_id": problem_id}
    values["stated_at"] = datetime.combine(body.stated_at, time())
    return _upsert(engine, "problems", "problem_id", values, actor=actor, if_match=if_match,
                   references={"enterprise_id": "enterprises"})


def put_institution(engine: Engine, institution_id: str, body: InstitutionIn, *, actor: Caller,
                    if_match: str | None = None) -> Stored:
    _same_id("institution_id", institution_id, body.institution_id)
    values = {**body.model_dump(mode="json"), "institution_id": institution_id}
    return _upsert(engine, "institutions", "institution_id", values, actor=actor, if_match=if_match)


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
) -> OutcomeFilter:
    """The outcomes matching every filter given (listed oldest first, ties by id)."""
    return OutcomeFilter(problem_id=problem_id, institution_id=institution_id, enterprise_id=enterprise_id,
                         status=status, recorded_by=recorded_by, recorded_after=recorded_after,
                         recorded_before=recorded_before)


def outcome_csv(engine: Engine, query: OutcomeFilter, *, batch: int = 2000) -> Iterator[bytes]:
    """The outcomes of ``query`` as CSV (header first, by outcome id), one chunk per batch the store reads in a
    short transaction of its own, so the stream holds no connection between batches and memory stays bounded
    whatever the table's size."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(OUTCOME_COLUMNS)
    for rows in outcome_batches(engine, query, batch=batch):
        for values in rows:
            writer.writerow([_cell(values[c]) for c in OUTCOME_COLUMNS])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
