"""Probes and metrics, outside ``/v1`` and without keys: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from service.api.deps import Ctx, QueryCheckedRoute
from service.api.metrics import CONTENT_TYPE_LATEST
from service.api.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"], route_class=QueryCheckedRoute)


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> dict[str, Any]:
    """The process is up (nothing else is checked)."""
    return {"status": "ok"}


def _database_reachable(ctx: Ctx) -> str:
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not ready"; the type is enough to say why
        return f"unreachable ({type(error).__name__})"
    return "ok"


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut, "description": "not ready"}})
async def readyz(ctx: Ctx) -> JSONResponse:
    """Ready when a model is loaded and the database answers; ``degraded`` (still 200) when the model served is a
    fallback because the bundle meant to be served was refused, with the reason."""
    served = ctx.state.current if ctx.state.ready else None
    checks = {
        "model": "not loaded" if served is None else f"ok ({served.version})",
        "database": await run_in_threadpool(_database_reachable, ctx),
    }
    ready = all(value.startswith("ok") for value in checks.values())
    status = "not ready" if not ready else "degraded" if served and served.degraded else "ready"
    if status == "degraded" and served is not None:
        checks["model"] = f"degraded ({served.version}): {served.degraded}"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})
async def metrics(ctx: Ctx) -> Response:
    """Prometheus text format."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
