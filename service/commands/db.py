"""CLI commands of the store's schema: ``smematch db upgrade`` and ``smematch db current``.

``upgrade`` brings the store (``--db`` or ``SMEMATCH_DATABASE_URL``) to the newest migration and prints the
revision it is at; running it again changes nothing. ``current`` prints the store's revision and the head
this code knows, and exits 1 when the store is behind (or has no schema yet), so a deployment script can
check before it serves.
"""

from __future__ import annotations

from typing import Annotated

import typer

from service.commands._common import out_console, reported_errors

DbOption = Annotated[str | None, typer.Option("--db", help="A database URL (default: SMEMATCH_DATABASE_URL).")]


def register(app: typer.Typer) -> None:
    """Add this group's commands to the CLI."""
    db = typer.Typer(help="The store's schema: Alembic migrations.", no_args_is_help=True)
    app.add_typer(db, name="db")
    db.command("upgrade")(upgrade)
    db.command("current")(current)


def upgrade(db: DbOption = None) -> None:
    """Migrate the store to the newest revision (creating it when empty)."""
    from service.settings import load_settings
    from service.store import describe, opened, upgrade_schema

    with reported_errors():
        url = db or load_settings().database_url
        with opened(url) as engine:
            revision = upgrade_schema(engine)
    out_console.print(f"store {describe(url)} is at revision {revision} (head)", highlight=False)


def current(db: DbOption = None) -> None:
    """Show the store's revision and the newest one; exit 1 when the store is not at the newest."""
    from service.settings import load_settings
    from service.store import current_revision, describe, head_revision, opened

    with reported_errors():
        url = db or load_settings().database_url
        with opened(url) as engine:
            revision = current_revision(engine)
    head = head_revision()
    state = "up to date" if revision == head else "behind: run `smematch db upgrade`"
    out_console.print(f"store {describe(url)}: revision {revision or 'none'}, head {head} ({state})",
                      highlight=False)
    if revision != head:
        raise typer.Exit(1)
