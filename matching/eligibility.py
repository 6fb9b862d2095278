"""Hard eligibility rules: active, region served, sector served, amount within a lender's range, capacity left.

``eligible_matrix`` gives, for a batch of problems against the whole catalogue, the boolean (problems x
institutions) matrix of pairs that pass every rule, and per rule how many institutions it excluded for each
problem (counted without materialising one matrix per rule: the rules that depend on one value of the problem
are counted per distinct value, the amount rule with sorted ranges). ``eligibility_masks`` gives every rule's
matrix, for explaining one problem in full.
"""

from __future__ import annotations

import numpy as np

from matching.catalogue import Catalogue
from matching.understand.problems import PreparedProblems

__all__ = ["RULES", "RULE_TEXT", "eligibility_masks", "eligible_matrix", "combine", "check_rules"]

RULES: tuple[str, ...] = ("active", "region", "sector", "amount", "capacity")
RULE_TEXT: dict[str, str] = {
    "active": "institution is not active",
    "region": "does not serve the enterprise's region",
    "sector": "does not serve the enterprise's sector",
    "amount": "amount asked is outside its lending range",
    "capacity": "no capacity left this month",
}


def _served(serves: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(len(index) x institutions): True where served; an index of -1 (not given) passes everything."""
    out = np.ones((len(index), serves.shape[0]), dtype=bool)
    given = index >= 0
    if given.any():
        out[given] = serves[:, index[given]].T
    return out


def _amount_ok(amount: np.ndarray, catalogue: Catalogue) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        below = amount[:, None] < catalogue.min_amount[None, :]
        above = amount[:, None] > catalogue.max_amount[None, :]
    return ~(catalogue.is_lender[None, :] & (below | above))


def eligibility_masks(
    problems: PreparedProblems, rows: np.ndarray, catalogue: Catalogue
) -> dict[str, np.ndarray]:
    """For each rule, a (len(rows) x institutions) matrix that is True where the pair passes the rule."""
    n, m = len(rows), len(catalogue)
    return {
        "active": np.broadcast_to(catalogue.active[None, :], (n, m)),
        "region": _served(catalogue.serves_region, problems.region[rows]),
        "sector": _served(catalogue.serves_sector, problems.sector[rows]),
        "amount": _amount_ok(problems.amount[rows], catalogue),
        "capacity": np.broadcast_to((catalogue.capacity - catalogue.load > 0)[None, :], (n, m)),
    }


def combine(masks: dict[str, np.ndarray], rules: tuple[str, ...] = RULES) -> np.ndarray:
    """The pairs passing every rule of ``rules`` (all rules by default)."""
    first, *rest = [masks[r] for r in rules] or [np.ones_like(masks[RULES[0]])]
    out = np.array(first, dtype=bool, copy=True)
    for mask in rest:
        out &= mask
    return out


def check_rules(rules: tuple[str, ...] | list[str] | set[str] | frozenset[str]) -> tuple[str, ...]:
    """``rules`` in RULES order; an unknown name is a ValueError naming it."""
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise ValueError(f"unknown eligibility rule(s) {', '.join(unknown)}: expected some of {', '.join(RULES)}")
    return tuple(r for r in RULES if r in set(rules))


def _excluded_by_amount(amount: np.ndarray, catalogue: Catalogue) -> np.ndarray:
    lenders = catalogue.is_lender
    lows = np.sort(catalogue.min_amount[lenders & ~np.isnan(catalogue.min_amount)])
    highs = np.sort(catalogue.max_amount[lenders & ~np.isnan(catalogue.max_amount)])
    given = ~np.isnan(amount)
    counts = np.zeros(len(amount), dtype=np.int64)
    # a range excludes an amount below its minimum or above its maximum (never both, as min <= max)
    counts[given] = (len(lows) - np.searchsorted(lows, amount[given], side="right")) + np.searchsorted(
        highs, amount[given], side="left"
    )
    return counts


def eligible_matrix(
    problems: PreparedProblems, rows: np.ndarray, catalogue: Catalogue, rules: tuple[str, ...] = RULES
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The pairs passing every rule of ``rules`` (all by default), and per enforced rule the number of
    institutions it excluded for each problem. A rule left out is not enforced (its fit stays a feature)."""
    static = np.ones(len(catalogue), dtype=bool)
    if "active" in rules:
        static &= catalogue.active
    if "capacity" in rules:
        static &= catalogue.capacity - catalogue.load > 0
    region, sector, amount = problems.region[rows], problems.sector[rows], problems.amount[rows]
    eligible = np.broadcast_to(static[None, :], (len(rows), len(catalogue))).copy()
    if "region" in rules:
        eligible &= _served(catalogue.serves_region, region)
    if "sector" in rules:
        eligible &= _served(catalogue.serves_sector, sector)
    if "amount" in rules and catalogue.is_lender.any() and not np.isnan(amount).all():
        eligible &= _amount_ok(amount, catalogue)
    m = len(catalogue)
    not_region = m - catalogue.serves_region.sum(axis=0)
    not_sector = m - catalogue.serves_sector.sum(axis=0)
    excluded = {
        "active": np.full(len(rows), int((~catalogue.active).sum())),
        "region": np.where(region >= 0, not_region[np.maximum(region, 0)] if len(not_region) else 0, 0),
        "sector": np.where(sector >= 0, not_sector[np.maximum(sector, 0)], 0),
        "amount": _excluded_by_amount(amount, catalogue),
        "capacity": np.full(len(rows), int((catalogue.capacity - catalogue.load <= 0).sum())),
    }
    return eligible, {rule: count for rule, count in excluded.items() if rule in rules}
