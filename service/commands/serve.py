"""CLI commands: ``smematch serve`` (the HTTP service under uvicorn, ``service.server``) and ``smematch keys``
(API keys).

``keys create --role ROLE`` prints the new key alone on standard output, once (only its hash is stored);
``keys list`` shows ids, names, roles and whether revoked; ``keys revoke KEY_ID`` revokes one. Settings come
from the environment (``SMEMATCH_DATABASE_URL``, ...); uvicorn and the app are imported only when used.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from service.commands._common import fail, out_console, reported_errors
from service.settings import load_settings


class Role(StrEnum):
    """The choices of ``keys create --role`` (``service.api.schemas.Role``, not imported: it loads the app)."""

    caseworker = "caseworker"
    analyst = "analyst"
    curator = "curator"
    admin = "admin"
    provincial = "provincial"


def register(app: typer.Typer) -> None:
    """Add this group's commands to the CLI."""

    @app.command()
    def serve(
        host: Annotated[str | None, typer.Option(help="Interface to bind (default: settings, 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: settings, 8000).")] = None,
        workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    ) -> None:
        """Serve the HTTP API (/v1, /docs, /healthz, /readyz, /metrics) with uvicorn.

        The store is migrated to the newest revision first, once, before any worker starts. With several
        workers, the run gets its own PROMETHEUS_MULTIPROC_DIR (a temporary folder, removed at the end; one set
        by the operator is used as it is), so that every scrape of /metrics sums all workers."""
        from service.server import StartupFailed
        from service.server import serve as run_server

        with reported_errors():
            settings = load_settings()
        try:
            run_server(settings, host=host, port=port, workers=workers)
        except StartupFailed as error:
            raise fail(str(error), code=3) from None

    keys = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @keys.command("create")
    def create(
        role: Annotated[Role, typer.Option(help="What the key may do.")],
        name: Annotated[str | None, typer.Option(help="Who or what the key is for.")] = None,
    ) -> None:
        """Create a key and print it alone on standard output (it is shown only this once)."""
        with reported_errors():
            from service.api.keys import create_key
            from service.store import opened

            with opened(load_settings().database_url, schema=True) as engine:
                key, _ = create_key(engine, role.value, name)
        typer.echo(key)

    @keys.command("list")
    def list_() -> None:
        """Show every key: id, name, role, created, revoked (never the key)."""
        with reported_errors():
            from rich.table import Table

            from service.api.keys import list_keys
            from service.store import opened

            with opened(load_settings().database_url, schema=True) as engine:
                rows = list_keys(engine)
        table = Table("key_id", "name", "role", "created (UTC)", "revoked")
        for row in rows:
            table.add_row(row["key_id"], row["name"] or "", row["role"],
                          row["created_at"].isoformat(timespec="seconds"), "yes" if row["revoked"] else "no")
        out_console.print(table)

    @keys.command("revoke")
    def revoke(key_id: Annotated[str, typer.Argument(help="The key_id shown by `smematch keys list`.")]) -> None:
        """Revoke a key (running servers refuse it within seconds)."""
        with reported_errors():
            from service.api.keys import revoke_key
            from service.store import opened

            with opened(load_settings().database_url, schema=True) as engine:
                record = revoke_key(engine, key_id)
        if record is None:
            raise fail(f"no API key {key_id!r}")
        out_console.print(f"revoked {key_id}")
