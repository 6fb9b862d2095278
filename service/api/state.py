"""The served model: a fitted ``Matcher`` and its ranker, swapped atomically as one immutable ``Served`` value.

Requests read ``ModelState.current`` once and use that snapshot to the end, so a reload or a catalogue rebuild
never mixes two models in one response. Writers (``reload``, ``rebuild``) are serialised by a lock and only
swap after the new value has passed its checks; on any failure the old value keeps serving.

- ``reload(folder)``: ``service.bundles.open_bundle`` (manifest schema, checksum before unpickling, scikit-learn
  version, feature names, smoke prediction) and then one real recommendation through the live catalogue, before
  the swap.
- ``rebuild(tables)``: refit the catalogue (institution edits, new outcomes for the track record) keeping the
  ranker.

Inputs: ``matching.tables.files.Tables`` from the store and bundle folders. Outputs: ``Served`` snapshots.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from matching import LearnedRanker, Matcher, ModelError, Problem, Ranker
from matching.tables.context import fit_matcher
from matching.tables.files import Tables
from service.bundles import CURRENT, open_bundle, shown

__all__ = ["Served", "ModelState", "CURRENT", "SMOKE_TEXT"]

SMOKE_TEXT = "need a bank loan to buy new equipment 需要贷款购买新设备"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Served:
    """One consistent thing to serve: the matcher (catalogue + ranker) and where the ranker came from."""

    matcher: Matcher
    source: Path | None
    loaded_at: datetime = field(default_factory=_now)
    catalogue_built_at: datetime = field(default_factory=_now)
    degraded: str | None = None  # why this is not what was meant to be served (start-up fallback), if so
    _regions: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    @property
    def region_set(self) -> frozenset[str]:
        return self._regions

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regions", frozenset(self.matcher.regions))

    @property
    def ranker(self) -> Ranker:
        return self.matcher.ranker_

    @property
    def version(self) -> str:
        return self.matcher.model_version

    def describe(self, models_dir: Path | None = None) -> dict[str, Any]:
        """What is served; ``source`` relative to ``models_dir`` when given (no server paths in responses)."""
        manifest = dict(getattr(self.ranker, "manifest", {}) or {})
        source = None if self.source is None else shown(self.source, models_dir) if models_dir else str(self.source)
        return {
            "version": self.version,
            "ranker": str(getattr(self.ranker, "name", type(self.ranker).__name__)),
            "source": source,
            "degraded": self.degraded,
            "metrics": dict(manifest.get("metrics") or {}),
            "trained_at": manifest.get("trained_at"),
            "data_digest": manifest.get("data_digest"),
            "sklearn_version": manifest.get("sklearn_version"),
            "loaded_at": self.loaded_at,
            "institutions": len(self.matcher.catalogue_),
            "catalogue_built_at": self.catalogue_built_at,
        }


def smoke_test(matcher: Matcher) -> None:
    """One real recommendation through ``matcher``: the ranker scores real features of the live catalogue."""
    regions = matcher.regions
    problem = Problem(text=SMOKE_TEXT, sector="manufacturing", region=regions[0] if regions else None,
                      amount=1_000_000.0)
    try:
        [result] = matcher.recommend(problem, k=5)
    except Exception as error:  # a model that fails here must not be served, whatever it raised
        raise ModelError(f"the model fails a recommendation on the live catalogue: {type(error).__name__}: "
                         f"{error}") from None
    scores = np.array([item.score for item in result.institutions], dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        raise ModelError("the model returns scores that are not finite numbers on the live catalogue")


class ModelState:
    """Holds the current ``Served`` value; ``None`` until the lifespan has opened the model."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.models_dir = Path(models_dir) if models_dir is not None else Path.cwd()
        self._served: Served | None = None
        self._write = threading.Lock()

    @property
    def ready(self) -> bool:
        return self._served is not None

    @property
    def current(self) -> Served:
        served = self._served
        if served is None:
            raise RuntimeError("the model is not loaded yet")
        return served

    def open(self, tables: Tables, ranker: Ranker, source: Path | None, degraded: str | None = None) -> Served:
        with self._write:
            self._served = Served(matcher=fit_matcher(tables, ranker), source=source, degraded=degraded)
            return self._served

    def reload(self, folder: Path, *, expected_version: str | None = None) -> tuple[Served, Served]:
        """Load and check the bundle in ``folder`` (holding ``expected_version`` when given), then swap;
        returns (old, new). Raises ModelError."""
        with self._write:
            old = self.current
            ranker: LearnedRanker = open_bundle(folder, self.models_dir)
            if expected_version is not None and ranker.version != expected_version:
                raise ModelError(f"the bundle {folder} holds version {ranker.version!r}, not {expected_version!r}")
            matcher = old.matcher.with_ranker(ranker)
            smoke_test(matcher)
            new = Served(matcher=matcher, source=folder, catalogue_built_at=old.catalogue_built_at)
            self._served = new
            return old, new

    def rebuild(self, tables: Tables) -> Served:
        """Refit the catalogue from ``tables`` with the current ranker, then swap."""
        with self._write:
            old = self.current
            matcher = fit_matcher(tables, old.ranker)
            new = replace(old, matcher=matcher, catalogue_built_at=_now())
            self._served = new
            return new
