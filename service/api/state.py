"""The served model: a fitted ``Matcher`` and its ranker, swapped atomically as one immutable ``Served`` value.

Requests read ``ModelState.current`` once and use that snapshot to the end, so a reload or a catalogue rebuild
never mixes two models in one response. Writers (``reload``, ``rebuild``) are serialised by a lock and only
swap after the new value has passed its checks; on any failure the old value keeps serving.

- ``reload(folder)``: ``matching.load_bundle`` (manifest, scikit-learn version, feature names, smoke prediction)
  and then one real recommendation through the live catalogue, before the swap.
- ``rebuild(tables)``: refit the catalogue (institution edits, new outcomes for the track record) keeping the
  ranker.

Inputs: ``matching.tables.Tables`` from the store and bundle folders. Outputs: ``Served`` snapshots.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from matching import BaselineRanker, LearnedRanker, Matcher, ModelError, Problem, Ranker, load_bundle
from matching.context import fit_matcher
from matching.ranking import MANIFEST_FILE
from matching.tables import Tables

__all__ = ["Served", "ModelState", "initial_ranker", "CURRENT", "SMOKE_TEXT"]

CURRENT = "current"
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

    def describe(self) -> dict[str, Any]:
        manifest = dict(getattr(self.ranker, "manifest", {}) or {})
        return {
            "version": self.version,
            "ranker": str(getattr(self.ranker, "name", type(self.ranker).__name__)),
            "source": str(self.source) if self.source is not None else None,
            "metrics": dict(manifest.get("metrics") or {}),
            "trained_at": manifest.get("trained_at"),
            "data_digest": manifest.get("data_digest"),
            "sklearn_version": manifest.get("sklearn_version"),
            "loaded_at": self.loaded_at,
            "institutions": len(self.matcher.catalogue_),
            "catalogue_built_at": self.catalogue_built_at,
        }


def initial_ranker(models_dir: Path) -> tuple[Ranker, Path | None]:
    """The bundle in ``<models_dir>/current`` when one exists (it must load), else the baseline ranker."""
    folder = Path(models_dir) / CURRENT
    if (folder / MANIFEST_FILE).exists():
        return load_bundle(folder), folder
    return BaselineRanker(), None


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

    def __init__(self) -> None:
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

    def open(self, tables: Tables, ranker: Ranker, source: Path | None) -> Served:
        with self._write:
            self._served = Served(matcher=fit_matcher(tables, ranker), source=source)
            return self._served

    def reload(self, folder: Path, *, expected_version: str | None = None) -> tuple[Served, Served]:
        """Load and check the bundle in ``folder`` (holding ``expected_version`` when given), then swap;
        returns (old, new). Raises ModelError."""
        with self._write:
            old = self.current
            ranker: LearnedRanker = load_bundle(folder)
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
