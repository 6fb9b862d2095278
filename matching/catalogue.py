"""The institutions as arrays the engine can score against: ids, kinds, served sectors/regions as boolean
matrices, lending ranges, capacity and load, profile categories and the text index.

Built once per ``Matcher.fit`` from an institutions frame (columns of the table contract in
``matching.records``); everything per-problem is vectorised against these arrays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.errors import InvalidInput, Issue
from matching.normalise import normalize, readable_terms
from matching.records import INSTITUTION_KINDS, LENDER_KINDS, SECTORS
from matching.retrieve import TextIndex
from matching.understand.lexicon import CATEGORY_KIND_PRIOR, CategoryDetector

__all__ = ["Catalogue", "build_catalogue", "as_tuple"]

REQUIRED = ("institution_id", "name", "kind", "description")


def as_tuple(value: object) -> tuple[str, ...]:
    """A served-sectors/regions cell as a tuple: tuples/lists pass, strings split on ';', empty means all."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(";") if part.strip())
    if isinstance(value, Iterable):
        return tuple(str(part) for part in value if str(part).strip())
    return ()


@dataclass(slots=True)
class Catalogue:
    ids: np.ndarray
    names: np.ndarray
    kinds: np.ndarray  # index into INSTITUTION_KINDS
    descriptions: np.ndarray
    active: np.ndarray
    capacity: np.ndarray
    load: np.ndarray
    min_amount: np.ndarray
    max_amount: np.ndarray
    is_lender: np.ndarray
    regions: tuple[str, ...]  # every district the catalogue names
    region_positions: dict[str, int]  # district -> its index in ``regions``
    serves_region: np.ndarray  # (institutions x regions) bool; rows of all True serve everywhere
    region_explicit: np.ndarray  # institution lists its regions
    serves_sector: np.ndarray  # (institutions x SECTORS) bool
    sector_explicit: np.ndarray
    categories: np.ndarray  # (institutions x CATEGORIES) confidence from the profile text
    index: TextIndex
    position: dict[str, int]
    terms: list[frozenset[str]]  # readable profile terms, to say which terms a problem shares
    category_fit: np.ndarray  # (CATEGORIES x institutions) float32: kind prior and profile overlap, for retrieval

    def __len__(self) -> int:
        return len(self.ids)


def build_catalogue(
    institutions: pd.DataFrame,
    *,
    detector: CategoryDetector,
    load: pd.Series | None = None,
    extra_regions: Iterable[str] = (),
) -> Catalogue:
    missing = [c for c in REQUIRED if c not in institutions.columns]
    if missing:
        raise InvalidInput(
            [Issue(column=c, expected="a column of the institutions table", found="missing") for c in missing]
        )
    if len(institutions) == 0:
        raise InvalidInput(Issue(column="institution_id", expected="at least one institution", found="none"))
    frame = institutions.reset_index(drop=True)
    kind_index = {k: i for i, k in enumerate(INSTITUTION_KINDS)}
    unknown = sorted(set(frame["kind"]) - set(kind_index))
    if unknown:
        raise InvalidInput(
            Issue(column="kind", expected=f"one of {', '.join(INSTITUTION_KINDS)}", found=", ".join(unknown))
        )
    n = len(frame)
    ids = frame["institution_id"].astype(str).to_numpy()
    kinds = frame["kind"].map(kind_index).to_numpy(dtype=np.int64)
    sectors = [as_tuple(v) for v in frame.get("sectors", pd.Series([()] * n))]
    regions_served = [as_tuple(v) for v in frame.get("regions", pd.Series([()] * n))]
    regions = tuple(sorted({r for served in regions_served for r in served} | set(extra_regions)))
    region_pos = {r: i for i, r in enumerate(regions)}
    serves_region = np.zeros((n, len(regions)), dtype=bool)
    for row, served in enumerate(regions_served):
        if served:
            serves_region[row, [region_pos[r] for r in served]] = True
        else:
            serves_region[row, :] = True
    sector_pos = {s: i for i, s in enumerate(SECTORS)}
    serves_sector = np.zeros((n, len(SECTORS)), dtype=bool)
    for row, served in enumerate(sectors):
        known = [sector_pos[s] for s in served if s in sector_pos]
        if known:
            serves_sector[row, known] = True
        else:
            serves_sector[row, :] = True

    def numeric(column: str, default: float) -> np.ndarray:
        if column not in frame:
            return np.full(n, default, dtype=np.float64)
        return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)

    active = frame["active"].astype(bool).to_numpy() if "active" in frame else np.ones(n, dtype=bool)
    capacity = np.nan_to_num(numeric("capacity", np.inf), nan=np.inf)
    current_load = np.zeros(n)
    if load is not None:
        current_load = pd.Series(ids).map(load).fillna(0).to_numpy(dtype=np.float64)
    names = frame["name"].astype(str).to_numpy()
    descriptions = frame["description"].fillna("").astype(str).to_numpy()
    profiles = [
        f"{name} {INSTITUTION_KINDS[k].replace('_', ' ')} {desc} {' '.join(s.replace('_', ' ') for s in sec)}"
        for name, k, desc, sec in zip(names, kinds, descriptions, sectors, strict=True)
    ]
    normalized = [normalize(p) for p in profiles]
    detection = detector.detect(normalized)
    return Catalogue(
        ids=ids,
        names=names,
        kinds=kinds,
        descriptions=descriptions,
        active=active,
        capacity=capacity,
        load=current_load,
        min_amount=numeric("min_amount", np.nan),
        max_amount=numeric("max_amount", np.nan),
        is_lender=np.isin(kinds, [kind_index[k] for k in LENDER_KINDS]),
        regions=regions,
        region_positions=region_pos,
        serves_region=serves_region,
        region_explicit=np.array([bool(r) for r in regions_served]),
        serves_sector=serves_sector,
        sector_explicit=np.array([bool(s) for s in sectors]),
        categories=detection.confidence,
        index=TextIndex().fit(profiles),
        position={i: p for p, i in enumerate(ids)},
        terms=[frozenset(readable_terms(text)) for text in normalized],
        category_fit=(0.3 * CATEGORY_KIND_PRIOR[:, kinds] + 0.35 * detection.confidence.T).astype(np.float32),
    )
