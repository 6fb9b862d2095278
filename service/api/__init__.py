"""The HTTP service: ``create_app(settings)`` builds the FastAPI app (routes under ``/v1``, probes, metrics).

Modules: ``app`` (factory and lifespan), ``routes/`` (one module per resource), ``deps`` (context and roles),
``schemas`` (request and response bodies), ``errors`` (the one error shape and status mapping), ``security``
and ``keys`` (API keys), ``middleware`` and ``logs`` (limits, metrics, JSON logs), ``metrics``, ``state``
(the served model, swapped atomically), ``batching`` and ``recommending`` (the micro-batched, logged hot
path), ``records``, ``cases`` and ``search`` (what the record and case routes do, on the store's queries:
``service.store``), ``runs`` (recent training runs). The app mounts the web console (``service.web``), which
imports nothing from this package. Nothing is built at import time.
"""

from service.api.app import create_app

__all__ = ["create_app"]
