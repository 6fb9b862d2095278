"""Capacity-aware assignment: each problem gets at most one institution, no institution more than its capacity,
and the total score is as large as it can be (exact, not greedy).

Input: candidate pairs as three arrays of equal length (problem index, institution index, score) and the
capacity of each institution (an int array indexed like the institution indices; ``inf`` for unlimited).
Output: ``assign`` returns a boolean array over the pairs marking the chosen ones.

Method. The problem is a bipartite b-matching, whose linear programme has a totally unimodular constraint
matrix, so a vertex solution (simplex, or interior point with crossover, in HiGHS via ``scipy.optimize.linprog``)
is integral and optimal. Before solving, two reductions that keep an optimum shrink the programme:

1. an institution that could take every problem that lists it (``degree <= capacity``) never binds;
   a problem whose best pair goes to such an institution takes it: moving it there can only free a slot;
   repeated until nothing changes, since removing problems lowers other institutions' degrees;
2. what remains splits into connected components, solved in batches of whole components.

Scores are rounded to a grid of ``resolution`` first, so that near-equal scores tie exactly and the result
does not depend on the last bits of a float.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from matching.errors import InvalidInput, Issue

__all__ = ["assign", "assignment_value"]

_BATCH_PAIRS = 200_000  # components are packed into linear programmes of about this many pairs


def assign(
    problems: np.ndarray,
    institutions: np.ndarray,
    scores: np.ndarray,
    capacity: np.ndarray,
    *,
    resolution: float = 1e-6,
) -> np.ndarray:
    """The pairs of a maximum-score assignment under capacity, as a boolean mask over the pairs."""
    problems = np.asarray(problems, dtype=np.int64)
    institutions = np.asarray(institutions, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.float64)
    _check(problems, institutions, scores, capacity)
    chosen = np.zeros(len(problems), dtype=bool)
    weight = np.round(np.nan_to_num(scores, nan=0.0) / resolution)
    capacity = np.floor(np.nan_to_num(capacity, nan=0.0, posinf=np.iinfo(np.int64).max / 4))
    live = np.flatnonzero((weight > 0) & (capacity[institutions] > 0))
    live, room = _reduce(problems, institutions, weight, capacity, live, chosen)
    if len(live):
        _solve_components(problems, institutions, weight, room, live, chosen)
    return chosen


def assignment_value(scores: np.ndarray, chosen: np.ndarray) -> float:
    """The total score of the chosen pairs."""
    return float(np.asarray(scores, dtype=np.float64)[np.asarray(chosen, dtype=bool)].sum())


def _check(problems: np.ndarray, institutions: np.ndarray, scores: np.ndarray, capacity: np.ndarray) -> None:
    issues: list[Issue] = []
    if not (len(problems) == len(institutions) == len(scores)):
        issues.append(Issue(column="pairs", expected="problem, institution and score arrays of one length",
                            found=f"lengths {len(problems)}, {len(institutions)}, {len(scores)}"))
    elif len(problems):
        if problems.min() < 0 or institutions.min() < 0 or institutions.max() >= len(capacity):
            issues.append(Issue(column="institutions", expected=f"indices from 0 to {len(capacity) - 1}",
                                found=f"{institutions.min()} to {institutions.max()}"))
        pair_keys = problems * (int(institutions.max()) + 1) + institutions
        if len(np.unique(pair_keys)) != len(pair_keys):
            issues.append(Issue(column="pairs", expected="each (problem, institution) pair once",
                                found="repeated pairs"))
    if np.any(capacity < 0):
        issues.append(Issue(column="capacity", expected="numbers >= 0", found=f"minimum {capacity.min():g}"))
    if issues:
        raise InvalidInput(issues)


def _reduce(
    problems: np.ndarray,
    institutions: np.ndarray,
    weight: np.ndarray,
    capacity: np.ndarray,
    live: np.ndarray,
    chosen: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Settle every problem whose best pair goes to an institution that can never fill up (see module doc).

    Returns the pairs still to solve and the room left at each institution."""
    room = capacity.copy()
    while len(live):
        degree = np.bincount(institutions[live], minlength=len(room))
        free = degree <= room
        # Each live problem's best pair: sort by problem, then weight descending, then pair order (stable).
        order = live[np.lexsort((-weight[live], problems[live]))]
        first = np.ones(len(order), dtype=bool)
        first[1:] = problems[order[1:]] != problems[order[:-1]]
        best = order[first]
        settled = best[free[institutions[best]]]
        if len(settled) == 0:
            break
        chosen[settled] = True
        np.subtract.at(room, institutions[settled], 1)
        done = np.zeros(problems.max() + 1, dtype=bool)
        done[problems[settled]] = True
        live = live[~done[problems[live]]]
    return live, room


def _solve_components(
    problems: np.ndarray,
    institutions: np.ndarray,
    weight: np.ndarray,
    room: np.ndarray,
    live: np.ndarray,
    chosen: np.ndarray,
) -> None:
    """Solve the remaining pairs as linear programmes over batches of whole connected components."""
    problem_ids, problem_local = np.unique(problems[live], return_inverse=True)
    institution_ids, institution_local = np.unique(institutions[live], return_inverse=True)
    n, m = len(problem_ids), len(institution_ids)
    graph = sp.coo_matrix(
        (np.ones(len(live)), (problem_local, n + institution_local)), shape=(n + m, n + m)
    ).tocsr()
    _, labels = connected_components(graph, directed=False)
    pair_component = labels[problem_local]
    order = np.argsort(pair_component, kind="stable")
    sizes = np.bincount(pair_component[order])
    # Pack consecutive components into batches of about _BATCH_PAIRS pairs.
    batch_of_component = np.cumsum(sizes) // _BATCH_PAIRS
    pair_batch = batch_of_component[pair_component[order]]
    edges = np.flatnonzero(np.diff(pair_batch)) + 1
    for group in np.split(order, edges):
        pairs = live[group]
        picked = _solve_lp(problem_local[group], institution_local[group], weight[pairs],
                           room[institution_ids[institution_local[group]]])
        chosen[pairs[picked]] = True


def _solve_lp(problems: np.ndarray, institutions: np.ndarray, weight: np.ndarray,
              room_per_pair: np.ndarray) -> np.ndarray:
    """One b-matching linear programme; returns the chosen pairs of an integral optimum."""
    p_ids, p = np.unique(problems, return_inverse=True)
    i_ids, i = np.unique(institutions, return_inverse=True)
    e = len(weight)
    if len(p_ids) == 1:  # one problem: its best pair (room is at least 1 on every live pair)
        picked = np.zeros(e, dtype=bool)
        picked[np.argmax(weight)] = True
        return picked
    room = np.zeros(len(i_ids))
    room[i] = room_per_pair
    columns = np.arange(e)
    a_ub = sp.vstack([
        sp.csr_matrix((np.ones(e), (p, columns)), shape=(len(p_ids), e)),
        sp.csr_matrix((np.ones(e), (i, columns)), shape=(len(i_ids), e)),
    ]).tocsc()
    b_ub = np.concatenate([np.ones(len(p_ids)), np.minimum(room, len(p_ids))])
    scale = weight.max()
    for method in ("highs-ds", "highs-ipm"):
        result = linprog(-weight / scale, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method=method)
        if result.status != 0:
            continue
        x = result.x
        if np.all((x < 1e-6) | (x > 1 - 1e-6)):
            return x > 0.5
    raise RuntimeError("the assignment programme found no integral optimum")  # cannot happen: TU matrix
