"""The sample-data simulator and ``smematch generate``, as specifications.

Small cities (300 enterprises, 60 institutions) check determinism, sizes and integrity; one medium city
(1,500 enterprises, 120 institutions) checks the statistics: language mix, typos, the effect of fit on
success, the bias of the caseworkers' policy and the coverage of the ground truth.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matching.errors import InvalidInput
from matching.records import CATEGORIES, INSTITUTION_KINDS, LENDER_KINDS, OUTCOME_STATUSES, SECTORS
from matching.tables.files import read_tables
from service.cli import app
from training.simulator.generate import FILES, SimulatedData, SimulationConfig, generate, simulate, write
from training.simulator.institutions import ARCHETYPES, fit_matrix, make_institutions
from training.simulator.outcomes import success_probability
from training.simulator.text import DISTRICTS, render_problem_texts

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def small() -> SimulatedData:
    return simulate(300, 60, seed=7)


@pytest.fixture(scope="module")
def city() -> SimulatedData:
    return simulate(1_500, 120, seed=3)


def read_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


# ------------------------------------------------------------------------------------------ determinism


def test_the_same_seed_writes_the_same_files_byte_for_byte(tmp_path: Path) -> None:
    config = SimulationConfig(300, 60, seed=5)
    generate(tmp_path / "one", config)
    generate(tmp_path / "two", config)
    assert read_bytes(tmp_path / "one") == read_bytes(tmp_path / "two")


def test_another_seed_gives_another_city(small: SimulatedData) -> None:
    other = simulate(300, 60, seed=8)
    assert not small.problems["text"].equals(other.problems["text"])
    assert not small.institutions["name"].equals(other.institutions["name"])
    assert not small.outcomes["institution_id"].equals(other.outcomes["institution_id"])


def test_simulating_twice_gives_equal_frames(small: SimulatedData) -> None:
    again = simulate(300, 60, seed=7)
    for name, frame in small.files().items():
        pd.testing.assert_frame_equal(frame, again.files()[name], obj=name)


def test_streaming_in_chunks_writes_what_simulate_returns(tmp_path: Path) -> None:
    config = SimulationConfig(250, 40, seed=2, chunk_enterprises=100)
    summary = generate(tmp_path / "streamed", config)
    data = simulate(250, 40, seed=2, chunk_enterprises=100)
    write(data, tmp_path / "whole")
    for name in FILES:
        if name.endswith(".csv"):
            assert (tmp_path / "streamed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    streamed = pd.read_parquet(tmp_path / "streamed" / "ground_truth.parquet")
    pd.testing.assert_frame_equal(streamed, pd.read_parquet(tmp_path / "whole" / "ground_truth.parquet"))
    assert summary.rows["enterprises.csv"] == 250
    assert data.enterprises["enterprise_id"].is_unique and data.problems["problem_id"].is_unique
    assert len(data.outcomes) == config.total_outcomes and data.outcomes["outcome_id"].is_unique


# ------------------------------------------------------------------------------------- sizes and integrity


def test_sizes_follow_the_request(small: SimulatedData) -> None:
    assert len(small.enterprises) == 300
    assert len(small.institutions) == 60
    assert len(small.outcomes) == round(3.7 * 300)
    per_enterprise = small.problems.groupby("enterprise_id").size()
    assert per_enterprise.between(1, 3).all() and len(per_enterprise) == 300
    assert len(small.problem_truth) == len(small.problems)
    assert len(small.logging_policy) == len(small.outcomes)


def test_outcome_count_can_be_chosen_or_switched_off() -> None:
    assert len(simulate(200, 30, seed=1, n_outcomes=57).outcomes) == 57
    none = simulate(200, 30, seed=1, n_outcomes=0)
    assert none.outcomes.empty and none.logging_policy.empty and none.ground_truth.empty
    assert list(none.outcomes.columns) == ["outcome_id", "problem_id", "institution_id", "status", "amount",
                                           "recorded_at", "recorded_by"]


def test_every_reference_resolves(small: SimulatedData) -> None:
    assert small.problems["enterprise_id"].isin(small.enterprises["enterprise_id"]).all()
    assert small.outcomes["problem_id"].isin(small.problems["problem_id"]).all()
    assert small.outcomes["institution_id"].isin(small.institutions["institution_id"]).all()
    assert small.logging_policy["outcome_id"].tolist() == small.outcomes["outcome_id"].tolist()
    assert small.problem_truth["problem_id"].tolist() == small.problems["problem_id"].tolist()
    assert small.ground_truth["problem_id"].isin(small.problems["problem_id"]).all()
    assert not small.outcomes.duplicated(["problem_id", "institution_id"]).any()


def test_ids_follow_the_contract_pattern(small: SimulatedData) -> None:
    for frame, column, pattern in ((small.enterprises, "enterprise_id", r"E\d{6}"),
                                   (small.problems, "problem_id", r"P\d{6}"),
                                   (small.institutions, "institution_id", r"I\d{4}"),
                                   (small.outcomes, "outcome_id", r"O\d{7}")):
        assert frame[column].str.fullmatch(pattern).all(), column
        assert frame[column].is_unique, column


def test_the_written_folder_passes_the_table_contract(small: SimulatedData, tmp_path: Path) -> None:
    rows = write(small, tmp_path)
    read = read_tables(tmp_path)
    assert len(read.problems) == rows["problems.csv"] == len(small.problems)
    assert len(read.outcomes) == rows["outcomes.csv"]
    assert set(rows) == set(FILES)


def test_values_stay_inside_the_vocabularies_and_the_window(city: SimulatedData) -> None:
    enterprises, problems, institutions, outcomes = city.enterprises, city.problems, city.institutions, city.outcomes
    assert enterprises["sector"].isin(SECTORS).all()
    assert set(enterprises["region"]) == {d[0] for d in DISTRICTS}
    assert (enterprises["employees"] >= 0).all() and (enterprises["annual_revenue"] >= 0).all()
    assert enterprises["founded"].between(1990, 2024).all()
    assert problems["text"].str.len().between(1, 5000).all()
    assert problems["stated_at"].between("2024-11-01", "2026-10-31").all()
    assert (problems["amount"].dropna() >= 0).all()
    assert set(institutions["kind"]) == set(INSTITUTION_KINDS)
    assert set(outcomes["status"]) == set(OUTCOME_STATUSES)
    assert outcomes["recorded_at"].between("2024-11-01T00:00:00", "2026-10-31T23:59:59").all()
    stated = outcomes["problem_id"].map(problems.set_index("problem_id")["stated_at"])
    assert (outcomes["recorded_at"].str[:10] >= stated).all()


def test_wholesale_retail_and_manufacturing_are_the_commonest_sectors(city: SimulatedData) -> None:
    commonest = city.enterprises["sector"].value_counts().index[:2]
    assert set(commonest) == {"wholesale_retail", "manufacturing"}


def test_lenders_have_amount_ranges_and_others_have_none(small: SimulatedData) -> None:
    institutions = small.institutions
    lenders = institutions["kind"].isin(LENDER_KINDS)
    assert (institutions.loc[lenders, "min_amount"] <= institutions.loc[lenders, "max_amount"]).all()
    assert institutions.loc[~lenders, ["min_amount", "max_amount"]].isna().all().all()
    granted = small.outcomes.dropna(subset=["amount"])
    assert (granted["status"] == "solved").all()


# ------------------------------------------------------------------------------------------------- texts


def test_about_a_fifth_of_problems_are_in_chinese_and_some_mix_both(city: SimulatedData) -> None:
    truth = city.problem_truth.set_index("problem_id")
    language = city.problems["problem_id"].map(truth["language"])
    shares = language.value_counts(normalize=True)
    assert 0.15 <= shares["zh"] <= 0.25
    assert 0.05 <= shares["mixed"] <= 0.15
    texts = city.problems["text"]
    assert not texts[language == "en"].str.contains(CJK).any()
    assert not texts[language == "zh"].str.contains(LATIN).any()
    mixed = texts[language == "mixed"]
    assert (mixed.str.contains(CJK) & mixed.str.contains(LATIN)).all()


def test_about_a_tenth_of_problems_carry_typos(city: SimulatedData) -> None:
    share = (city.problem_truth["typo"] == "true").mean()
    assert 0.06 <= share <= 0.14


def test_the_typo_flag_marks_exactly_the_texts_that_differ_from_a_typo_free_rendering() -> None:
    rng = np.random.default_rng(11)
    n = 600
    arrays = dict(first=rng.integers(0, len(CATEGORIES), n), second=np.full(n, -1),
                  sectors=rng.integers(0, len(SECTORS), n), districts=rng.integers(0, len(DISTRICTS), n),
                  amounts=np.where(rng.random(n) < 0.5, 1e4 * rng.integers(3, 900, n), np.nan),
                  staff=rng.integers(0, 200, n), years=rng.integers(0, 30, n))
    slipped = render_problem_texts(np.random.default_rng(5), **arrays, typo_share=0.1)
    clean = render_problem_texts(np.random.default_rng(5), **arrays, typo_share=0.0)
    differs = np.array([a != b for a, b in zip(slipped.texts, clean.texts, strict=True)])
    assert (differs == slipped.typos).all()
    assert 0.05 <= differs.mean() <= 0.15
    assert not clean.typos.any()


def test_some_problems_state_two_needs_in_one_text(city: SimulatedData) -> None:
    categories = city.problem_truth["categories"].str.split(";")
    assert categories.explode().isin(CATEGORIES).all()
    assert 0.10 <= (categories.str.len() == 2).mean() <= 0.30
    assert set(categories.explode()) == set(CATEGORIES)


def test_texts_range_from_a_few_words_to_several_sentences(city: SimulatedData) -> None:
    english = city.problems["text"][~city.problems["text"].str.contains(CJK)]
    words = english.str.split().str.len()
    sentences = english.str.count(r"[.!?](?:\s|$)")
    assert words.min() <= 6 and words.max() >= 35
    assert (sentences >= 3).any()
    assert city.problems["text"].nunique() > 0.6 * len(city.problems)


def test_institutions_have_real_names_and_describe_their_products(city: SimulatedData) -> None:
    institutions = city.institutions
    assert not institutions["name"].str.fullmatch(r"[A-Za-z ]+ \d+").any()
    assert institutions["name"].is_unique
    descriptions = institutions["description"]
    assert descriptions.str.len().min() > 20
    assert descriptions.str.contains(CJK).any() and (~descriptions.str.contains(CJK)).any()
    archetypes = set(city.institution_truth["archetype"])
    utilities = {"land_bureau", "water_bureau", "power_supply", "rail_freight", "commerce_bureau", "sme_centre"}
    assert utilities <= archetypes
    assert (institutions["active"] == "false").any() and (institutions["active"] == "true").mean() > 0.9
    assert (institutions["regions"] != "").any() and (institutions["sectors"] != "").any()
    assert institutions["capacity"].nunique() > 10


# ------------------------------------------------------------------------------- truth, policy, outcomes


def pair_fit(data: SimulatedData) -> pd.Series:
    """The hidden fit of each logged pair: best over the problem's true categories."""
    fit = fit_matrix()
    archetype = data.outcomes["institution_id"].map(data.institution_truth.set_index("institution_id")["archetype"])
    column = archetype.map({a.key: i for i, a in enumerate(ARCHETYPES)}).to_numpy()
    categories = data.outcomes["problem_id"].map(data.problem_truth.set_index("problem_id")["categories"])
    return pd.Series([max(fit[CATEGORIES.index(c), a] for c in cats.split(";"))
                      for cats, a in zip(categories, column, strict=True)], index=data.outcomes.index)


def test_pairs_that_fit_are_solved_far_more_often(city: SimulatedData) -> None:
    fit = pair_fit(city)
    solved = city.outcomes["status"] == "solved"
    high, low = solved[fit >= 0.7], solved[fit <= 0.2]
    assert len(high) > 200 and len(low) > 200
    assert high.mean() > low.mean() + 0.3


def test_caseworkers_favour_popular_institutions(city: SimulatedData) -> None:
    truth = city.institution_truth.set_index("institution_id")
    active = city.institutions.set_index("institution_id")["active"] == "true"
    popularity = truth.loc[active, "popularity"]
    popular = popularity[popularity >= popularity.quantile(0.9)].index
    share_of_outcomes = city.outcomes["institution_id"].isin(popular).mean()
    assert share_of_outcomes > 2.5 * len(popular) / active.sum()
    propensity = city.logging_policy["propensity"]
    assert propensity.between(0, 1, inclusive="right").all()
    assert propensity.max() > 10 * propensity.min()


def test_ground_truth_covers_every_institution_for_each_evaluation_problem(city: SimulatedData) -> None:
    ground, outcomes = city.ground_truth, city.outcomes
    cut = city.config.eval_start.isoformat()
    assert set(ground["problem_id"]) == set(outcomes.loc[outcomes["recorded_at"] >= cut, "problem_id"])
    assert (ground.groupby("problem_id")["institution_id"].nunique() == len(city.institutions)).all()
    assert ground["p_success"].between(0, 1).all()
    inactive = city.institutions.loc[city.institutions["active"] == "false", "institution_id"]
    assert (ground.loc[ground["institution_id"].isin(inactive), "p_success"] == 0).all()
    logged = outcomes.merge(ground, on=["problem_id", "institution_id"])
    assert logged.loc[logged["status"] == "solved", "p_success"].mean() > logged.loc[
        logged["status"] == "declined", "p_success"].mean()
    best = ground.groupby("problem_id")["p_success"].max()
    assert best.mean() > logged["p_success"].mean() + 0.2  # the oracle leaves room to learn


def test_the_truth_of_a_pair_is_the_same_alone_or_in_the_grid() -> None:
    institutions = make_institutions(np.random.default_rng(1), 60)
    rng = np.random.default_rng(0)
    n = 50
    problems = {"index": np.arange(n), "first": rng.integers(0, 12, n), "second": np.where(
        rng.random(n) < 0.3, rng.integers(0, 12, n), -1), "sector": rng.integers(0, 10, n),
        "district": rng.integers(0, 8, n), "amount": np.where(rng.random(n) < 0.5, 1e4 * rng.integers(1, 2000, n),
                                                               np.nan),
        "staff": rng.integers(0, 300, n), "age": rng.integers(0, 30, n)}
    grid = success_probability(7, institutions, problems)
    columns = rng.integers(0, 60, n)
    alone = success_probability(7, institutions, problems, columns)
    np.testing.assert_allclose(alone, grid[np.arange(n), columns])


def test_ground_truth_can_be_left_out(tmp_path: Path) -> None:
    (tmp_path / "ground_truth.parquet").write_bytes(b"stale")
    summary = generate(tmp_path, SimulationConfig(120, 30, seed=1, ground_truth=False))
    assert "ground_truth.parquet" not in summary.rows
    assert not (tmp_path / "ground_truth.parquet").exists()
    assert simulate(120, 30, seed=1, ground_truth=False).ground_truth.empty


def test_bad_settings_are_reported_together() -> None:
    with pytest.raises(InvalidInput) as caught:
        SimulationConfig(n_enterprises=-1, n_institutions=0, seed=-3, n_outcomes=-2).validate()
    assert {issue.column for issue in caught.value.issues} == {"n_enterprises", "n_institutions", "seed",
                                                               "n_outcomes"}


# -------------------------------------------------------------------------------------------------- CLI


def test_the_cli_writes_every_file_and_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path), "--enterprises", "120",
                                      "--institutions", "30", "--seed", "4", "--outcomes", "200"])
    assert result.exit_code == 0, result.output
    assert all((tmp_path / name).is_file() for name in FILES)
    assert "outcomes.csv" in result.stdout and "200" in result.stdout
    assert len(pd.read_csv(tmp_path / "outcomes.csv")) == 200
    assert not list(tmp_path.glob(".smematch-generate-*"))


def test_the_cli_rejects_bad_arguments_with_a_clear_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "x"), "--enterprises", "-5",
                                      "--outcomes", "-1"])
    assert result.exit_code == 2
    assert "--enterprises" in result.stderr and "--outcomes" in result.stderr and ">= 1" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_the_cli_says_so_when_the_output_folder_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, ["generate", "--out", str(blocker), "--enterprises", "10"])
    assert result.exit_code == 2
    assert "a folder that can be written" in result.stderr
