"""The caseworker web console, served by the API's own app at ``/`` (no Node build step).

``mount_console(app)`` adds to the API's app (``service.api.app.create_app`` calls it):

- the page at ``/`` (``templates/console.html``) and its files under ``/console/static`` (JavaScript modules,
  CSS, ``labels.json`` with every label in English and Simplified Chinese);
- security headers (Content-Security-Policy: scripts and styles from 'self' only) on the console's responses.

The page is a thin client of the ``/v1`` API (``/v1/me`` and ``/v1/model/runs`` among it): the key is entered
once per browser tab, kept in ``sessionStorage`` and sent in the ``X-API-Key`` header, never in a URL.
Everything shown that a user typed is set with ``textContent``. The dependency points one way: the API mounts
the console, and this package imports nothing from ``service.api``. Inputs: the FastAPI app. Outputs: the same
app, with the console.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_console", "STATIC_DIR", "TEMPLATES_DIR"]

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"


def mount_console(app: FastAPI) -> FastAPI:
    """Serve the console from ``app`` (see the module docstring); returns ``app``."""
    from service.web.headers import ConsoleHeaders
    from service.web.routes import STATIC_PATH, console_router

    app.include_router(console_router(TEMPLATES_DIR))
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_middleware(ConsoleHeaders, exact=frozenset({"/"}), prefixes=("/console/",))
    return app
