"""Recording one outcome, idempotently on its client-supplied ``outcome_id``.

Input: a ``matching.records.Outcome``. Output: ``(stored outcome, created)``. A first write stores it
(``created`` True); a replay with the same body returns the stored outcome (``created`` False) and writes
nothing; the same id with a different body raises ``OutcomeConflict`` naming each differing field. An
outcome that omits ``recorded_at`` is stamped with the current UTC time, and a replay that omits it again
still counts as the same body. Bad fields or unknown problem/institution ids raise ``InvalidInput``.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from matching.errors import InvalidInput, Issue
from matching.records import MAX_TEXT_LENGTH, OUTCOME_STATUSES, Outcome
from matching.tables.files import MAX_ID_LENGTH
from service.store.cases import CaseRules, apply_in, outcome_move
from service.store.clock import naive_utc, utc_now
from service.store.engine import writing
from service.store.errors import OutcomeConflict, translated_errors
from service.store.models import InstitutionRow, OutcomeRow, ProblemRow, table_of

__all__ = ["record_outcome", "utc_now", "naive_utc"]


def record_outcome(engine: Engine, outcome: Outcome, *, rules: CaseRules | None = None) -> tuple[Outcome, bool]:
    """Store ``outcome`` unless its id is stored already; see the module docstring. A new outcome moves its
    problem's case (``service.store.cases``, ``rules`` for the failed-referrals rule) in the same transaction."""
    _check_fields(outcome)
    # Normalised as matching.tables.files normalises a table: ids and recorded_by stripped, '' recorded_by is none.
    wanted = replace(
        outcome,
        outcome_id=outcome.outcome_id.strip(),
        problem_id=outcome.problem_id.strip(),
        institution_id=outcome.institution_id.strip(),
        amount=None if outcome.amount is None else float(outcome.amount),
        recorded_at=naive_utc(outcome.recorded_at or utc_now()),
        recorded_by=(outcome.recorded_by or "").strip() or None,
    )
    with translated_errors(), writing(engine) as connection:
        stored = _stored(connection, wanted.outcome_id)
        if stored is None:
            _check_references(connection, wanted)
            # A concurrent writer may have stored the same id since: then the insert does nothing.
            if connection.execute(_insert_once(connection), _as_row(wanted)).first() is not None:
                apply_in(connection, [outcome_move(wanted.problem_id, wanted.outcome_id, wanted.institution_id,
                                                   wanted.status, wanted.recorded_by)],
                         rules=rules, at=wanted.recorded_at)
                return wanted, True
            stored = _stored(connection, wanted.outcome_id)
            assert stored is not None
    differences = [
        Issue(
            column=name,
            expected=f"{getattr(stored, name)!r}, as stored for outcome {wanted.outcome_id!r}",
            found=repr(getattr(wanted, name)),
        )
        for name in (f.name for f in fields(Outcome))
        if not (name == "recorded_at" and outcome.recorded_at is None)
        and getattr(stored, name) != getattr(wanted, name)
    ]
    if differences:
        raise OutcomeConflict(differences)
    return stored, False


def _check_fields(outcome: Outcome) -> None:
    issues: list[Issue] = []
    for name in ("outcome_id", "problem_id", "institution_id"):
        value = getattr(outcome, name)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
            issues.append(Issue(column=name, expected=f"an id of 1 to {MAX_ID_LENGTH} characters", found=repr(value)))
    if outcome.status not in OUTCOME_STATUSES:
        issues.append(
            Issue(column="status", expected=f"one of {', '.join(OUTCOME_STATUSES)}", found=repr(outcome.status))
        )
    amount = outcome.amount
    if amount is not None and (not isinstance(amount, int | float) or not math.isfinite(amount) or amount < 0):
        issues.append(Issue(column="amount", expected="a number >= 0 or nothing", found=repr(amount)))
    if outcome.recorded_by is not None and len(outcome.recorded_by) > MAX_TEXT_LENGTH:
        issues.append(
            Issue(
                column="recorded_by",
                expected=f"text of at most {MAX_TEXT_LENGTH} characters",
                found=f"{len(outcome.recorded_by)} characters",
            )
        )
    if issues:
        raise InvalidInput(issues)


def _check_references(connection: Connection, outcome: Outcome) -> None:
    issues = []
    for column, row, value in (
        ("problem_id", ProblemRow.problem_id, outcome.problem_id),
        ("institution_id", InstitutionRow.institution_id, outcome.institution_id),
    ):
        if connection.execute(select(row).where(row == value)).first() is None:
            issues.append(Issue(column=column, expected=f"the {column} of a stored record", found=repr(value)))
    if issues:
        raise InvalidInput(issues)


def _stored(connection: Connection, outcome_id: str) -> Outcome | None:
    row = connection.execute(select(table_of(OutcomeRow)).where(OutcomeRow.outcome_id == outcome_id)).first()
    return None if row is None else Outcome(**row._asdict())


def _as_row(outcome: Outcome) -> dict[str, object]:
    return {f.name: getattr(outcome, f.name) for f in fields(Outcome)}


def _insert_once(connection: Connection) -> Insert:
    table = table_of(OutcomeRow)
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(index_elements=["outcome_id"])
    return statement.returning(table.c.outcome_id)  # a row back only when it was inserted
