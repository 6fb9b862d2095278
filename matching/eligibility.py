"""Hard eligibility rules: active, region served, sector served, amount within a lender's range, capacity left.

``eligibility_masks`` evaluates every rule for a batch of problems against the whole catalogue as boolean
(problems x institutions) matrices, so the engine can both filter and say which rule excluded whom.
"""

from __future__ import annotations

import numpy as np

from matching.catalogue import Catalogue
from matching.problems import PreparedProblems

__all__ = ["RULES", "RULE_TEXT", "eligibility_masks", "combine"]

RULES: tuple[str, ...] = ("active", "region", "sector", "amount", "capacity")
RULE_TEXT: dict[str, str] = {
    "active": "institution is not active",
    "region": "does not serve the enterprise's region",
    "sector": "does not serve the enterprise's sector",
    "amount": "amount asked is outside its lending range",
    "capacity": "no capacity left this month",
}


def eligibility_masks(
    problems: PreparedProblems, rows: np.ndarray, catalogue: Catalogue
) -> dict[str, np.ndarray]:
    """For each rule, a (len(rows) x institutions) matrix that is True where the pair passes the rule."""
    n, m = len(rows), len(catalogue)
    region = problems.region[rows]
    sector = problems.sector[rows]
    amount = problems.amount[rows]
    region_ok = np.ones((n, m), dtype=bool)
    has_region = region >= 0
    if has_region.any():
        region_ok[has_region] = catalogue.serves_region[:, region[has_region]].T
    sector_ok = np.ones((n, m), dtype=bool)
    has_sector = sector >= 0
    if has_sector.any():
        sector_ok[has_sector] = catalogue.serves_sector[:, sector[has_sector]].T
    with np.errstate(invalid="ignore"):
        below = amount[:, None] < catalogue.min_amount[None, :]
        above = amount[:, None] > catalogue.max_amount[None, :]
    amount_ok = ~(catalogue.is_lender[None, :] & (below | above))
    return {
        "active": np.broadcast_to(catalogue.active[None, :], (n, m)),
        "region": region_ok,
        "sector": sector_ok,
        "amount": amount_ok,
        "capacity": np.broadcast_to((catalogue.capacity - catalogue.load > 0)[None, :], (n, m)),
    }


def combine(masks: dict[str, np.ndarray]) -> np.ndarray:
    out = masks[RULES[0]].copy()
    for rule in RULES[1:]:
        out &= masks[rule]
    return out
