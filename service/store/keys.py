"""API keys in the ``api_keys`` table: insert, list, revoke and find by hash.

Only a key's hash is stored, never the key. Inserting and revoking a key append an audit event in the same
transaction. ``revoke_key`` refuses to revoke the last active admin key (``LastAdminKey``): the store would be
left with nobody who can make keys; it counts the active admin keys in the revoking transaction with their
rows locked, so two revocations cannot both pass. Outputs: plain dicts ``{key_id, name, role, created_at,
revoked}`` (no hash), ``created_at`` in UTC.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import Engine, select, update

from matching.errors import SmematchError
from service.store.audit import write_event
from service.store.engine import reading, writing
from service.store.errors import translated_errors
from service.store.models import ApiKeyRow, table_of

__all__ = ["ADMIN", "LastAdminKey", "KeyRecord", "insert_key", "list_keys", "revoke_key", "find_key"]

ADMIN = "admin"  # the role that can make and revoke keys
KeyRecord = dict[str, Any]


class LastAdminKey(SmematchError):
    """Revoking this key would leave no active admin key in the store."""


def _public(row: Any) -> KeyRecord:
    values = row._mapping
    return {"key_id": values["key_id"], "name": values["name"], "role": values["role"],
            "created_at": values["created_at"].replace(tzinfo=UTC), "revoked": bool(values["revoked"])}


def insert_key(engine: Engine, record: dict[str, Any], *, actor: tuple[str, str | None]) -> None:
    """Store a new key (``record``: key_id, name, role, hash, created_at as naive UTC, revoked) and its audit
    event (the record without its hash)."""
    public = {k: v for k, v in record.items() if k != "hash"}
    with translated_errors(), writing(engine) as connection:
        connection.execute(table_of(ApiKeyRow).insert().values(record))
        write_event(connection, actor=actor, action="create", entity="api_keys",
                    record_id=record["key_id"], before=None, after=public)


def list_keys(engine: Engine) -> list[KeyRecord]:
    """Every key, oldest first."""
    table = table_of(ApiKeyRow)
    with translated_errors(), reading(engine) as connection:
        return [_public(row) for row in connection.execute(select(table).order_by(table.c.created_at))]


def revoke_key(engine: Engine, key_id: str, *, actor: tuple[str, str | None]) -> KeyRecord | None:
    """Mark ``key_id`` revoked; returns its record, or None when there is no such key. Raises ``LastAdminKey``
    for the last active admin key. Revoking a revoked key changes nothing and records no event."""
    table = table_of(ApiKeyRow)
    with translated_errors(), writing(engine) as connection:
        row = connection.execute(select(table).where(table.c.key_id == key_id).with_for_update()).first()
        if row is None:
            return None
        if row.role == ADMIN and not row.revoked:
            admins = select(table.c.key_id).where(table.c.role == ADMIN, table.c.revoked.is_(False))
            # Every active admin row locked (PostgreSQL): concurrent revocations of two admins queue here.
            active = len(connection.execute(admins.with_for_update()).all())
            if active <= 1:
                raise LastAdminKey(f"{key_id} is the last active admin key; create another admin key first")
        before = _public(row)
        connection.execute(update(table).where(table.c.key_id == key_id).values(revoked=True))
        after = {**before, "revoked": True}
        if not row.revoked:
            write_event(connection, actor=actor, action="revoke", entity="api_keys", record_id=key_id,
                        before=before, after=after)
    return after


def find_key(engine: Engine, digest: str) -> KeyRecord | None:
    """The key whose hash is ``digest`` (revoked or not), or None."""
    table = table_of(ApiKeyRow)
    with translated_errors(), reading(engine) as connection:
        row = connection.execute(select(table).where(table.c.hash == digest)).first()
    return None if row is None else _public(row)
