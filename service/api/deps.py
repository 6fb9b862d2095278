"""What routes depend on, as ``Annotated`` aliases: the app's context and the caller's role.

``Context`` is built once in the lifespan (engine, model state, metrics, key ring, micro-batcher, name
indexes, the fleet's desired model version) and hung on ``app.state``; routes take ``Ctx``. Role aliases
(``Caseworker``, ``Analyst``, ``Curator``, ``Admin``) check the ``X-API-Key`` header: no or unknown key
-> 401, a key whose role is below the route's -> 403. The header is declared as an OpenAPI security
scheme, so generated clients know to send it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from service.api.batching import Recommender
from service.api.errors import ApiError
from service.api.logbook import LogBook
from service.api.metrics import Metrics
from service.api.refits import Refits
from service.api.schemas import Role
from service.api.search import NameIndexes
from service.api.security import Caller, KeyRing, allows
from service.api.state import ModelState
from service.fleet import Follower
from service.settings import Settings

__all__ = ["Context", "Ctx", "Caseworker", "Analyst", "Curator", "Admin", "Provincial", "CaseReader", "AnyRole",
           "API_KEY_HEADER", "require", "no_unknown_query", "QueryCheckedRoute", "authorize", "requires_role",
           "SECURITY"]

API_KEY_HEADER = "X-API-Key"
_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="an API key from `smematch keys create`")


@dataclass(slots=True)
class Context:
    settings: Settings
    engine: Engine
    state: ModelState
    metrics: Metrics
    keys: KeyRing
    recommender: Recommender
    names: NameIndexes
    refresh_catalogue: Callable[[], Awaitable[None]]
    refits: Refits
    follower: Follower  # the fleet's desired model version, as this worker last read it
    model_lock: asyncio.Lock  # one model swap at a time in this worker: a reload, or following the fleet
    logbook: LogBook  # the recommendation log: the store, or the local spool while the store does not answer


async def _context(request: Request) -> Context:
    return request.app.state.context


Ctx = Annotated[Context, Depends(_context)]


def require(role: Role | tuple[Role, ...]) -> Callable[..., Awaitable[Caller]]:
    """A dependency that lets callers with at least ``role`` (one of them, for a tuple) through."""

    async def check(request: Request, key: Annotated[str | None, Depends(_scheme)]) -> Caller:
        return await authorize(request, role, key)

    check.__name__ = "require_" + "_or_".join(one.value for one in (role if isinstance(role, tuple) else (role,)))
    return check


async def authorize(request: Request, role: Role | tuple[Role, ...], key: str | None) -> Caller:
    """The caller of the key ``key`` (the ``X-API-Key`` header), if its role is at least ``role`` (one of them,
    for a tuple); else 401/403."""
    if not key:
        raise ApiError(401, f"an API key is required in the {API_KEY_HEADER} header",
                       headers={"WWW-Authenticate": API_KEY_HEADER})
    keys: KeyRing = request.app.state.context.keys
    known, caller = keys.cached(key)
    if not known:
        caller = await run_in_threadpool(keys.resolve, key)
    if caller is None:
        raise ApiError(401, "the API key is unknown or revoked", headers={"WWW-Authenticate": API_KEY_HEADER})
    roles = role if isinstance(role, tuple) else (role,)
    if not any(allows(caller.role, one) for one in roles):
        needed = " or ".join(one.value for one in roles)
        raise ApiError(403, f"this needs the {needed} role; the key has the {caller.role} role")
    request.state.key_id = caller.key_id
    return caller


def requires_role(role: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark an endpoint of a ``QueryCheckedRoute`` as needing ``role``: the route checks the key before FastAPI
    reads the body (so 401/403 come before any 422, as with a ``Caseworker`` parameter) and leaves the caller
    in ``request.state.caller``; the OpenAPI document gets the same security requirement as from a role
    parameter (``SECURITY``, given as the route's ``openapi_extra``). For the one route the service answers
    most: two dependencies fewer for FastAPI to solve on every request (``benchmarks/bench_api.py``)."""

    def mark(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        endpoint.required_role = role  # type: ignore[attr-defined]
        return endpoint

    return mark


SECURITY = {"security": [{_scheme.scheme_name: []}]}


def _query_names(dependant: Any) -> frozenset[str]:
    names = {field.alias for field in getattr(dependant, "query_params", ())}
    for sub in getattr(dependant, "dependencies", ()):
        names |= _query_names(sub)
    return frozenset(names)


_allowed: dict[int, frozenset[str]] = {}


async def no_unknown_query(request: Request) -> None:
    """Refuse query parameters the route does not take: a misspelt filter must not silently match all."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    allowed = _allowed.get(id(route))
    if allowed is None:
        allowed = _allowed[id(route)] = _query_names(getattr(route, "dependant", None))
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in allowed]
    if unknown:
        raise ApiError(422, "the request is not valid",
                       [{"field": name, "problem": "not a query parameter of this route"} for name in unknown])


class QueryCheckedRoute(APIRoute):
    """A route that refuses query parameters it does not take (``no_unknown_query``), for every router of the
    app (``APIRouter(route_class=QueryCheckedRoute)``). Checked before FastAPI solves the route's dependencies,
    and only when there is a query string: an app-wide dependency would cost every request its dependency
    solving, ``/healthz`` included (``benchmarks/bench_api.py`` measures both routes)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        role: Role | None = getattr(self.endpoint, "required_role", None)  # ``requires_role``

        async def checked(request: Request) -> Response:
            if request.scope.get("query_string"):
                await no_unknown_query(request)
            if role is not None:
                request.state.caller = await authorize(request, role, request.headers.get(API_KEY_HEADER))
            return await handler(request)

        return checked


Caseworker = Annotated[Caller, Depends(require(Role.caseworker))]
Analyst = Annotated[Caller, Depends(require(Role.analyst))]
Curator = Annotated[Caller, Depends(require(Role.curator))]
Admin = Annotated[Caller, Depends(require(Role.admin))]
Provincial = Annotated[Caller, Depends(require(Role.provincial))]
CaseReader = Annotated[Caller, Depends(require((Role.caseworker, Role.provincial)))]
AnyRole = Annotated[Caller, Depends(require(tuple(Role)))]
