"""Training, comparing and promoting rankers with the service's settings (the library is ``training.api``).

- ``tracking_uri(settings)``: where MLflow runs go.
- ``train_ranker``: tables from a folder or the store (``service.loading.load_tables_from``), with the
  folder's simulator extras or the store's logged propensities, trained, logged, registered as challenger.
- ``runs_side_by_side``, ``promote_version``: ``training.api.compare_runs`` and ``promote_challenger`` on the
  configured MLflow store.
- ``publish_current``: the champion's bundle (``<models_dir>/current``) as the version the whole fleet serves.

``training`` and MLflow are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.bundles import CURRENT
from service.loading import load_tables_from
from service.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from service.store import DesiredModel
    from training.api import TrainingResult

__all__ = ["tracking_uri", "train_ranker", "runs_side_by_side", "promote_version", "publish_current"]

Progress = Callable[[str], None]


def tracking_uri(settings: Settings) -> str:
    """SMEMATCH_MLFLOW_TRACKING_URI when set, else MLflow's own MLFLOW_TRACKING_URI, else the embedded store."""
    if "SMEMATCH_MLFLOW_TRACKING_URI" in os.environ:
        return settings.mlflow_tracking_uri
    return os.environ.get("MLFLOW_TRACKING_URI") or settings.mlflow_tracking_uri


def _store_propensities(url: str) -> pd.DataFrame | None:
    """The recommendation log's propensities, when the store has a log."""
    from service.store import opened, propensity_log
    from training.dataset import propensities_from_log

    with opened(url) as engine:
        logged = propensity_log(engine)
    return None if logged is None or not len(logged[1]) else propensities_from_log(*logged)


def train_ranker(settings: Settings, *, data: Path | None, db: str | None, experiment: str | None,
                 config: Path | None, promote_if_better: bool, progress: Progress | None = None
                 ) -> TrainingResult:
    """Train on the tables of ``data`` (a folder) or the store (``db``, else the configured one)."""
    from training.api import read_extras, train_from_tables
    from training.config import load_config

    options = load_config(config)
    tables = load_tables_from(data=data, db=db, settings=settings)
    propensities, truth = read_extras(data) if data is not None else (
        _store_propensities(db or settings.database_url), None)
    return train_from_tables(
        tables, tracking_uri=tracking_uri(settings), artifact_root=settings.mlflow_artifact_root,
        models_dir=settings.models_dir, experiment=experiment or settings.mlflow_experiment,
        registered_model_name=settings.registered_model_name, config=options, propensities=propensities,
        ground_truth=truth, promote_if_better=promote_if_better,
        source=str(data.resolve()) if data is not None else "store", progress=progress)


def runs_side_by_side(settings: Settings, *, experiment: str | None, limit: int) -> pd.DataFrame:
    """The recent finished runs of ``experiment`` (default from settings), newest first."""
    from training.api import compare_runs
    from training.tracking import ensure_store

    ensure_store(tracking_uri(settings), settings.mlflow_artifact_root)
    return compare_runs(tracking_uri=tracking_uri(settings), experiment=experiment or settings.mlflow_experiment,
                        registered_model_name=settings.registered_model_name, limit=limit)


def promote_version(settings: Settings, *, version: str | None, config: Path | None) -> Any:
    """The promotion rule (``[promotion]`` of ``config``) applied to ``version`` (default: the challenger);
    returns a ``training.registry.Promotion``."""
    from training.api import promote_challenger
    from training.config import load_config
    from training.tracking import ensure_store

    ensure_store(tracking_uri(settings), settings.mlflow_artifact_root)
    return promote_challenger(tracking_uri=tracking_uri(settings),
                              registered_model_name=settings.registered_model_name,
                              models_dir=settings.models_dir, config=load_config(config).promotion,
                              version=version)


def publish_current(settings: Settings, *, set_by: str) -> DesiredModel:
    """The bundle in ``<models_dir>/current`` as the version every worker of every replica serves."""
    from service.fleet import publish
    from service.store import opened

    with opened(settings.database_url, schema=True) as engine:
        return publish(engine, settings.models_dir, settings.models_dir / CURRENT, set_by=set_by)
