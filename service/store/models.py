"""The store's schema as typed SQLAlchemy 2 ORM models, one class per table.

The four contract tables (enterprises, problems, institutions, outcomes) mirror ``matching.tables.files.COLUMNS``
column for column; ``recommendations`` with ``recommendation_items`` log what was shown (the text's hash,
never the text); ``api_keys`` keep the SHA-256 of each key, never the key; ``audit_events`` is the
append-only trail of edits (who, when, what, the record before and after); ``served_model`` names the
model version the fleet serves. Times are naive UTC everywhere. The schema itself is made by the
migrations (``service.store.migrate``); a change here needs a new revision.

Checks that the database can enforce cheaply (non-negative numbers, vocabularies, min <= max) are declared
here too, so that a row written by hand or by another tool cannot break the matching engine later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from matching.records import CASE_STATUSES, INSTITUTION_KINDS, OUTCOME_STATUSES, SECTORS
from matching.tables.files import MAX_ID_LENGTH

__all__ = [
    "Base",
    "EnterpriseRow",
    "ProblemRow",
    "InstitutionRow",
    "OutcomeRow",
    "RecommendationRow",
    "RecommendationItemRow",
    "ApiKeyRow",
    "AuditEventRow",
    "CaseEventRow",
    "CaseRow",
    "ServedModelRow",
    "CONTRACT_MODELS",
    "table_of",
]

# JSONB on PostgreSQL: it has equality, which the import's change detection relies on.
JsonList = JSON().with_variant(JSONB(), "postgresql")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_known")


class Base(DeclarativeBase):
    type_annotation_map = {str: String(MAX_ID_LENGTH), datetime: DateTime(), float: Double()}


class EnterpriseRow(Base):
    __tablename__ = "enterprises"
    __table_args__ = (
        _one_of("sector", SECTORS),
        CheckConstraint("employees >= 0", name="employees_not_negative"),
        CheckConstraint("annual_revenue >= 0", name="annual_revenue_not_negative"),
    )

    enterprise_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    sector: Mapped[str]
    region: Mapped[str] = mapped_column(Text)
    employees: Mapped[int] = mapped_column(Integer)
    annual_revenue: Mapped[float | None]
    founded: Mapped[int] = mapped_column(Integer)


class ProblemRow(Base):
    __tablename__ = "problems"
    __table_args__ = (CheckConstraint("amount >= 0", name="problem_amount_not_negative"),)

    problem_id: Mapped[str] = mapped_column(primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.enterprise_id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    amount: Mapped[float | None]
    stated_at: Mapped[datetime]


class InstitutionRow(Base):
    __tablename__ = "institutions"
    __table_args__ = (
        _one_of("kind", INSTITUTION_KINDS),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("min_amount >= 0 AND max_amount >= 0", name="amounts_not_negative"),
        CheckConstraint("min_amount <= max_amount", name="amount_range_ordered"),
    )

    institution_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str]
    description: Mapped[str] = mapped_column(Text)
    sectors: Mapped[list[str]] = mapped_column(JsonList)  # empty: every sector
    regions: Mapped[list[str]] = mapped_column(JsonList)  # empty: every region
    min_amount: Mapped[float | None]
    max_amount: Mapped[float | None]
    capacity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)


class OutcomeRow(Base):
    __tablename__ = "outcomes"
    __table_args__ = (
        _one_of("status", OUTCOME_STATUSES),
        CheckConstraint("amount >= 0", name="outcome_amount_not_negative"),
    )

    outcome_id: Mapped[str] = mapped_column(primary_key=True)
    problem_id: Mapped[str] = mapped_column(ForeignKey("problems.problem_id"), index=True)
    institution_id: Mapped[str] = mapped_column(ForeignKey("institutions.institution_id"), index=True)
    status: Mapped[str]
    amount: Mapped[float | None]
    recorded_at: Mapped[datetime] = mapped_column(index=True)
    recorded_by: Mapped[str | None] = mapped_column(Text)


class RecommendationRow(Base):
    """One recommendation as shown. No foreign keys: the log must be writable whatever the tables hold."""

    __tablename__ = "recommendations"

    recommendation_id: Mapped[str] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    problem_id: Mapped[str | None] = mapped_column(index=True)
    enterprise_id: Mapped[str | None] = mapped_column(index=True)
    text_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the problem text, UTF-8
    model_version: Mapped[str] = mapped_column(String(200))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    items: Mapped[list[RecommendationItemRow]] = relationship(
        back_populates="recommendation", cascade="all, delete-orphan", order_by="RecommendationItemRow.rank"
    )


class RecommendationItemRow(Base):
    __tablename__ = "recommendation_items"

    recommendation_id: Mapped[str] = mapped_column(
        ForeignKey("recommendations.recommendation_id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[str] = mapped_column(index=True)
    score: Mapped[float]
    propensity: Mapped[float | None]  # probability that the serving policy showed it here, when known
    recommendation: Mapped[RecommendationRow] = relationship(back_populates="items")


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    hash: Mapped[str] = mapped_column(String(128), unique=True)  # SHA-256 hex of the key
    created_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEventRow(Base):
    """One edit: who (the key's id and name), when, what (action on a record), and the record before and after
    (null before a creation). Append-only: nothing updates or deletes these rows."""

    __tablename__ = "audit_events"

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_key_id: Mapped[str] = mapped_column(String(MAX_ID_LENGTH), index=True)
    actor_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(300), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ServedModelRow(Base):
    """The model version the whole fleet serves: one row per ``name`` (``desired``), set by a reload; every
    worker of every replica polls it and loads ``bundle`` (a folder under the models directory)."""

    __tablename__ = "served_model"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[str] = mapped_column(String(200))
    bundle: Mapped[str] = mapped_column(Text)
    set_at: Mapped[datetime]
    set_by: Mapped[str | None] = mapped_column(Text)


class CaseEventRow(Base):
    """One transition of a problem's case, append-only. ``(problem_id, sequence)`` is unique: of two writers
    that read the same last event, exactly one can append the next (``service.store.cases``)."""

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("problem_id", "sequence", name="case_event_once"),
        _one_of("status", CASE_STATUSES),
    )

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    problem_id: Mapped[str] = mapped_column(ForeignKey("problems.problem_id"))
    sequence: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per problem
    status: Mapped[str]  # the status this event moves the case to
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(20))  # engine, caseworker, rule, outcome, province
    by: Mapped[str | None] = mapped_column(String(200))  # the caller's name or key id
    reason: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"code": ..., "params": {...}}


class CaseRow(Base):
    """A problem's case as of its last event: derived from ``case_events`` in the same transaction that appends
    one, so the queue is an indexed read. A problem without a row is ``open`` with no events."""

    __tablename__ = "cases"
    __table_args__ = (
        _one_of("status", CASE_STATUSES),
        Index("cases_by_status", "status", "escalated_at", "problem_id"),
    )

    problem_id: Mapped[str] = mapped_column(ForeignKey("problems.problem_id"), primary_key=True)
    status: Mapped[str]
    sequence: Mapped[int] = mapped_column(Integer)  # of the last event
    updated_at: Mapped[datetime]
    escalated_at: Mapped[datetime | None]
    escalation_source: Mapped[str | None] = mapped_column(String(20))
    escalation_reason: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    engine_reason: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the engine's last "nothing fits"
    failed_referrals: Mapped[int] = mapped_column(Integer, default=0)


def table_of(model: type[Base]) -> Table:
    """The Core ``Table`` of a model (typed as such, which ``model.__table__`` is not)."""
    return cast(Table, model.__table__)


# The contract tables in ``matching.tables.files.TABLE_NAMES`` order.
CONTRACT_MODELS: dict[str, type[Base]] = {
    "enterprises": EnterpriseRow,
    "problems": ProblemRow,
    "institutions": InstitutionRow,
    "outcomes": OutcomeRow,
}
