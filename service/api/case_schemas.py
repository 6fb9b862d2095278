"""Request and response bodies of the case routes (problems' status and history, escalation, the provincial
queue, recommendations logged for a problem, the overview). Vocabularies from ``matching.records``; every
reason is ``ReasonOut``: ``{code, params, text}`` with ``text`` in the request's language.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from matching.records import CASE_STATUSES
from service.api.schemas import ProblemOut, ReasonOut, Text, _In

__all__ = ["CaseStatus", "Source", "EventOut", "ProblemCaseOut", "EscalateIn", "EscalationOut",
           "ResolutionIn", "ResolutionOut", "ReferralOut", "QueueEntryOut", "QueuePage",
           "LoggedItemOut", "LoggedRecommendationOut", "LoggedPage", "OverviewOut"]

CaseStatus = StrEnum("CaseStatus", {s: s for s in CASE_STATUSES})  # type: ignore[misc]
Source = StrEnum("Source", {s: s for s in ("engine", "caseworker", "rule", "outcome", "province")})  # type: ignore[misc]


class EventOut(BaseModel):
    sequence: int = Field(description="1, 2, ... per problem")
    status: CaseStatus = Field(description="the status this event moved the case to")
    at: datetime
    source: Source
    by: str | None = Field(description="the caller's key name (or id); null for the engine and rules")
    reason: ReasonOut


class ProblemCaseOut(ProblemOut):
    status: CaseStatus = Field(description="derived from the events: the status of the last one, else open")
    history: list[EventOut] = Field(description="every transition, oldest first")


class EscalateIn(_In):
    reason: Text = Field(description="why the city cannot solve it (free text)")


class EscalationOut(BaseModel):
    problem_id: str
    status: CaseStatus
    escalated: bool = Field(description="true when this request recorded the escalation")
    message: str
    event: EventOut | None = Field(description="the event recorded, or the escalation already on record")


class ResolutionIn(_In):
    resolution: Text = Field(description="what the provincial working group decided or did")
    status: Literal["resolved_by_province", "closed"] = Field(
        default="resolved_by_province", description="closed: taken up no further")


class ResolutionOut(BaseModel):
    problem_id: str
    status: CaseStatus = Field(description="resolved_by_province or closed")
    message: str
    event: EventOut = Field(description="the event recorded")


class ReferralOut(BaseModel):
    institution_id: str
    name: str
    kind: str
    status: str = Field(description="how the referral ended (the outcome's status)")
    recorded_at: datetime


class QueueEntryOut(BaseModel):
    problem_id: str
    enterprise_id: str
    enterprise_name: str
    sector: str
    district: str
    text: str
    amount: float | None
    stated_at: datetime
    escalated_at: datetime
    days_open: int
    escalated_by: Source
    reason: ReasonOut = Field(description="why it was escalated")
    engine_reason: ReasonOut | None = Field(description="why the engine found nothing that fits, when it did")
    referrals: list[ReferralOut] = Field(description="the referrals tried, oldest first")


class QueuePage(BaseModel):
    items: list[QueueEntryOut]
    limit: int
    offset: int
    next_offset: int | None


class LoggedItemOut(BaseModel):
    rank: int
    institution_id: str
    score: float
    reasons: list[ReasonOut] = Field(description="empty for entries logged before reasons were kept")


class LoggedRecommendationOut(BaseModel):
    recommendation_id: str
    created_at: datetime
    model_version: str
    escalate: bool | None
    escalate_reason: ReasonOut | None
    institutions: list[LoggedItemOut]


class LoggedPage(BaseModel):
    items: list[LoggedRecommendationOut]
    next_offset: int | None


class OverviewOut(BaseModel):
    total: int
    as_of: datetime
    by_status: dict[str, int]
    by_sector: dict[str, dict[str, int]] = Field(description="sector -> status -> problems")
    by_district: dict[str, dict[str, int]]
    by_institution_kind: dict[str, dict[str, int]] = Field(description="kind referred to -> status -> problems")
    by_days_open: dict[str, dict[str, int]] = Field(description="days since stated -> status -> problems")
