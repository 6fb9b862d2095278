"""The request and response bodies of the HTTP API (pydantic), layered by role: ``*In`` what a client sends,
``*Out`` what the service returns. Every field is bounded (lengths, ranges, vocabularies), so bad input is a
422 naming the field before any work is done; the OpenAPI document is generated from these classes.

Vocabularies come from ``matching.records`` (sectors, kinds, statuses), the single place they are named.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from matching.records import CATEGORIES, INSTITUTION_KINDS, MAX_TEXT_LENGTH, OUTCOME_STATUSES, SECTORS

__all__ = [
    "Sector", "Kind", "Status", "Role", "Id", "Name", "Money",
    "ErrorItem", "ErrorBody",
    "RecommendationIn", "RankedOut", "ProblemRecommendationOut", "RecommendationOut",
    "EnterpriseIn", "EnterpriseOut", "ProblemIn", "ProblemOut", "InstitutionIn", "InstitutionOut",
    "EnterpriseHit", "ProblemHit", "InstitutionHit", "EnterpriseHits", "ProblemHits", "InstitutionHits",
    "OutcomeIn", "OutcomeOut", "OutcomePage",
    "ModelOut", "ReloadIn", "ReloadOut", "KeyIn", "KeyOut", "KeyCreatedOut", "HealthOut", "ReadyOut",
]

MAX_ID = 64
MAX_NAME = 200
MAX_SHORT = 100
MAX_K = 50

Sector = StrEnum("Sector", {s: s for s in SECTORS})  # type: ignore[misc]
Kind = StrEnum("Kind", {k: k for k in INSTITUTION_KINDS})  # type: ignore[misc]
Status = StrEnum("Status", {s: s for s in OUTCOME_STATUSES})  # type: ignore[misc]
Category = StrEnum("Category", {c: c for c in CATEGORIES})  # type: ignore[misc]


class Role(StrEnum):
    caseworker = "caseworker"
    analyst = "analyst"
    admin = "admin"


# NUL and other control characters break PostgreSQL text and logs (tabs and new lines are fine); lone
# surrogates cannot be encoded as UTF-8.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _printable(value: str) -> str:
    if _UNPRINTABLE.search(value):
        raise ValueError("must not contain control characters or lone surrogates")
    return value


def _has_words(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


# 1 to 64 characters, no control characters, no white space at either end.
ID_PATTERN = r"^[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?$"
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN, examples=["E000001"]),
               AfterValidator(_printable)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_printable),
                 AfterValidator(_has_words)]
Short = Annotated[str, Field(min_length=1, max_length=MAX_SHORT), AfterValidator(_printable),
                  AfterValidator(_has_words)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH), AfterValidator(_printable),
                 AfterValidator(_has_words)]
Money = Annotated[float, Field(ge=0, le=1e15), AfterValidator(_finite)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
Year = Annotated[int, Field(ge=1800, le=2100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ErrorItem(BaseModel):
    field: str | None = Field(description="the field at fault (dotted path), null when the whole request is")
    problem: str
    row: int | None = None


class ErrorBody(BaseModel):
    error: str
    detail: list[ErrorItem] = []
    request_id: str | None = None


# ------------------------------------------------------------------------------------------- recommendations


class RecommendationIn(_In):
    """Either a stored enterprise (all its problems), a stored problem, or an ad-hoc problem text."""

    enterprise_id: Id | None = None
    problem_id: Id | None = None
    text: Text | None = Field(default=None, description="an ad-hoc problem statement (English, Chinese or both)")
    sector: Sector | None = Field(default=None, description="ad-hoc only: the enterprise's sector")
    region: Short | None = Field(default=None, description="ad-hoc only: the enterprise's district")
    amount: Money | None = Field(default=None, description="ad-hoc only: money asked for, yuan")
    employees: Count | None = None
    annual_revenue: Money | None = None
    founded: Year | None = None
    k: int = Field(default=5, ge=1, le=MAX_K, description="how many institutions per problem")

    @model_validator(mode="after")
    def _one_subject(self) -> RecommendationIn:
        given = [name for name in ("enterprise_id", "problem_id", "text") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of enterprise_id, problem_id or text; got "
                + (", ".join(given) if given else "none")
            )
        if self.text is None:
            extra = [n for n in ("sector", "region", "amount", "employees", "annual_revenue", "founded")
                     if getattr(self, n) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)} only go with an ad-hoc text; stored records have their own")
        return self


class RankedOut(BaseModel):
    institution_id: str
    name: str
    kind: Kind
    score: float
    rank: int
    reasons: list[str]


class ProblemRecommendationOut(BaseModel):
    recommendation_id: str = Field(description="this problem's entry in the recommendation log")
    problem_id: str | None
    institutions: list[RankedOut]
    categories: dict[str, float] = Field(description="detected need categories and their confidence")
    escalate: bool = Field(description="true: no institution fits well enough; refer to the working group")
    escalate_reason: str | None
    excluded: dict[str, int] = Field(description="eligibility rule -> institutions it excluded")


class RecommendationOut(BaseModel):
    recommendation_id: str = Field(description="the id of this response in the recommendation log")
    model_version: str
    enterprise_id: str | None
    results: list[ProblemRecommendationOut]
    escalate: bool = Field(description="true when any problem is escalated")


# ------------------------------------------------------------------------------------------- records


class EnterpriseIn(_In):
    name: Name
    sector: Sector
    region: Short
    employees: Count
    annual_revenue: Money | None = None
    founded: Year


class EnterpriseOut(BaseModel):
    enterprise_id: str
    name: str
    sector: str
    region: str
    employees: int
    annual_revenue: float | None
    founded: int


class ProblemIn(_In):
    enterprise_id: Id
    text: Text
    amount: Money | None = None
    stated_at: date


class ProblemOut(BaseModel):
    problem_id: str
    enterprise_id: str
    text: str
    amount: float | None
    stated_at: date


class InstitutionIn(_In):
    name: Name
    kind: Kind
    description: Text
    sectors: list[Sector] = Field(default=[], max_length=len(SECTORS), description="empty: every sector")
    regions: list[Short] = Field(default=[], max_length=500, description="empty: every region")
    min_amount: Money | None = None
    max_amount: Money | None = None
    capacity: Count
    active: bool = True

    @model_validator(mode="after")
    def _range(self) -> InstitutionIn:
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            raise ValueError(f"min_amount {self.min_amount:g} must not exceed max_amount {self.max_amount:g}")
        return self


class InstitutionOut(BaseModel):
    institution_id: str
    name: str
    kind: str
    description: str
    sectors: list[str]
    regions: list[str]
    min_amount: float | None
    max_amount: float | None
    capacity: int
    active: bool


class EnterpriseHit(EnterpriseOut):
    score: float | None = Field(description="how well the name matches the query, 0-100; null without q")


class ProblemHit(ProblemOut):
    score: float | None = Field(description="how well the text matches the query, 0-100; null without q")


class InstitutionHit(InstitutionOut):
    score: float | None = Field(description="how well the name matches the query, 0-100; null without q")


class EnterpriseHits(BaseModel):
    items: list[EnterpriseHit]


class ProblemHits(BaseModel):
    items: list[ProblemHit]


class InstitutionHits(BaseModel):
    items: list[InstitutionHit]


# ------------------------------------------------------------------------------------------- outcomes


class OutcomeIn(_In):
    outcome_id: Id = Field(description="chosen by the client; a retry with the same id and body is a no-op")
    problem_id: Id
    institution_id: Id
    status: Status
    amount: Money | None = Field(default=None, description="money granted, yuan")
    recorded_at: datetime | None = Field(default=None, description="default: when the service receives it")
    recorded_by: Short | None = Field(default=None, description="default: the name of the API key")


class OutcomeOut(BaseModel):
    outcome_id: str
    problem_id: str
    institution_id: str
    status: Status
    amount: float | None
    recorded_at: datetime
    recorded_by: str | None


class OutcomePage(BaseModel):
    items: list[OutcomeOut]
    limit: int
    offset: int
    next_offset: int | None


# ------------------------------------------------------------------------------------------- model, keys, health


class ModelOut(BaseModel):
    version: str
    ranker: str = Field(description="baseline, text_only or learned")
    source: str | None = Field(description="the bundle folder served, null for the built-in baseline")
    metrics: dict[str, Any]
    trained_at: str | None
    data_digest: str | None
    sklearn_version: str | None
    loaded_at: datetime
    institutions: int = Field(description="institutions in the matcher's catalogue")
    catalogue_built_at: datetime


class ReloadIn(_In):
    path: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_printable)] = Field(
        default="current", description="a bundle folder inside the models directory (default: current)"
    )


class ReloadOut(BaseModel):
    previous_version: str
    model: ModelOut


class KeyIn(_In):
    role: Role
    name: Short | None = None


class KeyOut(BaseModel):
    key_id: str
    name: str | None
    role: Role
    created_at: datetime
    revoked: bool


class KeyCreatedOut(KeyOut):
    key: str = Field(description="the secret; shown once, only its hash is kept")


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]
