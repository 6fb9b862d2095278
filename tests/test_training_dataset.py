"""Training data and the fitted ranker, without MLflow: the time split, no leakage of future outcomes into
features, labels from outcome stages, propensity weights, the selection-bias report, reproducibility and
refusals of data a model cannot be trained on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from matching import FEATURE_NAMES, track_record_asof
from matching.errors import InvalidInput
from matching.tables.files import Tables, validate_tables
from training.api import fit_ranker
from training.bias import effective_sample_size, gini
from training.config import load_config
from training.dataset import build_pairs, ipw_weights, propensities_from_log
from training.simulator.generate import SimulatedData, simulate

CONFIG = load_config()


@pytest.fixture(scope="module")
def city() -> SimulatedData:
    return simulate(n_enterprises=600, n_institutions=60, seed=3)


@pytest.fixture(scope="module")
def tables(city: SimulatedData) -> Tables:
    return validate_tables(city.enterprises, city.problems, city.institutions, city.outcomes)


def test_every_problem_is_in_one_part_and_the_parts_follow_each_other_in_time(tables: Tables) -> None:
    data = build_pairs(tables, config=CONFIG)
    parts = data.pairs[data.pairs["tried"]].groupby("problem_id")["split"].nunique()
    assert (parts == 1).all()
    times = {name: data.pairs.loc[data.pairs["split"] == name, "decided_at"] for name in
             ("train", "calibration", "evaluation")}
    assert times["train"].max() < times["calibration"].min()
    assert times["calibration"].max() < times["evaluation"].min() == data.cutoff
    share = data.problems["split"].value_counts(normalize=True)
    assert share["evaluation"] == pytest.approx(CONFIG.split.evaluation_fraction, abs=0.05)


def test_track_record_features_use_only_outcomes_before_the_decision(tables: Tables) -> None:
    data = build_pairs(tables, config=CONFIG)
    rate, cases = track_record_asof(tables.outcomes, data.pairs["institution_id"].to_numpy(),
                                    data.pairs["decided_at"].to_numpy())
    np.testing.assert_allclose(data.features["track_cases_log"], np.log1p(cases))
    np.testing.assert_allclose(data.features["track_success_rate"], rate, equal_nan=True)
    # Each pair's own outcome is recorded after its problem was stated, so it never counts in its own record.
    recorded = tables.outcomes.groupby(["problem_id", "institution_id"])["recorded_at"].min()
    own = recorded.reindex(pd.MultiIndex.from_frame(data.pairs[["problem_id", "institution_id"]])).to_numpy()
    assert (own >= data.pairs["decided_at"].to_numpy()).all()


def test_rewriting_the_future_leaves_the_training_features_unchanged(tables: Tables) -> None:
    data = build_pairs(tables, config=CONFIG)
    last_training_decision = data.pairs.loc[data.pairs["split"] != "evaluation", "decided_at"].max()
    outcomes = tables.outcomes.copy()
    later = outcomes["recorded_at"] >= last_training_decision
    outcomes.loc[later, "status"] = np.where(outcomes.loc[later, "status"] == "solved", "failed", "solved")
    rewritten = build_pairs(Tables(tables.enterprises, tables.problems, tables.institutions, outcomes), config=CONFIG)
    before = data.pairs["split"] != "evaluation"
    assert later.sum() > 100  # the test changes a lot of the future
    pd.testing.assert_frame_equal(data.features[before.to_numpy()], rewritten.features[before.to_numpy()])


def test_a_pair_is_labelled_by_its_final_status() -> None:
    frames = _tiny_frames()
    outcomes = frames["outcomes"]
    # P000001 with I0001: contacted, then accepted, then failed -> failed (gain 0, not solved).
    data = build_pairs(validate_tables(**frames), config=CONFIG)
    pair = data.pairs.set_index(["problem_id", "institution_id"]).loc[("P000001", "I0001")]
    assert (pair["status"], pair["gain"], pair["solved"]) == ("failed", 0, 0)
    assert len(outcomes) > len(data.pairs)


def test_inverse_propensity_weights_are_clipped_and_average_one() -> None:
    weights = ipw_weights(np.array([0.5, 0.1, 0.001, np.nan]), clip=0.01, enabled=True)
    assert weights.mean() == pytest.approx(1.0)
    assert weights[2] / weights[0] == pytest.approx(0.5 / 0.01)  # 1/0.001 clipped to 1/0.01
    assert weights[3] == pytest.approx(weights[:3].mean())
    assert (ipw_weights(np.array([0.5, 0.1]), clip=0.01, enabled=False) == 1).all()


def test_propensities_come_from_the_recommendation_log() -> None:
    recommendations = pd.DataFrame({"recommendation_id": ["R1", "R2"], "problem_id": ["P1", "P1"]})
    items = pd.DataFrame({"recommendation_id": ["R1", "R1", "R2"], "institution_id": ["I1", "I2", "I1"],
                          "propensity": [0.5, 0.25, 0.8]})
    found = propensities_from_log(recommendations, items).set_index("institution_id")["propensity"]
    assert found.to_dict() == {"I1": 0.8, "I2": 0.25}


def test_the_bias_report_measures_skew() -> None:
    assert gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 12])) == pytest.approx(0.75)
    assert effective_sample_size(np.ones(10)) == pytest.approx(10)
    assert effective_sample_size(np.array([1.0, 0, 0, 0])) == pytest.approx(1)


def test_the_same_seed_gives_the_same_model_and_metrics(city: SimulatedData, tables: Tables) -> None:
    config = replace(CONFIG, model=replace(CONFIG.model, max_iter=60))
    first = fit_ranker(tables, config=config, propensities=city.logging_policy, ground_truth=city.ground_truth)
    second = fit_ranker(tables, config=config, propensities=city.logging_policy, ground_truth=city.ground_truth)
    assert first.metrics == pytest.approx(second.metrics, nan_ok=True)
    assert first.data_digest == second.data_digest
    features = first.snapshot.logged[list(FEATURE_NAMES)]
    np.testing.assert_array_equal(first.ranker.score(features), second.ranker.score(features))
    # and it learned something: above the text-only baseline on both the logged and the true metric
    assert first.metrics["ndcg_at_5"] > first.metrics["ndcg_at_5_text_baseline"]
    assert first.metrics["gt_ndcg_at_5"] > first.metrics["gt_ndcg_at_5_text_baseline"]
    assert first.metrics["gt_ndcg_at_5_oracle"] == pytest.approx(1.0)
    assert 0 < first.metrics["bias_top10pct_share"] <= 1


def _tiny_frames() -> dict[str, pd.DataFrame]:
    """Three institutions, twelve problems over twelve months, each tried by two institutions."""
    from factories import enterprises_frame, institutions_frame, problems_frame

    n = 12
    problems = problems_frame(n, stated_at=pd.date_range("2024-01-01", periods=n, freq="MS"))
    rows = []
    for i, (problem, stated) in enumerate(zip(problems["problem_id"], problems["stated_at"], strict=True)):
        for j, institution in enumerate(("I0001", "I0002")):
            status = "solved" if (i + j) % 2 == 0 else "declined"
            rows.append((problem, institution, status, stated + pd.Timedelta(days=3)))
    rows[0:1] = [("P000001", "I0001", "contacted", pd.Timestamp("2024-01-02")),
                 ("P000001", "I0001", "accepted", pd.Timestamp("2024-01-05")),
                 ("P000001", "I0001", "failed", pd.Timestamp("2024-01-09"))]
    outcomes = pd.DataFrame(rows, columns=["problem_id", "institution_id", "status", "recorded_at"])
    outcomes.insert(0, "outcome_id", [f"O{i:07d}" for i in range(1, len(outcomes) + 1)])
    outcomes["amount"] = np.nan
    outcomes["recorded_by"] = "caseworker-1"
    return {"enterprises": enterprises_frame(3), "problems": problems,
            "institutions": institutions_frame(3, active=[True, True, True]), "outcomes": outcomes}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda f: {**f, "outcomes": f["outcomes"].iloc[0:0]}, "at least one outcome"),
    (lambda f: {**f, "outcomes": f["outcomes"].assign(status="declined")}, "cases taken up and cases not taken up"),
])
def test_data_a_model_cannot_learn_from_is_refused_with_the_reason(change, expected: str) -> None:  # noqa: ANN001
    with pytest.raises(InvalidInput, match=expected):
        build_pairs(validate_tables(**change(_tiny_frames())), config=CONFIG)


def test_outcomes_naming_unknown_institutions_are_listed_with_their_rows() -> None:
    frames = _tiny_frames()
    outcomes = frames["outcomes"].copy()
    outcomes.loc[[2, 5], "institution_id"] = "I9999"
    tables = Tables(frames["enterprises"], frames["problems"], frames["institutions"], outcomes)
    with pytest.raises(InvalidInput) as caught:
        build_pairs(tables, config=CONFIG)
    assert [(i.column, i.row) for i in caught.value.issues] == [("institution_id", 3), ("institution_id", 6)]


def test_untried_candidates_are_added_when_asked_and_only_before_the_evaluation_part(tables: Tables) -> None:
    config = replace(CONFIG, dataset=replace(CONFIG.dataset, untried="always", untried_negatives=2,
                                             untried_weight=0.3))
    data = build_pairs(tables, config=config)
    untried = data.pairs[~data.pairs["tried"]]
    tried = data.pairs[data.pairs["tried"]]
    assert len(untried) > 0 and set(untried["split"]) == {"train", "calibration"}
    assert (untried["solved"] == 0).all() and (untried["taken_up"] == 0).all() and (untried["weight"] == 0.3).all()
    assert untried.groupby("problem_id").size().max() <= 2
    overlap = untried.merge(tried, on=["problem_id", "institution_id"])
    assert overlap.empty


def test_by_default_untried_candidates_join_only_where_the_outcomes_record_only_who_served(tables: Tables) -> None:
    # The simulated caseworkers' outcomes record declines: who takes a case up is in them, so no untried pairs.
    assert build_pairs(tables, config=CONFIG).pairs["tried"].all()
    # Real lending records hold only the loans made: every tried pair was taken up, so untried ones join.
    served = tables.outcomes.assign(status="solved")
    data = build_pairs(Tables(tables.enterprises, tables.problems, tables.institutions, served), config=CONFIG)
    assert (~data.pairs["tried"]).any() and data.pairs.loc[data.pairs["tried"], "taken_up"].all()


def test_with_weighting_on_rarely_chosen_pairs_weigh_more(city: SimulatedData, tables: Tables) -> None:
    config = replace(CONFIG, weighting=replace(CONFIG.weighting, inverse_propensity=True, propensity_clip=0.01))
    train = build_pairs(tables, config=config, propensities=city.logging_policy).pairs
    train = train[train["split"] == "train"]
    expected = 1 / np.maximum(train["propensity"].to_numpy(), 0.01)
    np.testing.assert_allclose(train["weight"], expected / expected.mean())
    unweighted = build_pairs(tables, config=CONFIG, propensities=city.logging_policy).pairs
    assert (unweighted["weight"] == 1).all() and unweighted["propensity"].notna().all()
