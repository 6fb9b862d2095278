"""The request and response bodies of the HTTP API (pydantic), layered by role: ``*In`` what a client sends,
``*Out`` what the service returns. Every field is bounded (lengths, ranges, vocabularies), so bad input is a
422 naming the field before any work is done; the OpenAPI document is generated from these classes.

Vocabularies come from ``matching.records`` (sectors, kinds, statuses), the single place they are named.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator

from matching.records import CATEGORIES, INSTITUTION_KINDS, MAX_TEXT_LENGTH, OUTCOME_STATUSES, SECTORS

__all__ = [
    "Sector", "Kind", "Status", "Role", "Id", "Name", "Money", "Moment",
    "ErrorItem", "ErrorBody",
    "RecommendationIn", "EnterpriseSubject", "ProblemSubject", "TextSubject",
    "ReasonOut", "RankedOut", "ProblemRecommendationOut", "RecommendationOut",
    "EnterpriseIn", "EnterpriseOut", "ProblemIn", "ProblemOut", "InstitutionIn", "InstitutionOut",
    "EnterpriseHit", "ProblemHit", "InstitutionHit", "EnterpriseHits", "ProblemHits", "InstitutionHits",
    "OutcomeIn", "OutcomeOut", "OutcomePage",
    "ModelOut", "ReloadIn", "ReloadOut", "KeyIn", "KeyOut", "KeyCreatedOut", "HealthOut", "ReadyOut",
    "AuditEventOut", "AuditPage", "AuditEntity", "MeOut", "RunOut", "RunsOut",
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
    curator = "curator"
    admin = "admin"
    provincial = "provincial"  # the provincial working group: its queue and resolutions, outside the ladder


# Strings: no NUL or other control characters (they break PostgreSQL text and logs; tabs and new lines are
# fine). Each string type has one pattern: it goes into the OpenAPI document as written, and the service
# checks the same rule with plain searches (linear time; a backtracking match of these patterns is not).
# Problem texts must also hold a letter, a digit or a CJK character. Lone surrogates (JSON can escape them;
# they are not Unicode text) are refused too, though no pattern says so: tools reading the document mostly
# use regex engines that cannot name them.
_BAD = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_WORD = r"A-Za-z0-9\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
ID_PATTERN = rf"^[^\s{_BAD}](?:[^{_BAD}]*[^\s{_BAD}])?$"
LABEL_PATTERN = rf"^[^{_BAD}]*[^\s{_BAD}][^{_BAD}]*$"
TEXT_PATTERN = rf"^[^{_BAD}]*[{_WORD}][^{_BAD}]*$"
_bad = re.compile(f"[{_BAD}\ud800-\udfff]")
_word = re.compile(f"[{_WORD}]")
# ``\s`` as the document's readers (ECMAScript regexes) define it, not as Python does (which adds U+0085 and
# leaves out U+FEFF): the service must refuse exactly what the documented patterns refuse.
_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_edge_space = re.compile(f"^[{_SPACE}]|[{_SPACE}]$")
_blank = re.compile(f"[{_SPACE}]*")


def _checked(pattern: str, rule: str, *, word: bool = False, edges: bool = False) -> AfterValidator:
    """Enforce what ``pattern`` says with simple searches (linear time on 5,000 characters)."""

    def check(value: str) -> str:
        if _bad.search(value):
            raise ValueError("must not contain control characters or lone surrogates")
        if edges and _edge_space.search(value):
            raise ValueError("must not start or end with white space")
        if _blank.fullmatch(value) or (word and not _word.search(value)):
            raise ValueError(rule)
        return value

    return AfterValidator(check)


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _string(pattern: str, rule: str, max_length: int, **checks: bool) -> Any:
    return Annotated[str, Field(min_length=1, max_length=max_length, json_schema_extra={"pattern": pattern}),
                     _checked(pattern, rule, **checks)]


Id = _string(ID_PATTERN, "must not be blank", MAX_ID, edges=True)
Name = _string(LABEL_PATTERN, "must not be blank", MAX_NAME)
Short = _string(LABEL_PATTERN, "must not be blank", MAX_SHORT)
Text = _string(LABEL_PATTERN, "must not be blank", MAX_TEXT_LENGTH)
ProblemText = _string(TEXT_PATTERN, "must hold words (letters, digits or Chinese characters)", MAX_TEXT_LENGTH,
                      word=True)
def _within_utc(value: datetime) -> datetime:
    # The store keeps naive UTC: a time whose offset moves it before year 1 or past 9999 has no UTC value.
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("must fall between the years 1 and 9999 in UTC") from None
    return value


Money = Annotated[float, Field(ge=0, le=1e15), AfterValidator(_finite)]
Moment = Annotated[datetime, AfterValidator(_within_utc)]
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


class _Subject(_In):
    k: int = Field(default=5, ge=1, le=MAX_K, description="how many institutions per problem")


class EnterpriseSubject(_Subject):
    """Every problem of a stored enterprise, each with the enterprise's sector, district and size."""

    enterprise_id: Id


class ProblemSubject(_Subject):
    """One stored problem, with its enterprise's context."""

    problem_id: Id


class TextSubject(_Subject):
    """An ad-hoc problem statement (English, Chinese or both) and what the caller knows of the enterprise."""

    text: ProblemText
    sector: Sector | None = None
    region: Short | None = Field(default=None, description="the enterprise's district (one the service knows)")
    amount: Money | None = Field(default=None, description="money asked for, yuan")
    employees: Count | None = None
    annual_revenue: Money | None = None
    founded: Year | None = None


SUBJECT_FIELDS = {"enterprise_id": "@enterprise", "problem_id": "@problem", "text": "@text"}


def _subject(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return SUBJECT_FIELDS[next(f for f in SUBJECT_FIELDS if f in type(value).model_fields)]
    if not isinstance(value, dict):
        return None
    given = [field for field in SUBJECT_FIELDS if field in value]
    return SUBJECT_FIELDS[given[0]] if len(given) == 1 else None


# Exactly one subject; a tag starting with "@" is left out of the field names errors report.
RecommendationIn = Annotated[
    Annotated[EnterpriseSubject, Tag("@enterprise")]
    | Annotated[ProblemSubject, Tag("@problem")]
    | Annotated[TextSubject, Tag("@text")],
    Discriminator(_subject, custom_error_type="one_subject",
                  custom_error_message="give exactly one of enterprise_id, problem_id or text"),
]


class ReasonOut(BaseModel):
    code: str = Field(description="what kind of reason (matching.explain.reasons); clients render it from code "
                      "and params")
    params: dict[str, Any]
    text: str = Field(description="the reason in the request's language (Accept-Language, or ?lang=en|zh)")


class RankedOut(BaseModel):
    institution_id: str
    name: str
    kind: Kind
    score: float
    rank: int
    reasons: list[ReasonOut]


class ProblemRecommendationOut(BaseModel):
    recommendation_id: str = Field(description="this problem's entry in the recommendation log")
    problem_id: str | None
    institutions: list[RankedOut]
    categories: dict[str, float] = Field(description="detected need categories and their confidence")
    escalate: bool = Field(description="true: no institution fits well enough; refer to the working group")
    escalate_reason: ReasonOut | None
    excluded: dict[str, int] = Field(description="eligibility rule -> institutions it excluded")


class RecommendationOut(BaseModel):
    recommendation_id: str = Field(description="the id of this response in the recommendation log")
    model_version: str
    enterprise_id: str | None
    results: list[ProblemRecommendationOut]
    escalate: bool = Field(description="true when any problem is escalated")


# ------------------------------------------------------------------------------------------- records


class EnterpriseIn(_In):
    enterprise_id: Id | None = Field(default=None, description="optional; when given, it must be the id in the path")
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
    problem_id: Id | None = Field(default=None, description="optional; when given, it must be the id in the path")
    # What GET adds, so that a problem fetched is PUT back as it is: read-only, ignored here (a case moves only
    # by its events: service.store.cases).
    status: Short | None = Field(default=None, description="read-only (the case's status): ignored")
    # Unbounded but by the body's size limit: a read-only field has no length of its own to enforce.
    history: list[dict[str, Any]] | None = Field(default=None, description="read-only (the case's events): ignored")
    enterprise_id: Id
    text: ProblemText
    amount: Money | None = None
    stated_at: date


class ProblemOut(BaseModel):
    problem_id: str
    enterprise_id: str
    text: str
    amount: float | None
    stated_at: date


class InstitutionIn(_In):
    institution_id: Id | None = Field(default=None, description="optional; when given, it must be the id in the path")
    name: Name
    kind: Kind
    description: Text
    sectors: list[Sector] = Field(default=[], max_length=len(SECTORS), description="empty: every sector")
    regions: list[Short] = Field(default=[], max_length=500, description="empty: every region")
    min_amount: Money | None = None
    max_amount: Money | None = None
    capacity: Count
    active: bool = True

    @field_validator("max_amount")
    @classmethod
    def _range(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_amount")
        if value is not None and low is not None and low > value:
            raise ValueError(f"must be at least min_amount ({low:g}); got {value:g}")
        return value


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
    status: str | None = Field(default=None, description="the case's status, when listed by status")


class InstitutionHit(InstitutionOut):
    score: float | None = Field(description="how well the name matches the query, 0-100; null without q")


class EnterpriseHits(BaseModel):
    items: list[EnterpriseHit]


class ProblemHits(BaseModel):
    items: list[ProblemHit]
    next_offset: int | None = Field(default=None, description="listed by status: the next page's offset, if any")


class InstitutionHits(BaseModel):
    items: list[InstitutionHit]


# ------------------------------------------------------------------------------------------- outcomes


class OutcomeIn(_In):
    outcome_id: Id = Field(description="chosen by the client; a retry with the same id and body is a no-op")
    problem_id: Id
    institution_id: Id
    status: Status
    amount: Money | None = Field(default=None, description="money granted, yuan")
    recorded_at: Moment | None = Field(default=None, description="default: when the service receives it")
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
    source: str | None = Field(description="the bundle folder served, relative to the models folder; null for the "
                                           "built-in baseline")
    degraded: str | None = Field(default=None, description="why this is not the bundle meant to be served "
                                                           "(current was refused at start-up), if so")
    metrics: dict[str, Any]
    trained_at: str | None
    data_digest: str | None
    sklearn_version: str | None
    loaded_at: datetime
    institutions: int = Field(description="institutions in the matcher's catalogue")
    catalogue_built_at: datetime
    desired_version: str | None = Field(
        description="the version the fleet should serve (set in the store by a reload); null before any reload")
    matches_desired: bool = Field(description="this worker serves the desired version (true before any reload)")
    desired_refused: str | None = Field(
        description="why this worker could not load the desired version's bundle, if it could not")


class ReloadIn(_In):
    path: _string(LABEL_PATTERN, "must not be blank", 255) = Field(  # type: ignore[valid-type]
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


class AuditEntity(StrEnum):
    enterprises = "enterprises"
    problems = "problems"
    institutions = "institutions"
    api_keys = "api_keys"
    model = "model"


class AuditEventOut(BaseModel):
    event_id: int
    at: datetime
    actor_key_id: str = Field(description="the key that made the edit (`cli` for the command line)")
    actor_name: str | None
    action: str = Field(description="create, replace, revoke or reload")
    entity: str = Field(description="the table edited")
    record_id: str
    before: dict[str, Any] | None = Field(description="the record before the edit; null when it was created")
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    limit: int
    offset: int
    next_offset: int | None


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready", "degraded", "not ready"]
    checks: dict[str, str]
    served_version: str | None = Field(description="the model version this worker serves")
    desired_version: str | None = Field(description="the version the fleet should serve; null before any reload")
    matches_desired: bool


# ------------------------------------------------------------------------------------------- console


class MeOut(BaseModel):
    key_id: str = Field(description="the id of the presented key (never the key itself)")
    name: str | None
    role: Role


class RunOut(BaseModel):
    run_id: str | None
    version: str
    started: str | None = Field(description="when the run started (ISO 8601, UTC)")
    aliases: str = Field(description="registry aliases of the run's model version, comma-separated")
    metrics: dict[str, float] = Field(description="metric name -> value; baselines carry suffixes such as "
                                                  "_text_baseline, _popularity, _oracle")


class RunsOut(BaseModel):
    source: str = Field(description="mlflow, bundles or none: where the runs were read")
    mlflow_ui_url: str | None = Field(description="the MLflow UI, when one is configured")
    runs: list[RunOut] = Field(description="newest first")
