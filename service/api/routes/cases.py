"""Cases: escalate a problem, what was recommended for it, the provincial queue and its resolutions, the
queue as CSV or XLSX, and the caseworkers' overview.

- ``POST /v1/problems/{id}/escalate`` (caseworker, body ``reason``): 201 with the event; 200 saying so when
  it is escalated already (nothing recorded); 409 for a problem that cannot be escalated (solved, or held or
  closed by the province).
- ``GET /v1/problems/{id}/recommendations``: the recommendation log for the problem, newest first.
- ``GET /v1/escalations`` (caseworker or provincial): the queue, with filters, paged by ``next_offset``.
- ``POST /v1/escalations/{id}/resolution`` (provincial only, body ``resolution``): 409 when not escalated.
- ``GET /v1/exports/escalations``: the queue as CSV (UTF-8 with a byte order mark, for Excel) or XLSX.
- ``GET /v1/cases/overview``: counts by status, sector, district, institution kind and days open.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from service import exports
from service.api import cases
from service.api.case_schemas import (
    EscalateIn,
    EscalationOut,
    LoggedPage,
    OverviewOut,
    QueuePage,
    ResolutionIn,
    ResolutionOut,
    Source,
)
from service.api.deps import CaseReader, Caseworker, Ctx, Provincial, QueryCheckedRoute
from service.api.errors import ApiError
from service.api.language import Lang
from service.api.routes import responses
from service.api.routes.records import IdPath
from service.api.schemas import Id, Sector, Short
from service.store import get_problem

router = APIRouter(prefix="/v1", tags=["cases"], route_class=QueryCheckedRoute)

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
SectorFilter = Annotated[Sector | None, Query()]
RegionFilter = Annotated[Short | None, Query(description="the enterprise's district")]
SourceFilter = Annotated[Source | None, Query(description="who escalated: engine, caseworker or rule")]
EnterpriseFilter = Annotated[Id | None, Query()]


async def _known(ctx: Ctx, problem_id: str) -> None:
    if await run_in_threadpool(get_problem, ctx.engine, problem_id) is None:
        raise ApiError(404, f"no problem {problem_id!r}")


def _filters(sector: Sector | None, region: str | None, source: Source | None,
             enterprise_id: str | None) -> dict[str, Any]:
    return {"sector": sector and sector.value, "region": region, "source": source and source.value,
            "enterprise_id": enterprise_id}


@router.post("/problems/{problem_id}/escalate", response_model=EscalationOut, status_code=201,
             summary="Escalate a problem to the province",
             responses={200: {"model": EscalationOut, "description": "escalated already: nothing recorded"},
                        **responses(401, 403, 404, 409, 413, 422, 503)})
async def escalate(problem_id: IdPath, body: EscalateIn, ctx: Ctx, caller: Caseworker, language: Lang,
                   response: Response) -> dict[str, Any]:
    """Send a problem to the provincial working group, with the caseworker's reason (201). Safe to repeat: a
    problem escalated already is answered with 200 and the escalation on record, and nothing is recorded. A
    problem that cannot be escalated (solved, or held or closed by the province) is refused with 409."""
    await _known(ctx, problem_id)
    answer, recorded = await run_in_threadpool(cases.escalate, ctx.engine, problem_id, body.reason, caller,
                                               language)
    if not recorded and answer["status"] != "escalated":
        raise ApiError(409, answer["message"], [{"field": "status", "problem": f"the problem is {answer['status']}"}])
    response.status_code = 201 if recorded else 200
    return answer


@router.get("/problems/{problem_id}/recommendations", response_model=LoggedPage,
            responses=responses(401, 403, 404, 422, 503), summary="Recommendations logged for a problem")
async def problem_recommendations(problem_id: IdPath, ctx: Ctx, _: Caseworker, language: Lang,
                                  limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    """Every recommendation logged for the problem, newest first: time, model version, ranked institutions,
    scores and reasons."""
    await _known(ctx, problem_id)
    return await run_in_threadpool(lambda: cases.logged_for_problem(ctx.engine, problem_id, limit=limit,
                                                                    offset=offset, language=language))


@router.get("/escalations", response_model=QueuePage, responses=responses(401, 403, 422, 503),
            summary="The provincial queue")
async def escalations(ctx: Ctx, _: CaseReader, language: Lang, sector: SectorFilter = None,
                      region: RegionFilter = None, source: SourceFilter = None,
                      enterprise_id: EnterpriseFilter = None, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """The provincial working group's queue: escalated problems, oldest escalation first, with the referrals
    the city tried and the reasons in the request's language; paged with `next_offset`. For caseworkers and
    the provincial working group."""
    filters = _filters(sector, region, source, enterprise_id)
    return await run_in_threadpool(lambda: cases.queue_page(ctx.engine, limit=limit, offset=offset,
                                                            language=language, **filters))


@router.post("/escalations/{problem_id}/resolution", response_model=ResolutionOut,
             responses=responses(401, 403, 404, 409, 413, 422, 503), summary="Resolve an escalated problem")
async def resolve(problem_id: IdPath, body: ResolutionIn, ctx: Ctx, caller: Provincial,
                  language: Lang) -> dict[str, Any]:
    """Record what the provincial working group did: `resolved_by_province` (default) or `closed`. Only for
    the provincial working group; a problem that is not escalated is refused with 409."""
    await _known(ctx, problem_id)
    status = await run_in_threadpool(cases.resolve, ctx.engine, problem_id, body.resolution, body.status, caller)
    case = await run_in_threadpool(cases.problem_case, {"problem_id": problem_id}, ctx.engine, language)
    return {"problem_id": problem_id, "status": status, "message": f"problem {problem_id!r} is {status}",
            "event": case["history"][-1]}


@router.get("/exports/escalations", tags=["exports"], response_class=Response, summary="Export the queue", responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}},
                      exports.XLSX: {"schema": {"type": "string", "format": "binary"}}},
          "description": "the queue as CSV (UTF-8 with a byte order mark) or XLSX"},
    **responses(401, 403, 422, 503)})
async def export_escalations(ctx: Ctx, _: CaseReader, language: Lang,
                             format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
                             sector: SectorFilter = None, region: RegionFilter = None, source: SourceFilter = None,
                             enterprise_id: EnterpriseFilter = None) -> Response:
    """The whole queue (with the filters given) for a spreadsheet: CSV (UTF-8 with a byte order mark, so Excel
    reads Chinese text right) or XLSX; reasons in the request's language."""
    filters = _filters(sector, region, source, enterprise_id)
    body, media = await run_in_threadpool(lambda: exports.export(ctx.engine, format, language, **filters))
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="escalations.{format}"'})


@router.get("/cases/overview", response_model=OverviewOut, responses=responses(401, 403, 503),
            summary="Counts of cases")
async def cases_overview(ctx: Ctx, _: CaseReader) -> dict[str, Any]:
    """Counts of problems by status, sector, district, institution kind referred to, and days open."""
    return await run_in_threadpool(cases.overview_out, ctx.engine)
