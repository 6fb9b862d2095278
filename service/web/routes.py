"""The console's routes: the page at ``/`` and two small JSON routes the page needs that the API lacks.

- ``GET /``: the console (Jinja2, autoescaped), in the language of ``?lang=`` (``en``, ``zh``...) or else of
  ``Accept-Language``; a page ignores query parameters it does not know (a shared link may carry any). It
  holds no data that needs a key: everything else is fetched by the page's JavaScript from ``/v1`` with the
  key in ``X-API-Key``.
- ``GET /console/reasons.json``: the templates and vocabularies reasons are rendered with
  (``matching.explain.reasons.templates``), so the page renders each reason from its code and parameters.
- ``GET /v1/me``: who the presented key is (id, name, role), so the page shows only what the role may do.
- ``GET /v1/model/runs`` (analysts): recent training runs with their metrics and baselines (``service.web.runs``),
  remembered for ``runs_ttl_seconds`` (reading MLflow takes seconds), and the MLflow UI's address when set.

Inputs: ``Settings`` and the folder of templates. Outputs: an ``APIRouter``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from matching.explain import reasons
from matching.records import OUTCOME_STATUSES, SECTORS
from service.api.deps import Analyst, AnyRole, QueryCheckedRoute
from service.api.routes import responses
from service.api.schemas import Role
from service.settings import Settings
from service.web.i18n import Catalogue, catalogue, choose_language
from service.web.runs import RunsReport, recent_runs

__all__ = ["console_router", "MeOut", "RunsOut", "STATIC_PATH"]

STATIC_PATH = "/console/static"


class MeOut(BaseModel):
    key_id: str = Field(description="the id of the presented key (never the key itself)")
    name: str | None
    role: Role


class RunOut(BaseModel):
    run_id: str | None
    version: str
    started: str | None = Field(description="when the run started (ISO 8601, UTC)")
    aliases: str = Field(description="registry aliases of the run's model version, comma-separated")
    metrics: dict[str, float] = Field(description="metric name -> value; baselines carry suffixes such as "
                                                  "_text_baseline, _popularity, _oracle")


class RunsOut(BaseModel):
    source: str = Field(description="mlflow, bundles or none: where the runs were read")
    mlflow_ui_url: str | None = Field(description="the MLflow UI, when one is configured")
    runs: list[RunOut] = Field(description="newest first")


def _safe_link(url: str | None) -> str | None:
    """Only plain web addresses become links (never ``javascript:`` or the like)."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _spoken(tag: str | None, known: Catalogue) -> str | None:
    """The console's language for a ``?lang=`` tag (``zh``, ``zh-CN``, ``en``...), None when it speaks none."""
    primary = (tag or "").strip().lower().replace("_", "-").split("-", 1)[0]
    if not primary:
        return None
    return next((code for code in known.languages if code.lower().split("-", 1)[0] == primary), None)


def console_router(settings: Settings, templates: Path, *, runs_ttl_seconds: float = 30.0) -> APIRouter:
    router = APIRouter(route_class=QueryCheckedRoute)
    pages = APIRouter()  # HTML pages ignore query parameters they do not know: no QueryCheckedRoute
    environment = Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(default=True))
    page = environment.get_template("console.html")
    remembered: dict[str, tuple[float, RunsReport]] = {}

    @pages.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def console(lang: Annotated[str | None, Query(max_length=40)] = None,
                      accept_language: Annotated[str | None, Header()] = None) -> HTMLResponse:
        known = catalogue()
        language = _spoken(lang, known) or choose_language(accept_language, known)
        html = page.render(
            lang=language, t=known.labels_for(language), languages=known.languages, static=STATIC_PATH,
            sectors=SECTORS, statuses=OUTCOME_STATUSES,
        )
        return HTMLResponse(html, headers={"Vary": "Accept-Language"})

    @pages.get("/console/reasons.json", include_in_schema=False)
    async def reason_templates() -> JSONResponse:
        return JSONResponse(reasons.templates(), headers={"Cache-Control": "no-cache"})

    @router.get("/v1/me", response_model=MeOut, tags=["console"], responses=responses(401, 503))
    async def me(caller: AnyRole) -> dict[str, Any]:
        """The role of the presented key (any valid key may ask), so a client shows only what it may do."""
        return {"key_id": caller.key_id, "name": caller.name, "role": caller.role}

    @router.get("/v1/model/runs", response_model=RunsOut, tags=["model"], responses=responses(401, 403, 503))
    async def model_runs(_: Analyst) -> dict[str, Any]:
        """The ten most recent training runs with their key metrics beside the baselines."""
        entry = remembered.get("runs")
        if entry is None or time.monotonic() - entry[0] > runs_ttl_seconds:
            entry = (time.monotonic(), await run_in_threadpool(recent_runs, settings, limit=10))
            remembered["runs"] = entry
        report = entry[1]
        return {"source": report.source, "mlflow_ui_url": _safe_link(settings.mlflow_ui_url),
                "runs": [run.to_dict() for run in report.runs]}

    router.include_router(pages)
    return router
