"""CLI command ``smematch batch``: recommend for every problem of every enterprise, to Parquet.

Input: a data folder (``--data``) or the store (``--db URL``); the model bundle at ``<models_dir>/current``
when there is one, else the baseline ranker. Output: the Parquet file (``--out``), its summary JSON beside it,
the run's escalations as ``OUT.escalations.csv`` (the provincial queue's columns, ``service.batch.escalations``), a
progress bar while it runs and the summary printed at the end. The work is ``service.batch.run_batch_job``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from service.commands._common import err_console, out_console, reported_errors


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


class Engine(StrEnum):
    """The choices of ``--engine`` (``service.batch.ENGINES``)."""

    local = "local"
    dask = "dask"


def batch(
    out: Annotated[Path, typer.Option("--out", help="Output Parquet file.")],
    data: Annotated[Path | None, typer.Option("--data", help="Data folder of the four tables.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL of the store instead of a folder.")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="Institutions per problem.")] = 5,
    assign: Annotated[bool, typer.Option("--assign", help="Give each problem at most one institution, "
                                         "within capacity, maximising the total score.")] = False,
    engine: Annotated[Engine, typer.Option("--engine", help="Where the chunks are scored: this machine or Dask.")]
    = Engine.local,
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
    from service.batch import BatchOptions, run_batch_job
    from service.settings import load_settings

    with reported_errors():
        options = BatchOptions(output=out, k=k, assign=assign, engine=engine.value, scheduler=scheduler,
                               chunk_size=chunk_size, resume=resume, overwrite=overwrite, n_workers=workers,
                               as_of=as_of).validate()
    with reported_errors(), _progress() as progress:
        task = progress.add_task("problems", total=None, rate="")

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)
            speed = progress.tasks[task].speed
            progress.update(task, rate=f"{speed:,.0f} problems/s" if speed else "")

        job = run_batch_job(options, data=data, db=db, settings=load_settings(), on_progress=on_progress,
                            on_phase=lambda phase: progress.console.log(phase))
    _show(job.summary, job.summary_path)
    out_console.print(f"escalations: {job.escalations}", highlight=False)
    from service.cli import allow_quick_exit

    allow_quick_exit()  # the output, its summary and every part are written, closed and renamed


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    return Progress(*columns, console=err_console, transient=False)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the CLI."""
    app.command("batch")(batch)
