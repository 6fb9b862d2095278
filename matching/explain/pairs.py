"""Reasons in plain words for recommended (problem, institution) pairs, and kind diversification.

Reasons name the detected need and why the institution's kind fits it, the terms the problem shares with the
institution's profile, the features that lifted it above the other candidates (track record, sector and
district served, amount within range) and the eligibility checks it passed. Beside each pair's sentences the
engine keeps their codes and parameter values (``Explanations.data``, read with ``matching.explain.reasons``), so a
reader renders them in another language; the sentences are ``matching.explain.reasons``' English templates, written
here as f-strings because the engine writes them for every pair (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from matching.records import CATEGORIES, INSTITUTION_KINDS, SECTORS
from matching.understand.lexicon import CATEGORY_KIND_PRIOR

__all__ = ["ChosenPairs", "Explanations", "explain_pairs", "diversify", "PREFERRED_KINDS", "CATEGORY_THRESHOLD"]

CATEGORY_THRESHOLD = 0.35  # confidence from which a detected category counts as a stated need

# Kinds that clearly fit each category (prior >= 0.8): the kinds diversification makes room for.
PREFERRED_KINDS: dict[int, frozenset[int]] = {
    c: frozenset(int(k) for k in np.nonzero(CATEGORY_KIND_PRIOR[c] >= 0.8)[0]) for c in range(len(CATEGORIES))
}

_KIND_WORDS = {
    "bank": "a bank",
    "guarantee": "a guarantee corporation",
    "microcredit": "a small-loan company",
    "research_institute": "a research institute",
    "college": "a college",
    "government": "a government department or utility",
}


def _money(value: float) -> str:
    return f"{value:,.0f}"


class Explanations(list):  # type: ignore[type-arg]
    """The sentences of every chosen pair (a ``tuple[str, ...]`` each) and, in ``data``, each pair's reasons
    as one flat tuple ``(code, *values, code, *values, ...)`` (values in ``matching.explain.reasons.PARAMS`` order; a
    list as its items joined by ", ", as in the sentence: no container per pair beyond the tuple)."""

    data: list[tuple[Any, ...]]


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
) -> Explanations:
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
    out = Explanations()
    out.data = []
    for (fits, category, certainty, kind_j, shared, good, rate_j, cases_j, in_sector, in_region, known, low_j,
         high_j, sector_j, region_j, amount_j) in zip(
            has_fit.tolist(), best.tolist(), best_conf.tolist(), kind.tolist(), pairs.shared_terms,
            good_track.tolist(), rate.tolist(), cases.tolist(), sector_specific.tolist(), region_specific.tolist(),
            amount_known.tolist(), low.tolist(), max_amount[i].tolist(), pair_sector, pair_region, pair_amount,
            strict=True):
        reasons: list[str] = []
        data: list[Any] = []
        if fits:
            data += ("need_detected", CATEGORIES[category], certainty, INSTITUTION_KINDS[kind_j])
            reasons.append(
                f"need detected: {CATEGORIES[category].replace('_', ' ')} ({certainty:.0%} confident), "
                f"which {_KIND_WORDS[INSTITUTION_KINDS[kind_j]]} handles"
            )
        if shared:
            terms = ", ".join(shared)
            data += ("matched_terms", terms)
            reasons.append("matched terms: " + terms)
        if good:
            data += ("track_record", rate_j, round(cases_j))
            reasons.append(f"track record: about {rate_j:.0%} of {cases_j:.0f} past cases solved")
        if in_sector:
            data += ("sector_specialist", SECTORS[sector_j])
            reasons.append(f"specialises in the {SECTORS[sector_j].replace('_', ' ')} sector")
        if in_region:
            data += ("district_specialist", regions[region_j])
            reasons.append(f"serves the {regions[region_j]} district specifically")
        checks = ["active"]
        if region_j >= 0:
            checks.append("region")
        if sector_j >= 0:
            checks.append("sector")
        if known:
            data += ("amount_in_range", amount_j, low_j, high_j)
            reasons.append(f"amount {_money(amount_j)} is within its range {_money(low_j)}-{_money(high_j)}")
            checks.append("amount")
        checks.append("capacity")
        passed = ", ".join(checks)
        reasons.append("eligibility passed: " + passed)
        data += ("eligibility_passed", passed)
        out.append(tuple(reasons))
        out.data.append(tuple(data))
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
