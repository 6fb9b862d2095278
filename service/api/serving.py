"""How ``smematch serve`` runs uvicorn: its options, and an HTTP protocol that bounds slow or huge headers.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) but has no limit on how long a client may
take to send a request's headers, and its default parser (httptools) none on their size: a few hundred
connections that each send a byte now and then hold the server's sockets for ever. ``GuardedHttpToolsProtocol``
is uvicorn's httptools protocol with both bounds: from the first byte of a request (or the connection's
opening) the headers must be complete within ``header_timeout_seconds`` (else 408 and close) and within
``MAX_HEADER_BYTES`` (else 431 and close).

Inputs: ``Settings`` (read once per process, in the protocol). Outputs: keyword arguments for ``uvicorn.run``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.settings import Settings

__all__ = ["GuardedHttpToolsProtocol", "uvicorn_options", "MAX_HEADER_BYTES"]

MAX_HEADER_BYTES = 32 * 1024


@functools.cache
def _header_timeout() -> float:
    return Settings().header_timeout_seconds


def _refusal(status: bytes) -> bytes:
    return b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is not None:  # still reading a request's headers
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(b"431 Request Header Fields Too Large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_bytes = 0
            self._header_timer = self.loop.call_later(_header_timeout(), self._refuse, b"408 Request Timeout")

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _refuse(self, status: bytes) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_refusal(status))
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Timeouts and limits for ``uvicorn.run``."""
    return {
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": settings.keep_alive_seconds,
        # Used when uvicorn's h11 parser is chosen instead: its own bound on a request's incomplete headers.
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }
