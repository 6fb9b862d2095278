"""One served version across the fleet: a reload publishes a version in the store; every worker follows it.

- ``publish(engine, models_dir, folder)``: copy the bundle in ``folder`` to ``<models_dir>/versions/<version>``
  (once; a version's bundle never changes afterwards, so a later promotion that replaces ``current`` cannot
  change what a worker loads for it) and make that version the store's desired one. The API's reload and
  ``smematch promote --reload`` call it.
- ``Follower``: what one worker knows of the desired version (polled), which bundles it refused (a broken
  bundle is refused once, not reloaded every poll), and what ``/readyz`` and ``GET /v1/model`` report.

The models directory is shared by the replicas as the store is (a shared volume), so ``versions/<version>``
names the same bundle for every worker.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from matching.errors import ModelError
from matching.rank.rankers import MANIFEST_FILE
from service.bundles import open_bundle
from service.store.serving import DesiredModel, desired_model, set_desired_model

__all__ = ["VERSIONS", "bundle_version", "pin_bundle", "publish", "Follower"]

VERSIONS = "versions"


def bundle_version(folder: Path) -> str:
    """The version a bundle's manifest declares (``ModelError`` when there is no readable manifest)."""
    try:
        return str(json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelError(f"the bundle {folder} has no readable manifest: {type(error).__name__}") from None


def pin_bundle(models_dir: Path, folder: Path) -> tuple[str, str]:
    """(version, its folder relative to ``models_dir``): ``folder`` copied to ``versions/<version>`` unless a
    bundle of that version is there already. The copy is written aside and renamed in whole."""
    version = bundle_version(folder)
    relative = f"{VERSIONS}/{re.sub(r'[^A-Za-z0-9._-]', '_', version)[:150]}"
    target = Path(models_dir) / relative
    if (target / MANIFEST_FILE).exists():
        return version, relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=".pin-", dir=target.parent))
    try:
        shutil.copytree(folder, fresh, dirs_exist_ok=True)
        try:
            fresh.rename(target)
        except OSError:  # another worker pinned the same version meanwhile: theirs is the same bundle
            if not (target / MANIFEST_FILE).exists():
                raise
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return version, relative


def publish(engine: Engine, models_dir: Path, folder: Path, *, set_by: str | None = None,
            check: bool = True) -> DesiredModel:
    """Pin the bundle in ``folder`` and make its version the one every worker serves.

    ``check``: load the bundle first (manifest, scikit-learn version, feature names, smoke prediction), so a
    broken bundle is refused here; the API's reload has checked it already on the live catalogue."""
    if check:
        open_bundle(folder)
    version, relative = pin_bundle(models_dir, folder)
    return set_desired_model(engine, version, relative, set_by=set_by)


@dataclass
class Follower:
    """One worker's view of the desired version; ``poll`` refreshes it, ``target`` says what to load."""

    models_dir: Path
    desired: DesiredModel | None = None
    refused: dict[tuple[str, str, object], str] = field(default_factory=dict)  # (version, bundle, set_at) -> why

    def poll(self, engine: Engine) -> DesiredModel | None:
        self.desired = desired_model(engine)
        return self.desired

    def target(self, served_version: str) -> Path | None:
        """The bundle folder to load to serve the desired version, or None (nothing set, served, or refused)."""
        desired = self.desired
        if desired is None or desired.version == served_version:
            return None
        if _key(desired) in self.refused:
            return None
        return Path(self.models_dir) / desired.bundle

    def refuse(self, reason: str) -> None:
        if self.desired is not None:
            self.refused[_key(self.desired)] = reason

    def report(self, served_version: str) -> dict[str, Any]:
        """``desired_version`` (None: no reload set one, this worker's own model stands) and whether it
        matches what this worker serves; ``refused`` says why a desired bundle could not be served."""
        desired = self.desired
        reason = None if desired is None else self.refused.get(_key(desired))
        return {"desired_version": None if desired is None else desired.version,
                "matches_desired": desired is None or desired.version == served_version,
                "desired_refused": reason}


def _key(desired: DesiredModel) -> tuple[str, str, object]:
    """A refusal holds for one publication: publishing the same version again (a repaired bundle) retries."""
    return desired.version, desired.bundle, desired.set_at
