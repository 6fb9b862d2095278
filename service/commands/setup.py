"""CLI: ``smematch setup`` — make the embedded defaults ready to serve (what ``make run`` calls).

Loads the data folder (default: the sample data) into the store when the store holds no enterprises, creates
a first caseworker and admin API key when there is none (printed once, kept in ``.smematch-keys``), then
trains, registers and promotes the first model when there is no model bundle in ``models/current``. Each step
is skipped when its result is already there, so running it again costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.commands._common import err_console, out_console, reported_errors
from service.loading import CURRENT_BUNDLE
from service.settings import Settings

KEYS_FILE = ".smematch-keys"


def register(app: typer.Typer) -> None:
    app.command()(setup)


def setup(
    data: Annotated[Path | None, typer.Option(help="The data folder to load (default: SMEMATCH_DATA_DIR).")] = None,
    db: Annotated[str | None, typer.Option(help="A database URL (default: SMEMATCH_DATABASE_URL).")] = None,
    train: Annotated[bool, typer.Option(help="Train the first model when there is none.")] = True,
) -> None:
    """Load the sample data into the store and train the default model, each only if absent."""
    from matching.tables.files import read_tables
    from service.commands.train import tracking_uri
    from service.store import count_rows, create_schema, describe, import_tables, make_engine

    settings = Settings()
    folder = data or settings.data_dir
    url = db or settings.database_url
    with reported_errors():
        engine = make_engine(url)
        try:
            create_schema(engine)
            if count_rows(engine)["enterprises"] == 0:
                with err_console.status(f"Loading {folder} into {describe(url)}"):
                    summary = import_tables(engine, read_tables(folder))
                rows = ", ".join(f"{n}: {c.inserted:,}" for n, c in summary.tables.items())
                out_console.print(f"[green]store loaded[/] ({rows})")
            else:
                out_console.print(f"store {describe(url)} already holds data: not loaded again")
            _first_keys(engine, settings.home / KEYS_FILE)
        finally:
            engine.dispose()
        bundle = settings.models_dir / CURRENT_BUNDLE / "manifest.json"
        if not train:
            return
        if bundle.exists():
            out_console.print(f"model bundle {bundle.parent} exists: not trained again")
            return
        from training.api import train_from_folder

        with err_console.status("Training the first model") as status:
            result = train_from_folder(
                folder,
                tracking_uri=tracking_uri(settings),
                artifact_root=settings.mlflow_artifact_root,
                models_dir=settings.models_dir,
                experiment=settings.mlflow_experiment,
                registered_model_name=settings.registered_model_name,
                promote_if_better=True,
                progress=lambda stage: status.update(f"Training the first model: {stage}"),
            )
        ndcg = result.metrics.get("ndcg_at_5", float("nan"))
        out_console.print(f"[green]model {result.version} trained[/] (run {result.run_id}, ndcg_at_5 {ndcg:.3f})")
        if not bundle.exists():
            raise typer.Exit(_no_bundle(bundle))


def _first_keys(engine: object, path: Path) -> None:
    """On a store with no API keys, create a caseworker and an admin key, print them once and keep them in a
    file only the owner can read (git-ignored), so a new user can sign in to the console right away."""
    from service.api.keys import create_key, list_keys

    if list_keys(engine):  # type: ignore[arg-type]
        return
    lines = []
    for role in ("caseworker", "admin"):
        key, _ = create_key(engine, role, name=f"first {role} (smematch setup)")  # type: ignore[arg-type]
        lines.append(f"{role}: {key}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    out_console.print("[green]API keys created[/] (shown once; also kept in " + str(path) + "):")
    for line in lines:
        out_console.print("  " + line, highlight=False)


def _no_bundle(bundle: Path) -> int:
    err_console.print(f"[bold red]error:[/] training finished but {bundle} was not written")
    return 1
