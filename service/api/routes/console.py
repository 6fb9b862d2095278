"""The two routes the web console needs besides the rest of ``/v1``: who the presented key is, and recent
training runs.

- ``GET /v1/me``: the id, name and role of the presented key (any valid key), so a client shows only what the
  role may do.
- ``GET /v1/model/runs`` (analysts): recent training runs with their metrics and baselines
  (``service.api.runs``), remembered for ``runs_ttl_seconds`` (reading MLflow is slow), and the MLflow UI's
  address when one is set.

Inputs: ``Settings``. Outputs: an ``APIRouter`` (``console_api_router``), one per app so each app remembers its
own runs.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from service.api.deps import Analyst, AnyRole, QueryCheckedRoute
from service.api.routes import responses
from service.api.runs import RunsReport, recent_runs
from service.api.schemas import MeOut, RunsOut
from service.settings import Settings

__all__ = ["console_api_router"]


def _safe_link(url: str | None) -> str | None:
    """Only plain web addresses become links (never ``javascript:`` or the like)."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def console_api_router(settings: Settings, *, runs_ttl_seconds: float = 30.0) -> APIRouter:
    router = APIRouter(route_class=QueryCheckedRoute)
    remembered: dict[str, tuple[float, RunsReport]] = {}

    @router.get("/v1/me", response_model=MeOut, tags=["console"], responses=responses(401, 503),
                summary="Who the presented key is")
    async def me(caller: AnyRole) -> dict[str, Any]:
        """The id, name and role of the presented API key (any valid key may ask), so a client shows only what
        that role may do. The key itself is never returned."""
        return {"key_id": caller.key_id, "name": caller.name, "role": caller.role}

    @router.get("/v1/model/runs", response_model=RunsOut, tags=["model"], responses=responses(401, 403, 503),
                summary="Recent training runs")
    async def model_runs(_: Analyst) -> dict[str, Any]:
        """The ten most recent training runs with their key metrics beside the baselines, newest first: from the
        MLflow tracking store when there is one, else from the model bundles on disk. Answers are reused for a
        short while, since reading MLflow is slow."""
        entry = remembered.get("runs")
        if entry is None or time.monotonic() - entry[0] > runs_ttl_seconds:
            entry = (time.monotonic(), await run_in_threadpool(recent_runs, settings, limit=10))
            remembered["runs"] = entry
        report = entry[1]
        return {"source": report.source, "mlflow_ui_url": _safe_link(settings.mlflow_ui_url),
                "runs": [run.to_dict() for run in report.runs]}

    return router
