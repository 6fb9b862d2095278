"""The console's pages: the page at ``/`` and the reason templates it renders with.

- ``GET /``: the console (Jinja2, autoescaped), in the language of ``?lang=`` (``en``, ``zh``...) or else of
  ``Accept-Language``; a page ignores query parameters it does not know (a shared link may carry any). It
  holds no data that needs a key: everything else is fetched by the page's JavaScript from ``/v1`` with the
  key in ``X-API-Key`` (the two routes made for the console, ``/v1/me`` and ``/v1/model/runs``, are API
  routes: ``service.api.routes.console``).
- ``GET /console/reasons.json``: the templates and vocabularies reasons are rendered with
  (``matching.explain.reasons.templates``), so the page renders each reason from its code and parameters.

This package imports nothing from ``service.api`` (``tests/test_architecture.py``): the API's app mounts the
console, never the other way round. Inputs: the folder of templates. Outputs: an ``APIRouter``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from matching.explain import reasons
from matching.records import OUTCOME_STATUSES, SECTORS
from service.web.i18n import Catalogue, catalogue, choose_language

__all__ = ["console_router", "STATIC_PATH"]

STATIC_PATH = "/console/static"


def _spoken(tag: str | None, known: Catalogue) -> str | None:
    """The console's language for a ``?lang=`` tag (``zh``, ``zh-CN``, ``en``...), None when it speaks none."""
    primary = (tag or "").strip().lower().replace("_", "-").split("-", 1)[0]
    if not primary:
        return None
    return next((code for code in known.languages if code.lower().split("-", 1)[0] == primary), None)


def console_router(templates: Path) -> APIRouter:
    # HTML pages ignore query parameters they do not know: the API's query check is not applied here.
    pages = APIRouter()
    environment = Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(default=True))
    page = environment.get_template("console.html")

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

    return pages
