"""API keys: how they are made, hashed, ranked and checked.

A key is ``smk_`` followed by 32 random bytes (URL-safe base64). Only its SHA-256 is stored: the tokens are
high-entropy, so a fast hash is enough (no password stretching needed) and lookups are one indexed query.
A route names the role it needs and ``ALLOWED`` says which roles hold it: every role has the caseworker's
rights (read the catalogue and enterprises, recommend, record outcomes); ``analyst`` adds the model, exports
and the audit trail; ``curator`` adds editing institutions, enterprises and problems; ``admin`` has all of
these and keys and models. ``analyst`` and ``curator`` are siblings: neither has the other's rights.
``provincial`` (the provincial working group) holds only its own: the queue of escalated problems and their
resolutions; routes that both may use name both.

``KeyRing`` answers "which role does this key have?" from the store, remembering answers for a few seconds so
the hot path (recommendations) does not query the database on every request; a revoked key stops working
within ``ttl_seconds`` in every worker. Inputs: the raw header value. Outputs: a ``Caller`` or ``None``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.api.schemas import Role

__all__ = ["ALLOWED", "KEY_PREFIX", "Caller", "new_key", "hash_key", "KeyRing", "allows"]

KEY_PREFIX = "smk_"
MAX_KEY_LENGTH = 200
# needed role -> the roles that hold it (the one place the policy is written).
ALLOWED: dict[str, frozenset[str]] = {
    Role.caseworker: frozenset(Role) - {Role.provincial},
    Role.analyst: frozenset({Role.analyst, Role.admin}),
    Role.curator: frozenset({Role.curator, Role.admin}),
    Role.admin: frozenset({Role.admin}),
    Role.provincial: frozenset({Role.provincial}),
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's id and name (never the key itself) and its role."""

    key_id: str
    name: str | None
    role: str


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def allows(role: str, needed: str) -> bool:
    return role in ALLOWED[needed]


class KeyRing:
    """Resolves raw keys to callers with ``lookup(hash) -> Caller | None`` (the store), caching for a while.

    ``bootstrap_hash`` (from settings) is an admin key that needs no row in the store.
    """

    def __init__(
        self,
        lookup: Callable[[str], Caller | None],
        *,
        ttl_seconds: float = 5.0,
        bootstrap_hash: str | None = None,
        max_entries: int = 10_000,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl_seconds
        self._bootstrap = bootstrap_hash
        self._max = max_entries
        self._cache: dict[str, tuple[float, Caller | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, Caller | None]:
        """(known, caller) without touching the store: lets async code skip a thread hop when cached."""
        if not key or len(key) > MAX_KEY_LENGTH:
            return True, None
        digest = hash_key(key)
        if self._bootstrap is not None and hmac.compare_digest(digest, self._bootstrap):
            return True, Caller(key_id="bootstrap", name="bootstrap admin", role=Role.admin)
        entry = self._cache.get(digest)
        if entry is not None and entry[0] > time.monotonic():
            return True, entry[1]
        return False, None

    def resolve(self, key: str) -> Caller | None:
        """The caller owning ``key``, or None for an unknown or revoked key (may query the store)."""
        known, caller = self.cached(key)
        if known:
            return caller
        digest = hash_key(key)
        caller = self._lookup(digest)
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[digest] = (time.monotonic() + self._ttl, caller)
        return caller

    def forget(self) -> None:
        """Drop every remembered answer (after a key is revoked through this process)."""
        with self._lock:
            self._cache.clear()
