"""The app factory: ``create_app(settings)`` returns a FastAPI app; nothing is built at import time.

The lifespan opens everything, in order: the database engine (schema created if missing), the model (the
bundle in ``<models_dir>/current`` when one exists, else the baseline ranker; when ``current`` is refused, the
newest good bundle under ``runs/`` or else the baseline, and ``/readyz`` says ``degraded`` with the reason:
``service.bundles``), the matcher fitted on the store's institutions (outcomes for the track record,
every enterprise's district), the micro-batcher and a background refresher. It closes them in reverse.

The refresher keeps several workers (``smematch serve --workers N``) consistent without talking to each
other: every ``refresh_seconds`` it compares a fingerprint of the institutions, the outcome count and the
districts with the one its catalogue was built from and refits when they differ. The model version comes
from the store (``service.fleet``): a reload publishes it there and every worker of every replica polls it
every ``model_poll_seconds`` and converges on it (``service.api.following``); until a reload has set one, a
worker that serves ``current`` (or the start-up fallback) picks up a new ``current`` bundle, with the same
checks as a reload. The worker that receives a reload applies it before it answers; an edit asks for a refit
that runs in the background, coalesced with the edits around it (``service.api.refits``).

The recommendation log goes to the store, or to a local spool drained every ``drain_seconds`` while the store
does not take it in time (``service.api.logbook``).

Inputs: ``Settings``. Outputs: the ASGI app; routes are listed in the README of the API and in ``/docs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from matching.errors import InvalidInput, ModelError
from matching.rank.rankers import MANIFEST_FILE
from service.api import case_schemas, errors, keys, records, schemas
from service.api.batching import Recommender
from service.api.deps import Context
from service.api.following import keep_converging, opening_ranker
from service.api.headers import SecurityHeaders
from service.api.logbook import LogBook
from service.api.metrics import Metrics
from service.api.middleware import RequestMiddleware
from service.api.refits import Refits
from service.api.routes import admin, audit, cases, exports, health, model, outcomes, recommendations
from service.api.routes import records as record_routes
from service.api.routes.console import console_api_router
from service.api.search import NameIndexes
from service.api.security import KeyRing, hash_key
from service.api.state import CURRENT, ModelState
from service.fleet import Follower
from service.settings import Settings
from service.store import StoreError, checkpoint, create_schema, load_tables, make_engine
from service.store.spool import Spool
from service.web import mount_console

__all__ = ["create_app"]

log = logging.getLogger("smematch.api")
API_VERSION = "1.0"
DESCRIPTION = """Match small and micro enterprises with the institutions that can solve their problems: banks,
guarantee and microcredit companies, research institutes, colleges and government agencies.

Every `/v1` route needs an API key in the `X-API-Key` header; its role (caseworker, analyst, curator, admin or
provincial) decides what it may do. Problems may be stated in English, Chinese or both; reasons come in the
request's language (`Accept-Language`, or `?lang=en` / `?lang=zh`). Every error has the same shape: `error`,
`detail` (one item per field at fault) and, for server errors, `request_id`."""
TAGS = [
    {"name": "health", "description": "Probes and metrics, without an API key."},
    {"name": "recommendations", "description": "Institutions ranked for a problem, with reasons."},
    {"name": "enterprises", "description": "Search, read and edit the enterprises."},
    {"name": "problems", "description": "Search, read and edit the enterprises' problems, with their cases."},
    {"name": "institutions", "description": "Search, read and edit the institutions that can be recommended."},
    {"name": "outcomes", "description": "How referrals to institutions went."},
    {"name": "cases", "description": "Escalation to the provincial working group, its queue and resolutions."},
    {"name": "model", "description": "The model served, training runs, and loading a new model."},
    {"name": "admin", "description": "API keys."},
    {"name": "exports", "description": "Outcomes and the provincial queue as spreadsheets."},
    {"name": "audit", "description": "Who changed what, and when."},
    {"name": "console", "description": "What the web console needs to know about its user."},
]


def create_app(
    settings: Settings,
    *,
    refresh_seconds: float = 30.0,
    checkpoint_seconds: float = 1.0,
    key_cache_seconds: float = 5.0,
    max_batch: int = 64,
    freeze_gc: bool = False,
    model_poll_seconds: float = 1.0,
    drain_seconds: float = 1.0,
) -> FastAPI:
    metrics = Metrics()
    state = ModelState(settings.models_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # SQLite: the log's commits never stop to copy the write-ahead log into the database; ``_checkpoints``
        # does it every ``checkpoint_seconds`` (see ``service.store.make_engine``).
        engine = make_engine(settings.database_url, background_checkpoints=True)
        await run_in_threadpool(create_schema, engine)
        follower = Follower(settings.models_dir)
        start = await run_in_threadpool(opening_ranker, follower, engine, settings.models_dir)
        lock = asyncio.Lock()
        built_from: list[object] = [None]

        async def refresh_catalogue() -> None:
            async with lock:
                fingerprint = await run_in_threadpool(records.catalogue_fingerprint, engine)
                tables = await run_in_threadpool(load_tables, engine)
                try:
                    if state.ready:
                        served = await run_in_threadpool(state.rebuild, tables)
                    else:
                        served = await run_in_threadpool(state.open, tables, start.ranker, start.source,
                                                         start.degraded)
                except InvalidInput as error:  # typically: no institutions yet; stay not ready
                    log.warning("no catalogue to serve yet: %s", error.issues[0] if error.issues else error)
                    return
                built_from[0] = fingerprint
                metrics.refits.inc()
                metrics.set_model(served.version, served.describe()["ranker"])

        # The recommendation log's own engine: its lock waits are short, so an answer never waits long on the
        # store; what it cannot write in time goes to the local spool (``service.api.logbook``).
        log_engine = make_engine(settings.database_url, background_checkpoints=True,
                                 wait_seconds=settings.log_write_timeout_seconds)
        logbook = LogBook(log_engine, Spool(settings.spool_dir), metrics)
        bootstrap = settings.bootstrap_admin_key
        context = Context(
            settings=settings, engine=engine, state=state, metrics=metrics,
            keys=KeyRing(lambda digest: keys.lookup_caller(engine, digest), ttl_seconds=key_cache_seconds,
                         bootstrap_hash=hash_key(bootstrap) if bootstrap else None),
            recommender=Recommender(state, metrics, log=logbook.write, max_batch=max_batch),
            names=NameIndexes(engine), refresh_catalogue=refresh_catalogue, follower=follower,
            model_lock=asyncio.Lock(), logbook=logbook,
            refits=Refits(refresh_catalogue, quiet_seconds=settings.refit_quiet_seconds,
                          max_delay_seconds=settings.refit_max_delay_seconds),
        )
        app.state.context = context
        await refresh_catalogue()
        await context.recommender.start()
        context.refits.start()
        if freeze_gc:
            # What exists now (libraries, the catalogue, the model, caches) lives as long as the process. Left in
            # the collector's oldest generation, every full collection walks all of it, a pause for every
            # request in flight; frozen, it is left out of collections (``benchmarks/bench_api.py`` shows the
            # p99 latency this keeps down). For a process serving one app (``smematch serve``), not for tests
            # that build many apps in one process.
            gc.collect()
            gc.freeze()
        background = [asyncio.create_task(_follow(context, built_from, refresh_seconds, lock)),
                      asyncio.create_task(keep_converging(context, model_poll_seconds)),
                      asyncio.create_task(_drain(logbook, drain_seconds))]
        if engine.dialect.name == "sqlite":
            background.append(asyncio.create_task(_checkpoints(engine, metrics, checkpoint_seconds)))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await context.refits.stop()
            await context.recommender.stop()
            metrics.close()
            logbook.close()
            log_engine.dispose()
            engine.dispose()

    docs = settings.docs_enabled
    app = FastAPI(
        **_telemetry_options(settings),
        title="smematch",
        version=API_VERSION,
        summary="Match small and micro enterprises with the institutions that can solve their problems.",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=_start_up_logged(lifespan),
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    errors.install(app)
    app.add_middleware(RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    # Outside the request middleware, so its own 413 and 500 answers get the headers too.
    app.add_middleware(SecurityHeaders, docs_paths=frozenset({"/docs", "/docs/oauth2-redirect"} if docs else ()))
    # Each router carries its full prefix (``/v1``), so a route's template is its whole path (metrics, logs).
    for router in (health.router, recommendations.router, record_routes.router, outcomes.router, model.router,
                   admin.router, exports.router, audit.router, cases.router, console_api_router(settings)):
        app.include_router(router)
    mount_console(app)
    _document_examples_as_written(app)
    return app


def _document_examples_as_written(app: FastAPI) -> None:
    """Serve the request and response models' examples in the OpenAPI document as the models write them.

    FastAPI leaves every null value out of the document it generates, examples included, so an example of a
    field that is required but may be null would lose that field and no longer be a valid body.
    """
    examples = {
        model.__name__: model.model_config["json_schema_extra"]["examples"]  # type: ignore[index]
        for module in (schemas, case_schemas) for model in vars(module).values()
        if isinstance(model, type) and issubclass(model, BaseModel)
        and isinstance(model.model_config.get("json_schema_extra"), dict)
        and "examples" in model.model_config["json_schema_extra"]  # type: ignore[operator]
    }
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for name, schema in generate().get("components", {}).get("schemas", {}).items():
                if name in examples:
                    schema["examples"] = examples[name]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _start_up_logged(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """``lifespan`` with a failed start-up logged as one line naming the cause (``smematch serve`` keeps the
    server's traceback of it out of the log: ``service.api.logs``)."""

    @asynccontextmanager
    async def logged(app: FastAPI) -> AsyncIterator[None]:
        started = False
        try:
            async with lifespan(app):
                started = True
                yield
        except Exception as error:
            if not started:
                log.error("start-up failed: %s", " ".join(str(error).split()) or type(error).__name__)
            raise

    return logged


async def _checkpoints(engine: Engine, metrics: Metrics, every: float) -> None:
    """Checkpoint the SQLite write-ahead log every ``every`` seconds, in a thread (the fsync of the database
    file runs outside the GIL and outside any request's commit)."""
    while True:
        await asyncio.sleep(every)
        try:
            done = await run_in_threadpool(checkpoint, engine)
        except Exception as error:  # retried next round; the log only grows meanwhile
            log.warning("write-ahead log checkpoint failed", extra={"exception": type(error).__name__})
            continue
        if done is not None:
            metrics.checkpoints.inc()
            metrics.wal_frames.set(done[0])


async def _drain(logbook: LogBook, every: float) -> None:
    """Move the spooled recommendation log into the store, at start-up and then every ``every`` seconds."""
    while True:
        try:
            await run_in_threadpool(logbook.drain)
        except StoreError:  # the store still does not take it: the rows stay spooled, retried next round
            pass
        except Exception as error:  # a broken spool must not stop the service; reported in the log
            log.warning("draining the recommendation log spool failed", extra={"exception": type(error).__name__})
        await asyncio.sleep(every)


def _telemetry_options(settings: Settings) -> dict[str, Any]:
    """FastAPI's own OpenTelemetry (FastAPI 0.165 and later, when opentelemetry is installed: mlflow brings it)
    only with ``SMEMATCH_OPENTELEMETRY=true``. The service reports through ``/metrics`` and its JSON logs; left
    on but unconfigured, FastAPI still asks for the global providers on every request, work a recommendation
    pays for nothing (``benchmarks/bench_api.py``)."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    if settings.opentelemetry:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}


async def _follow(context: Context, built_from: list[object], every: float, lock: asyncio.Lock) -> None:
    """Refit when the store changed under us; follow ``current`` when it is what we serve (or meant to serve)."""
    refused: dict[str, int] = {}
    while True:
        await asyncio.sleep(every)
        try:
            fingerprint = await run_in_threadpool(records.catalogue_fingerprint, context.engine)
            if fingerprint != built_from[0]:
                await context.refresh_catalogue()
            await _follow_current(context, refused)
        except Exception as error:  # a failed round is retried next round; the old model keeps serving
            log.warning("background refresh failed", extra={"exception": type(error).__name__})


async def _follow_current(context: Context, refused: dict[str, int]) -> None:
    """``refused`` remembers the manifest (by modification time) last refused, so it is not tried again."""
    state = context.state
    if not state.ready or context.follower.desired is not None:  # the fleet's desired version rules
        return
    folder = Path(context.settings.models_dir) / CURRENT
    served = state.current
    if (served.degraded is None and served.source not in (None, folder)) or not (folder / MANIFEST_FILE).exists():
        return
    try:
        stamp = (folder / MANIFEST_FILE).stat().st_mtime_ns
        version = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return
    if (version == served.version and served.degraded is None) or refused.get("current") == stamp:
        return
    async with context.model_lock:
        try:
            _, new = await run_in_threadpool(state.reload, folder)
        except ModelError as error:
            refused["current"] = stamp
            log.warning("the new current model is refused: %s", error)
            context.metrics.reloads.labels("refused").inc()
            return
    context.metrics.reloads.labels("followed").inc()
    context.metrics.set_model(new.version, new.describe()["ranker"])


def app_from_environment() -> FastAPI:
    """The app for ``Settings()`` read from the environment: uvicorn's factory in each worker process."""
    return create_app(Settings(), freeze_gc=True)
