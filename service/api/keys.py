"""API keys in the store's ``api_keys`` table: create (the secret is returned once), list, revoke, look up.

Only ``security.hash_key(key)`` is stored. Inputs: an engine, a role and an optional name. Outputs: plain
dicts shaped like ``schemas.KeyOut`` (no hash, no secret) and, from ``create_key``, the secret itself.
"""

from __future__ import annotations

import secrets
from datetime import UTC
from typing import Any

from sqlalchemy import Engine, select, update

from matching.errors import InvalidInput, Issue
from service.api.schemas import Role
from service.api.security import Caller, hash_key, new_key
from service.store import ApiKeyRow, reading, translated_errors, utc_now, writing

__all__ = ["create_key", "list_keys", "revoke_key", "lookup_caller"]


def _public(row: Any) -> dict[str, Any]:
    values = row._mapping
    return {"key_id": values["key_id"], "name": values["name"], "role": values["role"],
            "created_at": values["created_at"].replace(tzinfo=UTC), "revoked": bool(values["revoked"])}


def create_key(engine: Engine, role: str, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new key with ``role``: returns (the secret, its public record). The secret is not kept."""
    if role not in Role.__members__:
        raise InvalidInput(Issue(column="role", expected=f"one of {', '.join(Role.__members__)}", found=repr(role)))
    key = new_key()
    record = {"key_id": "k_" + secrets.token_hex(6), "name": name, "role": role, "hash": hash_key(key),
              "created_at": utc_now(), "revoked": False}
    with translated_errors(), writing(engine) as connection:
        connection.execute(ApiKeyRow.__table__.insert().values(record))
    public = {k: v for k, v in record.items() if k != "hash"}
    return key, {**public, "created_at": record["created_at"].replace(tzinfo=UTC)}


def list_keys(engine: Engine) -> list[dict[str, Any]]:
    table = ApiKeyRow.__table__
    with translated_errors(), reading(engine) as connection:
        return [_public(row) for row in connection.execute(select(table).order_by(table.c.created_at))]


def revoke_key(engine: Engine, key_id: str) -> dict[str, Any] | None:
    """Mark ``key_id`` revoked; returns its record, or None when there is no such key."""
    table = ApiKeyRow.__table__
    with translated_errors(), writing(engine) as connection:
        connection.execute(update(table).where(table.c.key_id == key_id).values(revoked=True))
        row = connection.execute(select(table).where(table.c.key_id == key_id)).first()
    return None if row is None else _public(row)


def lookup_caller(engine: Engine, digest: str) -> Caller | None:
    """The caller whose key hashes to ``digest``, unless it is unknown or revoked."""
    table = ApiKeyRow.__table__
    with translated_errors(), reading(engine) as connection:
        row = connection.execute(select(table).where(table.c.hash == digest)).first()
    if row is None or row.revoked:
        return None
    return Caller(key_id=row.key_id, name=row.name, role=row.role)
