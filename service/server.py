"""Running the HTTP service under uvicorn (``smematch serve``).

``serve(settings, host=, port=, workers=)`` migrates the store to the newest revision first, once, before any
worker starts (a failure raises ``StartupFailed``), then runs ``service.api.app:app_from_environment`` with
the settings' limits (``service.api.serving.uvicorn_options``). With several workers the run gets its own
``PROMETHEUS_MULTIPROC_DIR`` (a temporary folder, removed at the end; one set by the operator is used as it
is), so that every scrape of ``/metrics`` sums all workers. uvicorn and the app are imported only here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from matching.errors import SmematchError
from service.settings import Settings

__all__ = ["StartupFailed", "serve", "MULTIPROCESS_DIR"]

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's; not imported here to keep the CLI light


class StartupFailed(SmematchError):
    """The service cannot start (its store cannot be migrated); the message is the one line to show."""


def serve(settings: Settings, *, host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Migrate the store, then serve until stopped; see the module docstring."""
    import uvicorn

    from service.api.logs import log_config
    from service.api.serving import uvicorn_options

    _upgrade(settings.database_url)
    with _metrics_folder(workers):
        uvicorn.run(
            "service.api.app:app_from_environment",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            access_log=False,
            log_config=log_config(settings.log_level),
            server_header=False,
            **uvicorn_options(settings),
        )


@contextmanager
def _metrics_folder(workers: int) -> Iterator[None]:
    if workers == 1 or os.environ.get(MULTIPROCESS_DIR):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="smematch-metrics-") as folder:
        os.environ[MULTIPROCESS_DIR] = folder  # inherited by the workers uvicorn starts
        try:
            yield
        finally:
            os.environ.pop(MULTIPROCESS_DIR, None)


def _upgrade(url: str) -> None:
    """Migrate the store before any worker starts; a failure is the one line a failed start-up prints."""
    from service.store import make_engine, upgrade_schema

    engine = make_engine(url)
    try:
        upgrade_schema(engine)
    except SmematchError as error:
        raise StartupFailed(f"start-up failed: {error}") from None
    finally:
        engine.dispose()
