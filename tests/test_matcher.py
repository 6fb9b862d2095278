"""The Matcher: ranked, explained, eligible recommendations, or an escalation; bad input named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import BaselineRanker, InvalidInput, Matcher, NotFittedError, Problem, TextOnlyRanker
from matching.retrieve import top_k

from engine_fixtures import city_institutions


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher().fit(city_institutions(), regions=["Qinghe", "Dongcheng", "Xicheng", "Riverside"])


def test_an_unfitted_matcher_says_so() -> None:
    with pytest.raises(NotFittedError):
        Matcher().recommend(Problem(text="loan"))


def test_a_loan_request_ranks_lenders_first_with_reasons(matcher: Matcher) -> None:
    (result,) = matcher.recommend(Problem(text="We need a working capital loan", amount=200_000), k=3)
    assert not result.escalate
    assert result.institutions[0].kind in {"bank", "microcredit"}
    assert "financing" in result.categories
    assert [r.rank for r in result.institutions] == [1, 2, 3]
    scores = [r.score for r in result.institutions]
    assert scores == sorted(scores, reverse=True)
    first = result.institutions[0]
    assert any(reason.startswith("need detected: financing") for reason in first.reasons)
    assert any(reason.startswith("eligibility passed") for reason in first.reasons)


def test_matched_terms_are_named_in_the_reasons(matcher: Matcher) -> None:
    (result,) = matcher.recommend(Problem(text="变压器增容"), k=1)
    assert result.institutions[0].institution_id == "V03"
    assert any("增容" in reason for reason in result.institutions[0].reasons)


def test_an_inactive_institution_is_never_recommended(matcher: Matcher) -> None:
    results = matcher.recommend(Problem(text="东城区厂房 场地 workshop space in Dongcheng", region="Dongcheng"), k=10)
    assert all(r.institution_id != "V08" for r in results[0].institutions)
    assert results[0].excluded.get("active", 0) >= 1


def test_a_region_bound_institution_serves_only_its_regions(matcher: Matcher) -> None:
    table = matcher.eligibility(Problem(text="farm loan", region="Xicheng", sector="agriculture"))
    row = table.set_index("institution_id").loc["B02"]
    assert not row["eligible"] and "region" in row["failed_rules"]


def test_amount_outside_a_lenders_range_excludes_it(matcher: Matcher) -> None:
    (result,) = matcher.recommend(Problem(text="small loan for the shop", amount=30_000_000), k=5)
    assert "M01" not in {r.institution_id for r in result.institutions}
    table = matcher.eligibility(Problem(text="small loan", amount=30_000_000)).set_index("institution_id")
    assert table.loc["M01", "failed_rules"] == ("amount",)
    assert table.loc["B04", "eligible"]  # its range reaches 50 million


def test_no_capacity_left_excludes_the_institution() -> None:
    load = pd.Series({"V03": 40})
    matcher = Matcher().fit(city_institutions(), load=load)
    (result,) = matcher.recommend(Problem(text="power outage, need grid connection"), k=5)
    assert "V03" not in {r.institution_id for r in result.institutions}
    assert result.excluded["capacity"] == 1


def test_money_and_know_how_needs_get_both_kinds(matcher: Matcher) -> None:
    text = "We need a loan to buy machinery and technical help to automate the line"
    (result,) = matcher.recommend(Problem(text=text, sector="manufacturing", amount=1_000_000), k=3)
    kinds = {r.kind for r in result.institutions}
    assert kinds & {"bank", "microcredit"} and kinds & {"research_institute", "college"}


def test_gibberish_is_escalated_not_answered(matcher: Matcher) -> None:
    (result,) = matcher.recommend(Problem(text="zxqv plombus frandle"), k=5)
    assert result.escalate and result.institutions == ()
    assert result.escalate_reason


def test_a_need_nobody_eligible_can_meet_is_escalated_with_the_rules(matcher: Matcher) -> None:
    (result,) = matcher.recommend(Problem(text="loan", amount=900_000_000), k=5)
    # lenders are all out of range; what remains does not fit a loan well enough
    assert result.escalate
    assert result.excluded["amount"] >= 8


def test_results_come_back_in_input_order(matcher: Matcher) -> None:
    problems = pd.DataFrame({"problem_id": ["a", "b", "c"], "text": ["贷款", "grid connection", "vocational training"]})
    results = matcher.recommend(problems, k=2)
    assert [r.problem_id for r in results] == ["a", "b", "c"]
    assert results[1].institutions[0].kind == "government"
    assert results[2].institutions[0].kind == "college"


def test_chunked_scoring_equals_one_pass() -> None:
    texts = ["loan", "担保", "ERP software", "boiler energy saving", "land", "training"] * 3
    problems = pd.DataFrame({"text": texts})
    whole = Matcher().fit(city_institutions()).recommend(problems, k=3)
    chunked = Matcher(chunk_cells=30).fit(city_institutions()).recommend(problems, k=3)
    assert [r.to_dict() for r in whole] == [r.to_dict() for r in chunked]


def test_recommend_frame_has_a_row_per_problem_and_rank(matcher: Matcher) -> None:
    frame = matcher.recommend_frame(pd.DataFrame({"problem_id": ["p1", "p2"], "text": ["loan", "zzzq vrrp"]}), k=2)
    assert list(frame.loc[frame.problem_id == "p1", "rank"]) == [1, 2]
    escalated = frame[frame.problem_id == "p2"]
    assert len(escalated) == 1 and bool(escalated.escalate.iloc[0]) and escalated["rank"].iloc[0] == 0


def test_recommend_frame_says_what_recommend_says() -> None:
    """The frame is built column by column, not from ``recommend``'s objects: both must agree row for row."""
    texts = ["loan for a new boiler", "担保 贷款", "ERP software and training", "zzzq vrrp", "land for a warehouse",
             "water and electricity connection", "energy saving 节能 equipment"] * 4
    problems = pd.DataFrame({"problem_id": [f"p{n}" for n in range(len(texts))], "text": texts,
                             "enterprise_id": [f"E{n % 5}" for n in range(len(texts))],
                             "region": ["Qinghe", None, "Riverside", None, "Xicheng", "Dongcheng", None] * 4,
                             "amount": [200_000.0, 50_000.0, None, None, None, None, 1_000_000.0] * 4})
    matcher = Matcher(chunk_cells=40).fit(city_institutions(), regions=["Qinghe", "Dongcheng", "Xicheng", "Riverside"])
    frame = matcher.recommend_frame(problems, k=3)
    expected = []
    for recommendation, enterprise in zip(matcher.recommend(problems, k=3), problems["enterprise_id"], strict=True):
        base = (recommendation.problem_id, enterprise, ";".join(recommendation.categories), recommendation.escalate,
                recommendation.escalate_reason, recommendation.model_version)
        expected.extend([(*base, 0, None, None, None, None, "")] if not recommendation.institutions else
                        [(*base, item.rank, item.institution_id, item.name, item.kind, item.score,
                          " | ".join(item.reasons)) for item in recommendation.institutions])
    got = [(row.problem_id, row.enterprise_id, row.categories, bool(row.escalate), row.escalate_reason,
            row.model_version, int(row.rank), row.institution_id, row.name, row.kind,
            None if pd.isna(row.score) else row.score, row.reasons) for row in frame.itertuples()]
    assert got == expected
    assert frame["escalate"].any() and (frame["rank"] > 1).any()  # both kinds of rows were compared


def test_with_ranker_swaps_the_model_and_keeps_the_index(matcher: Matcher) -> None:
    other = matcher.with_ranker(TextOnlyRanker())
    assert other.model_version == "text-only-1" and matcher.model_version == BaselineRanker.version
    assert other.catalogue_ is matcher.catalogue_


@pytest.mark.parametrize(
    ("problem", "k", "field"),
    [
        (Problem(text=""), 5, "text"),
        (Problem(text="   \n\t"), 5, "text"),
        (Problem(text="!!! ??? 🎉🎉"), 5, "text"),
        (Problem(text="x" * 5001), 5, "text"),
        (Problem(text="loan", sector="mining"), 5, "sector"),
        (Problem(text="loan", region="Atlantis"), 5, "region"),
        (Problem(text="loan", amount=-5), 5, "amount"),
        (Problem(text="loan"), 0, "k"),
        (Problem(text="loan"), 51, "k"),
    ],
)
def test_bad_input_names_the_field(matcher: Matcher, problem: Problem, k: int, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        matcher.recommend(problem, k=k)
    assert [issue.column for issue in caught.value.issues] == [field]


def test_every_bad_row_is_reported_together(matcher: Matcher) -> None:
    problems = pd.DataFrame({"text": ["loan", "", "ok text"], "amount": [1.0, 2.0, -3.0]})
    with pytest.raises(InvalidInput) as caught:
        matcher.recommend(problems)
    assert [(i.row, i.column) for i in caught.value.issues] == [(2, "text"), (3, "amount")]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.floats(-5, 5, allow_nan=False), min_size=6, max_size=6), min_size=1, max_size=5),
    st.integers(1, 8),
)
def test_top_k_agrees_with_a_full_sort(rows: list[list[float]], k: int) -> None:
    scores = np.array(rows)
    index, values = top_k(scores, k)
    for row in range(len(scores)):
        expected = sorted(range(scores.shape[1]), key=lambda j: (-scores[row, j], j))[: min(k, scores.shape[1])]
        assert list(index[row]) == expected
        assert list(values[row]) == [scores[row, j] for j in expected]


@pytest.mark.parametrize("shape", ["distinct", "rounded", "mostly_excluded", "all_equal"])
def test_top_k_on_wide_rows_agrees_with_a_stable_sort(shape: str) -> None:
    # wide enough that the bound comes from a sample of the columns; excluded (-1) and equal values let
    # too many through, so some rows take the exact-partition path
    rng = np.random.default_rng(7)
    scores = rng.random((40, 2_500)).astype(np.float32)
    if shape == "rounded":
        scores = np.round(scores, 2)
    elif shape == "mostly_excluded":
        scores[rng.random(scores.shape) < np.linspace(0.0, 0.999, 40)[:, None]] = -1.0
    elif shape == "all_equal":
        scores[:] = 0.25
    for k in (1, 16, 50):
        index, values = top_k(scores, k)
        expected = np.lexsort((np.broadcast_to(np.arange(2_500), scores.shape), -scores), axis=1)[:, :k]
        assert np.array_equal(index, expected)
        assert np.array_equal(values, np.take_along_axis(scores, expected, axis=1))


def test_fast_eligibility_agrees_with_the_rule_by_rule_masks() -> None:
    from matching.eligibility import RULES, combine, eligibility_masks, eligible_matrix

    matcher = Matcher().fit(
        city_institutions(), regions=["Qinghe", "Dongcheng", "Xicheng"], load=pd.Series({"V03": 40})
    )
    problems = pd.DataFrame(
        {
            "text": ["loan"] * 6,
            "region": ["Qinghe", None, "Xicheng", "Dongcheng", None, "Qinghe"],
            "sector": ["agriculture", None, "manufacturing", "construction", "other", None],
            "amount": [10_000, None, 600_000, 3_000_000, 60_000_000, 50_000],
        }
    )
    prepared = matcher.prepare(problems)
    rows = np.arange(len(problems))
    eligible, excluded = eligible_matrix(prepared, rows, matcher.catalogue_)
    masks = eligibility_masks(prepared, rows, matcher.catalogue_)
    assert np.array_equal(eligible, combine(masks))
    for rule in RULES:
        assert list(excluded[rule]) == list((~masks[rule]).sum(axis=1)), rule


def test_this_months_cases_count_against_capacity_and_declines_do_not() -> None:
    from matching.tables.context import fit_matcher, monthly_load

    from factories import valid_tables

    tables = valid_tables(institutions=3, outcomes=3)
    outcomes = tables.outcomes.assign(
        institution_id=["I0001", "I0001", "I0002"],
        status=["accepted", "declined", "solved"],
        recorded_at=pd.to_datetime(["2026-11-03", "2026-11-04", "2026-10-30"]),
    )
    load = monthly_load(outcomes, as_of=pd.Timestamp("2026-11-20"))
    assert load.to_dict() == {"I0001": 1.0}
    tables = type(tables)(tables.enterprises, tables.problems, tables.institutions.assign(capacity=1), outcomes)
    matcher = fit_matcher(tables, as_of=pd.Timestamp("2026-11-20"))
    table = matcher.eligibility(Problem(text="loan")).set_index("institution_id")
    assert table.loc["I0001", "failed_rules"] == ("capacity",)
    assert table.loc["I0002", "eligible"]


def test_a_soft_rule_scores_instead_of_excluding_and_keeps_passing_institutions_first() -> None:
    problem = Problem(text="farm loan for seeds and fertiliser", region="Xicheng", sector="agriculture")
    hard = Matcher().fit(city_institutions(), regions=["Qinghe", "Dongcheng", "Xicheng", "Riverside"])
    soft = Matcher(soft_rules=["region"]).fit(city_institutions(),
                                              regions=["Qinghe", "Dongcheng", "Xicheng", "Riverside"])
    assert "region" in hard.recommend(problem, k=5)[0].excluded
    assert "region" not in soft.recommend(problem, k=5)[0].excluded
    table = soft.eligibility(problem).set_index("institution_id")
    assert table.loc["B02", "eligible"]  # outside its regions, but region is only scored now
    prepared = soft.prepare(problem)
    found = soft.candidates(prepared, np.array([0]), n=len(soft.catalogue_))
    in_region = hard.eligibility(problem).set_index("institution_id")["eligible"]
    order = in_region.reindex(soft.catalogue_.ids[found.institution_rows]).to_numpy()
    assert order.any() and not order.all()
    # every institution serving the region comes before every one that does not
    assert not (np.diff(order.astype(int)) > 0).any()


def test_an_unknown_soft_rule_is_named() -> None:
    with pytest.raises(ValueError, match="colour"):
        Matcher(soft_rules=["colour"]).fit(city_institutions())
