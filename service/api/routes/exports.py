"""Exports for analysts: ``GET /v1/exports/outcomes`` as CSV, with the same filters as ``GET /v1/outcomes``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from service.api import records
from service.api.deps import Analyst, Ctx, QueryCheckedRoute
from service.api.routes import responses
from service.api.routes.outcomes import OptionalId
from service.api.schemas import Moment, Status

router = APIRouter(prefix="/v1/exports", tags=["exports"], route_class=QueryCheckedRoute)


@router.get("/outcomes", response_class=StreamingResponse, summary="Export outcomes as CSV", responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "outcomes as CSV"},
    **responses(401, 403, 422, 503),
})
async def export_outcomes(
    ctx: Ctx, _: Analyst,
    institution_id: OptionalId = None, enterprise_id: OptionalId = None, status: Status | None = None,
    recorded_after: Annotated[Moment | None, Query(description="inclusive")] = None,
    recorded_before: Annotated[Moment | None, Query(description="exclusive")] = None,
) -> StreamingResponse:
    """Every outcome matching the filters, by outcome id, as CSV (streamed: any number of outcomes)."""
    query = records.outcome_query(
        institution_id=institution_id, enterprise_id=enterprise_id, status=status.value if status else None,
        recorded_after=recorded_after, recorded_before=recorded_before,
    )
    return StreamingResponse(records.outcome_csv(ctx.engine, query), media_type="text/csv",
                             headers={"Content-Disposition": 'attachment; filename="outcomes.csv"'})
