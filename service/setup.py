"""Making the embedded defaults ready to serve (``smematch setup``, what ``make run`` calls).

- ``prepare_store``: loads the data folder (default: the sample data) into the store when the store holds no
  enterprises, and creates a first caseworker and admin API key when there is none (kept in
  ``.smematch-keys``, readable by the owner only).
- ``train_first_model``: trains, registers and promotes the first model when there is no bundle in
  ``models/current``.

Each step is skipped when its result is already there, so running them again costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from matching.rank.rankers import MANIFEST_FILE
from service.bundles import CURRENT
from service.learning import tracking_uri
from service.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from training.api import TrainingResult

__all__ = ["KEYS_FILE", "FIRST_ROLES", "StoreReady", "FirstModel", "prepare_store", "train_first_model"]

KEYS_FILE = ".smematch-keys"
FIRST_ROLES = ("caseworker", "admin")
Progress = Callable[[str], None]


def _quiet(_stage: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class StoreReady:
    where: str  # the store, as ``service.store.describe`` names it
    folder: Path
    loaded: dict[str, int] | None  # rows inserted per table; None when the store already held data
    keys: list[str] = field(default_factory=list)  # "role: key" of the keys created now (shown once)
    keys_file: Path | None = None


@dataclass(frozen=True, slots=True)
class FirstModel:
    manifest: Path  # ``<models_dir>/current/manifest.json``
    result: TrainingResult | None  # None: a bundle was there already

    @property
    def written(self) -> bool:
        return self.manifest.exists()


def prepare_store(settings: Settings, *, data: Path | None = None, db: str | None = None,
                  progress: Progress = _quiet) -> StoreReady:
    """The store at ``db`` (default: the settings') with the data folder ``data`` loaded when it held none, and
    the first API keys created when it had none."""
    from matching.tables.files import read_tables
    from service.store import count_rows, describe, import_tables, opened

    folder = data or settings.data_dir
    url = db or settings.database_url
    with opened(url, schema=True) as engine:
        loaded = None
        if count_rows(engine)["enterprises"] == 0:
            progress(f"Loading {folder} into {describe(url)}")
            summary = import_tables(engine, read_tables(folder))
            loaded = {name: counts.inserted for name, counts in summary.tables.items()}
        keys_file = settings.home / KEYS_FILE
        keys = _first_keys(engine, keys_file)
    return StoreReady(describe(url), folder, loaded, keys, keys_file if keys else None)


def _first_keys(engine: Engine, path: Path) -> list[str]:
    """On a store with no API keys, a key per ``FIRST_ROLES``, written to ``path`` (owner-only, git-ignored) so
    that a new user can sign in to the console right away; returns "role: key" lines, none when keys exist."""
    from service.api.keys import create_key, list_keys

    if list_keys(engine):
        return []
    lines = []
    for role in FIRST_ROLES:
        key, _ = create_key(engine, role, name=f"first {role} (smematch setup)")
        lines.append(f"{role}: {key}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return lines


def train_first_model(settings: Settings, *, data: Path | None = None, progress: Progress = _quiet) -> FirstModel:
    """Train, register and promote a model on the folder ``data`` (default: the settings') when
    ``<models_dir>/current`` holds no bundle."""
    manifest = settings.models_dir / CURRENT / MANIFEST_FILE
    if manifest.exists():
        return FirstModel(manifest, None)
    from training.api import train_from_folder

    result = train_from_folder(
        data or settings.data_dir,
        tracking_uri=tracking_uri(settings),
        artifact_root=settings.mlflow_artifact_root,
        models_dir=settings.models_dir,
        experiment=settings.mlflow_experiment,
        registered_model_name=settings.registered_model_name,
        promote_if_better=True,
        progress=progress,
    )
    return FirstModel(manifest, result)
