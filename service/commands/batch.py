"""CLI command ``smematch batch``: recommend for every problem of every enterprise, to Parquet.

Input: a data folder (``--data``) or the store (``--db URL``); the model bundle at ``<models_dir>/current``
when there is one, else the baseline ranker. Output: the Parquet file (``--out``), its summary JSON beside it,
the run's escalations as ``OUT.escalations.csv`` (the provincial queue's columns, ``service.batch.escalations``), a
progress bar while it runs and the summary printed at the end. The work is ``service.batch.run_batch``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from service.commands._common import err_console, fail, out_console, reported_errors


def _ranker_and_digest(models_dir: Path) -> tuple[Any, str]:
    from matching import BaselineRanker, load_bundle

    bundle = models_dir / "current"
    if not (bundle / "manifest.json").is_file():
        return BaselineRanker(), ""
    ranker = load_bundle(bundle)
    manifest = ranker.manifest
    return ranker, json.dumps([manifest.get("version"), manifest.get("trained_at"), manifest.get("data_digest")])


def _source(data: Path | None, db: str | None) -> Any:
    from service.batch import FolderSource, TablesSource

    if (data is None) == (db is None):
        raise fail("give exactly one of --data DIR or --db URL")
    if data is not None:
        return FolderSource(data)
    from service.store import describe, load_tables, make_engine

    engine = make_engine(db)
    try:
        return TablesSource(load_tables(engine), name=describe(db))
    finally:
        engine.dispose()


def _show(summary: dict[str, Any], path: Path) -> None:
    head = Table(title=f"batch: {summary['output']}", show_header=False)
    for key in ("problems", "rows", "problems_recommended", "problems_escalated", "institutions_recommended",
                "institutions_never_recommended", "model_version", "engine", "chunks", "chunks_resumed"):
        head.add_row(key.replace("_", " "), str(summary[key]))
    for reason, count in summary["escalations_by_reason"].items():
        head.add_row(f"escalated: {reason}", str(count))
    for key, value in summary.get("assignment", {}).items():
        head.add_row(f"assignment: {key.replace('_', ' ')}", str(value))
    head.add_row("seconds", ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()))
    out_console.print(head)
    kinds = Table("kind", "recommendations", "problems covered", "share", title="coverage per kind")
    for kind, row in summary["coverage_per_kind"].items():
        kinds.add_row(kind, str(row["recommendations"]), str(row["problems"]), f"{row['share_of_problems']:.1%}")
    out_console.print(kinds)
    busiest = sorted(summary["per_institution"], key=lambda row: -row["recommended"])[:10]
    columns = ["institution_id", "kind", "capacity", "recommended", "top1", *(["assigned"] if busiest and
                                                                               "assigned" in busiest[0] else [])]
    table = Table(*columns, title="most recommended institutions (all of them in the summary JSON)")
    for row in busiest:
        table.add_row(*(str(row[c]) for c in columns))
    out_console.print(table)
    out_console.print(f"summary: {path}", highlight=False)


def batch(
    out: Annotated[Path, typer.Option("--out", help="Output Parquet file.")],
    data: Annotated[Path | None, typer.Option("--data", help="Data folder of the four tables.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL of the store instead of a folder.")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="Institutions per problem.")] = 5,
    assign: Annotated[bool, typer.Option("--assign", help="Give each problem at most one institution, "
                                         "within capacity, maximising the total score.")] = False,
    engine: Annotated[str, typer.Option("--engine", help="local or dask.")] = "local",
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address "
                                                  "(tcp://host:8786); default: a local cluster.")] = None,
    chunk_size: Annotated[int | None, typer.Option(
        "--chunk-size", help="Problems per chunk (and part file); default: an eighth of the problems, "
                             "from 500 to 4,000.")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Worker processes: the local engine forks this many (default: one per core); "
                          "dask without --scheduler starts this many local workers (default: 2).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Recommend as on this date: only outcomes recorded before it count (track record, history, "
                        "load).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted run from its parts.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")] = False,
) -> None:
    """Recommend institutions for every problem of every enterprise and write them to Parquet."""
    from service.batch import BatchOptions, run_batch, summary_path
    from service.batch.escalations import write_escalations
    from service.settings import Settings
    from service.store.clock import utc_now

    with reported_errors():
        options = BatchOptions(output=out, k=k, assign=assign, engine=engine, scheduler=scheduler,
                               chunk_size=chunk_size, resume=resume, overwrite=overwrite,
                               n_workers=workers, as_of=as_of).validate()
        ranker, digest = _ranker_and_digest(Settings().models_dir)
        source = _source(data, db)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
        with Progress(*columns, console=err_console, transient=False) as progress:
            task = progress.add_task("problems", total=None, rate="")

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)
                speed = progress.tasks[task].speed
                progress.update(task, rate=f"{speed:,.0f} problems/s" if speed else "")

            summary = run_batch(source, ranker, replace(options, model_digest=digest),
                                on_progress=on_progress, on_phase=lambda phase: progress.console.log(phase))
        escalations = write_escalations(source, out, now=utc_now())
        _show(summary, summary_path(out))
        out_console.print(f"escalations: {escalations}", highlight=False)
    from service.cli import allow_quick_exit

    allow_quick_exit()  # the output, its summary and every part are written, closed and renamed


def register(app: typer.Typer) -> None:
    """Add this group's commands to the CLI."""
    app.command("batch")(batch)
