"""The caseworker web console, served by the API's own app at ``/`` (no Node build step).

``mount_console(app, settings)`` adds to an app made by ``service.api.app.create_app``:

- the page at ``/`` (``templates/console.html``) and its files under ``/console/static`` (JavaScript modules,
  CSS, ``labels.json`` with every label in English and Simplified Chinese);
- ``GET /v1/me`` (the role of the presented key) and ``GET /v1/model/runs`` (recent training runs, analysts);
- security headers (Content-Security-Policy: scripts and styles from 'self' only) on the console's responses.

The page is a thin client of the ``/v1`` API: the key is entered once per browser tab, kept in
``sessionStorage`` and sent in the ``X-API-Key`` header, never in a URL. Everything shown that a user typed is
set with ``textContent``. Inputs: the FastAPI app and ``Settings``. Outputs: the same app, with the console.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.settings import Settings

__all__ = ["mount_console", "STATIC_DIR", "TEMPLATES_DIR"]

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"


def mount_console(app: FastAPI, settings: Settings) -> FastAPI:
    """Serve the console from ``app`` (see the module docstring); returns ``app``."""
    from service.web.headers import ConsoleHeaders
    from service.web.routes import STATIC_PATH, console_router

    app.include_router(console_router(settings, TEMPLATES_DIR))
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_middleware(ConsoleHeaders, exact=frozenset({"/"}), prefixes=("/console/",))
    return app
