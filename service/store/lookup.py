"""Single records out of the store, as the frozen records of ``matching.records`` (or None when unknown).

A stored problem comes with its enterprise's sector, region, size, revenue and founding year filled in,
which is what the matching engine needs to recommend for it. ``problems_of`` lists an enterprise's problems.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from matching.records import Enterprise, Institution, Outcome, Problem
from service.store.engine import reading
from service.store.errors import translated_errors
from service.store.models import EnterpriseRow, InstitutionRow, OutcomeRow, ProblemRow, table_of

__all__ = ["get_enterprise", "get_problem", "get_institution", "get_outcome", "problems_of"]


def get_enterprise(engine: Engine, enterprise_id: str) -> Enterprise | None:
    table = table_of(EnterpriseRow)
    with translated_errors(), reading(engine) as connection:
        row = connection.execute(select(table).where(table.c.enterprise_id == enterprise_id)).first()
    return None if row is None else Enterprise(**row._asdict())


def get_institution(engine: Engine, institution_id: str) -> Institution | None:
    table = table_of(InstitutionRow)
    with translated_errors(), reading(engine) as connection:
        row = connection.execute(select(table).where(table.c.institution_id == institution_id)).first()
    if row is None:
        return None
    values = row._asdict()
    return Institution(**{**values, "sectors": tuple(values["sectors"]), "regions": tuple(values["regions"])})


def get_outcome(engine: Engine, outcome_id: str) -> Outcome | None:
    table = table_of(OutcomeRow)
    with translated_errors(), reading(engine) as connection:
        row = connection.execute(select(table).where(table.c.outcome_id == outcome_id)).first()
    return None if row is None else Outcome(**row._asdict())


def get_problem(engine: Engine, problem_id: str) -> Problem | None:
    problems = _problems_query().where(ProblemRow.problem_id == problem_id)
    with translated_errors(), reading(engine) as connection:
        row = connection.execute(problems).first()
    return None if row is None else _problem(row._asdict())


def problems_of(engine: Engine, enterprise_id: str) -> list[Problem]:
    """The problems of one enterprise, ordered by id (empty for an unknown enterprise)."""
    problems = _problems_query().where(ProblemRow.enterprise_id == enterprise_id).order_by(ProblemRow.problem_id)
    with translated_errors(), reading(engine) as connection:
        return [_problem(row._asdict()) for row in connection.execute(problems)]


def _problems_query():  # type: ignore[no-untyped-def]
    return select(
        ProblemRow.problem_id,
        ProblemRow.enterprise_id,
        ProblemRow.text,
        ProblemRow.amount,
        ProblemRow.stated_at,
        EnterpriseRow.sector,
        EnterpriseRow.region,
        EnterpriseRow.employees,
        EnterpriseRow.annual_revenue,
        EnterpriseRow.founded,
    ).join(EnterpriseRow, EnterpriseRow.enterprise_id == ProblemRow.enterprise_id)


def _problem(values: dict[str, object]) -> Problem:
    stated_at = values["stated_at"]
    assert stated_at is None or isinstance(stated_at, datetime)
    return Problem(**values)  # type: ignore[arg-type]
