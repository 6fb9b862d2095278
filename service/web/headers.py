"""Security headers on the console's responses (the page and its static files), as a pure ASGI middleware.

The Content-Security-Policy lets the page load scripts, styles, images and fonts from its own origin only and
talk to its own API: no inline script or style, no CDN, no framing, no plugins, ``<base>`` and form targets
locked. The API's JSON responses are left as the API sets them. Inputs: ASGI scope/receive/send and the path
prefixes that belong to the console. Outputs: the app's response with the headers added (existing ones of the
same name are replaced).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "ConsoleHeaders", "console_headers"]

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
))


def console_headers() -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        # Revalidate every time (ETag makes that cheap): a new release never runs against a stale script.
        (b"cache-control", b"no-cache"),
    ]


class ConsoleHeaders:
    def __init__(self, app: ASGIApp, *, exact: frozenset[str], prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.exact = exact
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path in self.exact or path.startswith(self.prefixes)):
            await self.app(scope, receive, send)
            return
        added = console_headers()
        names = {name for name, _ in added}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*kept, *added]
            await send(message)

        await self.app(scope, receive, with_headers)
