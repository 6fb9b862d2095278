"""The store's errors, grafted onto the tree of ``matching.errors``.

    SmematchError
     ├── InvalidInput
     │    └── OutcomeConflict   an outcome_id already stored with a different body (HTTP 409)
     ├── CaseConflict           a case move its status does not allow, e.g. resolving one not escalated (409)
     └── StoreError             the database failed or could not be reached (HTTP 503)

``translated_errors()`` turns SQLAlchemy's errors into ``StoreError`` (its message names the failing
statement's error, never the URL's password), so callers handle one tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from matching.errors import InvalidInput, SmematchError

__all__ = ["OutcomeConflict", "CaseConflict", "StoreError", "translated_errors"]


class OutcomeConflict(InvalidInput):
    """A replay of ``outcome_id`` whose body differs from the stored outcome."""


class CaseConflict(SmematchError):
    """A case move that the case's status does not allow; ``status`` is the status it has."""

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status


class StoreError(SmematchError):
    """The database failed: unreachable, locked, or it refused a statement."""


@contextmanager
def translated_errors() -> Iterator[None]:
    try:
        yield
    except DBAPIError as error:
        original = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
        raise StoreError(f"database error: {original}") from error
    except SQLAlchemyError as error:
        raise StoreError(f"database error: {error}") from error
