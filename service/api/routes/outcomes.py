"""Outcomes: ``POST /v1/outcomes`` (idempotent on the client's ``outcome_id``), list with filters, read by id.

A new outcome is committed (durably: SQLite WAL with ``synchronous=FULL``, or PostgreSQL) before the 201;
a replay with the same body returns the stored record with 200; the same id with a different body is a
409 naming every differing field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from matching.records import Outcome
from service.api import records
from service.api.cases import case_rules
from service.api.deps import Caseworker, Ctx, QueryCheckedRoute
from service.api.errors import ApiError
from service.api.routes import responses
from service.api.routes.records import IdPath
from service.api.schemas import Id, Moment, OutcomeIn, OutcomeOut, OutcomePage, Short, Status
from service.store import get_outcome, record_outcome

router = APIRouter(prefix="/v1", tags=["outcomes"], route_class=QueryCheckedRoute)

# Filters use the body's string types: their patterns keep NUL and control characters out of SQL parameters.
OptionalId = Annotated[Id | None, Query()]


def _shape(outcome: Outcome | dict[str, Any]) -> dict[str, Any]:
    values = outcome if isinstance(outcome, dict) else {k: getattr(outcome, k) for k in records.OUTCOME_COLUMNS}
    recorded_at = values["recorded_at"]
    if isinstance(recorded_at, datetime) and recorded_at.tzinfo is None:
        values = {**values, "recorded_at": recorded_at.replace(tzinfo=UTC)}
    return values


@router.post("/outcomes", response_model=OutcomeOut, status_code=201, summary="Record an outcome",
             responses={200: {"model": OutcomeOut, "description": "a replay: the outcome as stored"},
                        **responses(401, 403, 409, 413, 422, 503)})
async def post_outcome(body: OutcomeIn, ctx: Ctx, caller: Caseworker, response: Response) -> dict[str, Any]:
    """Record how a problem went with an institution it was referred to; the problem's case moves with it.
    Safe to retry with the same `outcome_id` and body (200 with the outcome as stored); the same `outcome_id`
    with another body is refused (409) naming every field that differs."""
    outcome = Outcome(
        outcome_id=body.outcome_id, problem_id=body.problem_id, institution_id=body.institution_id,
        status=body.status.value, amount=body.amount, recorded_at=body.recorded_at,
        recorded_by=body.recorded_by if body.recorded_by is not None else (caller.name or caller.key_id),
    )
    stored, created = await run_in_threadpool(lambda: record_outcome(ctx.engine, outcome,
                                                                     rules=case_rules(ctx.settings)))
    response.status_code = 201 if created else 200
    return _shape(stored)


@router.get("/outcomes", response_model=OutcomePage, responses=responses(401, 403, 422, 503),
            summary="List outcomes")
async def list_outcomes(
    ctx: Ctx, _: Caseworker,
    problem_id: OptionalId = None, institution_id: OptionalId = None, enterprise_id: OptionalId = None,
    status: Status | None = None,
    recorded_by: Annotated[Short | None, Query()] = None,
    recorded_after: Annotated[Moment | None, Query(description="inclusive")] = None,
    recorded_before: Annotated[Moment | None, Query(description="exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Outcomes matching every filter given, oldest first, paged with `next_offset`."""
    query = records.outcome_query(
        problem_id=problem_id, institution_id=institution_id, enterprise_id=enterprise_id,
        status=status.value if status else None, recorded_by=recorded_by,
        recorded_after=recorded_after, recorded_before=recorded_before,
    )
    items = await run_in_threadpool(records.list_outcomes, ctx.engine, query, limit=limit + 1, offset=offset)
    more = len(items) > limit
    return {"items": [_shape(i) for i in items[:limit]], "limit": limit, "offset": offset,
            "next_offset": offset + limit if more else None}


@router.get("/outcomes/{outcome_id}", response_model=OutcomeOut, responses=responses(401, 403, 404, 422, 503),
            summary="Read an outcome")
async def read_outcome(outcome_id: IdPath, ctx: Ctx, _: Caseworker) -> dict[str, Any]:
    """The outcome with this id."""
    stored = await run_in_threadpool(get_outcome, ctx.engine, outcome_id)
    if stored is None:
        raise ApiError(404, f"no outcome {outcome_id!r}")
    return _shape(stored)
