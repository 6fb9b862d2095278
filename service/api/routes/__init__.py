"""The routers of the HTTP API, one module per resource, and the error responses they document."""

from __future__ import annotations

from typing import Any

from service.api.schemas import ErrorBody

__all__ = ["responses"]

_MEANING = {
    401: "no API key, or an unknown or revoked one",
    403: "the API key's role is not enough for this route",
    404: "no record with this id",
    409: "conflicts with what is stored (or, for a model, with this code)",
    412: "If-Match does not match the stored record's ETag: read it again",
    413: "the request body is larger than the configured limit",
    422: "the request is not valid: every bad field is named",
    503: "not ready: no model loaded, or the database is unreachable",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route may return, all in the one ``ErrorBody`` shape."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in codes}
