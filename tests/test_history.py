"""The history of cases (``matching.features.history``): every count is of what was recorded strictly before the pair's
time, serving sees exactly what was recorded before its as-of time, and the history's candidates join
retrieval's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matching import FEATURE_NAMES, Matcher
from matching.features.history import HISTORY_FEATURES, as_seconds
from matching.features.history_text import CaseTexts
from matching.tables.context import problem_frame

from factories import enterprises_frame, institutions_frame, problems_frame

N_PROBLEMS, N_OUTCOMES = 60, 240


def _world(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Six enterprises in two districts, three institutions serving everyone, outcomes over two years."""
    rng = np.random.default_rng(seed)
    enterprises = enterprises_frame(6)
    stated = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, N_PROBLEMS), unit="D")
    problems = problems_frame(N_PROBLEMS, enterprises=6, stated_at=stated,
                              amount=rng.choice([50_000.0, 400_000.0, np.nan], N_PROBLEMS))
    institutions = institutions_frame(3, active=[True, True, True], regions=[(), (), ()],
                                      sectors=[(), (), ()], min_amount=[np.nan] * 3, max_amount=[np.nan] * 3)
    which = rng.integers(0, N_PROBLEMS, N_OUTCOMES)
    outcomes = pd.DataFrame({
        "outcome_id": [f"O{i:07d}" for i in range(1, N_OUTCOMES + 1)],
        "problem_id": problems["problem_id"].to_numpy()[which],
        "institution_id": rng.choice(["I0001", "I0002", "I0003"], N_OUTCOMES),
        "status": rng.choice(["contacted", "declined", "accepted", "solved", "failed"], N_OUTCOMES),
        "amount": np.nan,
        "recorded_at": problems["stated_at"].to_numpy()[which] + pd.to_timedelta(rng.integers(0, 60, N_OUTCOMES),
                                                                                  unit="D"),
        "recorded_by": "caseworker-1",
    })
    return enterprises, problems, institutions, outcomes


def _brute_force(problems: pd.DataFrame, outcomes: pd.DataFrame, problem_id: str, institution: str,
                 at: pd.Timestamp) -> dict[str, float]:
    """The features recomputed from the definitions, one pair at a time."""
    context = problems.set_index("problem_id")
    known = outcomes[outcomes["recorded_at"] < at]
    taken = known[known["status"].isin(["accepted", "solved", "failed"])].sort_values("recorded_at")
    cases = taken.drop_duplicates(["problem_id", "institution_id"]).copy()
    cases["region"] = cases["problem_id"].map(context["region"])
    region = context.at[problem_id, "region"]
    in_region = cases[cases["region"] == region]
    recent = in_region[in_region["recorded_at"] >= at - pd.Timedelta(days=365)]
    mine = cases[cases["institution_id"] == institution]
    days_since = (at - mine["recorded_at"].max()).total_seconds() / 86_400 if len(mine) else np.nan
    enterprise = context.at[problem_id, "enterprise_id"]
    pair = known[(known["institution_id"] == institution)
                 & (known["problem_id"].map(context["enterprise_id"]) == enterprise)]
    return {
        "history_cases_log": np.log1p(len(mine)),
        "history_share": len(mine) / max(len(cases), 1),
        "history_region_share": (in_region["institution_id"] == institution).sum() / (len(in_region) + 1),
        "history_region_recent_share": (recent["institution_id"] == institution).sum() / (len(recent) + 1),
        "history_days_since_last_log": np.log1p(days_since),
        "enterprise_outcomes_log": np.log1p(len(pair)),
    }


def test_history_features_count_exactly_what_was_recorded_before_each_pair() -> None:
    enterprises, problems, institutions, outcomes = _world()
    frame = problem_frame(problems, enterprises)
    matcher = Matcher().fit(institutions, outcomes=outcomes, problems=frame, regions=["西湖区", "Binjiang"])
    prepared = matcher.prepare(frame)
    rng = np.random.default_rng(1)
    rows = rng.integers(0, N_PROBLEMS, 40)
    columns = rng.integers(0, 3, 40)
    at = pd.Timestamp("2022-03-01") + pd.to_timedelta(rng.integers(0, 700, 40), unit="D")
    history = matcher.history_.features(prepared, rows, columns, region=prepared.region[rows],
                                        sector=prepared.sector[rows], amount=prepared.amount[rows],
                                        enterprise=matcher.history_.enterprise_code(
                                            prepared.columns["enterprise_id"][rows]),
                                        times=as_seconds(at))
    for n in range(40):
        expected = _brute_force(frame, outcomes, frame["problem_id"].iat[rows[n]],
                                matcher.catalogue_.ids[columns[n]], at[n])
        for name, value in expected.items():
            assert history[name][n] == pytest.approx(value, nan_ok=True, rel=1e-6), name


def test_serving_as_of_a_time_sees_exactly_the_outcomes_recorded_before_it() -> None:
    enterprises, problems, institutions, outcomes = _world()
    frame = problem_frame(problems, enterprises)
    as_of = pd.Timestamp("2023-01-01")
    asked = frame.head(12)
    given_all = Matcher().fit(institutions, outcomes=outcomes, problems=frame, as_of=as_of)
    given_past = Matcher().fit(institutions, outcomes=outcomes[outcomes["recorded_at"] < as_of], problems=frame,
                               as_of=as_of)
    first = given_all.features(given_all.prepare(asked), given_all.candidates(given_all.prepare(asked),
                                                                              np.arange(12)))
    second = given_past.features(given_past.prepare(asked), given_past.candidates(given_past.prepare(asked),
                                                                                  np.arange(12)))
    pd.testing.assert_frame_equal(first, second)
    # and the history does count: a later as-of time sees more cases
    later = Matcher().fit(institutions, outcomes=outcomes, problems=frame, as_of=pd.Timestamp("2024-06-01"))
    assert later.history_.cases > given_all.history_.cases > 0


def test_every_history_feature_is_one_of_the_engine_features() -> None:
    assert set(HISTORY_FEATURES) <= set(FEATURE_NAMES)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_an_enterprises_partner_joins_the_candidates_even_when_retrieval_misses_it() -> None:
    enterprises, problems, institutions, outcomes = _world()
    frame = problem_frame(problems, enterprises)
    # One enterprise worked with I0003, the college, on a money problem: retrieval alone would not propose it.
    worked = pd.DataFrame({"outcome_id": ["O9999999"], "problem_id": ["P000001"], "institution_id": ["I0003"],
                           "status": ["solved"], "amount": [np.nan], "recorded_at": [pd.Timestamp("2021-06-01")],
                           "recorded_by": ["caseworker-1"]})
    matcher = Matcher(n_candidates=1).fit(institutions, outcomes=worked, problems=frame)
    asked = frame[frame["enterprise_id"] == frame.loc[0, "enterprise_id"]].head(3)
    prepared = matcher.prepare(asked)
    found = matcher.candidates(prepared, np.arange(len(asked)), 1)
    partner = matcher.catalogue_.position["I0003"]
    for row in range(len(asked)):
        assert partner in found.institution_rows[found.problem_rows == row]


def test_text_history_finds_who_took_up_similar_problems_and_ignores_later_cases() -> None:
    texts = ["dairy farm cows milk", "software website app", "dairy cows milk cooling", "software app cloud",
             "dairy farm milk"]
    owners = np.array([0, 1, 0, 1, 0])
    days = np.array([0, 10, 20, 30, 400])
    times = as_seconds(pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D"))
    regions = np.zeros(5, dtype=np.int64)
    cases = CaseTexts(texts, owners, times, regions, 2)
    asked = ["milk cows dairy"]
    from matching.normalise import normalize, words

    tokens = [words(normalize(t)) for t in asked]
    when = as_seconds([pd.Timestamp("2020-06-01")] * 2)
    features = cases.features(tokens, np.array([0, 0]), np.array([0, 1]), np.zeros(2), when)
    assert features["history_neighbour_share"][0] == pytest.approx(1.0)
    assert features["history_neighbour_share"][1] == pytest.approx(0.0)
    assert features["history_text_similarity"][0] > features["history_text_similarity"][1]
    without_later = CaseTexts(texts[:4], owners[:4], times[:4], regions[:4], 2)
    again = without_later.features(tokens, np.array([0, 0]), np.array([0, 1]), np.zeros(2), when)
    for name, values in features.items():
        np.testing.assert_allclose(values, again[name])
