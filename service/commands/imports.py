"""CLI commands that bring records in: ``smematch import DIR [--db URL]`` (a data folder of the four tables into
the store) and ``smematch import-real sba|kiva PATH --out DIR`` (public lending records as a data folder).

``import`` validates every table of the folder first; any bad row ends the command with the full list of
problems and a non-zero exit, and nothing is written. Valid tables are upserted in one transaction, with a
progress bar per table and a summary of rows inserted, updated and unchanged; importing the same folder
again changes nothing. ``import-real`` runs an importer of ``service.imports``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from service.commands._common import err_console, out_console, reported_errors
from service.imports import import_records


class Dataset(StrEnum):
    """The choices of ``import-real``'s dataset (``service.imports.DATASETS``)."""

    sba = "sba"
    kiva = "kiva"


def register(app: typer.Typer) -> None:
    """Add this group's commands to the CLI."""
    app.command("import")(import_command)
    app.command("import-real")(import_real)


def import_command(
    folder: Annotated[Path, typer.Argument(help="A data folder: enterprises, problems, institutions, outcomes.")],
    db: Annotated[str | None, typer.Option("--db", help="A database URL (default: SMEMATCH_DATABASE_URL).")] = None,
) -> None:
    """Validate the tables of FOLDER and upsert them into the store, all or nothing."""
    from matching.tables.files import read_tables
    from service.imports import import_into_store
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


def import_real(
    dataset: Annotated[Dataset, typer.Argument(help="Which records: sba (SBA 7(a) loans) or kiva (Kiva loans).")],
    path: Annotated[Path, typer.Argument(help="The records file, or the folder holding it.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the four tables into.")],
    profile_until: Annotated[str | None, typer.Option(
        help="Institution profiles use records before this date only (default: sba 2004-10-01, kiva "
             "2016-01-01). evaluate refuses an earlier split date.")] = None,
    naics: Annotated[Path | None, typer.Option(
        help="SBA: the NAICS 2017 descriptions CSV (default: ../naics_2017/ beside the loan file).")] = None,
    partners: Annotated[Path | None, typer.Option(
        help="Kiva: the partner names CSV (default: kiva_partner_names_2013.csv beside the loans file).")] = None,
) -> None:
    """Turn real records into enterprises, problems, institutions and outcomes tables."""
    with reported_errors():
        summary = import_records(dataset.value, path, out, profile_until=profile_until, naics=naics, partners=partners)
    out_console.print(
        f"{summary.dataset}: {summary.rows_read:,} rows read -> {summary.enterprises:,} enterprises, "
        f"{summary.problems:,} problems, {summary.institutions:,} institutions, {summary.outcomes:,} outcomes "
        f"in {summary.out}", highlight=False)
    for reason, count in summary.skipped.items():
        out_console.print(f"  skipped {count:,} rows: {reason}", highlight=False)
    for note in summary.notes:
        out_console.print(f"  note: {note}", highlight=False)
