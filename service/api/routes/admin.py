"""API keys over HTTP, for admins: create (the secret is in the response, once, never cached), list, revoke
(never the last active admin key: 409)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from service.api import keys
from service.api.deps import Admin, Ctx, QueryCheckedRoute
from service.api.errors import ApiError
from service.api.routes import responses
from service.api.routes.records import IdPath
from service.api.schemas import KeyCreatedOut, KeyIn, KeyOut

router = APIRouter(prefix="/v1/admin/keys", tags=["admin"], route_class=QueryCheckedRoute)


@router.post("", response_model=KeyCreatedOut, status_code=201, responses=responses(401, 403, 413, 422, 503),
             summary="Create an API key")
async def create_key(body: KeyIn, ctx: Ctx, caller: Admin, response: Response) -> dict[str, Any]:
    """A new key with the role asked for. The secret is in this response only (never cached, never stored:
    the service keeps its hash); the creation is in the audit trail."""
    secret, record = await run_in_threadpool(keys.create_key, ctx.engine, body.role.value, body.name, actor=caller)
    response.headers["Cache-Control"] = "no-store"
    return {**record, "key": secret}


@router.get("", response_model=list[KeyOut], responses=responses(401, 403, 503), summary="List API keys")
async def list_keys(ctx: Ctx, _: Admin) -> list[dict[str, Any]]:
    """Every key, revoked ones included, oldest first (never the secrets)."""
    return await run_in_threadpool(keys.list_keys, ctx.engine)


@router.delete("/{key_id}", response_model=KeyOut, responses=responses(401, 403, 404, 409, 422, 503),
               summary="Revoke an API key")
async def revoke_key(key_id: IdPath, ctx: Ctx, caller: Admin) -> dict[str, Any]:
    """Revoke a key: refused by this process at once, by other workers within seconds. The last active admin
    key is kept (409)."""
    try:
        record = await run_in_threadpool(keys.revoke_key, ctx.engine, key_id, actor=caller)
    except keys.LastAdminKey as error:
        raise ApiError.field(409, "key_id", str(error), "the last active admin key cannot be revoked") from None
    if record is None:
        raise ApiError(404, f"no API key {key_id!r}")
    ctx.keys.forget()
    return record
