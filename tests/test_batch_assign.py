"""Capacity-aware assignment (matching.assign): exact, within capacity, one institution per problem.

Both methods (the minimum-cost flow and the linear programmes) are held to references that share no code with
them: brute force on tiny instances, scipy's ``linear_sum_assignment`` on capacity slots, the plain linear
programme without the reductions, and the greedy pass they must beat."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment, linprog

from matching.assign import assign
from matching.errors import InvalidInput


def assignment_value(scores: np.ndarray, chosen: np.ndarray) -> float:
    """The total score of the chosen pairs."""
    return float(np.asarray(scores, dtype=np.float64)[np.asarray(chosen, dtype=bool)].sum())


def greedy(problems: np.ndarray, institutions: np.ndarray, scores: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """The pass the design forbids: each problem in turn takes its best institution with room left."""
    room = capacity.astype(float).copy()
    chosen = np.zeros(len(problems), dtype=bool)
    for problem in np.unique(problems):
        pairs = np.flatnonzero(problems == problem)
        for pair in pairs[np.argsort(-scores[pairs], kind="stable")]:
            if room[institutions[pair]] > 0 and scores[pair] > 0:
                room[institutions[pair]] -= 1
                chosen[pair] = True
                break
    return chosen


def brute_force(problems: np.ndarray, institutions: np.ndarray, scores: np.ndarray, capacity: np.ndarray) -> float:
    """The best total over every way to give each problem one of its pairs or none."""
    options = [[None, *np.flatnonzero(problems == p)] for p in np.unique(problems)]
    best = 0.0
    for choice in itertools.product(*options):
        pairs = [c for c in choice if c is not None]
        load = np.bincount(institutions[pairs], minlength=len(capacity)) if pairs else np.zeros(len(capacity))
        if np.all(load <= capacity):
            best = max(best, float(scores[pairs].sum()) if pairs else 0.0)
    return best


def check_feasible(problems: np.ndarray, institutions: np.ndarray, chosen: np.ndarray, capacity: np.ndarray) -> None:
    assert np.bincount(problems[chosen], minlength=problems.max() + 1).max(initial=0) <= 1
    assert np.all(np.bincount(institutions[chosen], minlength=len(capacity)) <= capacity)


def test_greedy_starves_the_late_problem_and_the_exact_assignment_does_not() -> None:
    # Institution 0 has one slot. Problem 0 (first in line) likes 0 a little more than 1; problem 1 can only
    # use institution 0. Greedy gives 0 to problem 0 and leaves problem 1 with nothing.
    problems = np.array([0, 0, 1])
    institutions = np.array([0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7])
    capacity = np.array([1, 1])

    starved = greedy(problems, institutions, scores, capacity)
    exact = assign(problems, institutions, scores, capacity)

    assert starved.tolist() == [True, False, False]
    assert exact.tolist() == [False, True, True]
    assert assignment_value(scores, exact) == pytest.approx(1.5)


def test_no_institution_gets_more_than_its_capacity_and_unlimited_takes_everyone() -> None:
    problems = np.arange(5)
    institutions = np.zeros(5, dtype=int)
    scores = np.linspace(0.5, 0.9, 5)

    assert assign(problems, institutions, scores, np.array([2])).tolist() == [False, False, False, True, True]
    assert assign(problems, institutions, scores, np.array([np.inf])).all()
    assert not assign(problems, institutions, scores, np.array([0])).any()


def test_pairs_without_a_positive_score_are_never_chosen() -> None:
    chosen = assign(np.array([0, 1]), np.array([0, 0]), np.array([0.0, -1.0]), np.array([5]))
    assert not chosen.any()


def test_bad_pairs_are_reported_together() -> None:
    with pytest.raises(InvalidInput) as caught:
        assign(np.array([0, 0]), np.array([0, 0]), np.array([0.5, 0.4]), np.array([-1]))
    assert {issue.column for issue in caught.value.issues} == {"pairs", "capacity"}


@st.composite
def instances(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_problems = draw(st.integers(1, 6))
    n_institutions = draw(st.integers(1, 4))
    problems, institutions = [], []
    for problem in range(n_problems):
        listed = draw(st.sets(st.integers(0, n_institutions - 1), min_size=0, max_size=min(3, n_institutions)))
        for institution in sorted(listed):
            problems.append(problem)
            institutions.append(institution)
    scores = draw(st.lists(st.integers(0, 1000), min_size=len(problems), max_size=len(problems)))
    capacity = draw(st.lists(st.integers(0, 3), min_size=n_institutions, max_size=n_institutions))
    return (np.array(problems, dtype=int), np.array(institutions, dtype=int),
            np.array(scores, dtype=float) / 1000, np.array(capacity))


@pytest.mark.parametrize("method", ["flow", "lp"])
@settings(max_examples=250, deadline=None)
@given(instance=instances())
def test_the_assignment_reaches_the_brute_force_optimum(method: str, instance) -> None:
    problems, institutions, scores, capacity = instance
    if len(problems) == 0:
        assert len(assign(problems, institutions, scores, capacity, method=method)) == 0
        return
    chosen = assign(problems, institutions, scores, capacity, method=method)

    check_feasible(problems, institutions, chosen, capacity)
    assert assignment_value(scores, chosen) == pytest.approx(brute_force(problems, institutions, scores, capacity))
    assert assignment_value(scores, chosen) >= assignment_value(scores, greedy(problems, institutions, scores,
                                                                               capacity)) - 1e-9


def plain_lp_optimum(problems: np.ndarray, institutions: np.ndarray, scores: np.ndarray, capacity: np.ndarray) -> float:
    """The optimum of the whole linear programme, without the reductions ``assign`` makes first."""
    e = len(scores)
    a_ub = sp.vstack([sp.csr_matrix((np.ones(e), (problems, np.arange(e)))),
                      sp.csr_matrix((np.ones(e), (institutions, np.arange(e))), shape=(len(capacity), e))])
    b_ub = np.concatenate([np.ones(problems.max() + 1), capacity])
    return -linprog(-scores, A_ub=a_ub, b_ub=b_ub, bounds=(0, 1), method="highs").fun


def slot_assignment_optimum(problems: np.ndarray, institutions: np.ndarray, scores: np.ndarray,
                            capacity: np.ndarray) -> float:
    """The optimum by scipy's ``linear_sum_assignment`` (no flow, no linear programme): each institution becomes
    as many slot columns as its capacity, worth a pair's score to the problems that list it and 0 to the others;
    ``n`` more columns worth 0 leave a problem unassigned."""
    n = int(problems.max()) + 1
    slots = np.minimum(capacity, n).astype(int)
    first = np.concatenate([[0], np.cumsum(slots)])
    gain = np.zeros((n, int(first[-1]) + n))
    for problem, institution, score in zip(problems, institutions, scores, strict=True):
        gain[problem, first[institution]:first[institution + 1]] = max(score, 0.0)
    rows, columns = linear_sum_assignment(gain, maximize=True)
    return float(gain[rows, columns].sum())


@pytest.mark.parametrize("method", ["flow", "lp"])
@pytest.mark.parametrize("seed", range(6))
def test_the_assignment_reaches_the_optimum_of_scipys_linear_sum_assignment(method: str, seed: int) -> None:
    # Half the instances on a coarse score grid (many exact ties), some institutions without room.
    rng = np.random.default_rng(seed)
    n, m, k = 240, 15, 4
    problems = np.repeat(np.arange(n), k)
    institutions = np.concatenate([rng.choice(m, k, replace=False) for _ in range(n)])
    scores = rng.random(n * k)
    if seed % 2:
        scores = np.round(scores, 1)
    capacity = rng.integers(0, 14, m)

    chosen = assign(problems, institutions, scores, capacity, method=method)

    check_feasible(problems, institutions, chosen, capacity)
    assert assignment_value(scores, chosen) == pytest.approx(
        slot_assignment_optimum(problems, institutions, scores, capacity), abs=n * 1e-6)
    assert assignment_value(scores, chosen) > assignment_value(scores, greedy(problems, institutions, scores,
                                                                              capacity))


@pytest.mark.parametrize("method", ["flow", "lp"])
def test_a_larger_random_instance_reaches_the_plain_lp_optimum_and_beats_greedy(method: str) -> None:
    rng = np.random.default_rng(7)
    n, m, k = 3000, 40, 4
    problems = np.repeat(np.arange(n), k)
    institutions = np.concatenate([rng.choice(m, k, replace=False) for _ in range(n)])
    scores = rng.random(n * k)
    capacity = rng.integers(0, 60, m)

    chosen = assign(problems, institutions, scores, capacity, method=method)

    check_feasible(problems, institutions, chosen, capacity)
    assert assignment_value(scores, chosen) == pytest.approx(
        plain_lp_optimum(problems, institutions, scores, capacity), abs=n * 1e-6)
    assert assignment_value(scores, chosen) > assignment_value(scores, greedy(problems, institutions, scores,
                                                                              capacity))


def test_the_default_flow_matches_the_linear_programmes_on_a_tied_instance_and_repeats_itself() -> None:
    # Scores on a coarse grid (many exact ties), popular institutions with little room, and problems that
    # list only one institution: the kind of instance where two exact methods may pick different pairs but
    # never a different total, and where a run must give the same pairs every time (resumed batch runs).
    rng = np.random.default_rng(3)
    n, m, k = 4000, 60, 5
    problems = np.repeat(np.arange(n), k)
    popular = rng.pareto(1.2, m) + 1
    institutions = np.concatenate([rng.choice(m, k, replace=False, p=popular / popular.sum()) for _ in range(n)])
    scores = np.round(rng.random(n * k), 1)
    capacity = rng.integers(0, 30, m).astype(float)
    capacity[:3] = np.inf

    flow = assign(problems, institutions, scores, capacity)
    again = assign(problems, institutions, scores, capacity, method="flow")
    lp = assign(problems, institutions, scores, capacity, method="lp")

    check_feasible(problems, institutions, flow, capacity)
    assert np.array_equal(flow, again)
    assert assignment_value(scores, flow) == pytest.approx(assignment_value(scores, lp), abs=1e-9)
    assert assignment_value(scores, flow) == pytest.approx(
        plain_lp_optimum(problems, institutions, scores, np.minimum(capacity, n)), abs=n * 1e-6)
    assert assignment_value(scores, flow) > assignment_value(scores, greedy(problems, institutions, scores, capacity))


@pytest.mark.parametrize("factor", [1e9, 1e14])
def test_scores_too_large_for_the_flow_are_assigned_by_the_linear_programmes(factor: float) -> None:
    # A ranker on another scale: at 1e14 the integer weights pass what the flow's 64-bit costs can hold.
    problems = np.array([0, 0, 1, 2, 2])
    institutions = np.array([0, 1, 0, 1, 2])
    scores = np.array([0.9, 0.8, 0.7, 0.55, 0.5]) * factor  # best: 0.8 + 0.7, not 0.9 + 0.55
    capacity = np.array([1, 1, 0])

    chosen = assign(problems, institutions, scores, capacity)

    assert chosen.tolist() == [False, True, True, False, False]
    assert assignment_value(scores, chosen) == pytest.approx(brute_force(problems, institutions, scores, capacity))
