"""Enterprises, problems and institutions: typo-tolerant search, read by id, and replace (or create) by id.

``GET /v1/<records>?q=`` ranks by name (problems: by text) with rapidfuzz; without ``q`` it lists by id.
``PUT /v1/<records>/{id}`` (curators and admins) replaces the record (201 when the id was new) and is an
audit event. ``GET`` by id sends the record's ``ETag``; a ``PUT`` with an ``If-Match`` that no longer matches
is refused with 412, so no update is lost. An institution edit, or an enterprise in a district the matcher
does not know yet, asks for a catalogue refit that runs in the background, coalesced with the edits around it
(``service.api.refits``): a recommendation sees the change once that refit is done, within seconds.
``GET /v1/problems/{id}`` adds the case's ``status`` and ``history``; ``GET /v1/problems?status=`` lists
the problems whose case has that status, paged with ``next_offset``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from service.api import cases, records
from service.api.case_schemas import CaseStatus, ProblemCaseOut
from service.api.deps import Caseworker, Ctx, Curator, QueryCheckedRoute
from service.api.errors import ApiError
from service.api.language import Lang
from service.api.routes import responses
from service.api.schemas import (
    EnterpriseHits,
    EnterpriseIn,
    EnterpriseOut,
    Id,
    InstitutionHits,
    InstitutionIn,
    InstitutionOut,
    Kind,
    Name,
    ProblemHits,
    ProblemIn,
    ProblemOut,
    Sector,
    Short,
)

router = APIRouter(prefix="/v1", route_class=QueryCheckedRoute)

IdPath = Annotated[Id, Path()]
Q = Annotated[Name | None, Query(description="a name (typos and parts are fine)")]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=2000, pattern=r"^[\x20-\x7e]*$",
                                       description="the ETag of the record as read; refused with 412 if stale")]


async def _search(ctx: Ctx, table: str, q: str | None, limit: int, offset: int,
                  where: dict[str, Any]) -> list[dict[str, Any]]:
    if q is None:
        ids = await run_in_threadpool(records.list_ids, ctx.engine, table, limit=limit, offset=offset, where=where)
        scores: dict[str, float | None] = dict.fromkeys(ids)
    else:
        allowed = await run_in_threadpool(records.filtered_ids, ctx.engine, table, where) if where else None
        hits = await run_in_threadpool(ctx.names.search, table, q, limit=limit + offset, ids=allowed)
        hits = hits[offset:]
        ids, scores = [i for i, _ in hits], dict(hits)
    found = await run_in_threadpool(records.get_records, ctx.engine, table, ids)
    return [{**found[i], "score": scores[i]} for i in ids if i in found]


async def _get(ctx: Ctx, table: str, record_id: str, response: Response) -> dict[str, Any]:
    found = await run_in_threadpool(records.get_record, ctx.engine, table, record_id)
    if found is None:
        raise ApiError(404, f"no {table[:-1]} {record_id!r}")
    response.headers["ETag"] = records.etag(found)
    return found


def _stored(response: Response, stored: records.Stored) -> dict[str, Any]:
    record, created, tag = stored
    response.status_code = 201 if created else 200
    response.headers["ETag"] = tag
    return record


_PUT_RESPONSES = responses(401, 403, 412, 413, 422, 503)


# ------------------------------------------------------------------------------------------- enterprises


@router.get("/enterprises", response_model=EnterpriseHits, responses=responses(401, 403, 422),
            tags=["enterprises"], summary="Search enterprises")
async def search_enterprises(ctx: Ctx, _: Caseworker, q: Q = None, sector: Sector | None = None,
                             region: Annotated[Short | None, Query()] = None,
                             limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    """Enterprises whose name matches `q` (Chinese or English, typos and parts of a name are fine), best first;
    without `q`, by id. `sector` and `region` keep only the enterprises that have them."""
    where = {k: v for k, v in (("sector", sector and sector.value), ("region", region)) if v is not None}
    return {"items": await _search(ctx, "enterprises", q, limit, offset, where)}


@router.get("/enterprises/{enterprise_id}", response_model=EnterpriseOut, responses=responses(401, 403, 404, 422),
            tags=["enterprises"], summary="Read an enterprise")
async def get_enterprise(enterprise_id: IdPath, ctx: Ctx, _: Caseworker, response: Response) -> dict[str, Any]:
    """The enterprise with this id, with its `ETag` (send it back in `If-Match` when you replace it)."""
    return await _get(ctx, "enterprises", enterprise_id, response)


@router.put("/enterprises/{enterprise_id}", response_model=EnterpriseOut, tags=["enterprises"],
            summary="Replace or create an enterprise",
            responses={201: {"model": EnterpriseOut, "description": "created"}, **_PUT_RESPONSES})
async def put_enterprise(enterprise_id: IdPath, body: EnterpriseIn, ctx: Ctx, caller: Curator,
                         response: Response, if_match: IfMatch = None) -> dict[str, Any]:
    """Replace the enterprise with this id, or create it (201) when the id is new; the edit is in the audit
    trail. With `If-Match`, refused (412) when the enterprise changed since it was read. An enterprise in a
    district the matcher does not know yet is taken into account within seconds."""
    stored = await run_in_threadpool(records.put_enterprise, ctx.engine, enterprise_id, body, actor=caller,
                                     if_match=if_match)
    ctx.names.invalidate("enterprises")
    if ctx.state.ready and body.region not in ctx.state.current.region_set:
        ctx.refits.request()
    return _stored(response, stored)


# ------------------------------------------------------------------------------------------- problems


@router.get("/problems", response_model=ProblemHits, responses=responses(401, 403, 422), tags=["problems"],
            summary="Search problems")
async def search_problems(ctx: Ctx, _: Caseworker, q: Q = None,
                          enterprise_id: Annotated[Id | None, Query()] = None,
                          status: Annotated[CaseStatus | None, Query(description="the case's status")] = None,
                          limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    """Problems whose text matches `q`, best first (by id without `q`); `enterprise_id` keeps one enterprise's.
    With `status`: the problems whose case has that status, paged with `next_offset`."""
    if status is not None:
        if q is None:
            return await run_in_threadpool(cases.problems_page, ctx.engine, status.value, limit, offset,
                                           enterprise_id)
        allowed = await run_in_threadpool(cases.ids_with_status, ctx.engine, status.value, enterprise_id)
        hits = (await run_in_threadpool(ctx.names.search, "problems", q, limit=limit + offset, ids=allowed)
                )[offset:] if allowed else []
        found = await run_in_threadpool(records.get_records, ctx.engine, "problems", [i for i, _ in hits])
        return {"items": [{**found[i], "score": s, "status": status.value} for i, s in hits if i in found]}
    where = {"enterprise_id": enterprise_id} if enterprise_id is not None else {}
    return {"items": await _search(ctx, "problems", q, limit, offset, where)}


@router.get("/problems/{problem_id}", response_model=ProblemCaseOut, responses=responses(401, 403, 404, 422),
            tags=["problems"], summary="Read a problem and its case")
async def get_problem(problem_id: IdPath, ctx: Ctx, _: Caseworker, response: Response,
                      language: Lang) -> dict[str, Any]:
    """The problem with its case: `status` and `history` (every move: who, when, why), reasons in the request's
    language; with its `ETag` (send it back in `If-Match` when you replace it)."""
    found = await _get(ctx, "problems", problem_id, response)
    return await run_in_threadpool(cases.problem_case, found, ctx.engine, language)


@router.put("/problems/{problem_id}", response_model=ProblemOut, tags=["problems"],
            summary="Replace or create a problem",
            responses={201: {"model": ProblemOut, "description": "created"}, **_PUT_RESPONSES})
async def put_problem(problem_id: IdPath, body: ProblemIn, ctx: Ctx, caller: Curator,
                      response: Response, if_match: IfMatch = None) -> dict[str, Any]:
    """Replace the problem with this id, or create it (201) when the id is new; its enterprise must be stored.
    The edit is in the audit trail; the case is left as it is. With `If-Match`, refused (412) when the problem
    changed since it was read."""
    stored = await run_in_threadpool(records.put_problem, ctx.engine, problem_id, body, actor=caller,
                                     if_match=if_match)
    ctx.names.invalidate("problems")
    return _stored(response, stored)


# ------------------------------------------------------------------------------------------- institutions


@router.get("/institutions", response_model=InstitutionHits, responses=responses(401, 403, 422),
            tags=["institutions"], summary="Search institutions")
async def search_institutions(ctx: Ctx, _: Caseworker, q: Q = None, kind: Kind | None = None,
                              active: bool | None = None, limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    """Institutions whose name matches `q` (typos and parts of a name are fine), best first; without `q`, by id.
    `kind` and `active` keep only the institutions that have them."""
    where = {k: v for k, v in (("kind", kind and kind.value), ("active", active)) if v is not None}
    return {"items": await _search(ctx, "institutions", q, limit, offset, where)}


@router.get("/institutions/{institution_id}", response_model=InstitutionOut,
            responses=responses(401, 403, 404, 422), tags=["institutions"], summary="Read an institution")
async def get_institution(institution_id: IdPath, ctx: Ctx, _: Caseworker, response: Response) -> dict[str, Any]:
    """The institution with this id, with its `ETag` (send it back in `If-Match` when you replace it)."""
    return await _get(ctx, "institutions", institution_id, response)


@router.put("/institutions/{institution_id}", response_model=InstitutionOut, tags=["institutions"],
            summary="Replace or create an institution",
            responses={201: {"model": InstitutionOut, "description": "created"}, **_PUT_RESPONSES})
async def put_institution(institution_id: IdPath, body: InstitutionIn, ctx: Ctx, caller: Curator,
                          response: Response, if_match: IfMatch = None) -> dict[str, Any]:
    """Replace the institution with this id, or create it (201) when the id is new; the edit is in the audit
    trail. With `If-Match`, refused (412) when the institution changed since it was read. Recommendations take
    the change into account within seconds (the matcher is refitted in the background, once for a burst of
    edits)."""
    stored = await run_in_threadpool(records.put_institution, ctx.engine, institution_id, body, actor=caller,
                                     if_match=if_match)
    ctx.names.invalidate("institutions")
    ctx.refits.request()
    return _stored(response, stored)
