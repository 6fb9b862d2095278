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
    "AuditEventOut", "AuditPage", "AuditEntity", "MeOut", "RunOut", "RunsOut", "RECOMMENDATION_EXAMPLES",
]

MAX_ID = 64
MAX_NAME = 200
MAX_SHORT = 100
MAX_K = 50

Sector = StrEnum("Sector", {s: s for s in SECTORS})  # type: ignore[misc]
Sector.__doc__ = "An enterprise's sector."
Kind = StrEnum("Kind", {k: k for k in INSTITUTION_KINDS})  # type: ignore[misc]
Kind.__doc__ = ("A kind of institution: bank, guarantee (a credit guarantee company), microcredit (a microcredit "
                "company), research_institute, college or government (an agency).")
Status = StrEnum("Status", {s: s for s in OUTCOME_STATUSES})  # type: ignore[misc]
Status.__doc__ = "How a referral to an institution went, as far as it got."
Category = StrEnum("Category", {c: c for c in CATEGORIES})  # type: ignore[misc]
Category.__doc__ = "A kind of need a problem states."


class Role(StrEnum):
    """What an API key may do: caseworker (search, recommend, record outcomes), analyst (adds the model, exports and
    the audit trail), curator (adds editing records), admin (everything, and keys and models), provincial (the
    provincial working group: its queue and resolutions only)."""

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


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    """Model configuration that puts ``examples`` into the model's JSON Schema (and so the OpenAPI document)."""
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ErrorItem(BaseModel):
    """One thing wrong with a request: the field at fault and what is wrong with it."""

    field: str | None = Field(description="The field at fault (dotted path, e.g. `text` or `regions.0`), or the "
                              "header or query parameter's name; null when the whole request is at fault.")
    problem: str = Field(description="What is wrong with the field, in one sentence.")
    row: int | None = Field(default=None, description="For a request about many rows: the row at fault (from 0).")


class ErrorBody(BaseModel):
    """Every error the service returns has this shape, whatever its status."""

    model_config = _examples(
        {"error": "the request is not valid",
         "detail": [{"field": "k", "problem": "Input should be less than or equal to 50"}]},
        {"error": "internal error", "detail": [], "request_id": "5c2e9a0f41b7a3"},
    )

    error: str = Field(description="What went wrong, in one sentence.")
    detail: list[ErrorItem] = Field(default=[], description="Each field at fault, when the error is about fields.")
    request_id: str | None = Field(default=None, description="The id of the request in the service's log (also in "
                                   "the `X-Request-ID` header), for server errors; quote it when reporting one.")


# ------------------------------------------------------------------------------------------- recommendations


class _Subject(_In):
    k: int = Field(default=5, ge=1, le=MAX_K, description="How many institutions to rank per problem (at most the "
                   "service's configured maximum).")


class EnterpriseSubject(_Subject):
    """Recommend for every problem of a stored enterprise, each with the enterprise's sector, district and size."""

    model_config = _examples({"enterprise_id": "E000001", "k": 5})

    enterprise_id: Id = Field(description="The id of a stored enterprise.")


class ProblemSubject(_Subject):
    """Recommend for one stored problem, with its enterprise's sector, district and size."""

    model_config = _examples({"problem_id": "P000004", "k": 3})

    problem_id: Id = Field(description="The id of a stored problem.")


class TextSubject(_Subject):
    """Recommend for a problem statement that is not stored (English, Chinese or both), with what the caller knows
    of the enterprise."""

    model_config = _examples({
        "text": "需要贷款 300万 购买新的数控机床 we need a loan for new CNC machines",
        "sector": "manufacturing", "region": "Dongcheng", "amount": 3000000, "employees": 45, "k": 5,
    })

    text: ProblemText = Field(description="The problem in the enterprise's words: English, Chinese or both.")
    sector: Sector | None = Field(default=None, description="The enterprise's sector, when known.")
    region: Short | None = Field(default=None, description="The enterprise's district; it must be a district the "
                                 "service knows (one of its stored enterprises' or institutions').")
    amount: Money | None = Field(default=None, description="Money asked for, in yuan.")
    employees: Count | None = Field(default=None, description="The enterprise's number of employees.")
    annual_revenue: Money | None = Field(default=None, description="The enterprise's annual revenue, in yuan.")
    founded: Year | None = Field(default=None, description="The year the enterprise was founded.")


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

RECOMMENDATION_EXAMPLES = {
    "text": {"summary": "A problem in the enterprise's own words (Chinese and English)",
             "value": TextSubject.model_config["json_schema_extra"]["examples"][0]},  # type: ignore[index]
    "problem": {"summary": "A stored problem", "value": {"problem_id": "P000004", "k": 3}},
    "enterprise": {"summary": "Every problem of a stored enterprise", "value": {"enterprise_id": "E000001"}},
}


class ReasonOut(BaseModel):
    """A reason, as data and as a sentence: render it from `code` and `params`, or show `text` as it is."""

    model_config = _examples({
        "code": "need_detected",
        "params": {"category": "financing", "confidence": 0.92, "kind": "bank"},
        "text": "need detected: financing (92% confident), which a bank handles",
    })

    code: str = Field(description="What kind of reason it is, e.g. `need_detected`, `track_record`, "
                      "`amount_in_range` or `below_threshold`.")
    params: dict[str, Any] = Field(description="The values the reason's sentence is made from (categories, rates, "
                                   "amounts, counts...), by name.")
    text: str = Field(description="The reason as a sentence in the request's language (`Accept-Language`, or "
                      "`?lang=en` / `?lang=zh`).")


class RankedOut(BaseModel):
    """One recommended institution, with why it was recommended."""

    institution_id: str = Field(description="The institution's id.")
    name: str = Field(description="The institution's name.")
    kind: Kind = Field(description="What kind of institution it is.")
    score: float = Field(description="How well it fits the problem, from 0 to 1; higher is better.")
    rank: int = Field(description="Its place in the list, from 1.")
    reasons: list[ReasonOut] = Field(description="Why it was recommended, most telling first.")


class ProblemRecommendationOut(BaseModel):
    """The recommendation for one problem: ranked institutions, or an escalation with its reason."""

    recommendation_id: str = Field(description="This problem's entry in the recommendation log.")
    problem_id: str | None = Field(description="The stored problem's id; null for a problem given as text.")
    institutions: list[RankedOut] = Field(description="The institutions that fit, best first (empty when "
                                          "escalated).")
    categories: dict[str, float] = Field(description="The needs detected in the problem (financing, technology, "
                                         "skills...) and how confident the detection is, from 0 to 1.")
    escalate: bool = Field(description="True when no institution fits well enough: refer the problem to the "
                           "provincial working group.")
    escalate_reason: ReasonOut | None = Field(description="Why the problem is escalated; null when it is not.")
    excluded: dict[str, int] = Field(description="Eligibility rule -> how many institutions it excluded (sector, "
                                     "district, amount, capacity...).")


class RecommendationOut(BaseModel):
    """Institutions recommended for each problem asked about. Every answer is written to the recommendation log."""

    model_config = _examples({
        "recommendation_id": "9b2f6c1e-4d0a-4c8e-9f3b-2a7d5e1c0b44",
        "model_version": "v20240301-1a2b3c",
        "enterprise_id": "E000001",
        "escalate": False,
        "results": [{
            "recommendation_id": "9b2f6c1e-4d0a-4c8e-9f3b-2a7d5e1c0b44",
            "problem_id": "P000001",
            "institutions": [{
                "institution_id": "B01", "name": "Industrial and Commercial Bank Riverside Sub-branch",
                "kind": "bank", "score": 0.87, "rank": 1,
                "reasons": [
                    {"code": "need_detected", "params": {"category": "financing", "confidence": 0.92, "kind": "bank"},
                     "text": "need detected: financing (92% confident), which a bank handles"},
                    {"code": "amount_in_range", "params": {"amount": 3000000, "low": 50000, "high": 10000000},
                     "text": "amount 3,000,000 is within its range 50,000-10,000,000"},
                ],
            }],
            "categories": {"financing": 0.92, "technology": 0.31},
            "escalate": False,
            "escalate_reason": None,
            "excluded": {"sector": 2, "amount": 1},
        }],
    })

    recommendation_id: str = Field(description="The id of this answer in the recommendation log.")
    model_version: str = Field(description="The version of the model that ranked the institutions.")
    enterprise_id: str | None = Field(description="The enterprise asked about (directly, or through its problem); "
                                      "null for a problem given as text.")
    results: list[ProblemRecommendationOut] = Field(description="One result per problem (an enterprise's problems "
                                                    "by id).")
    escalate: bool = Field(description="True when any problem is escalated.")


# ------------------------------------------------------------------------------------------- records


_BODY_ID = "Optional; when given, it must be the id in the path (a record read with GET can be sent back as is)."
_ENTERPRISE = {"enterprise_id": "E000001", "name": "杭州明达机械有限公司", "sector": "manufacturing",
               "region": "Dongcheng", "employees": 45, "annual_revenue": 12000000, "founded": 2008}
_PROBLEM = {"problem_id": "P000001", "enterprise_id": "E000001",
            "text": "需要贷款 300万 购买新的数控机床 we need a loan for new CNC machines", "amount": 3000000,
            "stated_at": "2024-01-15"}
_INSTITUTION = {"institution_id": "B02", "name": "Rural Commercial Bank of Qinghe", "kind": "bank",
                "description": "Agricultural loans for farms, cooperatives and food processors; 涉农贷款, 农户贷款",
                "sectors": ["agriculture", "manufacturing"], "regions": ["Qinghe", "Dongcheng"],
                "min_amount": 20000, "max_amount": 3000000, "capacity": 30, "active": True}


class EnterpriseIn(_In):
    """An enterprise as a client sends it to create or replace it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_ENTERPRISE]})

    enterprise_id: Id | None = Field(default=None, description=_BODY_ID)
    name: Name = Field(description="The enterprise's registered name (Chinese or English).")
    sector: Sector = Field(description="The enterprise's sector.")
    region: Short = Field(description="The district the enterprise is in.")
    employees: Count = Field(description="Number of employees.")
    annual_revenue: Money | None = Field(default=None, description="Annual revenue, in yuan, when known.")
    founded: Year = Field(description="The year the enterprise was founded.")


class EnterpriseOut(BaseModel):
    """A stored enterprise."""

    model_config = _examples(_ENTERPRISE)

    enterprise_id: str = Field(description="The enterprise's id.")
    name: str = Field(description="The enterprise's registered name.")
    sector: str = Field(description="The enterprise's sector.")
    region: str = Field(description="The district the enterprise is in.")
    employees: int = Field(description="Number of employees.")
    annual_revenue: float | None = Field(description="Annual revenue, in yuan; null when unknown.")
    founded: int = Field(description="The year the enterprise was founded.")


class ProblemIn(_In):
    """A problem as a client sends it to create or replace it. A problem read with GET can be sent back as is:
    its case fields (`status`, `history`) are accepted and ignored, since a case changes only through its
    events (escalation, outcomes, resolutions)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_PROBLEM]})

    problem_id: Id | None = Field(default=None, description=_BODY_ID)
    status: Short | None = Field(default=None, description="Read-only (the case's status): ignored.")
    # Unbounded but by the body's size limit: a read-only field has no length of its own to enforce.
    history: list[dict[str, Any]] | None = Field(default=None, description="Read-only (the case's events): ignored.")
    enterprise_id: Id = Field(description="The id of the stored enterprise that has the problem.")
    text: ProblemText = Field(description="The problem in the enterprise's words: English, Chinese or both.")
    amount: Money | None = Field(default=None, description="Money asked for, in yuan, when the problem is about "
                                 "money.")
    stated_at: date = Field(description="The day the enterprise stated the problem.")


class ProblemOut(BaseModel):
    """A stored problem."""

    model_config = _examples(_PROBLEM)

    problem_id: str = Field(description="The problem's id.")
    enterprise_id: str = Field(description="The id of the enterprise that has the problem.")
    text: str = Field(description="The problem in the enterprise's words.")
    amount: float | None = Field(description="Money asked for, in yuan; null when not about money.")
    stated_at: date = Field(description="The day the enterprise stated the problem.")


class InstitutionIn(_In):
    """An institution as a client sends it to create or replace it; the matcher takes it into account within
    seconds."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_INSTITUTION]})

    institution_id: Id | None = Field(default=None, description=_BODY_ID)
    name: Name = Field(description="The institution's name.")
    kind: Kind = Field(description="What kind of institution it is.")
    description: Text = Field(description="What it offers, in its own words (English, Chinese or both): the "
                              "matcher reads it.")
    sectors: list[Sector] = Field(default=[], max_length=len(SECTORS),
                                  description="The sectors it serves; empty: every sector.")
    regions: list[Short] = Field(default=[], max_length=500, description="The districts it serves; empty: every "
                                 "district.")
    min_amount: Money | None = Field(default=None, description="The least money it grants or lends, in yuan.")
    max_amount: Money | None = Field(default=None, description="The most money it grants or lends, in yuan; at "
                                     "least `min_amount`.")
    capacity: Count = Field(description="How many cases it can take on at once.")
    active: bool = Field(default=True, description="False: kept on record but never recommended.")

    @field_validator("max_amount")
    @classmethod
    def _range(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_amount")
        if value is not None and low is not None and low > value:
            raise ValueError(f"must be at least min_amount ({low:g}); got {value:g}")
        return value


class InstitutionOut(BaseModel):
    """A stored institution."""

    model_config = _examples(_INSTITUTION)

    institution_id: str = Field(description="The institution's id.")
    name: str = Field(description="The institution's name.")
    kind: str = Field(description="What kind of institution it is (bank, guarantee, microcredit, "
                      "research_institute, college or government).")
    description: str = Field(description="What it offers, in its own words.")
    sectors: list[str] = Field(description="The sectors it serves; empty: every sector.")
    regions: list[str] = Field(description="The districts it serves; empty: every district.")
    min_amount: float | None = Field(description="The least money it grants or lends, in yuan; null: no minimum.")
    max_amount: float | None = Field(description="The most money it grants or lends, in yuan; null: no maximum.")
    capacity: int = Field(description="How many cases it can take on at once.")
    active: bool = Field(description="False: kept on record but never recommended.")


_SCORE = "How well the {what} matches the query, from 0 to 100; null when listed without a query."


class EnterpriseHit(EnterpriseOut):
    """An enterprise found by a search, with how well it matches."""

    model_config = _examples({**_ENTERPRISE, "score": 90.0})

    score: float | None = Field(description=_SCORE.format(what="name"))


class ProblemHit(ProblemOut):
    """A problem found by a search, with how well it matches."""

    model_config = _examples({**_PROBLEM, "score": 85.5, "status": None})

    score: float | None = Field(description=_SCORE.format(what="text"))
    status: str | None = Field(default=None, description="The case's status, when problems are listed by status.")


class InstitutionHit(InstitutionOut):
    """An institution found by a search, with how well it matches."""

    model_config = _examples({**_INSTITUTION, "score": 95.0})

    score: float | None = Field(description=_SCORE.format(what="name"))


class EnterpriseHits(BaseModel):
    """Enterprises found, best match first (by id without a query)."""

    model_config = _examples({"items": [{**_ENTERPRISE, "score": 90.0}]})

    items: list[EnterpriseHit] = Field(description="The enterprises found.")


class ProblemHits(BaseModel):
    """Problems found, best match first (by id without a query)."""

    model_config = _examples({"items": [{**_PROBLEM, "score": 85.5, "status": None}], "next_offset": None})

    items: list[ProblemHit] = Field(description="The problems found.")
    next_offset: int | None = Field(default=None, description="When listed by status: the `offset` of the next "
                                    "page, or null on the last page.")


class InstitutionHits(BaseModel):
    """Institutions found, best match first (by id without a query)."""

    model_config = _examples({"items": [{**_INSTITUTION, "score": 95.0}]})

    items: list[InstitutionHit] = Field(description="The institutions found.")


# ------------------------------------------------------------------------------------------- outcomes


_OUTCOME = {"outcome_id": "O2024-0042", "problem_id": "P000001", "institution_id": "B01", "status": "solved",
            "amount": 2500000, "recorded_at": "2024-02-01T09:30:00Z", "recorded_by": "caseworker-1"}


class OutcomeIn(_In):
    """How a referral went: which institution the problem was referred to, and what came of it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        _OUTCOME, {"outcome_id": "O2024-0043", "problem_id": "P000004", "institution_id": "G01",
                   "status": "contacted"},
    ]})

    outcome_id: Id = Field(description="Chosen by the client, unique per outcome: a retry with the same id and body "
                           "changes nothing, the same id with another body is refused (409).")
    problem_id: Id = Field(description="The id of the stored problem.")
    institution_id: Id = Field(description="The id of the institution the problem was referred to.")
    status: Status = Field(description="How it went: contacted, accepted, declined, solved or failed.")
    amount: Money | None = Field(default=None, description="Money granted or lent, in yuan.")
    recorded_at: Moment | None = Field(default=None, description="When it happened (ISO 8601, with a time zone "
                                       "or UTC); default: when the service receives it.")
    recorded_by: Short | None = Field(default=None, description="Who records it; default: the API key's name.")


class OutcomeOut(BaseModel):
    """A stored outcome."""

    model_config = _examples(_OUTCOME)

    outcome_id: str = Field(description="The outcome's id, as the client chose it.")
    problem_id: str = Field(description="The id of the problem.")
    institution_id: str = Field(description="The id of the institution the problem was referred to.")
    status: Status = Field(description="How it went.")
    amount: float | None = Field(description="Money granted or lent, in yuan; null when none was recorded.")
    recorded_at: datetime = Field(description="When it happened (UTC).")
    recorded_by: str | None = Field(description="Who recorded it.")


_LIMIT = "The page size asked for."
_OFFSET = "How many items came before this page."
_NEXT = "The `offset` of the next page; null on the last page."


class OutcomePage(BaseModel):
    """A page of outcomes, oldest first."""

    model_config = _examples({"items": [_OUTCOME], "limit": 100, "offset": 0, "next_offset": None})

    items: list[OutcomeOut] = Field(description="The outcomes on this page.")
    limit: int = Field(description=_LIMIT)
    offset: int = Field(description=_OFFSET)
    next_offset: int | None = Field(description=_NEXT)


# ------------------------------------------------------------------------------------------- model, keys, health


_MODEL = {
    "version": "v20240301-1a2b3c", "ranker": "learned", "source": "current", "degraded": None,
    "metrics": {"ndcg_at_5": 0.71, "recall_at_5": 0.83, "ndcg_at_5_text_baseline": 0.58},
    "trained_at": "2024-03-01T08:00:00Z", "data_digest": "5e8f0c2a9b1d", "sklearn_version": "1.5.2",
    "loaded_at": "2024-03-01T08:05:12Z", "institutions": 42, "catalogue_built_at": "2024-03-01T08:05:12Z",
    "desired_version": "v20240301-1a2b3c", "matches_desired": True, "desired_refused": None,
}


class ModelOut(BaseModel):
    """The model this worker serves, and whether it is the one the whole fleet should serve."""

    model_config = _examples(_MODEL)

    version: str = Field(description="The model's version.")
    ranker: str = Field(description="baseline (built in), text_only or learned.")
    source: str | None = Field(description="The bundle folder served, relative to the models folder; null for the "
                               "built-in baseline.")
    degraded: str | None = Field(default=None, description="Why this is not the bundle meant to be served (the "
                                 "current bundle was refused at start-up), if so.")
    metrics: dict[str, Any] = Field(description="The model's evaluation metrics from training (name -> value), "
                                    "baselines included.")
    trained_at: str | None = Field(description="When the model was trained (ISO 8601); null for the baseline.")
    data_digest: str | None = Field(description="A digest of the data the model was trained on; null for the "
                                    "baseline.")
    sklearn_version: str | None = Field(description="The scikit-learn version the model was trained with.")
    loaded_at: datetime = Field(description="When this worker loaded the model.")
    institutions: int = Field(description="How many institutions the matcher's catalogue holds.")
    catalogue_built_at: datetime = Field(description="When this worker last built the matcher's catalogue from the "
                                         "store.")
    desired_version: str | None = Field(description="The version the fleet should serve (set by a reload); null "
                                        "before any reload.")
    matches_desired: bool = Field(description="True when this worker serves the desired version (always true before "
                                  "any reload).")
    desired_refused: str | None = Field(description="Why this worker could not load the desired version's bundle, "
                                        "if it could not.")


class ReloadIn(_In):
    """Which model bundle to load."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"path": "current"},
                                                                              {"path": "runs/4f2a9c1d"}]})

    path: _string(LABEL_PATTERN, "must not be blank", 255) = Field(  # type: ignore[valid-type]
        default="current", description="A bundle folder inside the models folder (default: current)."
    )


class ReloadOut(BaseModel):
    """The model swapped in, and the version it replaced."""

    model_config = _examples({"previous_version": "v20240115-9f8e7d",
                              "model": _MODEL})

    previous_version: str = Field(description="The version served before the reload.")
    model: ModelOut = Field(description="The model now served.")


class KeyIn(_In):
    """A new API key to make."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"role": "caseworker", "name": "Dongcheng service centre"}]})

    role: Role = Field(description="What the key may do.")
    name: Short | None = Field(default=None, description="Who or what the key is for (shown in the audit trail "
                               "and as the default `recorded_by`).")


_KEY = {"key_id": "k_3f9a1c2b7d4e", "name": "Dongcheng service centre", "role": "caseworker",
        "created_at": "2024-03-01T08:00:00Z", "revoked": False}


class KeyOut(BaseModel):
    """An API key as listed: never the key itself."""

    model_config = _examples(_KEY)

    key_id: str = Field(description="The key's id (not the secret): use it to revoke the key.")
    name: str | None = Field(description="Who or what the key is for.")
    role: Role = Field(description="What the key may do.")
    created_at: datetime = Field(description="When the key was made (UTC).")
    revoked: bool = Field(description="True once the key is revoked: it no longer works.")


class KeyCreatedOut(KeyOut):
    """A new API key, with its secret: shown this once, only its hash is kept."""

    model_config = _examples({**_KEY, "key": "smk_4vJ0c2Qm8s1xT9bKqLr7YwZ3nP6eHf5aD2gUoVtNiCk"})

    key: str = Field(description="The secret to send in the `X-API-Key` header; shown once, only its hash is "
                     "kept.")


class AuditEntity(StrEnum):
    """What an audit event changed."""

    enterprises = "enterprises"
    problems = "problems"
    institutions = "institutions"
    api_keys = "api_keys"
    model = "model"


class AuditEventOut(BaseModel):
    """One edit of the store, with the record before and after."""

    event_id: int = Field(description="The event's number; events are numbered in the order they happened.")
    at: datetime = Field(description="When the edit was made (UTC).")
    actor_key_id: str = Field(description="The id of the API key that made the edit (`cli` for the command line).")
    actor_name: str | None = Field(description="The name of that key.")
    action: str = Field(description="create, replace, revoke or reload.")
    entity: str = Field(description="What was edited: enterprises, problems, institutions, api_keys or model.")
    record_id: str = Field(description="The id of the record edited (for the model: the bundle folder).")
    before: dict[str, Any] | None = Field(description="The record before the edit; null when it was created.")
    after: dict[str, Any] | None = Field(description="The record after the edit.")


class AuditPage(BaseModel):
    """A page of the audit trail, oldest first."""

    model_config = _examples({
        "items": [{"event_id": 17, "at": "2024-03-02T10:15:00Z", "actor_key_id": "k_3f9a1c2b7d4e",
                   "actor_name": "curator-1", "action": "replace", "entity": "institutions", "record_id": "B02",
                   "before": {**_INSTITUTION, "capacity": 25}, "after": _INSTITUTION}],
        "limit": 100, "offset": 0, "next_offset": None,
    })

    items: list[AuditEventOut] = Field(description="The events on this page.")
    limit: int = Field(description=_LIMIT)
    offset: int = Field(description=_OFFSET)
    next_offset: int | None = Field(description=_NEXT)


class HealthOut(BaseModel):
    """The process is up."""

    model_config = _examples({"status": "ok"})

    status: Literal["ok"] = Field(description="Always ok: an answer at all means the process is up.")


class ReadyOut(BaseModel):
    """Whether this worker can answer: a model loaded and the database reachable."""

    model_config = _examples({
        "status": "ready",
        "checks": {"model": "ok (v20240301-1a2b3c)", "database": "ok", "store": "ok"},
        "served_version": "v20240301-1a2b3c", "desired_version": "v20240301-1a2b3c", "matches_desired": True,
    })

    status: Literal["ready", "degraded", "not ready"] = Field(
        description="ready; degraded (answers still go out: a fallback model is served, or the store does not take "
                    "writes for now); or not ready (no model, or no database: status 503).")
    checks: dict[str, str] = Field(description="Each check (model, database, store) -> `ok` or what is wrong.")
    served_version: str | None = Field(description="The model version this worker serves.")
    desired_version: str | None = Field(description="The version the fleet should serve; null before any reload.")
    matches_desired: bool = Field(description="True when this worker serves the desired version.")


# ------------------------------------------------------------------------------------------- console


class MeOut(BaseModel):
    """The presented API key: who it is and what it may do."""

    model_config = _examples({"key_id": "k_3f9a1c2b7d4e", "name": "Dongcheng service centre", "role": "caseworker"})

    key_id: str = Field(description="The id of the presented key (never the key itself).")
    name: str | None = Field(description="The key's name.")
    role: Role = Field(description="What the key may do.")


class RunOut(BaseModel):
    """One training run and its key metrics."""

    run_id: str | None = Field(description="The training run's id.")
    version: str = Field(description="The version of the model the run trained.")
    started: str | None = Field(description="When the run started (ISO 8601, UTC).")
    aliases: str = Field(description="Registry aliases of the run's model version, comma-separated.")
    metrics: dict[str, float] = Field(description="Metric name -> value; baselines carry suffixes such as "
                                      "_text_baseline, _popularity, _oracle.")


class RunsOut(BaseModel):
    """Recent training runs, newest first, and where they were read."""

    model_config = _examples({
        "source": "bundles", "mlflow_ui_url": None,
        "runs": [{"run_id": "4f2a9c1d", "version": "v20240301-1a2b3c", "started": "2024-03-01T08:00:00Z",
                  "aliases": "champion", "metrics": {"ndcg_at_5": 0.71, "ndcg_at_5_text_baseline": 0.58}}],
    })

    source: str = Field(description="Where the runs were read: mlflow, bundles or none.")
    mlflow_ui_url: str | None = Field(description="The MLflow UI's address, when one is configured.")
    runs: list[RunOut] = Field(description="The runs, newest first.")
