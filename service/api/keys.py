"""API keys in the store's ``api_keys`` table: create (the secret is returned once), list, revoke, look up.

Only ``security.hash_key(key)`` is stored. Creating and revoking a key are audit events. The last active admin
key cannot be revoked (``LastAdminKey``): the store would be left with nobody who can make keys. Inputs: an
engine, a role and an optional name. Outputs: plain dicts shaped like ``schemas.KeyOut`` (no hash, no secret)
and, from ``create_key``, the secret itself.
"""

from __future__ import annotations

import secrets
from datetime import UTC
from typing import Any

from sqlalchemy import Engine, select, update

from matching.errors import InvalidInput, Issue, SmematchError
from service.api.schemas import Role
from service.api.security import Caller, hash_key, new_key
from service.store import ApiKeyRow, reading, translated_errors, utc_now, writing
from service.store.audit import SYSTEM_ACTOR, write_event

__all__ = ["create_key", "list_keys", "revoke_key", "lookup_caller", "LastAdminKey"]


class LastAdminKey(SmematchError):
    """Revoking this key would leave no active admin key in the store."""


def _actor(caller: Caller | None) -> tuple[str, str | None]:
    return SYSTEM_ACTOR if caller is None else (caller.key_id, caller.name)


def _public(row: Any) -> dict[str, Any]:
    values = row._mapping
    return {"key_id": values["key_id"], "name": values["name"], "role": values["role"],
            "created_at": values["created_at"].replace(tzinfo=UTC), "revoked": bool(values["revoked"])}


def create_key(engine: Engine, role: str, name: str | None = None, *,
               actor: Caller | None = None) -> tuple[str, dict[str, Any]]:
    """A new key with ``role``: returns (the secret, its public record). The secret is not kept."""
    if role not in Role.__members__:
        raise InvalidInput(Issue(column="role", expected=f"one of {', '.join(Role.__members__)}", found=repr(role)))
    key = new_key()
    key_id, created_at = "k_" + secrets.token_hex(6), utc_now()
    record: dict[str, Any] = {"key_id": key_id, "name": name, "role": role, "hash": hash_key(key),
                              "created_at": created_at, "revoked": False}
    public = {k: v for k, v in record.items() if k != "hash"}
    with translated_errors(), writing(engine) as connection:
        connection.execute(ApiKeyRow.__table__.insert().values(record))
        write_event(connection, actor=_actor(actor), action="create", entity="api_keys",
                    record_id=key_id, before=None, after=public)
    return key, {**public, "created_at": created_at.replace(tzinfo=UTC)}


def list_keys(engine: Engine) -> list[dict[str, Any]]:
    table = ApiKeyRow.__table__
    with translated_errors(), reading(engine) as connection:
        return [_public(row) for row in connection.execute(select(table).order_by(table.c.created_at))]


def revoke_key(engine: Engine, key_id: str, *, actor: Caller | None = None) -> dict[str, Any] | None:
    """Mark ``key_id`` revoked; returns its record, or None when there is no such key. Raises ``LastAdminKey``
    for the last active admin key (checked in the revoking transaction, so two revocations cannot race past)."""
    table = ApiKeyRow.__table__
    with translated_errors(), writing(engine) as connection:
        row = connection.execute(select(table).where(table.c.key_id == key_id).with_for_update()).first()
        if row is None:
            return None
        if row.role == Role.admin and not row.revoked:
            admins = select(table.c.key_id).where(table.c.role == Role.admin, table.c.revoked.is_(False))
            # Every active admin row locked (PostgreSQL): concurrent revocations of two admins queue here.
            active = len(connection.execute(admins.with_for_update()).all())
            if active <= 1:
                raise LastAdminKey(f"{key_id} is the last active admin key; create another admin key first")
        before = _public(row)
        connection.execute(update(table).where(table.c.key_id == key_id).values(revoked=True))
        after = {**before, "revoked": True}
        if not row.revoked:
            write_event(connection, actor=_actor(actor), action="revoke", entity="api_keys", record_id=key_id,
                        before=before, after=after)
    return after


def lookup_caller(engine: Engine, digest: str) -> Caller | None:
    """The caller whose key hashes to ``digest``, unless it is unknown or revoked."""
    table = ApiKeyRow.__table__
    with translated_errors(), reading(engine) as connection:
        row = connection.execute(select(table).where(table.c.hash == digest)).first()
    if row is None or row.revoked:
        return None
    return Caller(key_id=row.key_id, name=row.name, role=row.role)
