"""The ranking metrics: bounds, perfect and reversed rankings, invariances, and the vectorised form agreeing
with the plain per-list functions on any input Hypothesis finds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from training.metrics import (
    average_precision_at_k,
    coverage,
    dcg_at_k,
    grouped_metrics,
    kind_diversity,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

gains_lists = st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), min_size=1, max_size=15)
ks = st.integers(min_value=1, max_value=12)


@given(gains_lists, ks)
def test_ndcg_lies_between_zero_and_one(gains: list[float], k: int) -> None:
    value = ndcg_at_k(gains, k)
    assert math.isnan(value) or -1e-12 <= value <= 1 + 1e-12
    assert math.isnan(value) == (max(gains[:k] + sorted(gains, reverse=True)[:k]) == 0)


@given(gains_lists, ks)
def test_a_ranking_sorted_by_gain_scores_one(gains: list[float], k: int) -> None:
    perfect = sorted(gains, reverse=True)
    if perfect[0] > 0:
        assert ndcg_at_k(perfect, k) == 1.0


# Gains of zero or of a real size: scaling a gain near the smallest float (5e-324 * 0.5) rounds it to zero, which
# changes the ideal ranking and is not what this property is about (found by Hypothesis).
scalable_gains = st.lists(st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=3)), min_size=1, max_size=15)


@given(scalable_gains, ks, st.floats(min_value=0.01, max_value=100))
def test_ndcg_is_invariant_to_scaling_the_gains(gains: list[float], k: int, factor: float) -> None:
    plain, scaled = ndcg_at_k(gains, k), ndcg_at_k([g * factor for g in gains], k)
    assert (math.isnan(plain) and math.isnan(scaled)) or math.isclose(plain, scaled, rel_tol=1e-9, abs_tol=1e-12)


def test_ndcg_of_a_known_case() -> None:
    # gains in ranked order 0, 3: DCG = 3/log2(3); ideal 3, 0: DCG = 3.
    assert math.isclose(ndcg_at_k([0, 3], 5), 1 / math.log2(3))
    # The ideal may come from items that were not ranked at all: here a missing gain of 3.
    assert math.isclose(ndcg_at_k([3], 5, ideal_gains=[3, 3]), 3 / (3 + 3 / math.log2(3)))
    assert math.isclose(dcg_at_k([1, 1, 1], 2), 1 + 1 / math.log2(3))


def test_the_reversed_ranking_scores_below_the_perfect_one() -> None:
    assert ndcg_at_k([0, 1, 2, 3], 4) < ndcg_at_k([3, 2, 1, 0], 4) == 1.0


@given(st.lists(st.booleans(), min_size=1, max_size=15), ks)
def test_binary_metrics_are_bounded_and_perfect_rankings_score_one(relevant: list[bool], k: int) -> None:
    for value in (average_precision_at_k(relevant, k), recall_at_k(relevant, k), reciprocal_rank(relevant)):
        assert math.isnan(value) or 0 <= value <= 1
    if any(relevant):
        perfect = sorted(relevant, reverse=True)
        assert average_precision_at_k(perfect, k) == 1.0
        assert reciprocal_rank(perfect) == 1.0
        assert recall_at_k(perfect, max(k, sum(relevant))) == 1.0
    else:
        assert reciprocal_rank(relevant) == 0.0 and math.isnan(recall_at_k(relevant, k))


def test_binary_metrics_of_a_known_case() -> None:
    ranked = [False, True, False, True]
    assert reciprocal_rank(ranked) == 0.5
    assert average_precision_at_k(ranked, 5) == (1 / 2 + 2 / 4) / 2
    assert recall_at_k(ranked, 2) == 0.5
    assert recall_at_k(ranked, 2, n_relevant=4) == 0.25


def test_coverage_and_kind_diversity() -> None:
    assert coverage(["I1", "I2", "I1"], 4) == 0.5
    assert coverage([], 0) == 0.0
    assert kind_diversity([["bank", "bank", "college"], ["bank"]]) == 1.5


@st.composite
def ranked_lists(draw: st.DrawFn) -> pd.DataFrame:
    n_groups = draw(st.integers(min_value=1, max_value=6))
    rows = []
    for g in range(n_groups):
        size = draw(st.integers(min_value=1, max_value=12))
        for i in range(size):
            rows.append({
                "problem_id": f"P{g}",
                "institution_id": f"I{i:02d}",
                "score": draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])),  # ties on purpose
                "gain": draw(st.sampled_from([0, 0, 1, 2, 3])),
            })
    frame = pd.DataFrame(rows)
    frame["relevant"] = frame["gain"] == 3
    return frame.sample(frac=1.0, random_state=draw(st.integers(0, 1000)))  # arrival order must not matter


@settings(max_examples=60, deadline=None)
@given(ranked_lists())
def test_grouped_metrics_agree_with_the_per_list_functions(frame: pd.DataFrame) -> None:
    got = grouped_metrics(frame, score="score", gain="gain", relevant="relevant")
    for problem, rows in frame.groupby("problem_id"):
        ranked = rows.sort_values(["score", "institution_id"], ascending=[False, True])
        expected = {
            "ndcg_at_5": ndcg_at_k(ranked["gain"], 5),
            "ndcg_at_10": ndcg_at_k(ranked["gain"], 10),
            "map_at_5": average_precision_at_k(ranked["relevant"], 5),
            "mrr": reciprocal_rank(ranked["relevant"]) if ranked["relevant"].any() else float("nan"),
            "recall_at_10": recall_at_k(ranked["relevant"], 10),
        }
        for name, value in expected.items():
            assert np.isclose(got.at[problem, name], value, equal_nan=True), (problem, name)
