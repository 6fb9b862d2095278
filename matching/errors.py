"""The errors smematch raises, one small tree.

    SmematchError
     ├── InvalidInput        bad data or arguments; carries every Issue found (file, row, column,
     │                       expected, found), so callers report them all at once
     ├── NotFittedError      a model or matcher used before ``fit`` (also sklearn's NotFittedError)
     └── ModelError          a model bundle that cannot be loaded or does not fit this code
          └── IncompatibleModel   library versions or feature names differ

The HTTP layer maps InvalidInput to 422, ModelError to 409/503; the CLI prints the issues and exits 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sklearn.exceptions import NotFittedError as _SklearnNotFitted

__all__ = ["Issue", "SmematchError", "InvalidInput", "NotFittedError", "ModelError", "IncompatibleModel"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in the input. ``row`` is 1-based as a person counts data rows (header excluded)."""

    column: str | None
    expected: str
    found: str
    file: str | None = None
    row: int | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        place = ", ".join(where) or "input"
        return f"{place}: expected {self.expected}, found {self.found}"

    def to_dict(self) -> dict:
        return asdict(self)


class SmematchError(Exception):
    """Base of every error smematch raises on purpose."""


class InvalidInput(SmematchError, ValueError):
    def __init__(self, issues: Iterable[Issue] | Issue) -> None:
        self.issues: list[Issue] = [issues] if isinstance(issues, Issue) else list(issues)
        head = f"{len(self.issues)} problem(s) in the input"
        super().__init__(head + ":\n" + "\n".join(f"  - {issue}" for issue in self.issues))

    @classmethod
    def field(cls, column: str, expected: str, found: object) -> InvalidInput:
        return cls(Issue(column=column, expected=expected, found=_show(found)))


class NotFittedError(SmematchError, _SklearnNotFitted):
    pass


class ModelError(SmematchError):
    pass


class IncompatibleModel(ModelError):
    pass


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
