"""Reading cases in bulk: problems by status, the provincial queue of escalated cases, and the overview.

- ``problems_with_status``: ids of problems whose case has a status, by id (a problem with no case row is
  ``open``).
- ``escalation_queue``: escalated cases oldest escalation first, each with its problem, enterprise, sector,
  district, days open, the referrals tried (outcomes, oldest first) and the reasons (the escalation's and the
  engine's, as ``{code, params}``). Filters: sector, region, source, enterprise. A page is found on ``cases``
  alone, in the order of its index ``cases_by_status`` (a filter on the enterprise is one set of problem ids
  it tests against), so the rows an offset skips cost an index entry each, not a join; then the page's 50
  rows are joined to their problems and enterprises, and their outcomes read by problem id.
- ``overview``: counts by status, sector, district, institution kind (of the referrals) and days open.

Inputs: an engine, filters, paging. Outputs: plain dicts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, func, or_, select

from service.store.clock import naive_utc, utc_now
from service.store.engine import reading
from service.store.errors import translated_errors
from service.store.models import CaseRow, EnterpriseRow, InstitutionRow, OutcomeRow, ProblemRow

__all__ = ["problems_with_status", "escalation_queue", "overview", "QUEUE_COLUMNS", "AGE_BANDS"]

# The queue's flat columns (CSV and XLSX exports, the batch's OUT.escalations.csv).
QUEUE_COLUMNS = ("problem_id", "enterprise_id", "enterprise_name", "sector", "district", "text", "amount",
                 "stated_at", "escalated_at", "days_open", "escalated_by", "reason", "engine_reason", "referrals")
AGE_BANDS: tuple[tuple[str, int | None], ...] = (("0-7", 7), ("8-30", 30), ("31-90", 90), ("91+", None))


def problems_with_status(engine: Engine, status: str, *, limit: int | None, offset: int = 0,
                         enterprise_id: str | None = None) -> list[dict[str, Any]]:
    """Problems whose case is ``status`` (of one enterprise, when given), by problem id:
    ``{problem_id, status, updated_at}``; every one when ``limit`` is None."""
    if status == "open":
        query = (select(ProblemRow.problem_id, CaseRow.updated_at)
                 .outerjoin(CaseRow, CaseRow.problem_id == ProblemRow.problem_id)
                 .where(or_(CaseRow.status.is_(None), CaseRow.status == "open"))
                 .order_by(ProblemRow.problem_id))
    else:
        query = select(CaseRow.problem_id, CaseRow.updated_at).where(CaseRow.status == status).order_by(
            CaseRow.problem_id)
        if enterprise_id is not None:
            query = query.join(ProblemRow, ProblemRow.problem_id == CaseRow.problem_id)
    if enterprise_id is not None:
        query = query.where(ProblemRow.enterprise_id == enterprise_id)
    with translated_errors(), reading(engine) as connection:
        rows = connection.execute(query.limit(limit).offset(offset)).all()
    return [{"problem_id": row.problem_id, "status": status, "updated_at": row.updated_at} for row in rows]


def escalation_queue(engine: Engine, *, limit: int, offset: int, sector: str | None = None,
                     region: str | None = None, source: str | None = None, enterprise_id: str | None = None,
                     now: datetime | None = None) -> list[dict[str, Any]]:
    """One page of the queue (see the module docstring), oldest escalation first."""
    moment = naive_utc(now) if now is not None else utc_now()
    page = select(CaseRow.problem_id, CaseRow.escalated_at).where(CaseRow.status == "escalated")
    if source is not None:
        page = page.where(CaseRow.escalation_source == source)
    if sector is not None or region is not None or enterprise_id is not None:
        chosen = select(ProblemRow.problem_id).join(EnterpriseRow,
                                                    EnterpriseRow.enterprise_id == ProblemRow.enterprise_id)
        for column, value in ((EnterpriseRow.sector, sector), (EnterpriseRow.region, region),
                              (ProblemRow.enterprise_id, enterprise_id)):
            if value is not None:
                chosen = chosen.where(column == value)
        page = page.where(CaseRow.problem_id.in_(chosen))
    paged = page.order_by(CaseRow.escalated_at, CaseRow.problem_id).limit(limit).offset(offset).subquery("page")
    query = (select(CaseRow.problem_id, CaseRow.escalated_at, CaseRow.escalation_source, CaseRow.escalation_reason,
                    CaseRow.engine_reason, ProblemRow.enterprise_id, ProblemRow.text, ProblemRow.amount,
                    ProblemRow.stated_at, EnterpriseRow.name, EnterpriseRow.sector, EnterpriseRow.region)
             .select_from(paged)
             .join(CaseRow, CaseRow.problem_id == paged.c.problem_id)
             .join(ProblemRow, ProblemRow.problem_id == CaseRow.problem_id)
             .join(EnterpriseRow, EnterpriseRow.enterprise_id == ProblemRow.enterprise_id)
             .order_by(paged.c.escalated_at, paged.c.problem_id))
    with translated_errors(), reading(engine) as connection:
        rows = connection.execute(query).all()
        referrals = _referrals(connection, [row.problem_id for row in rows])
    return [{
        "problem_id": row.problem_id, "enterprise_id": row.enterprise_id, "enterprise_name": row.name,
        "sector": row.sector, "district": row.region, "text": row.text, "amount": row.amount,
        "stated_at": row.stated_at, "escalated_at": row.escalated_at,
        "days_open": max(0, (moment - row.stated_at).days), "escalated_by": row.escalation_source,
        "reason": row.escalation_reason, "engine_reason": row.engine_reason,
        "referrals": referrals.get(row.problem_id, []),
    } for row in rows]


def _referrals(connection: Any, problem_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    if not problem_ids:
        return {}
    query = (select(OutcomeRow.problem_id, OutcomeRow.institution_id, InstitutionRow.name, InstitutionRow.kind,
                    OutcomeRow.status, OutcomeRow.recorded_at)
             .join(InstitutionRow, InstitutionRow.institution_id == OutcomeRow.institution_id)
             .where(OutcomeRow.problem_id.in_(list(problem_ids)))
             .order_by(OutcomeRow.problem_id, OutcomeRow.recorded_at, OutcomeRow.outcome_id))
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in connection.execute(query):
        found[row.problem_id].append({"institution_id": row.institution_id, "name": row.name, "kind": row.kind,
                                      "status": row.status, "recorded_at": row.recorded_at})
    return found


def overview(engine: Engine, *, now: datetime | None = None) -> dict[str, Any]:
    """Counts of cases by status, and of active and escalated cases by sector, district, the kinds of the
    institutions referred to, and days open (``AGE_BANDS``)."""
    moment = naive_utc(now) if now is not None else utc_now()
    status = func.coalesce(CaseRow.status, "open")
    base = (select(ProblemRow.problem_id).outerjoin(CaseRow, CaseRow.problem_id == ProblemRow.problem_id)
            .join(EnterpriseRow, EnterpriseRow.enterprise_id == ProblemRow.enterprise_id))
    age_days = func.floor(_days_between(engine, ProblemRow.stated_at, moment))
    band = case(*[(age_days <= days, label) for label, days in AGE_BANDS if days is not None],
                else_=AGE_BANDS[-1][0])
    with translated_errors(), reading(engine) as connection:
        by_status = dict(connection.execute(
            base.with_only_columns(status, func.count()).group_by(status)).all())
        by_sector = _grouped(connection, base, status, EnterpriseRow.sector)
        by_district = _grouped(connection, base, status, EnterpriseRow.region)
        by_age = _grouped(connection, base, status, band)
        by_kind = _grouped(connection, base.join(OutcomeRow, OutcomeRow.problem_id == ProblemRow.problem_id)
                           .join(InstitutionRow, InstitutionRow.institution_id == OutcomeRow.institution_id),
                           status, InstitutionRow.kind, distinct=True)
    return {"total": sum(by_status.values()), "by_status": by_status, "by_sector": by_sector,
            "by_district": by_district, "by_institution_kind": by_kind,
            "by_days_open": {label: by_age.get(label, {}) for label, _ in AGE_BANDS}, "as_of": moment}


def _grouped(connection: Any, base: Any, status: Any, key: Any, *, distinct: bool = False) -> dict[str, dict[str, int]]:
    counted = func.count(ProblemRow.problem_id.distinct()) if distinct else func.count()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for value, state, count in connection.execute(base.with_only_columns(key, status, counted).group_by(key, status)):
        out[str(value)][state] = int(count)
    return dict(out)


def _days_between(engine: Engine, column: Any, moment: datetime) -> Any:
    if engine.dialect.name == "postgresql":
        return func.extract("epoch", moment - column) / 86400.0
    return func.julianday(moment) - func.julianday(column)
