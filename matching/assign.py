"""Capacity-aware assignment: each problem gets at most one institution, no institution more than its capacity,
and the total score is as large as it can be (exact, not greedy).

Input: candidate pairs as three arrays of equal length (problem index, institution index, score) and the
capacity of each institution (an int array indexed like the institution indices; ``inf`` for unlimited).
Output: ``assign`` returns a boolean array over the pairs marking the chosen ones.

Method. The problem is a bipartite b-matching: a minimum-cost flow, and a linear programme with a totally
unimodular constraint matrix, so both have integral optima. Before solving, a reduction that keeps an optimum
shrinks it: an institution that could take every problem that lists it (``degree <= capacity``) never binds,
so a problem whose best pair goes to such an institution takes it (moving it there can only free a slot);
repeated until nothing changes, since removing problems lowers other institutions' degrees.

The default (``method="auto"``, or ``"flow"``) solves what remains as one minimum-cost flow (OR-Tools' cost
scaling, in integers: ``_solve_flow``): each problem sends one unit to a sink, through one of its institutions
(at the pair's cost) or straight (unassigned); each institution passes at most its room. ``method="lp"``
splits what remains into connected components and solves batches of whole components as linear programmes
(a vertex solution: simplex, or interior point with crossover, in HiGHS via ``scipy.optimize.linprog``); the
tests hold the two to the same optimum, and to brute force and scipy's ``linear_sum_assignment``. The flow is
the default for its memory and time: after the reduction, a simulated nation's candidate pairs form one
connected component, whose programme needs several times the memory the flow needs, and the programmes are
slower for the same total (``benchmarks/bench_batch.py --sizes nation --nation-assign``).

Scores are rounded to a grid of ``resolution`` first, so that near-equal scores tie exactly and the result
does not depend on the last bits of a float.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from matching.errors import InvalidInput, Issue

__all__ = ["assign", "METHODS"]

METHODS = ("auto", "flow", "lp")
_BATCH_PAIRS = 200_000  # components are packed into linear programmes of about this many pairs


def assign(
    problems: np.ndarray,
    institutions: np.ndarray,
    scores: np.ndarray,
    capacity: np.ndarray,
    *,
    resolution: float = 1e-6,
    method: str = "auto",
) -> np.ndarray:
    """The pairs of a maximum-score assignment under capacity, as a boolean mask over the pairs.

    ``method``: "auto" or "flow" (one minimum-cost flow), or "lp" (linear programmes over connected
    components); see the module docstring."""
    if method not in METHODS:
        raise InvalidInput(Issue(column="method", expected=f"one of {', '.join(METHODS)}", found=repr(method)))
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
    if len(live) and method in ("auto", "flow") and _solve_flow(problems, institutions, weight, room, live, chosen):
        return chosen
    if len(live):
        _solve_components(problems, institutions, weight, room, live, chosen)
    return chosen


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


def _solve_flow(problems: np.ndarray, institutions: np.ndarray, weight: np.ndarray, room: np.ndarray,
                live: np.ndarray, chosen: np.ndarray) -> bool:
    """The remaining pairs (the indices ``live`` into the pair arrays; integer weights) as one minimum-cost
    flow; marks the chosen ones in ``chosen`` and returns True, or returns False (``chosen`` untouched) when the
    weights are too large for the solver's 64-bit cost arithmetic (at a nation's size, scores from about 1e5
    at the default resolution: never a model's probabilities): the linear programmes, which scale, take over.

    Nodes: the problems, their institutions, one sink. Each problem supplies one unit; it reaches the sink
    through one of its pairs (cost ``top - weight``) or by the direct arc (cost ``top``: left unassigned), and
    an institution's arc to the sink holds its room. Every cost is a non-negative integer, the flow is integral,
    and the minimum cost is ``n * top`` minus the largest total weight."""
    from ortools.graph.python import min_cost_flow  # imported on first use: only assignment runs need it

    problem_ids, problem_node = np.unique(problems[live], return_inverse=True)
    institution_ids, institution_local = np.unique(institutions[live], return_inverse=True)
    weight = weight[live]
    n, m = len(problem_ids), len(institution_ids)
    sink = n + m
    # Cost scaling multiplies costs by about the number of nodes: keep that well inside 64 bits.
    if float(weight.max()) * (n + m + 2) >= 2.0**60:
        return False
    cost = weight.astype(np.int64)
    top = int(cost.max())
    flow = min_cost_flow.SimpleMinCostFlow()
    pair_arcs = flow.add_arcs_with_capacity_and_unit_cost(
        problem_node.astype(np.int32), (n + institution_local).astype(np.int32),
        np.ones(len(cost), dtype=np.int64), top - cost)
    flow.add_arcs_with_capacity_and_unit_cost(
        np.arange(n, dtype=np.int32), np.full(n, sink, dtype=np.int32), np.ones(n, dtype=np.int64),
        np.full(n, top, dtype=np.int64))
    flow.add_arcs_with_capacity_and_unit_cost(
        np.arange(n, n + m, dtype=np.int32), np.full(m, sink, dtype=np.int32),
        np.minimum(room[institution_ids], n).astype(np.int64), np.zeros(m, dtype=np.int64))
    flow.set_nodes_supplies(np.append(np.arange(n), sink).astype(np.int32), np.append(np.ones(n, dtype=np.int64), -n))
    status = flow.solve()
    if status == flow.BAD_COST_RANGE:
        return False
    if status != flow.OPTIMAL:  # cannot happen: every problem can always reach the sink directly
        raise RuntimeError(f"the assignment flow was not solved to optimality (status {status})")
    picked = flow.flows(pair_arcs) > 0
    chosen[live[picked]] = True
    return True


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
