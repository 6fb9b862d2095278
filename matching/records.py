"""The domain of smematch, named once.

Vocabularies (sectors, institution kinds, outcome statuses, problem categories) and frozen records for
the five things the system talks about: enterprises, their problems, institutions, outcomes and the
recommendations that were shown. Tables (pandas frames) use the same field names as columns; see
``matching.tables.files`` for reading and validating them.

The table contract (CSV files in a data folder; Parquet with the same columns also accepted)
- `enterprises.csv`: enterprise_id (str), name (str; Chinese or English names), sector (one of SECTORS), region
  (district name, str), employees (int >= 0), annual_revenue (float >= 0, yuan), founded (int year).
- `problems.csv`: problem_id (str), enterprise_id (str, must exist), text (free text, 1..5000 chars, EN/ZH/mixed),
  amount (float >= 0 or empty; money asked for, financing problems), stated_at (ISO date YYYY-MM-DD).
- `institutions.csv`: institution_id (str), name, kind (one of INSTITUTION_KINDS), description (free text: what it
  offers), sectors (semicolon-separated SECTORS it serves; empty = all), regions (semicolon-separated districts;
  empty = all), min_amount, max_amount (floats or empty; lenders/guarantors only; min <= max), capacity (int >= 0,
  cases per month), active (true/false).
- `outcomes.csv`: outcome_id (str), problem_id (str, must exist), institution_id (str, must exist), status (one of
  OUTCOME_STATUSES), amount (float >= 0 or empty; granted), recorded_at (ISO datetime), recorded_by (str).
- Simulator-only extras (not part of the store): `ground_truth.parquet` (problem_id, institution_id, p_success: the
  hidden true probability the pair ends `solved`), `problem_truth.csv` (problem_id, categories: semicolon-separated
  true categories), `logging_policy.csv` (outcome_id, propensity: the probability the biased caseworker policy
  chose that institution for that problem).
Ids are strings like `E000001`, `P000001`, `I0001`, `O0000001`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = [
    "SECTORS",
    "INSTITUTION_KINDS",
    "LENDER_KINDS",
    "OUTCOME_STATUSES",
    "CASE_STATUSES",
    "STATUS_GAIN",
    "CATEGORIES",
    "MONEY_CATEGORIES",
    "KNOW_HOW_CATEGORIES",
    "MAX_TEXT_LENGTH",
    "Enterprise",
    "Problem",
    "Institution",
    "Outcome",
    "RankedInstitution",
    "Recommendation",
]

SECTORS: tuple[str, ...] = (
    "manufacturing",
    "agriculture",
    "construction",
    "wholesale_retail",
    "transport_warehousing_postal",
    "catering_accommodation",
    "information_services",
    "real_estate_property",
    "leasing_business_services",
    "other",
)

INSTITUTION_KINDS: tuple[str, ...] = (
    "bank",
    "guarantee",
    "microcredit",
    "research_institute",
    "college",
    "government",
)

# Kinds that lend (or guarantee) money, for which min_amount/max_amount apply.
LENDER_KINDS: frozenset[str] = frozenset({"bank", "guarantee", "microcredit"})

OUTCOME_STATUSES: tuple[str, ...] = ("contacted", "accepted", "declined", "solved", "failed")

# A problem as a case: the statuses its events move it through (see ``service.store.cases``).
CASE_STATUSES: tuple[str, ...] = ("open", "recommended", "referred", "accepted", "solved", "unsolved", "escalated",
                                  "resolved_by_province", "closed")

# Graded relevance of an outcome stage, for training labels and ranking metrics:
# solved above accepted above contacted above declined/failed.
STATUS_GAIN: dict[str, int] = {"solved": 3, "accepted": 2, "contacted": 1, "declined": 0, "failed": 0}

CATEGORIES: tuple[str, ...] = (
    "financing",
    "guarantee",
    "technology",
    "energy",
    "new_product",
    "it",
    "skills",
    "land",
    "water",
    "electricity",
    "transport",
    "market",
)

# A problem that carries categories from both groups needs both money and know-how.
MONEY_CATEGORIES: frozenset[str] = frozenset({"financing", "guarantee"})
KNOW_HOW_CATEGORIES: frozenset[str] = frozenset({"technology", "energy", "new_product", "it", "skills"})

MAX_TEXT_LENGTH = 5000


@dataclass(frozen=True, slots=True)
class Enterprise:
    enterprise_id: str
    name: str
    sector: str
    region: str
    employees: int | None = None
    annual_revenue: float | None = None
    founded: int | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A stated problem. ``sector``/``region`` come from its enterprise (or the caller, for ad-hoc text)."""

    text: str
    problem_id: str | None = None
    enterprise_id: str | None = None
    sector: str | None = None
    region: str | None = None
    amount: float | None = None
    stated_at: date | datetime | None = None
    employees: int | None = None
    annual_revenue: float | None = None
    founded: int | None = None


@dataclass(frozen=True, slots=True)
class Institution:
    institution_id: str
    name: str
    kind: str
    description: str
    sectors: tuple[str, ...] = ()  # empty: serves every sector
    regions: tuple[str, ...] = ()  # empty: serves every region
    min_amount: float | None = None
    max_amount: float | None = None
    capacity: int = 10
    active: bool = True


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome_id: str
    problem_id: str
    institution_id: str
    status: str
    amount: float | None = None
    recorded_at: datetime | None = None
    recorded_by: str | None = None


@dataclass(frozen=True, slots=True)
class RankedInstitution:
    institution_id: str
    name: str
    kind: str
    score: float
    rank: int
    reasons: tuple[str, ...] = ()
    # The reasons as data: (code, *values, code, *values, ...), values in ``matching.explain.reasons.PARAMS`` order.
    reason_data: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What was (or would be) shown for one problem."""

    problem_id: str | None
    institutions: tuple[RankedInstitution, ...]
    categories: dict[str, float] = field(default_factory=dict)
    escalate: bool = False
    escalate_reason: str | None = None
    model_version: str = "baseline"
    excluded: dict[str, int] = field(default_factory=dict)  # eligibility rule -> institutions it excluded

    def to_dict(self) -> dict:
        return {
            "problem_id": self.problem_id,
            "institutions": [
                {
                    "institution_id": r.institution_id,
                    "name": r.name,
                    "kind": r.kind,
                    "score": round(float(r.score), 6),
                    "rank": r.rank,
                    "reasons": list(r.reasons),
                }
                for r in self.institutions
            ],
            "categories": {k: round(float(v), 4) for k, v in self.categories.items()},
            "escalate": self.escalate,
            "escalate_reason": self.escalate_reason,
            "model_version": self.model_version,
            "excluded": dict(self.excluded),
        }
