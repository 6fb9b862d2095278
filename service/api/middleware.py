"""One pure-ASGI middleware for every request: request id, body size limit, metrics, structured access log,
and the last-resort 500 (so a crash is logged without bodies and answered in the service's JSON shape).

- Request id: the client's ``X-Request-ID`` when it is a short token, else a new one; echoed in the response.
- Body limit: a ``Content-Length`` above ``max_body_bytes`` is refused at once (413); a body without one
  (chunked) is read up to the limit and refused as soon as it passes it, so the app never sees more.
- Metrics and logs use the *route template* (``/v1/enterprises/{enterprise_id}``), never the raw path or the
  query string: ids and search terms stay out of labels and logs; bodies are never logged.

Inputs: ASGI scope/receive/send. Outputs: the app's response, or a JSON error (413, 500).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_body
from service.api.logs import ACCESS_LOGGER
from service.api.metrics import Metrics

__all__ = ["RequestMiddleware"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PREFIX = uuid.uuid4().hex[:12]  # per process; request ids need only be unique enough to find log lines
_COUNTER = itertools.count(1)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
access_log = logging.getLogger(ACCESS_LOGGER)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class _TooLarge(Exception):
    pass


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else f"{_PREFIX}{next(_COUNTER):x}"
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if scope["method"] in _BODY_METHODS:
                receive = await self._limited(headers, receive)
            await self.app(scope, receive, send_wrapper)
        except _TooLarge:
            status = 413
            await self._json(send_wrapper, 413, error_body(
                f"the request body is larger than the limit of {self.max_body_bytes} bytes",
                [{"field": "body", "problem": f"at most {self.max_body_bytes} bytes"}],
            ))
        except Exception as error:  # the last resort: never a traceback with request data in the logs
            access_log.error("unhandled error", extra={"request_id": request_id, "route": _route_of(scope),
                                                       "exception": type(error).__name__})
            if not response_started:
                await self._json(send_wrapper, 500, {**error_body("internal error"), "request_id": request_id})
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            self.metrics.observe_request(scope["method"], route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("request", extra={
                    "method": scope["method"], "route": route, "status": status,
                    "latency_ms": round(elapsed * 1000, 2), "request_id": request_id,
                })

    async def _limited(self, headers: dict[str, str], receive: Receive) -> Receive:
        """Check Content-Length, then read the body (up to the limit) and replay it to the app."""
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_body_bytes:
                raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _replay_disconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            more = message.get("more_body", False)
        return _replay(b"".join(chunks), receive)

    @staticmethod
    async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        ]})
        await send({"type": "http.response.body", "body": payload})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as Starlette expects

    return replay


def _replay_disconnect() -> Receive:
    async def disconnected() -> Message:
        return {"type": "http.disconnect"}

    return disconnected
