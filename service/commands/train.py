"""CLI: ``smematch train``, ``smematch compare`` and ``smematch promote`` (the library is ``training.api``).

The tracking URI, artifact root, registered model name and models folder come from ``Settings``
(``SMEMATCH_MLFLOW_TRACKING_URI``...; ``MLFLOW_TRACKING_URI`` also works for the URI). ``training`` is imported
inside the commands, so starting the CLI stays cheap.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from service.commands._common import err_console, out_console, reported_errors
from service.loading import load_tables_from
from service.settings import Settings

ROWS = ("ndcg_at_5", "ndcg_at_10", "map_at_5", "mrr", "gt_ndcg_at_5", "gt_ndcg_at_10", "gt_mrr", "coverage_at_10",
        "kind_diversity_at_5")
COLUMNS = {"model": "", "text only": "_text_baseline", "popularity": "_popularity", "cold start": "_cold_start",
           "oracle": "_oracle"}


def tracking_uri(settings: Settings) -> str:
    """SMEMATCH_MLFLOW_TRACKING_URI when set, else MLflow's own MLFLOW_TRACKING_URI, else the embedded store."""
    if "SMEMATCH_MLFLOW_TRACKING_URI" in os.environ:
        return settings.mlflow_tracking_uri
    return os.environ.get("MLFLOW_TRACKING_URI") or settings.mlflow_tracking_uri


def _value(metrics: dict[str, float], name: str) -> str:
    value = metrics.get(name)
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def metrics_table(metrics: dict[str, float]) -> Table:
    table = Table("metric", *COLUMNS, title="Evaluation on the latest outcomes (same split for every ranker)")
    for row in ROWS:
        if any(f"{row}{suffix}" in metrics for suffix in COLUMNS.values()):
            table.add_row(row, *(_value(metrics, f"{row}{suffix}") for suffix in COLUMNS.values()))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def bias_line(metrics: dict[str, float]) -> str:
    text = (f"selection bias: the 10% most-tried institutions hold {metrics.get('bias_top10pct_share', 0):.0%} of "
            f"the training pairs; {metrics.get('bias_untried_institutions', 0):.0%} of the catalogue never tried")
    if "bias_ess_ratio" in metrics:
        text += (f"; raw inverse propensity weights keep an effective sample of {metrics['bias_ess_ratio']:.0%}, "
                 f"the weights used {metrics.get('bias_ess_ratio_used', 1):.0%}")
    return text


def _propensities_from_store(db: str) -> pd.DataFrame | None:
    """The recommendation log's propensities, when the store has a log."""
    from sqlalchemy import inspect

    from service.store import make_engine
    from training.dataset import propensities_from_log

    engine = make_engine(db)
    try:
        if not {"recommendations", "recommendation_items"} <= set(inspect(engine).get_table_names()):
            return None
        recommendations = pd.read_sql_table("recommendations", engine, columns=["recommendation_id", "problem_id"])
        items = pd.read_sql_table("recommendation_items", engine,
                                  columns=["recommendation_id", "institution_id", "propensity"])
    finally:
        engine.dispose()
    return propensities_from_log(recommendations, items) if len(items) else None


def _show_promotion(promotion: Any) -> None:
    if promotion is None:
        out_console.print("[dim]not considered for promotion (use --promote-if-better or `smematch promote`)[/]")
    elif promotion.promoted:
        out_console.print(f"[bold green]champion:[/] version {promotion.version}: {promotion.reason}")
    else:
        out_console.print(f"[bold yellow]not promoted:[/] version {promotion.version}: {promotion.reason}")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the CLI."""

    @app.command()
    def train(
        data: Annotated[Path | None, typer.Option(help="A folder of tables (default: the store).")] = None,
        db: Annotated[str | None, typer.Option(help="A database URL (default: the configured store).")] = None,
        experiment: Annotated[str | None, typer.Option(help="MLflow experiment (default from settings).")] = None,
        config: Annotated[Path | None, typer.Option(help="A TOML file of hyperparameters.")] = None,
        promote_if_better: Annotated[bool, typer.Option("--promote-if-better",
                                                        help="Make it champion if it beats the champion.")] = False,
    ) -> None:
        """Train a ranker from outcomes, log it to MLflow, register it as challenger (champion if first)."""
        from rich.status import Status

        from training.api import read_extras, train_from_tables
        from training.config import load_config

        with reported_errors():
            settings = Settings()
            options = load_config(config)
            tables = load_tables_from(data=data, db=db, settings=settings)
            propensities, truth = read_extras(data) if data is not None else (
                _propensities_from_store(db or settings.database_url), None)
            with Status("starting", console=err_console) as status:
                result = train_from_tables(
                    tables, tracking_uri=tracking_uri(settings), artifact_root=settings.mlflow_artifact_root,
                    models_dir=settings.models_dir, experiment=experiment or settings.mlflow_experiment,
                    registered_model_name=settings.registered_model_name, config=options, propensities=propensities,
                    ground_truth=truth, promote_if_better=promote_if_better,
                    source=str(data.resolve()) if data is not None else "store",
                    progress=lambda stage: status.update(stage))
        out_console.print(metrics_table(result.metrics))
        out_console.print(bias_line(result.metrics))
        out_console.print(f"run {result.run_id} · registered version {result.version} (alias challenger) · "
                          f"bundle {result.bundle_dir} · {result.fit.seconds.get('total', 0):.1f} s")
        _show_promotion(result.promotion)

    @app.command()
    def compare(
        experiment: Annotated[str | None, typer.Option(help="MLflow experiment (default from settings).")] = None,
        plot: Annotated[Path | None, typer.Option(help="Also draw the runs side by side into this PNG.")] = None,
        limit: Annotated[int, typer.Option(help="How many recent runs.")] = 20,
    ) -> None:
        """Runs side by side: key metrics, params, data digest and which one is champion."""
        from training.api import KEY_COMPARED, compare_runs
        from training.plots import plot_compare
        from training.tracking import ensure_store

        with reported_errors():
            settings = Settings()
            ensure_store(tracking_uri(settings), settings.mlflow_artifact_root)
            runs = compare_runs(tracking_uri=tracking_uri(settings),
                                experiment=experiment or settings.mlflow_experiment,
                                registered_model_name=settings.registered_model_name, limit=limit)
        if runs.empty:
            out_console.print("no finished runs yet: run `smematch train` first")
            return
        fields = ["version", "aliases", "started", *KEY_COMPARED, "learning_rate", "max_iter", "ipw", "n_outcomes",
                  "data_digest"]
        table = Table("", *runs["run"], title=f"Runs of experiment {experiment or settings.mlflow_experiment!r}")
        for field in fields:
            table.add_row(field, *(_cell(value) for value in runs[field]))
        out_console.print(table)
        if plot is not None:
            plot_compare(runs, ["ndcg_at_5", "ndcg_at_5_text_baseline", "ndcg_at_5_popularity", "ndcg_at_5_oracle",
                                "gt_ndcg_at_5"], plot)
            out_console.print(f"chart written to {plot}")

    @app.command()
    def promote(
        version: Annotated[str | None, typer.Option(help="A version to consider (default: the challenger).")] = None,
        config: Annotated[Path | None, typer.Option(help="A TOML file with the [promotion] metric and margin.")]
        = None,
        reload: Annotated[bool, typer.Option("--reload", help="Make the new champion the version every worker "
                                             "of every replica serves (set in the store).")] = False,
    ) -> None:
        """Make the challenger champion if it beats the champion by the configured margin; say why not."""
        from training.api import promote_challenger
        from training.config import load_config
        from training.tracking import ensure_store

        with reported_errors():
            settings = Settings()
            ensure_store(tracking_uri(settings), settings.mlflow_artifact_root)
            promotion = promote_challenger(tracking_uri=tracking_uri(settings),
                                           registered_model_name=settings.registered_model_name,
                                           models_dir=settings.models_dir, config=load_config(config).promotion,
                                           version=version)
        _show_promotion(promotion)
        if not promotion.promoted:
            raise typer.Exit(1)
        if reload:
            _publish_current(settings)


def _publish_current(settings: Settings) -> None:
    """The champion's bundle (``<models_dir>/current``) as the version the whole fleet serves."""
    from service.fleet import publish
    from service.loading import CURRENT_BUNDLE
    from service.store import make_engine, upgrade_schema

    with reported_errors():
        engine = make_engine(settings.database_url)
        try:
            upgrade_schema(engine)
            desired = publish(engine, settings.models_dir, settings.models_dir / CURRENT_BUNDLE,
                              set_by="smematch promote --reload")
        finally:
            engine.dispose()
    out_console.print(f"[green]served version set:[/] every worker converges on {desired.version} "
                      f"(bundle {desired.bundle})")
