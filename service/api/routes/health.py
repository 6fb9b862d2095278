"""Probes and metrics, outside ``/v1`` and without keys: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from service.api.deps import Ctx, QueryCheckedRoute
from service.api.metrics import CONTENT_TYPE_LATEST
from service.api.schemas import HealthOut, ReadyOut
from service.store import ping

router = APIRouter(tags=["health"], route_class=QueryCheckedRoute)


@router.get("/healthz", response_model=HealthOut, summary="Liveness probe")
async def healthz() -> dict[str, Any]:
    """The process is up (nothing else is checked). No API key needed."""
    return {"status": "ok"}


def _database_reachable(ctx: Ctx) -> str:
    try:
        ping(ctx.engine)
    except Exception as error:  # any failure means "not ready"; the type is enough to say why
        return f"unreachable ({type(error).__name__})"
    return "ok"


@router.get("/readyz", response_model=ReadyOut, summary="Readiness probe",
            responses={503: {"model": ReadyOut, "description": "not ready"}})
async def readyz(ctx: Ctx) -> JSONResponse:
    """Ready when a model is loaded and the database answers; `degraded` (still 200: answers go out) when the
    model served is a fallback because the bundle meant to be served was refused (with the reason), or while the
    store does not take writes (its lock held elsewhere) or the recommendation log waits in the local spool.
    Also says which model version this worker serves and whether it is the fleet's desired one (a worker still
    converging stays ready: it serves a checked model). No API key needed."""
    current = ctx.state.current if ctx.state.ready else None
    served = current.version if current is not None else None
    checks = {
        "model": f"ok ({served})" if served is not None else "not loaded",
        "database": await run_in_threadpool(_database_reachable, ctx),
    }
    ready = all(value.startswith("ok") for value in checks.values())
    checks["store"] = await run_in_threadpool(ctx.logbook.health)
    degraded = checks["store"] != "ok" or bool(current is not None and current.degraded)
    if current is not None and current.degraded:
        checks["model"] = f"degraded ({served}): {current.degraded}"
    status = ("degraded" if degraded else "ready") if ready else "not ready"
    fleet = ctx.follower.report(served or "")
    return JSONResponse({"status": status, "checks": checks, "served_version": served,
                         "desired_version": fleet["desired_version"],
                         "matches_desired": served is not None and fleet["matches_desired"]},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics",
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                             "description": "the metrics in Prometheus text format"}})
async def metrics(ctx: Ctx) -> Response:
    """Request counts and latencies, recommendations, model reloads, catalogue refits, the store and the
    process, in Prometheus text format. No API key needed."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
