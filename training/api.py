"""What callers use: fit a ranker on tables (no MLflow), or train, log, register and maybe promote one.

- ``fit_ranker(tables, ...) -> FitResult``: pairs, model, evaluation beside the baselines, selection-bias report;
  nothing written anywhere (quick evaluation on any tables, e.g. ``smematch evaluate``).
- ``train_from_tables(tables, *, tracking_uri, artifact_root, models_dir, ...) -> TrainingResult``: the same,
  then one MLflow run (params, metrics, datasets with our own digests, plots, evaluation snapshot, bundle, the
  pyfunc model with signature and input example), the bundle under ``models/runs/<run_id>``, and only after all
  that succeeded a registered version with the alias ``challenger``. The first version becomes champion; with
  ``promote_if_better`` the promotion rule of ``training.registry`` decides.
- ``train_from_folder(folder, ...)``: reads a data folder, and the simulator's ``logging_policy.csv`` and
  ``ground_truth.parquet`` when they are there.
- ``promote_challenger(...)`` and ``compare_runs(...)`` back ``smematch promote`` and ``smematch compare``.

Settings (tracking URI, artifact root, model name, models folder) are arguments: ``training`` knows no service.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from matching import LearnedRanker, save_bundle
from matching.records import SECTORS
from matching.tables.context import problem_frame as context_frame
from matching.tables.files import Tables, read_tables
from training.bias import selection_bias
from training.config import PromotionConfig, TrainingConfig, load_config
from training.dataset import PairData, build_pairs
from training.digest import frame_digest, tables_digest
from training.evaluate import EvaluationSnapshot, build_snapshot, evaluate_rankers, standard_rankers
from training.train import fit_learned_ranker

__all__ = [
    "FitResult",
    "TrainingResult",
    "fit_ranker",
    "train_from_tables",
    "train_from_folder",
    "read_extras",
    "promote_challenger",
    "compare_runs",
]

Progress = Callable[[str], None]
KEY_COMPARED = ("ndcg_at_5", "ndcg_at_5_text_baseline", "ndcg_at_5_popularity", "ndcg_at_5_oracle",
                "gt_ndcg_at_5", "gt_ndcg_at_5_text_baseline", "map_at_5", "mrr")


@dataclass(slots=True)
class FitResult:
    ranker: LearnedRanker
    data: PairData
    snapshot: EvaluationSnapshot
    metrics: dict[str, float]
    data_digest: str
    config: TrainingConfig
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class TrainingResult:
    run_id: str
    experiment_id: str
    version: str
    bundle_dir: Path
    fit: FitResult
    promotion: Any | None  # training.registry.Promotion

    @property
    def metrics(self) -> dict[str, float]:
        return self.fit.metrics


def _noop(stage: str) -> None:
    return None


def fit_ranker(tables: Tables, *, config: TrainingConfig | None = None, propensities: pd.DataFrame | None = None,
               ground_truth: pd.DataFrame | None = None, version: str | None = None,
               progress: Progress | None = None, soft_rules: tuple[str, ...] = ()) -> FitResult:
    """Build pairs, fit and calibrate, evaluate beside the baselines; no MLflow, nothing written.
    ``soft_rules``: eligibility rules scored but not enforced (the ranker carries them to serving)."""
    config = config or load_config()
    with threadpool_limits(limits=config.model.threads or None):
        return _fit_ranker(tables, config=config, propensities=propensities, ground_truth=ground_truth,
                           version=version, progress=progress, soft_rules=soft_rules)


def _fit_ranker(tables: Tables, *, config: TrainingConfig, propensities: pd.DataFrame | None,
                ground_truth: pd.DataFrame | None, version: str | None, progress: Progress | None,
                soft_rules: tuple[str, ...] = ()) -> FitResult:
    say = progress or _noop
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    say("digesting the tables")
    digest = tables_digest(tables.frames())
    say("building labelled pairs")
    data = build_pairs(tables, config=config, propensities=propensities, soft_rules=soft_rules)
    seconds["pairs"] = time.perf_counter() - clock
    say(f"fitting on {int((data.pairs['split'] == 'train').sum()):,} pairs")
    started = time.perf_counter()
    ranker = fit_learned_ranker(data, config=config, version=version or f"ranker-{digest[:10]}")
    seconds["fit"] = time.perf_counter() - started
    say("evaluating beside the baselines")
    started = time.perf_counter()
    snapshot = build_snapshot(data, candidates=config.evaluation.candidates, ground_truth=ground_truth)
    metrics = evaluate_rankers(snapshot, standard_rankers(ranker, snapshot), ks=config.evaluation.ks)
    metrics.update(_probability_metrics(ranker, snapshot))
    metrics.update(selection_bias(data.pairs[data.pairs["split"] == "train"], data.matcher.catalogue_.ids,
                                  data.matcher.catalogue_.kinds))
    seconds["evaluate"] = time.perf_counter() - started
    seconds["total"] = time.perf_counter() - clock
    return FitResult(ranker=ranker, data=data, snapshot=snapshot, metrics=metrics, data_digest=digest,
                     config=config, seconds=seconds)


def _probability_metrics(ranker: LearnedRanker, snapshot: EvaluationSnapshot) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    logged = snapshot.logged
    if len(logged) == 0:
        return {}
    predicted = ranker.score(logged[list(ranker.feature_names)])
    solved = logged["solved"].to_numpy()
    out = {"brier_score": float(brier_score_loss(solved, predicted)),
           "log_loss": float(log_loss(solved, np.clip(predicted, 1e-6, 1 - 1e-6), labels=[0, 1]))}
    if len(set(solved)) == 2:
        out["roc_auc"] = float(roc_auc_score(solved, predicted))
    return out


def read_extras(folder: str | Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The simulator's ``logging_policy.csv`` (propensities) and ``ground_truth.parquet``, when present."""
    folder = Path(folder)
    policy = folder / "logging_policy.csv"
    truth = folder / "ground_truth.parquet"
    propensities = pd.read_csv(policy, dtype={"outcome_id": str}) if policy.is_file() else None
    ground_truth = pd.read_parquet(truth) if truth.is_file() else None
    return propensities, ground_truth


def train_from_folder(folder: str | Path, **options: Any) -> TrainingResult:
    propensities, ground_truth = read_extras(folder)
    options.setdefault("source", str(Path(folder).resolve()))
    return train_from_tables(read_tables(folder), propensities=propensities, ground_truth=ground_truth, **options)


def train_from_tables(
    tables: Tables,
    *,
    tracking_uri: str,
    artifact_root: str | Path,
    models_dir: str | Path,
    experiment: str = "smematch",
    registered_model_name: str = "smematch-ranker",
    config: TrainingConfig | None = None,
    propensities: pd.DataFrame | None = None,
    ground_truth: pd.DataFrame | None = None,
    promote_if_better: bool = False,
    source: str = "tables",
    progress: Progress | None = None,
) -> TrainingResult:
    """Fit, log one MLflow run, export the bundle, then register (alias challenger) and maybe promote."""
    from training.registry import promote, register_version
    from training.tracking import ensure_store, experiment_id

    say = progress or _noop
    config = config or load_config()
    say("opening the MLflow store")
    client = ensure_store(tracking_uri, artifact_root)  # an unreachable store fails before any work
    fit = fit_ranker(tables, config=config, propensities=propensities, ground_truth=ground_truth, progress=say)
    exp_id = experiment_id(client, experiment, artifact_root)
    models = Path(models_dir)
    import mlflow

    with _tracking_uri(mlflow, tracking_uri):  # the registry resolves logged models through the fluent URI too
        run_id, bundle_dir, model_uri, model_id = _log_run(fit, tables, experiment_id=exp_id, models_dir=models,
                                                           source=source, say=say)
        say("registering the model")
        tags = {"run_id": run_id, "data_digest": fit.data_digest,
                "ndcg_at_5": f"{fit.metrics.get('ndcg_at_5', 0):.6f}"}
        version = register_version(client, registered_model_name, source=model_uri, run_id=run_id, tags=tags,
                                   model_id=model_id)
        promotion = None
        if promote_if_better or not _has_alias(client, registered_model_name, "champion"):
            say("deciding on promotion")
            promotion = promote(client, registered_model_name, config=config.promotion, models_dir=models,
                                version=version)
    return TrainingResult(run_id=run_id, experiment_id=exp_id, version=version, bundle_dir=bundle_dir, fit=fit,
                          promotion=promotion)


def _has_alias(client: Any, name: str, alias: str) -> bool:
    try:
        client.get_model_version_by_alias(name, alias)
    except Exception:
        return False
    return True


def _log_run(fit: FitResult, tables: Tables, *, experiment_id: str, models_dir: Path, source: str, say: Progress
             ) -> tuple[str, Path, str, str]:
    """One MLflow run with everything; returns run id, bundle folder, model URI and logged model id."""
    import mlflow

    from training.pyfunc import RankerModel, input_example, model_signature, write_artifacts
    from training.registry import BUNDLE_PATH, SNAPSHOT_PATH
    from training.tracking import git_commit

    data, metrics = fit.data, fit.metrics
    bundle_dir: Path | None = None
    run_name = f"train {Path(source).name or source}, evaluated from {data.cutoff.date().isoformat()}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run, \
            tempfile.TemporaryDirectory() as scratch:
        run_id = run.info.run_id
        try:
            say("logging the run")
            work = Path(scratch)
            mlflow.set_tags({"mlflow.source.git.commit": git_commit(), "data_digest": fit.data_digest,
                             "data_source": source, "git_commit": git_commit()})
            mlflow.log_params({**fit.config.flat(), "n_enterprises": len(tables.enterprises),
                               "n_problems": len(tables.problems), "n_institutions": len(tables.institutions),
                               "n_outcomes": len(tables.outcomes), "n_features": len(fit.ranker.feature_names),
                               "cutoff": str(data.cutoff), "estimator": "HistGradientBoostingClassifier+calibrated"})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
            mlflow.log_metrics({f"seconds_{k}": v for k, v in fit.seconds.items()})
            _log_datasets(mlflow, fit, source)
            say("drawing plots")
            with threadpool_limits(limits=fit.config.model.threads or None):
                plots = _plots(fit, work)
            for path in plots:
                mlflow.log_artifact(str(path), artifact_path="plots")
            (work / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True), encoding="utf-8")
            mlflow.log_artifact(str(work / "metrics.json"))
            from training.evaluate import save_snapshot

            mlflow.log_artifacts(str(save_snapshot(fit.snapshot, work / SNAPSHOT_PATH)), artifact_path=SNAPSHOT_PATH)
            say("exporting the bundle")
            fit.ranker.version = f"run-{run_id[:12]}"
            bundle_dir = save_bundle(fit.ranker, models_dir / "runs" / run_id, metrics=_key_metrics(metrics),
                                     data_digest=fit.data_digest, extra={"run_id": run_id})
            mlflow.log_artifacts(str(bundle_dir), artifact_path=BUNDLE_PATH)
            say("logging the MLflow model")
            artifacts = write_artifacts(work / "pyfunc", institutions=tables.institutions, outcomes=tables.outcomes,
                                        problems=context_frame(tables.problems, tables.enterprises),
                                        regions=list(data.matcher.regions))
            example = input_example(_common(tables.enterprises["sector"], SECTORS[0]),
                                    _common(tables.enterprises["region"], data.matcher.regions[0]))
            with warnings.catch_warnings():  # MLflow's hint about integer output columns: they never hold NaN
                warnings.filterwarnings("ignore", message="Hint: Inferred schema", category=UserWarning)
                info = mlflow.pyfunc.log_model(
                    name="model", python_model=RankerModel(), artifacts={"bundle": str(bundle_dir), **artifacts},
                    signature=model_signature(), input_example=example, pip_requirements=_requirements())
        except BaseException:
            if bundle_dir is not None:
                shutil.rmtree(bundle_dir, ignore_errors=True)
            raise
    return run_id, bundle_dir, info.model_uri, info.model_id


@contextmanager
def _tracking_uri(mlflow: Any, uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` for a while; MLflow also exports it as MLFLOW_TRACKING_URI, so put
    the process's environment back afterwards."""
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved)  # None unsets both the URI and the variable
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)


def _common(values: pd.Series, fallback: str) -> str:
    counts = values.astype(str).value_counts()
    return str(counts.index[0]) if len(counts) else fallback


def _key_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if "/" not in k and not k.startswith("bias_") and np.isfinite(v)}


def _requirements() -> list[str]:
    import joblib
    import mlflow
    import pyarrow
    import rapidfuzz
    import scipy
    import sklearn

    return [f"mlflow=={mlflow.__version__}", f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}",
            f"numpy=={np.__version__}", f"scipy=={scipy.__version__}", f"rapidfuzz=={rapidfuzz.__version__}",
            f"pyarrow=={pyarrow.__version__}", f"joblib=={joblib.__version__}"]


def _log_datasets(mlflow: Any, fit: FitResult, source: str) -> None:
    """The training and evaluation pairs as MLflow datasets, each with our sha256 over all its rows."""
    columns = ["problem_id", "institution_id", "decided_at", "status", "gain", "solved", "propensity", "weight",
               "split"]
    for name, parts, context in (("training_pairs", ("train", "calibration"), "training"),
                                 ("evaluation_pairs", ("evaluation",), "evaluation")):
        frame = fit.data.pairs.loc[fit.data.pairs["split"].isin(parts), columns].reset_index(drop=True)
        digest = frame_digest(frame)
        with warnings.catch_warnings():  # MLflow's guesses about the source kind and integer columns: not ours
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(frame, source=source, name=name, targets="solved", digest=digest[:32])
            mlflow.log_input(dataset, context=context, tags={"sha256": digest, "rows": str(len(frame))})
        mlflow.set_tag(f"{name}_sha256", digest)


def _plots(fit: FitResult, folder: Path) -> list[Path]:
    from sklearn.inspection import permutation_importance

    from training.plots import plot_calibration, plot_importance, plot_ndcg

    ks = tuple(sorted(set(fit.config.evaluation.ks) | {5, 10}))
    paths = [plot_ndcg(fit.metrics, ks, folder / "ndcg_at_k.png")]
    logged = fit.snapshot.logged
    if len(logged) and logged["solved"].nunique() == 2:
        sample = logged.sample(n=min(len(logged), 4000), random_state=fit.config.seed)
        names = list(fit.ranker.feature_names)
        result = permutation_importance(fit.ranker.estimator, sample[names], sample["solved"].to_numpy(),
                                        scoring="roc_auc", n_repeats=3, random_state=fit.config.seed, n_jobs=1)
        importance = pd.Series(result.importances_mean, index=names)
        paths.append(plot_importance(importance, folder / "feature_importance.png"))
        predicted = fit.ranker.score(logged[names])
        paths.append(plot_calibration(predicted, logged["solved"].to_numpy(), folder / "calibration.png"))
    return paths


def promote_challenger(*, tracking_uri: str, registered_model_name: str, models_dir: str | Path,
                       config: PromotionConfig | None = None, version: str | None = None) -> Any:
    """Apply the promotion rule to the challenger (or ``version``); returns a ``registry.Promotion``."""
    from training.registry import promote
    from training.tracking import client_for

    client = client_for(tracking_uri)
    return promote(client, registered_model_name, config=config or load_config().promotion,
                   models_dir=models_dir, version=version)


def compare_runs(*, tracking_uri: str, experiment: str, registered_model_name: str, limit: int = 20
                 ) -> pd.DataFrame:
    """Finished runs of ``experiment``, newest first: key metrics, a few params, data digest, aliases."""
    from training.tracking import client_for

    client = client_for(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return pd.DataFrame(columns=["run", "run_id", "started", "version", "aliases", *KEY_COMPARED])
    runs = client.search_runs([found.experiment_id], filter_string="attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], max_results=limit)
    versions: dict[str, tuple[str, str]] = {}
    try:
        for mv in client.search_model_versions(f"name = '{registered_model_name}'"):
            full = client.get_model_version(registered_model_name, mv.version)
            versions[full.run_id] = (str(full.version), ",".join(sorted(full.aliases)))
    except Exception:
        versions = {}
    rows = []
    for run in runs:
        version, aliases = versions.get(run.info.run_id, ("", ""))
        row: dict[str, Any] = {
            "run": run.info.run_id[:8], "run_id": run.info.run_id,
            "started": pd.Timestamp(run.info.start_time, unit="ms").strftime("%Y-%m-%d %H:%M:%S"),
            "version": version, "aliases": aliases,
            **{name: run.data.metrics.get(name, np.nan) for name in KEY_COMPARED},
            "learning_rate": run.data.params.get("model.learning_rate", ""),
            "max_iter": run.data.params.get("model.max_iter", ""),
            "ipw": run.data.params.get("weighting.inverse_propensity", ""),
            "n_outcomes": run.data.params.get("n_outcomes", ""),
            "data_digest": run.data.tags.get("data_digest", "")[:12],
        }
        rows.append(row)
    return pd.DataFrame(rows)
