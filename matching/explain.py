"""Reasons in plain words for recommended (problem, institution) pairs, and kind diversification.

Each reason is a ``matching.reasons.Reason``: its English sentence with a code and parameters. Reasons name
the detected need and why the institution's kind fits it, the terms the problem shares with the
institution's profile, the features that lifted it above the other candidates (track record, sector and
district served, amount within range) and the eligibility checks it passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.lexicon import CATEGORY_KIND_PRIOR
from matching.reasons import Reason
from matching.records import CATEGORIES, INSTITUTION_KINDS, SECTORS

__all__ = ["ChosenPairs", "explain_pairs", "diversify", "PREFERRED_KINDS", "CATEGORY_THRESHOLD"]

CATEGORY_THRESHOLD = 0.35  # confidence from which a detected category counts as a stated need

# Kinds that clearly fit each category (prior >= 0.8): the kinds diversification makes room for.
PREFERRED_KINDS: dict[int, frozenset[int]] = {
    c: frozenset(int(k) for k in np.nonzero(CATEGORY_KIND_PRIOR[c] >= 0.8)[0]) for c in range(len(CATEGORIES))
}


@dataclass(slots=True)
class ChosenPairs:
    """The recommended pairs of a chunk, flattened: per pair its problem row, institution row and feature
    values, plus ``track_mean`` (the mean track record over the problem's candidates) and readable terms."""

    problem_rows: np.ndarray
    institution_rows: np.ndarray
    features: dict[str, np.ndarray]
    track_mean: np.ndarray
    shared_terms: list[list[str]]


def explain_pairs(
    pairs: ChosenPairs,
    *,
    confidence: np.ndarray,
    sector: np.ndarray,
    region: np.ndarray,
    amount: np.ndarray,
    regions: tuple[str, ...],
    kinds: np.ndarray,
    institution_categories: np.ndarray,
    min_amount: np.ndarray,
    max_amount: np.ndarray,
) -> list[tuple[str, ...]]:
    """Reasons for every chosen pair; the numeric work is vectorised over all pairs of the chunk."""
    p, i = pairs.problem_rows, pairs.institution_rows
    kind = kinds[i]
    conf = confidence[p]  # pairs x categories
    fit = conf * CATEGORY_KIND_PRIOR[:, kind].T * (0.2 + institution_categories[i])
    fit[conf < CATEGORY_THRESHOLD] = 0.0
    best = fit.argmax(axis=1)
    has_fit = fit[np.arange(len(p)), best] > 0
    best_conf = conf[np.arange(len(p)), best]
    rate = pairs.features["track_success_rate"]
    cases = np.expm1(pairs.features["track_cases_log"])
    with np.errstate(invalid="ignore"):
        good_track = (cases >= 3) & (rate > np.nan_to_num(pairs.track_mean, nan=-1.0))
    sector_specific = (pairs.features["sector_fit"] >= 1.0) & (sector[p] >= 0)
    region_specific = (pairs.features["region_fit"] >= 1.0) & (region[p] >= 0)
    amount_known = ~np.isnan(pairs.features["amount_fit"]) & ~np.isnan(amount[p])
    low = np.nan_to_num(min_amount[i], nan=0.0)
    # The loop reads Python values: a numpy scalar per lookup and per formatted number cost about as much as
    # the text itself (same strings: a numpy float formats as the float it holds).
    pair_sector, pair_region, pair_amount = sector[p].tolist(), region[p].tolist(), amount[p].tolist()
    out: list[tuple[str, ...]] = []
    for (fits, category, certainty, kind_j, shared, good, rate_j, cases_j, in_sector, in_region, known, low_j,
         high_j, sector_j, region_j, amount_j) in zip(
            has_fit.tolist(), best.tolist(), best_conf.tolist(), kind.tolist(), pairs.shared_terms,
            good_track.tolist(), rate.tolist(), cases.tolist(), sector_specific.tolist(), region_specific.tolist(),
            amount_known.tolist(), low.tolist(), max_amount[i].tolist(), pair_sector, pair_region, pair_amount,
            strict=True):
        reasons: list[str] = []
        if fits:
            reasons.append(Reason("need_detected", {"category": CATEGORIES[category], "confidence": certainty,
                                                    "kind": INSTITUTION_KINDS[kind_j]}))
        if shared:
            reasons.append(Reason("matched_terms", {"terms": list(shared)}))
        if good:
            reasons.append(Reason("track_record", {"rate": rate_j, "cases": round(cases_j)}))
        if in_sector:
            reasons.append(Reason("sector_specialist", {"sector": SECTORS[sector_j]}))
        if in_region:
            reasons.append(Reason("district_specialist", {"district": regions[region_j]}))
        checks = ["active"]
        if region_j >= 0:
            checks.append("region")
        if sector_j >= 0:
            checks.append("sector")
        if known:
            reasons.append(Reason("amount_in_range", {"amount": amount_j, "low": low_j, "high": high_j}))
            checks.append("amount")
        checks.append("capacity")
        reasons.append(Reason("eligibility_passed", {"checks": checks}))
        out.append(tuple(reasons))
    return out


def diversify(kinds: np.ndarray, confidence: np.ndarray, k: int) -> np.ndarray:
    """Pick k candidates (``kinds`` of the candidates, best first) so that every stated need gets at least one
    institution of a kind that fits it, when one is available; the rest by score. Returns the chosen positions,
    best first."""
    needs = [c for c in np.argsort(-confidence) if confidence[c] >= CATEGORY_THRESHOLD and PREFERRED_KINDS[c]]
    chosen: list[int] = []
    for c in needs:
        if len(chosen) >= k:
            break
        if any(int(kinds[p]) in PREFERRED_KINDS[c] for p in chosen):
            continue
        preferred = PREFERRED_KINDS[c]
        fresh = next((p for p, kind in enumerate(kinds.tolist()) if kind in preferred and p not in chosen), None)
        if fresh is not None:
            chosen.append(fresh)
    for position in range(len(kinds)):
        if len(chosen) >= k:
            break
        if position not in chosen:
            chosen.append(position)
    return np.array(sorted(chosen), dtype=np.int64)
