"""Reasons in plain words for one recommended (problem, institution) pair, and kind diversification.

Reasons name the detected need and why the institution's kind fits it, the terms the problem shares with the
institution's profile, the features that lifted it above the other candidates (track record, sector and
district served, amount within range) and the eligibility checks it passed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from matching.lexicon import CATEGORY_KIND_PRIOR
from matching.records import CATEGORIES, INSTITUTION_KINDS, SECTORS

__all__ = ["reasons_for", "diversify", "PREFERRED_KINDS", "CATEGORY_THRESHOLD"]

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


def reasons_for(
    features: Mapping[str, float],
    candidate_means: Mapping[str, float],
    *,
    kind: int,
    institution_categories: np.ndarray,
    confidence: np.ndarray,
    shared_terms: list[str],
    sector: int,
    region: str | None,
    amount: float,
    min_amount: float,
    max_amount: float,
) -> tuple[str, ...]:
    reasons: list[str] = []
    fits = [
        (confidence[c] * CATEGORY_KIND_PRIOR[c, kind] * (0.2 + institution_categories[c]), c)
        for c in range(len(CATEGORIES))
        if confidence[c] >= CATEGORY_THRESHOLD and CATEGORY_KIND_PRIOR[c, kind] > 0
    ]
    if fits:
        _, best = max(fits)
        reasons.append(
            f"need detected: {CATEGORIES[best].replace('_', ' ')} ({confidence[best]:.0%} confident), "
            f"which {_KIND_WORDS[INSTITUTION_KINDS[kind]]} handles"
        )
    if shared_terms:
        reasons.append("matched terms: " + ", ".join(shared_terms))
    rate, cases = features["track_success_rate"], math.expm1(features["track_cases_log"])
    if not math.isnan(rate) and cases >= 3 and rate > candidate_means.get("track_success_rate", rate):
        reasons.append(f"track record: about {rate:.0%} of {cases:.0f} past cases solved")
    if features["sector_fit"] >= 1.0 and sector >= 0:
        reasons.append(f"specialises in the {SECTORS[sector].replace('_', ' ')} sector")
    if features["region_fit"] >= 1.0 and region:
        reasons.append(f"serves the {region} district specifically")
    if not math.isnan(features["amount_fit"]) and not math.isnan(amount):
        reasons.append(
            f"amount {_money(amount)} is within its range {_money(0 if math.isnan(min_amount) else min_amount)}"
            f"-{_money(max_amount)}"
        )
    checks = ["active"]
    if region:
        checks.append("region")
    if sector >= 0:
        checks.append("sector")
    if not math.isnan(amount) and not math.isnan(features["amount_fit"]):
        checks.append("amount")
    checks.append("capacity")
    reasons.append("eligibility passed: " + ", ".join(checks))
    return tuple(reasons)


def diversify(
    order: np.ndarray, kinds: np.ndarray, confidence: np.ndarray, k: int
) -> np.ndarray:
    """Pick k of the candidates (``order`` is best first) so that every stated need gets at least one
    institution of a kind that fits it, when one is available; the rest by score. Returns positions into
    ``order`` ranked best first."""
    needs = [c for c in np.argsort(-confidence) if confidence[c] >= CATEGORY_THRESHOLD and PREFERRED_KINDS[c]]
    chosen: list[int] = []
    if len(needs) > 1:
        for c in needs:
            if len(chosen) >= k:
                break
            if any(int(kinds[order[p]]) in PREFERRED_KINDS[c] for p in chosen):
                continue
            for position in range(len(order)):
                if position not in chosen and int(kinds[order[position]]) in PREFERRED_KINDS[c]:
                    chosen.append(position)
                    break
    for position in range(len(order)):
        if len(chosen) >= k:
            break
        if position not in chosen:
            chosen.append(position)
    return np.array(sorted(chosen), dtype=np.int64)
