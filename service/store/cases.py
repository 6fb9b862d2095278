"""A problem as a case: its lifecycle as append-only events, its status derived from them.

    open -> recommended -> referred -> accepted -> solved | unsolved
    any of those (but solved) -> escalated -> resolved_by_province | closed

Each transition is one ``case_events`` row (who, when, why: ``source``, ``by``, ``at`` and a reason
``{"code", "params"}``, rendered in the reader's language by ``matching.explain.reasons``); the ``cases`` row is the
status after the last event, rewritten in the same transaction. A problem with no events is ``open``.

Recorded exactly once: an event takes the next ``sequence`` of its problem and ``(problem_id, sequence)`` is
unique, so of concurrent writers that read the same last event one appends and the others fail, roll back
to a savepoint and read again; they then find the status already reached and record nothing. A move to the
status the case has already is no event (``Applied.recorded`` False). A move from a status it does not
leave raises ``CaseConflict`` when ``strict`` (a resolution for a problem that is not escalated), else it
is skipped (an outcome for a case the province holds).

Rules (``CaseRules``): N failed referrals (outcomes ``declined``/``failed``) escalate at once; N days open
escalate when ``escalate_overdue`` runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from matching.errors import InvalidInput, Issue
from service.store.clock import naive_utc, utc_now
from service.store.engine import reading, writing
from service.store.errors import CaseConflict, translated_errors
from service.store.models import CaseEventRow, CaseRow, ProblemRow, table_of

__all__ = ["Move", "Applied", "CaseRules", "ACTIVE", "OUTCOME_STATUS", "apply_moves", "apply_in", "outcome_move",
           "escalation", "resolution", "history", "escalate_overdue", "count_events", "UnknownProblem"]

ACTIVE: frozenset[str] = frozenset({"open", "recommended", "referred", "accepted", "unsolved"})
ESCALATABLE = ACTIVE
OUTCOME_STATUS: dict[str, str] = {"contacted": "referred", "accepted": "accepted", "solved": "solved",
                                  "declined": "unsolved", "failed": "unsolved"}
_ATTEMPTS = 8


class UnknownProblem(InvalidInput):
    """The problem id names no stored problem."""


@dataclass(frozen=True, slots=True)
class CaseRules:
    """When a rule escalates: after this many failed referrals, after this many days open (0: never)."""

    failed_referrals: int = 3
    days_open: int = 0


@dataclass(frozen=True, slots=True)
class Move:
    """A wanted transition of one problem's case."""

    problem_id: str
    status: str
    source: str  # engine, caseworker, rule, outcome, province
    reason: Mapping[str, Any]  # {"code": ..., "params": {...}}
    by: str | None = None
    allowed_from: frozenset[str] = ACTIVE
    strict: bool = False  # a move from a status it does not leave: CaseConflict instead of skipping it
    failed_referral: bool = False


@dataclass(frozen=True, slots=True)
class Applied:
    problem_id: str
    previous: str
    status: str  # after the move (the previous one when nothing was recorded)
    recorded: bool
    events: list[dict[str, Any]] = field(default_factory=list)  # the events appended (a rule may add one)


def escalation(problem_id: str, *, source: str, reason: Mapping[str, Any], by: str | None = None) -> Move:
    return Move(problem_id, "escalated", source, reason, by, ESCALATABLE)


def resolution(problem_id: str, status: str, *, note: str | None, by: str | None) -> Move:
    code = "province_resolved" if status == "resolved_by_province" else "province_closed"
    return Move(problem_id, status, "province", {"code": code, "params": {"note": note or ""}}, by,
                frozenset({"escalated"}), strict=True)


def outcome_move(problem_id: str, outcome_id: str, institution_id: str, outcome_status: str,
                 by: str | None) -> Move:
    reason = {"code": "outcome_recorded",
              "params": {"outcome_id": outcome_id, "institution_id": institution_id, "outcome": outcome_status}}
    return Move(problem_id, OUTCOME_STATUS[outcome_status], "outcome", reason, by,
                failed_referral=outcome_status in ("declined", "failed"))


def apply_moves(engine: Engine, moves: Sequence[Move], *, rules: CaseRules | None = None,
                at: datetime | None = None) -> list[Applied]:
    """Apply ``moves`` in one transaction (committed before returning); see the module docstring."""
    with translated_errors(), writing(engine) as connection:
        return apply_in(connection, moves, rules=rules, at=at)


def apply_in(connection: Connection, moves: Sequence[Move], *, rules: CaseRules | None = None,
             at: datetime | None = None) -> list[Applied]:
    """``apply_moves`` inside the caller's transaction (an outcome and its event commit together)."""
    moment = naive_utc(at) if at is not None else utc_now()
    out = []
    for move in moves:
        for attempt in range(_ATTEMPTS):
            savepoint = connection.begin_nested()
            try:
                applied = _apply_one(connection, move, rules or CaseRules(), moment)
            except IntegrityError:  # another writer appended this problem's next event first: read again
                savepoint.rollback()
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            except BaseException:
                savepoint.rollback()
                raise
            savepoint.commit()
            out.append(applied)
            break
    return out


def _current(connection: Connection, problem_id: str) -> dict[str, Any]:
    row = connection.execute(select(table_of(CaseRow)).where(CaseRow.problem_id == problem_id)).first()
    if row is not None:
        return dict(row._mapping)
    if connection.execute(select(ProblemRow.problem_id).where(ProblemRow.problem_id == problem_id)).first() is None:
        raise UnknownProblem(Issue(column="problem_id", expected="the id of a stored problem", found=repr(problem_id)))
    return {"problem_id": problem_id, "status": "open", "sequence": 0, "failed_referrals": 0, "new": True}


def _apply_one(connection: Connection, move: Move, rules: CaseRules, at: datetime) -> Applied:
    case = _current(connection, move.problem_id)
    previous = case["status"]
    if previous == move.status and not move.failed_referral:
        return Applied(move.problem_id, previous, previous, recorded=False)
    if previous not in move.allowed_from:
        if move.strict:
            raise CaseConflict(f"problem {move.problem_id!r} is {previous}; this needs it "
                               f"{' or '.join(sorted(move.allowed_from))}", status=previous)
        return Applied(move.problem_id, previous, previous, recorded=False)
    events = [_append(connection, case, move, at)]
    if move.failed_referral and rules.failed_referrals and case["failed_referrals"] >= rules.failed_referrals:
        reason = {"code": "rule_failed_referrals",
                  "params": {"count": case["failed_referrals"], "limit": rules.failed_referrals}}
        events.append(_append(connection, case, escalation(move.problem_id, source="rule", reason=reason), at))
    return Applied(move.problem_id, previous, case["status"], recorded=True, events=events)


def _append(connection: Connection, case: dict[str, Any], move: Move, at: datetime) -> dict[str, Any]:
    """Append the event and rewrite the case row; ``case`` is updated in place. A concurrent writer makes
    the event insert (unique sequence) or the case row insert (primary key) raise ``IntegrityError``."""
    sequence = case["sequence"] + 1
    event = {"problem_id": move.problem_id, "sequence": sequence, "status": move.status, "at": at,
             "source": move.source, "by": move.by, "reason": dict(move.reason)}
    connection.execute(table_of(CaseEventRow).insert().values(event))
    values: dict[str, Any] = {"status": move.status, "sequence": sequence, "updated_at": at,
                              "failed_referrals": case["failed_referrals"] + int(move.failed_referral)}
    if move.status == "escalated":
        values.update(escalated_at=at, escalation_source=move.source, escalation_reason=dict(move.reason))
        if move.source == "engine":
            values["engine_reason"] = dict(move.reason)
    if case.pop("new", False):
        connection.execute(table_of(CaseRow).insert().values(problem_id=move.problem_id, **values))
    else:
        done = connection.execute(update(CaseRow).where(CaseRow.problem_id == move.problem_id,
                                                        CaseRow.sequence == case["sequence"]).values(**values))
        if done.rowcount != 1:
            raise IntegrityError("case moved meanwhile", None, Exception("stale sequence"))
    case.update(values)
    return event


def history(engine: Engine, problem_id: str) -> tuple[str, list[dict[str, Any]]] | None:
    """(status, events oldest first) of a stored problem, or None when there is no such problem."""
    events = table_of(CaseEventRow)
    with translated_errors(), reading(engine) as connection:
        if connection.execute(select(ProblemRow.problem_id).where(ProblemRow.problem_id == problem_id)).first() is None:
            return None
        rows = connection.execute(select(events).where(events.c.problem_id == problem_id)
                                  .order_by(events.c.sequence)).all()
    shaped = [{k: v for k, v in row._mapping.items() if k != "event_id"} for row in rows]
    return (shaped[-1]["status"] if shaped else "open"), shaped


def escalate_overdue(engine: Engine, rules: CaseRules, *, now: datetime | None = None,
                     limit: int = 10_000) -> int:
    """Escalate up to ``limit`` active problems stated more than ``rules.days_open`` days ago; returns how many."""
    if not rules.days_open:
        return 0
    moment = naive_utc(now) if now is not None else utc_now()
    cutoff = moment - timedelta(days=rules.days_open)
    query = (select(ProblemRow.problem_id, ProblemRow.stated_at)
             .outerjoin(CaseRow, CaseRow.problem_id == ProblemRow.problem_id)
             .where(ProblemRow.stated_at < cutoff,
                    or_(CaseRow.status.is_(None), CaseRow.status.in_(sorted(ACTIVE))))
             .order_by(ProblemRow.problem_id).limit(limit))
    with translated_errors(), reading(engine) as connection:
        due = connection.execute(query).all()
    moves = [escalation(problem_id, source="rule",
                        reason={"code": "rule_days_open", "params": {"days": (moment - stated).days,
                                                                      "limit": rules.days_open}})
             for problem_id, stated in due]
    applied = apply_moves(engine, moves, rules=rules, at=moment) if moves else []
    return sum(a.recorded for a in applied)


def count_events(engine: Engine, problem_id: str, status: str | None = None) -> int:
    """How many events a problem has (of one status when given): for tests and checks."""
    query = select(func.count()).select_from(CaseEventRow).where(CaseEventRow.problem_id == problem_id)
    if status is not None:
        query = query.where(CaseEventRow.status == status)
    with translated_errors(), reading(engine) as connection:
        return int(connection.execute(query).scalar_one())
