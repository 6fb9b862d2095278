"""Every error the HTTP service returns, in one JSON shape, and the one place that maps errors to statuses.

    {"error": "<what went wrong, one sentence>", "detail": [{"field": "<name or null>", "problem": "..."}]}

Mapping (the only place it is written down):
    ApiError(status, ...)            its status (401/403/404/409/413/422 raised by the routes)
    RequestValidationError           422, one detail item per bad field (body, query, path or header)
    matching.InvalidInput            422, one detail item per Issue (field = Issue.column, row when given)
    matching.IncompatibleModel       409 (a model built for other code or other features)
    matching.ModelError              422 (a model bundle that cannot be loaded)
    service.store.OutcomeConflict    409, one detail item per differing field
    service.store.CaseConflict       409, naming the case's status
    service.store.StoreError         503 (the database failed or is unreachable)
    Starlette HTTPException          its status (404 unknown route, 405 wrong method); FastAPI's 400 for a
                                     body it cannot decode becomes a 422 naming ``body``
    anything else                    500 {"error": "internal error", "request_id": ...} (``middleware``)

Inputs: the exceptions above. Outputs: ``JSONResponse`` objects; ``install(app)`` registers the handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from matching.errors import IncompatibleModel, InvalidInput, Issue, ModelError
from service.store.errors import CaseConflict, OutcomeConflict, StoreError

__all__ = ["ApiError", "error_body", "install", "issue_detail", "LOCATIONS"]


LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
log = logging.getLogger("smematch.api")


class ApiError(Exception):
    """An error a route means to return: a status, one sentence, and optionally the fields at fault."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: Sequence[dict[str, Any]] = (),
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = list(detail)
        self.headers = headers

    @classmethod
    def field(cls, status: int, field: str, problem: str, error: str | None = None) -> ApiError:
        return cls(status, error or f"invalid {field}", [{"field": field, "problem": problem}])


def error_body(error: str, detail: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"error": error, "detail": list(detail)}


def issue_detail(issue: Issue) -> dict[str, Any]:
    item: dict[str, Any] = {"field": issue.column, "problem": f"expected {issue.expected}, found {issue.found}"}
    if issue.row is not None:
        item["row"] = issue.row
    return item


def _field_of(location: Sequence[Any]) -> str:
    # Tags of tagged unions start with "@" (see schemas.RecommendationIn): not fields, so left out.
    parts = [str(part) for part in location if not str(part).startswith("@")]
    if parts and parts[0] in LOCATIONS and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _problem_of(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    # pydantic's own prefix adds nothing a reader needs.
    return message.removeprefix("Value error, ")


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _json(exc.status, error_body(exc.error, exc.detail), exc.headers)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = []
    for error in exc.errors():
        item = {"field": _field_of(error.get("loc", ())), "problem": _problem_of(error)}
        if item not in detail:
            detail.append(item)
    return _json(422, error_body("the request is not valid", detail))


async def _invalid_input(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    return _json(422, error_body("the request is not valid", [issue_detail(i) for i in exc.issues]))


async def _model_error(_request: Request, exc: Exception) -> JSONResponse:
    status = 409 if isinstance(exc, IncompatibleModel) else 422
    return _json(status, error_body(str(exc), [{"field": "model", "problem": str(exc)}]))


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's answer to a body it cannot decode (not UTF-8, not JSON)
        return _json(422, error_body("the request is not valid",
                                     [{"field": "body", "problem": "must be JSON text in UTF-8"}]))
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    return _json(exc.status_code, error_body(message), getattr(exc, "headers", None))


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OutcomeConflict)
    detail = [issue_detail(i) for i in exc.issues]
    return _json(409, error_body("this outcome_id is stored already with a different body", detail))


async def _case_conflict(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CaseConflict)
    return _json(409, error_body(str(exc), [{"field": "status", "problem": f"the problem is {exc.status}"}]))


async def _store(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("store error", extra={"exception": type(exc.__cause__ or exc).__name__})
    return _json(503, error_body("the database is not available; retry later"))


def install(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(ModelError, _model_error)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OutcomeConflict, _conflict)
    app.add_exception_handler(CaseConflict, _case_conflict)
    app.add_exception_handler(StoreError, _store)
