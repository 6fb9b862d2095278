"""The audit trail: ``GET /v1/audit`` (analysts and admins), every edit oldest first, with filters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from service.api.deps import Analyst, Ctx, QueryCheckedRoute
from service.api.routes import responses
from service.api.routes.outcomes import OptionalId
from service.api.schemas import AuditEntity, AuditPage
from service.store.audit import list_events

router = APIRouter(prefix="/v1", tags=["audit"], route_class=QueryCheckedRoute)


@router.get("/audit", response_model=AuditPage, responses=responses(401, 403, 422, 503), summary="The audit trail")
async def list_audit(
    ctx: Ctx, _: Analyst,
    entity: AuditEntity | None = None, record_id: OptionalId = None, actor_key_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Who changed what and when, with the record before and after, oldest first: edits of enterprises,
    problems and institutions, API keys created and revoked, model reloads."""
    items = await run_in_threadpool(list_events, ctx.engine, entity=entity.value if entity else None,
                                    record_id=record_id, actor_key_id=actor_key_id, limit=limit + 1, offset=offset)
    more = len(items) > limit
    return {"items": items[:limit], "limit": limit, "offset": offset, "next_offset": offset + limit if more else None}
