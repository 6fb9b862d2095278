"""Request and response bodies of the case routes (problems' status and history, escalation, the provincial
queue, recommendations logged for a problem, the overview). Vocabularies from ``matching.records``; every
reason is ``ReasonOut``: ``{code, params, text}`` with ``text`` in the request's language.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from matching.records import CASE_STATUSES
from service.api.schemas import ProblemOut, ReasonOut, Text, _In

__all__ = ["CaseStatus", "Source", "EventOut", "ProblemCaseOut", "EscalateIn", "EscalationOut",
           "ResolutionIn", "ResolutionOut", "ReferralOut", "QueueEntryOut", "QueuePage",
           "LoggedItemOut", "LoggedRecommendationOut", "LoggedPage", "OverviewOut"]

CaseStatus = StrEnum("CaseStatus", {s: s for s in CASE_STATUSES})  # type: ignore[misc]
CaseStatus.__doc__ = ("Where a problem's case stands: open, recommended, referred, accepted, solved, unsolved, "
                      "escalated (with the provincial working group), resolved_by_province or closed.")
Source = StrEnum("Source", {s: s for s in ("engine", "caseworker", "rule", "outcome", "province")})  # type: ignore[misc]
Source.__doc__ = ("Who moved a case: the engine (a recommendation), a caseworker, a rule (too many failed "
                  "referrals, or open too long), an outcome recorded, or the province.")


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


_ESCALATED_EVENT = {
    "sequence": 3, "status": "escalated", "at": "2024-03-20T14:02:00Z", "source": "caseworker",
    "by": "Dongcheng service centre",
    "reason": {"code": "caseworker_escalated",
               "params": {"note": "两家银行都拒绝了贷款申请 both banks declined the loan"},
               "text": "escalated by a caseworker: 两家银行都拒绝了贷款申请 both banks declined the loan"},
}
_HISTORY = [
    {"sequence": 1, "status": "recommended", "at": "2024-03-01T09:12:00Z", "source": "engine",
     "by": "Dongcheng service centre",
     "reason": {"code": "recommended", "params": {"count": 5}, "text": "5 institutions recommended"}},
    {"sequence": 2, "status": "referred", "at": "2024-03-04T10:00:00Z", "source": "outcome",
     "by": "caseworker-2",
     "reason": {"code": "outcome_recorded", "params": {"institution_id": "G01", "outcome": "contacted"},
                "text": "outcome recorded: G01 contacted"}},
    _ESCALATED_EVENT,
]


class EventOut(BaseModel):
    """One move of a problem's case: to which status, when, by whom and why."""

    sequence: int = Field(description="The event's number within its problem's case: 1, 2, ...")
    status: CaseStatus = Field(description="The status this event moved the case to.")
    at: datetime = Field(description="When the event happened (UTC).")
    source: Source = Field(description="Who moved the case.")
    by: str | None = Field(description="The caller's API key name (or id); null for the engine and rules.")
    reason: ReasonOut = Field(description="Why the case moved.")


class ProblemCaseOut(ProblemOut):
    """A stored problem with its case: where it stands and every move so far."""

    model_config = _examples({
        "problem_id": "P000004", "enterprise_id": "E000003", "text": "需要担保才能获得银行贷款", "amount": 500000,
        "stated_at": "2024-03-01", "status": "escalated", "history": _HISTORY,
    })

    status: CaseStatus = Field(description="Where the case stands: the status of its last event, else open.")
    history: list[EventOut] = Field(description="Every move of the case, oldest first.")


class EscalateIn(_In):
    """Why a caseworker sends a problem to the provincial working group."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "两家银行都拒绝了贷款申请 both banks declined the loan"}]})

    reason: Text = Field(description="Why the city cannot solve the problem (free text, any language).")


class EscalationOut(BaseModel):
    """What an escalation request did: recorded the escalation, or found it escalated already."""

    model_config = _examples({
        "problem_id": "P000004", "status": "escalated", "escalated": True,
        "message": "problem 'P000004' is escalated to the provincial working group", "event": _ESCALATED_EVENT,
    })

    problem_id: str = Field(description="The problem's id.")
    status: CaseStatus = Field(description="The case's status after the request.")
    escalated: bool = Field(description="True when this request recorded the escalation.")
    message: str = Field(description="What happened, in one sentence.")
    event: EventOut | None = Field(description="The escalation recorded, or the one already on record.")


class ResolutionIn(_In):
    """What the provincial working group did about an escalated problem."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"resolution": "省担保集团提供担保，已获农商行贷款 guaranteed by the provincial guarantee group; loan granted",
         "status": "resolved_by_province"}]})

    resolution: Text = Field(description="What the provincial working group decided or did.")
    status: Literal["resolved_by_province", "closed"] = Field(
        default="resolved_by_province", description="resolved_by_province (default), or closed: taken up no further.")


class ResolutionOut(BaseModel):
    """The resolution recorded."""

    model_config = _examples({
        "problem_id": "P000004", "status": "resolved_by_province",
        "message": "problem 'P000004' is resolved_by_province",
        "event": {"sequence": 4, "status": "resolved_by_province", "at": "2024-04-02T16:30:00Z",
                  "source": "province", "by": "provincial working group",
                  "reason": {"code": "province_resolved", "params": {"note": "loan granted"},
                             "text": "resolved by the provincial working group: loan granted"}},
    })

    problem_id: str = Field(description="The problem's id.")
    status: CaseStatus = Field(description="resolved_by_province or closed.")
    message: str = Field(description="What happened, in one sentence.")
    event: EventOut = Field(description="The event recorded.")


class ReferralOut(BaseModel):
    """An institution a problem was referred to, and how it ended."""

    institution_id: str = Field(description="The institution's id.")
    name: str = Field(description="The institution's name.")
    kind: str = Field(description="What kind of institution it is.")
    status: str = Field(description="How the referral ended (the outcome's status).")
    recorded_at: datetime = Field(description="When the outcome was recorded (UTC).")


class QueueEntryOut(BaseModel):
    """An escalated problem in the provincial working group's queue, with what the city tried."""

    problem_id: str = Field(description="The problem's id.")
    enterprise_id: str = Field(description="The id of the enterprise that has the problem.")
    enterprise_name: str = Field(description="The enterprise's name.")
    sector: str = Field(description="The enterprise's sector.")
    district: str = Field(description="The enterprise's district.")
    text: str = Field(description="The problem in the enterprise's words.")
    amount: float | None = Field(description="Money asked for, in yuan; null when not about money.")
    stated_at: datetime = Field(description="When the enterprise stated the problem (UTC).")
    escalated_at: datetime = Field(description="When the problem was escalated (UTC).")
    days_open: int = Field(description="Days since the problem was stated.")
    escalated_by: Source = Field(description="Who escalated it.")
    reason: ReasonOut = Field(description="Why it was escalated.")
    engine_reason: ReasonOut | None = Field(description="Why the engine found no institution that fits, when it "
                                            "found none.")
    referrals: list[ReferralOut] = Field(description="The referrals tried, oldest first.")


class QueuePage(BaseModel):
    """A page of the provincial working group's queue, oldest escalation first."""

    model_config = _examples({"items": [{
        "problem_id": "P000004", "enterprise_id": "E000003", "enterprise_name": "老街茶馆",
        "sector": "catering_accommodation", "district": "Xicheng", "text": "需要担保才能获得银行贷款",
        "amount": 500000, "stated_at": "2024-03-01T00:00:00Z", "escalated_at": "2024-03-20T14:02:00Z",
        "days_open": 33, "escalated_by": "caseworker", "reason": _ESCALATED_EVENT["reason"], "engine_reason": None,
        "referrals": [{"institution_id": "G01", "name": "City SME Credit Guarantee Corporation", "kind": "guarantee",
                       "status": "declined", "recorded_at": "2024-03-12T11:00:00Z"}],
    }], "limit": 50, "offset": 0, "next_offset": None})

    items: list[QueueEntryOut] = Field(description="The escalated problems on this page.")
    limit: int = Field(description="The page size asked for.")
    offset: int = Field(description="How many items came before this page.")
    next_offset: int | None = Field(description="The `offset` of the next page; null on the last page.")


class LoggedItemOut(BaseModel):
    """An institution as the logged recommendation ranked it."""

    rank: int = Field(description="Its place in the list, from 1.")
    institution_id: str = Field(description="The institution's id.")
    score: float = Field(description="How well it fitted the problem, from 0 to 1.")
    reasons: list[ReasonOut] = Field(description="Why it was recommended; empty when the log kept no reasons for "
                                     "this entry.")


class LoggedRecommendationOut(BaseModel):
    """A recommendation as the recommendation log keeps it."""

    recommendation_id: str = Field(description="The entry's id in the recommendation log.")
    created_at: datetime = Field(description="When the recommendation was made (UTC).")
    model_version: str = Field(description="The version of the model that made it.")
    escalate: bool | None = Field(description="True when it escalated the problem; null when the log did not keep "
                                  "it.")
    escalate_reason: ReasonOut | None = Field(description="Why it escalated the problem; null when it did not.")
    institutions: list[LoggedItemOut] = Field(description="The institutions it ranked, best first.")


class LoggedPage(BaseModel):
    """A page of the recommendations logged for one problem, newest first."""

    model_config = _examples({"items": [{
        "recommendation_id": "9b2f6c1e-4d0a-4c8e-9f3b-2a7d5e1c0b44", "created_at": "2024-03-01T09:12:00Z",
        "model_version": "v20240301-1a2b3c", "escalate": False, "escalate_reason": None,
        "institutions": [{"rank": 1, "institution_id": "G01", "score": 0.81, "reasons": [
            {"code": "need_detected", "params": {"category": "guarantee", "confidence": 0.95, "kind": "guarantee"},
             "text": "need detected: guarantee (95% confident), which a guarantee corporation handles"}]}],
    }], "next_offset": None})

    items: list[LoggedRecommendationOut] = Field(description="The logged recommendations on this page.")
    next_offset: int | None = Field(description="The `offset` of the next page; null on the last page.")


class OverviewOut(BaseModel):
    """How many problems stand where, broken down for the caseworkers' overview."""

    model_config = _examples({
        "total": 5, "as_of": "2024-04-03T08:00:00Z",
        "by_status": {"recommended": 2, "referred": 1, "solved": 1, "escalated": 1},
        "by_sector": {"manufacturing": {"recommended": 1, "solved": 1}, "agriculture": {"referred": 1},
                      "catering_accommodation": {"escalated": 1}, "information_services": {"recommended": 1}},
        "by_district": {"Dongcheng": {"recommended": 2, "solved": 1}, "Qinghe": {"referred": 1},
                        "Xicheng": {"escalated": 1}},
        "by_institution_kind": {"bank": {"solved": 1, "referred": 1}, "guarantee": {"escalated": 1}},
        "by_days_open": {"0-7": {"recommended": 1}, "8-30": {"recommended": 1},
                         "31-90": {"referred": 1, "solved": 1, "escalated": 1}, "91+": {}},
    })

    total: int = Field(description="How many problems the store holds.")
    as_of: datetime = Field(description="When the counts were taken (UTC).")
    by_status: dict[str, int] = Field(description="Status -> problems.")
    by_sector: dict[str, dict[str, int]] = Field(description="Sector -> status -> problems.")
    by_district: dict[str, dict[str, int]] = Field(description="District -> status -> problems.")
    by_institution_kind: dict[str, dict[str, int]] = Field(description="Kind of institution referred to -> status "
                                                           "-> problems.")
    by_days_open: dict[str, dict[str, int]] = Field(description="Days since stated (0-7, 8-30, 31-90, 91+) -> "
                                                    "status -> problems.")
