"""CLI: ``smematch train``, ``smematch compare`` and ``smematch promote``; the work is ``service.learning``.

The tracking URI, artifact root, registered model name and models folder come from ``Settings``
(``SMEMATCH_MLFLOW_TRACKING_URI``...; ``MLFLOW_TRACKING_URI`` also works for the URI). ``training`` is imported
inside the commands, so starting the CLI stays cheap.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from service.commands._common import err_console, out_console, reported_errors
from service.learning import promote_version, publish_current, runs_side_by_side, train_ranker
from service.settings import load_settings

ROWS = ("ndcg_at_5", "ndcg_at_10", "map_at_5", "mrr", "gt_ndcg_at_5", "gt_ndcg_at_10", "gt_mrr", "coverage_at_10",
        "kind_diversity_at_5")
COLUMNS = {"model": "", "text only": "_text_baseline", "popularity": "_popularity", "cold start": "_cold_start",
           "oracle": "_oracle"}


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

        with reported_errors(), Status("starting", console=err_console) as status:
            result = train_ranker(load_settings(), data=data, db=db, experiment=experiment, config=config,
                                  promote_if_better=promote_if_better, progress=lambda stage: status.update(stage))
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
        from training.api import KEY_COMPARED
        from training.plots import plot_compare

        with reported_errors():
            settings = load_settings()
            runs = runs_side_by_side(settings, experiment=experiment, limit=limit)
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
        with reported_errors():
            settings = load_settings()
            promotion = promote_version(settings, version=version, config=config)
        _show_promotion(promotion)
        if not promotion.promoted:
            raise typer.Exit(1)
        if reload:
            with reported_errors():
                desired = publish_current(settings, set_by="smematch promote --reload")
            out_console.print(f"[green]served version set:[/] every worker converges on {desired.version} "
                              f"(bundle {desired.bundle})")
