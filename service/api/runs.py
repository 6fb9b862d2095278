"""Recent training runs for the analyst view: from the MLflow tracking store when there is one, else from the
model bundles that every training run exports under ``<models_dir>/runs/<run_id>``.

- MLflow: ``training.api.compare_runs`` (imported only when asked: importing mlflow is slow), used when
  the tracking store exists (a ``sqlite:///`` file that is there, or a server URL). Any failure falls back to
  the bundles, so a broken or unreachable tracking server never breaks the page.
- Bundles: each ``manifest.json`` holds the run's key metrics (model and baselines), its version, ``run_id``
  and ``trained_at``; ``<models_dir>/current`` counts too when it is not a copy of a listed run.

Inputs: ``Settings`` (tracking URI, experiment, registered model name, models folder) and a limit.
Outputs: a ``RunsReport``: where the runs were read and the runs, newest first, with finite metrics only.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.settings import Settings

__all__ = ["Run", "RunsReport", "recent_runs", "runs_from_bundles", "runs_from_mlflow", "tracking_store_exists"]

log = logging.getLogger("smematch.web")  # the console's analyst view reads these runs
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str | None
    version: str
    started: str | None  # ISO 8601, UTC
    aliases: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "version": self.version, "started": self.started, "aliases": self.aliases,
                "metrics": dict(self.metrics)}


@dataclass(frozen=True, slots=True)
class RunsReport:
    source: str  # "mlflow", "bundles" or "none"
    runs: list[Run]


def _finite(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for name, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[str(name)] = float(value)
    return out


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _run_of(manifest: dict[str, Any], folder: Path) -> Run:
    return Run(run_id=str(manifest.get("run_id") or folder.name), version=str(manifest.get("version") or folder.name),
               started=manifest.get("trained_at") if isinstance(manifest.get("trained_at"), str) else None,
               metrics=_finite(manifest.get("metrics") or {}))


def runs_from_bundles(models_dir: Path, *, limit: int) -> list[Run]:
    """Runs read from bundle manifests (unreadable ones are skipped), newest first."""
    runs: list[Run] = []
    folder = Path(models_dir) / "runs"
    try:
        children = list(folder.iterdir()) if folder.is_dir() else []
    except OSError:  # an unreadable folder shows as no runs, not as a server error
        children = []
    for child in children:
        manifest = _read_manifest(child) if child.is_dir() else None
        if manifest is not None:
            runs.append(_run_of(manifest, child))
    current = _read_manifest(Path(models_dir) / "current")
    if current is not None and str(current.get("version")) not in {run.version for run in runs}:
        runs.append(_run_of(current, Path(models_dir) / "current"))
    runs.sort(key=lambda run: run.started or "", reverse=True)
    return runs[:limit]


def tracking_store_exists(tracking_uri: str) -> bool:
    """True for a tracking server URL, or a SQLite store whose file exists; never creates anything."""
    if tracking_uri.startswith("sqlite:"):
        path = tracking_uri.split("sqlite:///", 1)[-1]
        return bool(path) and path != ":memory:" and Path(path).is_file()
    return tracking_uri.startswith(("http://", "https://", "databricks", "postgresql", "mysql"))


def runs_from_mlflow(settings: Settings, *, limit: int) -> list[Run]:
    """Finished runs of the settings' experiment, newest first (raises whatever MLflow raises)."""
    from training.api import compare_runs

    frame = compare_runs(tracking_uri=settings.mlflow_tracking_uri, experiment=settings.mlflow_experiment,
                         registered_model_name=settings.registered_model_name, limit=limit)
    info = {"run", "run_id", "started", "version", "aliases", "learning_rate", "max_iter", "ipw", "n_outcomes",
            "data_digest"}
    runs = []
    for row in frame.to_dict(orient="records"):
        metrics = _finite({k: v for k, v in row.items() if k not in info})
        started = str(row.get("started") or "") or None
        version = str(row.get("version") or "")
        runs.append(Run(run_id=str(row.get("run_id") or ""), version=f"v{version}" if version else str(row["run"]),
                        started=started.replace(" ", "T") + "Z" if started else None,
                        aliases=str(row.get("aliases") or ""), metrics=metrics))
    return runs


def recent_runs(settings: Settings, *, limit: int = 10) -> RunsReport:
    """The ``limit`` most recent runs, from MLflow when it is there and has some, else from the bundles."""
    if tracking_store_exists(settings.mlflow_tracking_uri):
        try:
            found = runs_from_mlflow(settings, limit=limit)
            if found:
                return RunsReport("mlflow", found)
        except Exception as error:  # unreachable server, corrupt store, training package changed: use bundles
            log.warning("cannot read runs from MLflow; using the bundles", extra={"exception": type(error).__name__})
    runs = runs_from_bundles(settings.models_dir, limit=limit)
    return RunsReport("bundles" if runs else "none", runs)
