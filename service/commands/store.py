"""CLI commands of the store: ``smematch import DIR [--db URL]``.

``import`` validates every table of the folder first; any bad row ends the command with the full list of
problems and a non-zero exit, and nothing is written. Valid tables are upserted in one transaction, with a
progress bar per table and a summary of rows inserted, updated and unchanged; importing the same folder
again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from service.commands._common import err_console, out_console, reported_errors


def register(app: typer.Typer) -> None:
    """Add this group's commands to the CLI."""
    app.command("import")(import_command)


def import_command(
    folder: Annotated[Path, typer.Argument(help="A data folder: enterprises, problems, institutions, outcomes.")],
    db: Annotated[str | None, typer.Option("--db", help="A database URL (default: SMEMATCH_DATABASE_URL).")] = None,
) -> None:
    """Validate the tables of FOLDER and upsert them into the store, all or nothing."""
    from matching.tables.files import read_tables
    from service.loading import import_into_store
    from service.settings import load_settings
    from service.store import describe

    with reported_errors():
        url = db or load_settings().database_url
        with err_console.status(f"Validating the tables of {folder}"):
            tables = read_tables(folder)
        with _progress() as progress:
            summary = import_into_store(tables, url, progress=_bars(progress))
    out_console.print(_summary_table(summary.tables, describe(url)))
    if summary.changed:
        out_console.print("[green]Imported.[/] Rows not in the folder were kept.")
    else:
        out_console.print("No changes: the store already held exactly these rows.")


def _bars(progress: Progress) -> Callable[[str, int, int], None]:
    """A bar per table, added when its first rows are written."""
    tasks: dict[str, TaskID] = {}

    def advance(table: str, done: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = progress.add_task(table, total=total)
        progress.update(tasks[table], completed=done)

    return advance


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    )


def _summary_table(counts: dict, where: str) -> Table:  # type: ignore[type-arg]
    table = Table(title=f"Import into {where}", title_justify="left")
    table.add_column("table")
    for column in ("inserted", "updated", "unchanged"):
        table.add_column(column, justify="right")
    for name, count in counts.items():
        table.add_row(name, f"{count.inserted:,}", f"{count.updated:,}", f"{count.unchanged:,}")
    return table
