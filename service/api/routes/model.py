"""The served model: ``GET /v1/model`` (analysts) and ``POST /v1/admin/model/reload`` (admins).

A reload loads the bundle (default ``<models_dir>/current``), checks it (scikit-learn version, feature
names, a smoke prediction, then one real recommendation on the live catalogue) and only then swaps it in
atomically and publishes its version in the store (``service.fleet.publish``), which every other worker of
every replica then converges on. A bundle that is incompatible (409) or broken (422) is refused and the old
model keeps serving; a path that names no folder inside the models directory is a 404. ``GET /v1/model``
says which version this worker serves and whether it is the fleet's desired one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body
from starlette.concurrency import run_in_threadpool

from matching.errors import ModelError
from service.api.deps import Admin, Analyst, Ctx, QueryCheckedRoute
from service.api.errors import ApiError
from service.api.routes import responses
from service.api.schemas import ModelOut, ReloadIn, ReloadOut
from service.fleet import publish
from service.store.audit import record_event

router = APIRouter(prefix="/v1", tags=["model"], route_class=QueryCheckedRoute)


def _bundle_folder(models_dir: Path, path: str) -> Path:
    root = models_dir.resolve()
    try:
        folder = (root / path).resolve()
        found = folder.is_dir()
    except (OSError, ValueError):  # a name too long for the file system, and the like
        raise ApiError.field(422, "path", "must be a folder name the file system can hold") from None
    if (folder != root and root not in folder.parents) or not found:
        raise ApiError.field(404, "path", f"no model bundle folder {path!r} inside the models directory",
                             "no such model bundle")
    return folder


def _served(ctx: Ctx) -> Any:
    if not ctx.state.ready:
        raise ApiError(503, "no model is loaded yet (are there institutions in the store?)")
    return ctx.state.current


@router.get("/model", response_model=ModelOut, responses=responses(401, 403, 503), summary="The model served")
async def model_info(ctx: Ctx, _: Analyst) -> dict[str, Any]:
    """The model this worker serves: version, metrics, when it was trained, the digest of its training data,
    and whether it is the version the whole fleet should serve."""
    served = _served(ctx)
    return {**served.describe(ctx.settings.models_dir), **ctx.follower.report(served.version)}


@router.post("/admin/model/reload", response_model=ReloadOut, responses=responses(401, 403, 404, 409, 413, 422, 503),
             summary="Load and promote a model bundle")
async def reload_model(ctx: Ctx, caller: Admin, body: Annotated[ReloadIn | None, Body()] = None) -> dict[str, Any]:
    """Load a model bundle from the models folder (default: `current`), check it (library version, features, a
    trial recommendation on the live catalogue), swap it in at once and make its version the one every worker
    serves. A bundle built for other code is refused with 409, a broken one with 422; the old model keeps
    serving. The swap is in the audit trail (the model served before and after)."""
    _served(ctx)
    folder = _bundle_folder(ctx.settings.models_dir, (body or ReloadIn()).path)
    async with ctx.model_lock:
        try:
            old, new = await run_in_threadpool(ctx.state.reload, folder)
        except ModelError:
            ctx.metrics.reloads.labels("refused").inc()
            raise
        ctx.metrics.reloads.labels("swapped").inc()
        ctx.metrics.set_model(new.version, new.describe(ctx.settings.models_dir)["ranker"])
        ctx.follower.desired = await run_in_threadpool(
            publish, ctx.engine, ctx.settings.models_dir, folder, set_by=caller.name or caller.key_id, check=False)
    before, after = old.describe(ctx.settings.models_dir), new.describe(ctx.settings.models_dir)
    await run_in_threadpool(record_event, ctx.engine, actor=(caller.key_id, caller.name), action="reload",
                            entity="model", record_id=after["source"] or "baseline", before=before, after=after)
    return {"previous_version": old.version, "model": {**after, **ctx.follower.report(new.version)}}
