"""CLI command ``smematch evaluate``: on a data folder of real records (``smematch import-real``), find the
institution that really served each later case; baselines beside the trained ranker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from service.commands._common import err_console, reported_errors


def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Folder of the four tables (e.g. from import-real).")],
    split_date: Annotated[str, typer.Option("--split-date", help="Train before this date, evaluate from it on.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object keyed by method.")] = False,
    exclude_top_lenders: Annotated[int, typer.Option(
        help="Also evaluate without the N institutions that served most training cases (0: do not).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the random baseline.")] = 0,
    soft_rules: Annotated[str, typer.Option(
        help="Comma-separated eligibility rules that score but do not exclude; 'auto': those the served cases "
             "between the profile date and the split break in 1% of cases or more; '' enforces every rule.")
    ] = "auto",
    rankings: Annotated[Path | None, typer.Option(
        "--rankings", help="Write what the trained ranker ranked for each case, one JSON line each: "
                           "problem_id and ranking (institution ids, best first).")] = None,
    export_model: Annotated[Path | None, typer.Option(
        "--export-model", help="Write the evaluated model bundle to this folder (recommend --model takes it).")
    ] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="Training config TOML (default: the packaged one).")] = None,
    track: Annotated[bool, typer.Option(
        "--track/--no-track", help="Log the evaluation as an MLflow run (experiment smematch-evaluate).")] = True,
) -> None:
    """Hit@1/5/10 and MRR of finding the institution that really served each case after the split date.

    The method "trained" is what serve would have answered that day: the ranker smematch train fits on the
    outcomes recorded before the split, ranking each case through the engine with the history as of the split."""
    from service.evaluation import evaluate_records
    from service.settings import load_settings

    with reported_errors(), err_console.status("evaluating") as status:
        report = evaluate_records(data, split_date, settings=load_settings(), exclude_top_lenders=exclude_top_lenders,
                                  seed=seed, soft_rules=soft_rules, config=config, rankings=rankings,
                                  export_model=export_model, track=track, progress=status.update)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        typer.echo(report.markdown())


def register(app: typer.Typer) -> None:
    """Add this group's commands to the CLI."""
    app.command("evaluate")(evaluate)
