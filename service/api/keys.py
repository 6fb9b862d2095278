"""API keys: create (the secret is returned once), list, revoke, and look up the caller of a key's hash.

The store keeps only ``security.hash_key(key)`` (``service.store.keys``). Creating and revoking a key are audit
events. The last active admin key cannot be revoked (``LastAdminKey``): the store would be left with nobody
who can make keys. Inputs: an engine, a role and an optional name. Outputs: plain dicts shaped like
``schemas.KeyOut`` (no hash, no secret) and, from ``create_key``, the secret itself.
"""

from __future__ import annotations

import secrets
from datetime import UTC
from typing import Any

from sqlalchemy import Engine

from matching.errors import InvalidInput, Issue
from service.api.schemas import Role
from service.api.security import Caller, hash_key, new_key
from service.store import keys as stored_keys
from service.store import utc_now
from service.store.audit import SYSTEM_ACTOR
from service.store.keys import LastAdminKey

__all__ = ["create_key", "list_keys", "revoke_key", "lookup_caller", "LastAdminKey"]


def _actor(caller: Caller | None) -> tuple[str, str | None]:
    return SYSTEM_ACTOR if caller is None else (caller.key_id, caller.name)


def create_key(engine: Engine, role: str, name: str | None = None, *,
               actor: Caller | None = None) -> tuple[str, dict[str, Any]]:
    """A new key with ``role``: returns (the secret, its public record). The secret is not kept."""
    if role not in Role.__members__:
        raise InvalidInput(Issue(column="role", expected=f"one of {', '.join(Role.__members__)}", found=repr(role)))
    key = new_key()
    key_id, created_at = "k_" + secrets.token_hex(6), utc_now()
    record: dict[str, Any] = {"key_id": key_id, "name": name, "role": role, "hash": hash_key(key),
                              "created_at": created_at, "revoked": False}
    stored_keys.insert_key(engine, record, actor=_actor(actor))
    public = {k: v for k, v in record.items() if k != "hash"}
    return key, {**public, "created_at": created_at.replace(tzinfo=UTC)}


def list_keys(engine: Engine) -> list[dict[str, Any]]:
    return stored_keys.list_keys(engine)


def revoke_key(engine: Engine, key_id: str, *, actor: Caller | None = None) -> dict[str, Any] | None:
    """Mark ``key_id`` revoked; returns its record, or None when there is no such key. Raises ``LastAdminKey``
    for the last active admin key (checked in the revoking transaction, so two revocations cannot race past)."""
    return stored_keys.revoke_key(engine, key_id, actor=_actor(actor))


def lookup_caller(engine: Engine, digest: str) -> Caller | None:
    """The caller whose key hashes to ``digest``, unless it is unknown or revoked."""
    found = stored_keys.find_key(engine, digest)
    if found is None or found["revoked"]:
        return None
    return Caller(key_id=found["key_id"], name=found["name"], role=found["role"])
