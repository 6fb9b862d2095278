"""``POST /v1/recommendations``: ranked institutions for a stored enterprise, a stored problem or ad-hoc text."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from service.api.batching import Job
from service.api.deps import SECURITY, Context, QueryCheckedRoute, requires_role
from service.api.errors import ApiError
from service.api.language import LANG_PATTERN, request_language
from service.api.recommending import check_rows, new_recommendation_id, problems_for, response, unknown_regions
from service.api.routes import responses
from service.api.schemas import RECOMMENDATION_EXAMPLES, RecommendationIn, RecommendationOut, Role, TextSubject
from service.api.security import Caller

LangQuery = Annotated[str | None, Query(max_length=40, pattern=LANG_PATTERN, description=(
    "en or zh: the language of reasons' text (default: Accept-Language)"))]
router = APIRouter(prefix="/v1", tags=["recommendations"], route_class=QueryCheckedRoute)


@router.post(
    "/recommendations",
    response_model=RecommendationOut,
    responses=responses(401, 403, 404, 413, 422, 503),
    summary="Recommend institutions (logged)",
    openapi_extra=SECURITY,
)
@requires_role(Role.caseworker)  # as a ``Caseworker`` parameter would, checked by the route before the body
async def recommend(body: Annotated[RecommendationIn, Body(openapi_examples=RECOMMENDATION_EXAMPLES)],
                    request: Request, lang: LangQuery = None) -> Response:
    """Up to `k` institutions per problem with score, kind and reasons, or an escalation with its reason.

    Give exactly one of `enterprise_id` (all its problems), `problem_id` or `text` (a problem that is not
    stored, in English, Chinese or both, with optional `sector`, `region`, `amount`...). Every answer is
    written to the recommendation log first. Reasons come in the request's language (`Accept-Language`, or
    `?lang=en` / `?lang=zh`).
    """
    # The context as ``Ctx`` gives it, without a dependency of its own: FastAPI's per-dependency work is part of
    # the handling of this route, which the service answers more often than any other (``bench_api.py``).
    ctx: Context = request.app.state.context
    caller: Caller = request.state.caller
    language = request_language(lang, request.headers.get("accept-language"))
    if body.k > ctx.settings.max_k:
        raise ApiError.field(422, "k", f"must be at most {ctx.settings.max_k}")
    if not ctx.state.ready:
        raise ApiError(503, "no model is loaded yet (are there institutions in the store?)")
    if isinstance(body, TextSubject):
        rows, enterprise_id = problems_for(ctx.engine, body)  # no database work for ad-hoc text
    else:
        rows, enterprise_id = await run_in_threadpool(problems_for, ctx.engine, body)
        if unknown_regions(rows, ctx.state.current.region_set):
            await ctx.refresh_catalogue()  # an enterprise in a district added since the catalogue was built
    served = ctx.state.current
    check_rows(rows, served.region_set)
    recommendation_id = new_recommendation_id()
    if not rows:
        return _json(response(recommendation_id, served.version, enterprise_id, [], language))
    job = Job(rows=rows, k=body.k, meta={
        "recommendation_id": recommendation_id, "key_id": caller.key_id, "enterprise_id": enterprise_id,
        "subject": type(body).__name__.removesuffix("Subject").lower(),
    })
    results = await ctx.recommender.recommend(job)
    return _json(response(recommendation_id, served.version, enterprise_id, results, language))


def _json(body: dict[str, Any]) -> Response:
    # Shaped by ``response`` to RecommendationOut already: skip re-validating it on the hot path. orjson writes
    # UTF-8 directly, far faster than the json module (``benchmarks/bench_api.py``).
    return Response(orjson.dumps(body), media_type="application/json")
