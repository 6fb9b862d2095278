"""The audit trail: one append-only ``audit_events`` row per edit, written in the edit's own transaction.

``write_event`` takes the open write connection of the edit, so an edit and its audit event are committed
together or not at all. ``list_events`` pages through them, oldest first, with optional filters. Inputs: the
actor (key id and name), the action, the table, the record id, and the record before (None when created) and
after (None when removed). Outputs: plain dicts shaped like ``schemas.AuditEventOut``.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, Engine, select

from service.store.engine import reading, writing
from service.store.errors import translated_errors
from service.store.models import AuditEventRow, table_of
from service.store.outcomes import utc_now

__all__ = ["write_event", "record_event", "list_events", "jsonable", "SYSTEM_ACTOR"]

# The actor of edits made outside the HTTP API (the CLI): no key is involved.
SYSTEM_ACTOR = ("cli", "command line")


def jsonable(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """``record`` as JSON keeps it (dates and times as ISO text), so before and after compare as stored."""
    if record is None:
        return None
    return json.loads(json.dumps(record, default=lambda value: value.isoformat() if hasattr(value, "isoformat")
                                 else str(value)))


def write_event(
    connection: Connection,
    *,
    actor: tuple[str, str | None],
    action: str,
    entity: str,
    record_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Append one event in the caller's transaction (``connection`` comes from ``writing``)."""
    connection.execute(table_of(AuditEventRow).insert().values(
        at=utc_now(), actor_key_id=actor[0], actor_name=actor[1], action=action, entity=entity,
        record_id=record_id, before=jsonable(before), after=jsonable(after),
    ))


def record_event(engine: Engine, **event: Any) -> None:
    """``write_event`` in a transaction of its own, for changes that are not rows of the store (a model swap)."""
    with translated_errors(), writing(engine) as connection:
        write_event(connection, **event)


def list_events(
    engine: Engine,
    *,
    entity: str | None = None,
    record_id: str | None = None,
    actor_key_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Events matching every filter given, oldest first."""
    table = table_of(AuditEventRow)
    query = select(table).order_by(table.c.event_id).limit(limit).offset(offset)
    for column, value in (("entity", entity), ("record_id", record_id), ("actor_key_id", actor_key_id)):
        if value is not None:
            query = query.where(table.c[column] == value)
    with translated_errors(), reading(engine) as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
    for row in rows:
        row["at"] = row["at"].replace(tzinfo=UTC)
    return rows
