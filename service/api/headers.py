"""Security headers on every response of the service, as a pure ASGI middleware.

- Every response: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, ``X-Frame-Options:
  DENY`` (where a route or the console set their own, theirs are kept).
- ``/v1/...``: ``Cache-Control: no-store`` unless the route set one: API answers carry enterprise data and,
  from ``POST /v1/admin/keys``, secrets; no browser or proxy should keep them.
- The docs page (``/docs``): a Content-Security-Policy that allows the Swagger UI assets FastAPI links (its
  CDN), and exactly the inline scripts of the page as served, by their sha256 (read from the body), so no
  injected script runs; no framing.

Inputs: ASGI scope/receive/send and the docs paths. Outputs: the app's response with the headers added.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "docs_policy"]

_ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY"))
_NO_STORE = (b"cache-control", b"no-store")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_DOCS_ASSETS = "https://cdn.jsdelivr.net"


def docs_policy(html: bytes) -> str:
    """The docs page's CSP: its CDN assets, and its own inline scripts by hash."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
                      for script in _INLINE_SCRIPT.findall(html))
    return "; ".join((
        "default-src 'none'",
        f"script-src 'self' {_DOCS_ASSETS} {hashes}".rstrip(),
        # Swagger UI sets element styles as it renders.
        f"style-src 'self' {_DOCS_ASSETS} 'unsafe-inline'",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ))


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, docs_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        added = [*_ALWAYS, _NO_STORE] if path.startswith("/v1/") else list(_ALWAYS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in added if h[0] not in present)]
            await send(message)

        if path in self.docs_paths:
            await self._docs(scope, receive, with_headers)
        else:
            await self.app(scope, receive, with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the (small) docs page until its body is complete, then send it with its CSP."""
        start: Message | None = None
        body: list[bytes] = []

        async def held(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            whole = b"".join(body)
            policy = docs_policy(whole).encode()
            start["headers"] = [*start.get("headers", []), (b"content-security-policy", policy)]
            await send(start)
            await send({"type": "http.response.body", "body": whole, "more_body": False})

        await self.app(scope, receive, held)
