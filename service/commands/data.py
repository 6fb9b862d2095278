"""CLI commands for data: ``smematch generate`` writes a simulated city's sample data folder.

Inputs: sizes, a seed and an output folder (default: the settings' ``data_dir``). Outputs: the table-contract
files and the simulator extras (``training.simulator.generate.FILES``), a progress bar while it works (on stderr) and a
summary table (rows per file, time taken) on stdout. Bad arguments are reported together, exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.commands._common import err_console, out_console, reported_errors

if TYPE_CHECKING:
    from training.simulator.generate import GenerationSummary

# The CLI's names for the settings, so that issues name the option the user typed.
_OPTIONS = {"n_enterprises": "--enterprises", "n_institutions": "--institutions", "seed": "--seed",
            "n_outcomes": "--outcomes"}


def generate(
    out: Annotated[Path | None, typer.Option("--out", help="Folder to write (default: the settings' data_dir).")]
    = None,
    enterprises: Annotated[int, typer.Option(help="How many enterprises.")] = 8_200,
    institutions: Annotated[int, typer.Option(help="How many institutions.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same files.")] = 0,
    outcomes: Annotated[int | None, typer.Option(help="How many outcomes (default 3.7 per enterprise; 0: none).")]
    = None,
    ground_truth: Annotated[bool, typer.Option("--ground-truth/--no-ground-truth",
                                               help="Write ground_truth.parquet.")] = True,
) -> None:
    """Simulate a city's enterprises, problems, institutions and outcomes, with a hidden ground truth."""
    from service.settings import load_settings
    from training.simulator.generate import SimulationConfig
    from training.simulator.generate import generate as simulate_to

    with reported_errors():
        config = SimulationConfig(enterprises, institutions, seed, outcomes, ground_truth).validate(_OPTIONS)
        target = out if out is not None else load_settings().data_dir
        with _progress() as progress:
            task = progress.add_task("starting", total=config.n_enterprises)
            summary = simulate_to(target, config, on_progress=lambda stage, done, total: progress.update(
                task, description=stage, completed=done))
    out_console.print(_summary_table(summary, seed))


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=err_console, transient=True)


def _summary_table(summary: GenerationSummary, seed: int) -> Table:
    """Rows and size per file written, in the order of ``FILES``."""
    from training.simulator.generate import FILES

    table = Table(title=f"Simulated data in {summary.out_dir}", caption=f"{summary.seconds:.1f} s, seed {seed}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("size", justify="right")
    for name in FILES:
        if name in summary.rows:
            size = (summary.out_dir / name).stat().st_size / 1e6
            table.add_row(name, f"{summary.rows[name]:,}", f"{size:,.1f} MB")
    return table


def register(app: typer.Typer) -> None:
    """Add this group's commands to the CLI."""
    app.command("generate")(generate)
