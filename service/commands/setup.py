"""CLI: ``smematch setup``: make the embedded defaults ready to serve (what ``make run`` calls); the work is
``service.setup``. Each step is skipped when its result is already there, so running it again costs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.commands._common import err_console, out_console, reported_errors
from service.settings import load_settings

if TYPE_CHECKING:
    from service.setup import StoreReady


def register(app: typer.Typer) -> None:
    app.command()(setup)


def setup(
    data: Annotated[Path | None, typer.Option(help="The data folder to load (default: SMEMATCH_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="A database URL (default: SMEMATCH_DATABASE_URL).")] = None,
    train: Annotated[bool, typer.Option(help="Train the first model when there is none.")] = True,
) -> None:
    """Load the sample data into the store and train the default model, each only if absent."""
    from service.setup import prepare_store, train_first_model

    with reported_errors():
        settings = load_settings()
        with err_console.status("Preparing the store") as status:
            store = prepare_store(settings, data=data, db=db, progress=status.update)
        _show_store(store)
        if not train:
            return
        with err_console.status("Training the first model") as status:
            first = train_first_model(settings, data=data, progress=lambda stage: status.update(
                f"Training the first model: {stage}"))
    if first.result is None:
        out_console.print(f"model bundle {first.manifest.parent} exists: not trained again")
        return
    ndcg = first.result.metrics.get("ndcg_at_5", float("nan"))
    out_console.print(f"[green]model {first.result.version} trained[/] (run {first.result.run_id}, "
                      f"ndcg_at_5 {ndcg:.3f})")
    if not first.written:
        err_console.print(f"[bold red]error:[/] training finished but {first.manifest} was not written")
        raise typer.Exit(1)


def _show_store(store: StoreReady) -> None:
    if store.loaded is None:
        out_console.print(f"store {store.where} already holds data: not loaded again")
    else:
        rows = ", ".join(f"{name}: {count:,}" for name, count in store.loaded.items())
        out_console.print(f"[green]store loaded[/] ({rows})")
    if store.keys:
        out_console.print(f"[green]API keys created[/] (shown once; also kept in {store.keys_file}):")
        for line in store.keys:
            out_console.print("  " + line, highlight=False)
