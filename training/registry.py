"""The model registry: one registered name, aliases ``challenger`` and ``champion``, promotion with a reason.

Inputs: an ``MlflowClient``, the registered model name, the ``PromotionConfig`` (metric and margin) and the
models folder. Outputs: ``Promotion`` records; side effects on the registry (aliases, version tags) and on
``<models>/current`` (the champion's bundle, swapped in whole).

Promotion rule: the challenger becomes champion when there is no champion, or when, on the challenger's own
evaluation snapshot (logged with its run) and with the champion re-scored on that same snapshot,
``metric(challenger) >= metric(champion) + margin``. A champion whose bundle this code cannot load (another
scikit-learn, other features) cannot be served either, so it is replaced, and the reason says so. Every
decision, either way, is stored as the version tags ``promotion_decision`` and ``promotion_reason``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matching import IncompatibleModel, LearnedRanker, ModelError, load_bundle, save_bundle
from matching.errors import InvalidInput, Issue
from training.config import PromotionConfig
from training.evaluate import evaluate_rankers, load_snapshot, standard_rankers

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["Promotion", "register_version", "promote", "export_current", "SNAPSHOT_PATH", "BUNDLE_PATH"]

SNAPSHOT_PATH = "evaluation_snapshot"  # run artifact folder of the frozen evaluation data
BUNDLE_PATH = "bundle"  # run artifact folder of the matching bundle
CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True, slots=True)
class Promotion:
    promoted: bool
    version: str
    champion_before: str | None
    reason: str
    challenger_value: float | None = None
    champion_value: float | None = None


def register_version(client: MlflowClient, name: str, *, source: str, run_id: str, tags: dict[str, str],
                     model_id: str | None = None) -> str:
    """Create a version of ``name`` and point ``challenger`` at it; on any failure, leave no version behind."""
    try:
        client.get_registered_model(name)
    except Exception:
        try:
            client.create_registered_model(name, description="smematch ranker: P(solved) of (problem, institution)")
        except Exception:
            client.get_registered_model(name)  # created meanwhile by another process
    version = client.create_model_version(name, source=source, run_id=run_id, tags=tags, model_id=model_id)
    try:
        _wait_ready(client, name, version.version)
        client.set_registered_model_alias(name, CHALLENGER, version.version)
    except Exception:
        client.delete_model_version(name, version.version)
        raise
    return str(version.version)


def _wait_ready(client: MlflowClient, name: str, version: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get_model_version(name, version).status
        if status == "READY":
            return
        if status == "FAILED_REGISTRATION" or time.monotonic() > deadline:
            raise ModelError(f"model version {name}/{version} did not become ready (status {status})")
        time.sleep(0.2)


def _alias_version(client: MlflowClient, name: str, alias: str) -> Any | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except Exception:
        return None


def _bundle_of(client: MlflowClient, run_id: str, into: Path) -> LearnedRanker:
    return load_bundle(client.download_artifacts(run_id, BUNDLE_PATH, str(into)))


def promote(client: MlflowClient, name: str, *, config: PromotionConfig, models_dir: str | Path,
            version: str | None = None) -> Promotion:
    """Decide whether the challenger (or ``version``) becomes champion, record why, export it if so."""
    if version is None:
        chosen = _alias_version(client, name, CHALLENGER)
        if chosen is None:
            raise InvalidInput(Issue(column="version", expected=f"a registered model {name!r} with a "
                                     f"{CHALLENGER!r} alias (run `smematch train` first)", found="none"))
    else:
        try:
            chosen = client.get_model_version(name, version)
        except Exception:
            raise InvalidInput(Issue(column="version", expected=f"a version of {name!r}", found=version)) from None
    champion = _alias_version(client, name, CHAMPION)
    before = None if champion is None else str(champion.version)
    with tempfile.TemporaryDirectory(prefix="smematch-promote-") as scratch:
        work = Path(scratch)
        challenger_ranker = _bundle_of(client, chosen.run_id, work / "challenger")
        if champion is None:
            decision = Promotion(True, str(chosen.version), None, "first model: there was no champion")
        elif str(champion.version) == str(chosen.version):
            decision = Promotion(False, str(chosen.version), before, f"version {before} is already the champion")
        else:
            decision = _compare(client, chosen, champion, challenger_ranker, config, work)
        _record(client, name, decision)
        if decision.promoted:
            client.set_registered_model_alias(name, CHAMPION, decision.version)
            export_current(challenger_ranker, Path(models_dir), registered_model=name, version=decision.version,
                           run_id=chosen.run_id)
    return decision


def _compare(client: MlflowClient, chosen: Any, champion: Any, challenger_ranker: LearnedRanker,
             config: PromotionConfig, work: Path) -> Promotion:
    snapshot = load_snapshot(client.download_artifacts(chosen.run_id, SNAPSHOT_PATH, str(work)))
    before = str(champion.version)
    try:
        champion_ranker = _bundle_of(client, champion.run_id, work / "champion")
    except (IncompatibleModel, ModelError) as error:
        return Promotion(True, str(chosen.version), before,
                         f"champion v{before} cannot be loaded by this code, so it cannot be served: {error}")
    rankers = {"challenger": standard_rankers(challenger_ranker, snapshot)["model"],
               "champion": standard_rankers(champion_ranker, snapshot)["model"]}
    metrics = evaluate_rankers(snapshot, rankers, slices=False)
    metric = config.metric
    ours, theirs = metrics.get(f"{metric}_challenger"), metrics.get(f"{metric}_champion")
    if ours is None or theirs is None or ours != ours or theirs != theirs:  # missing or NaN
        return Promotion(False, str(chosen.version), before,
                         f"metric {metric!r} cannot be computed on the challenger's evaluation snapshot")
    needed = theirs + config.margin
    if ours >= needed:
        reason = (f"{metric} {ours:.4f} beats champion v{before} ({theirs:.4f}) by at least the margin "
                  f"{config.margin:g} on the challenger's evaluation snapshot")
        return Promotion(True, str(chosen.version), before, reason, ours, theirs)
    reason = (f"{metric} {ours:.4f} does not beat champion v{before} ({theirs:.4f}) by the margin {config.margin:g} "
              f"(needed >= {needed:.4f}) on the challenger's evaluation snapshot")
    return Promotion(False, str(chosen.version), before, reason, ours, theirs)


def _record(client: MlflowClient, name: str, decision: Promotion) -> None:
    tags = {"promotion_decision": "promoted" if decision.promoted else "not promoted",
            "promotion_reason": decision.reason[:4900],
            "promotion_decided_at": datetime.now(UTC).isoformat(timespec="seconds")}
    if decision.challenger_value is not None:
        tags["promotion_challenger_value"] = f"{decision.challenger_value:.6f}"
        tags["promotion_champion_value"] = f"{decision.champion_value:.6f}"
    for key, value in tags.items():
        client.set_model_version_tag(name, decision.version, key, value)


def export_current(ranker: LearnedRanker, models_dir: Path, *, registered_model: str, version: str,
                   run_id: str) -> Path:
    """Write the bundle to ``<models_dir>/current``, swapped in whole (a reader never sees half of it)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    manifest = dict(ranker.manifest)
    extra = {k: v for k, v in manifest.items()
             if k not in {"version", "feature_names", "escalate_below", "metrics", "data_digest", "sklearn_version"}}
    extra.update(registered_model=registered_model, registered_version=version, run_id=run_id)
    fresh = Path(tempfile.mkdtemp(prefix=".current-", dir=models_dir))
    save_bundle(ranker, fresh, metrics=manifest.get("metrics"), data_digest=manifest.get("data_digest"),
                extra=extra)
    current = models_dir / "current"
    retired = models_dir / f".retired-{time.time_ns()}"
    if current.exists():
        current.rename(retired)
    fresh.rename(current)
    shutil.rmtree(retired, ignore_errors=True)
    return current
