"""Evaluation on real records: history features count only the past, nothing after a loan reaches a feature,
``evaluate --json`` keeps its contract, and bad input is refused with a clear message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from matching.tables import validate_tables
from service.cli import app
from training.realdata.evaluate import METHODS, EvaluationReport, MethodScore
from training.realdata.history import History
from training.realdata.kiva import import_kiva
from training.realdata.naics import read_naics
from training.realdata.neighbours import text_history
from training.realdata.sba import POST_LOAN, sba_frames
from training.realdata.study import build_study

REALDATA = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
SBA_FILE = REALDATA / "sba_7a" / "SBAnational_head.csv"
NAICS_FILE = REALDATA / "naics_2017" / "2017_NAICS_Descriptions.csv"
METRICS = ("hit_at_1", "hit_at_5", "hit_at_10", "mrr")
SPLIT = pd.Timestamp("2004-10-01")

runner = CliRunner()
needs_data = pytest.mark.skipif(not REALDATA.is_dir(), reason=f"no real data folder at {REALDATA}")


# -- history features: only the past counts --------------------------------------------------------------------

def _history_cases(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({
        "institution_id": rng.choice(["A", "B", "C"], n),
        "region": rng.choice(["north", "south"], n),
        "sector": rng.choice(["agriculture", "other"], n),
        "amount": rng.choice([1_000.0, 5_000.0, np.nan], n),
        "time": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
    })


def test_history_features_count_exactly_the_earlier_cases() -> None:
    rng = np.random.default_rng(0)
    cases, queries = _history_cases(300, rng), _history_cases(60, rng)
    features = History(cases).features(queries)
    for row, query in queries.iterrows():
        earlier = cases[cases["time"] < query["time"]]
        region = earlier[earlier["region"] == query["region"]]
        recent = region[region["time"] >= query["time"] - pd.Timedelta(days=365)]
        mine = earlier[earlier["institution_id"] == query["institution_id"]]
        assert features.at[row, "history_cases_log"] == pytest.approx(np.log1p(len(mine)))
        assert features.at[row, "history_region_share"] == pytest.approx(
            (region["institution_id"] == query["institution_id"]).sum() / (len(region) + 1))
        assert features.at[row, "history_region_recent_share"] == pytest.approx(
            (recent["institution_id"] == query["institution_id"]).sum() / (len(recent) + 1))
        amounts = np.log1p(mine["amount"].dropna())
        expected_gap = abs(np.log1p(query["amount"]) - amounts.mean()) if len(amounts) else np.nan
        assert features.at[row, "history_amount_gap"] == pytest.approx(expected_gap, nan_ok=True)
        for column, end in (("history_days_since_last_log", "max"), ("history_days_since_first_log", "min")):
            days = (query["time"] - getattr(mine["time"], end)()).days if len(mine) else np.nan
            assert features.at[row, column] == pytest.approx(np.log1p(days), nan_ok=True), column


def test_text_history_finds_who_served_similar_problems_and_ignores_later_cases() -> None:
    vectors = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))  # cases: A, B, then A again later
    owners, times = np.array([0, 1, 0]), np.array(["2020-01-01", "2020-02-01", "2020-09-01"], dtype="datetime64[ns]")
    query = sp.csr_matrix(np.array([[1.0, 0.0]]))
    asked = np.array(["2020-06-01", "2020-06-01"], dtype="datetime64[ns]")
    features = text_history(vectors, owners, times, query, np.array([0, 0]), np.array([0, 1]), asked, 2,
                            neighbours=2)
    assert features["history_text_similarity"][0] == pytest.approx(1.0)
    assert features["history_neighbour_share"][0] == pytest.approx(1.0)
    assert features["history_neighbour_share"][1] == pytest.approx(0.0)
    without_later = text_history(vectors[:2], owners[:2], times[:2], query, np.array([0, 0]), np.array([0, 1]),
                                 asked, 2, neighbours=2)
    for name, values in features.items():
        np.testing.assert_allclose(values, without_later[name])


# -- leakage guard on the real SBA records -----------------------------------------------------------------------

def _sba_raw(n: int = 1500) -> pd.DataFrame:
    return pd.read_csv(SBA_FILE, dtype=str, keep_default_na=False, nrows=n)


def _evaluation_inputs(raw: pd.DataFrame, naics) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = sba_frames(raw, naics, profile_until=SPLIT)
    study = build_study(validate_tables(*(frames[t] for t in ("enterprises", "problems", "institutions",
                                                               "outcomes"))), SPLIT)
    _, training = study.training_data(negatives=5, seed=0)
    _, _, evaluation = study.evaluation_features(study.test)
    return training, evaluation


@needs_data
def test_post_loan_columns_of_evaluated_loans_reach_no_feature() -> None:
    naics = read_naics(NAICS_FILE)
    raw = _sba_raw()
    approved = pd.to_datetime(raw["ApprovalDate"], format="%m/%d/%Y")
    later = (approved >= SPLIT).to_numpy()
    assert 0 < later.sum() < len(raw)
    shuffled = raw.copy()
    rng = np.random.default_rng(11)
    for column in POST_LOAN:  # scramble what happened after every evaluated loan
        shuffled.loc[later, column] = rng.permutation(shuffled.loc[later, column].to_numpy())
    training, evaluation = _evaluation_inputs(raw, naics)
    training_shuffled, evaluation_shuffled = _evaluation_inputs(shuffled, naics)
    pd.testing.assert_frame_equal(evaluation, evaluation_shuffled)
    pd.testing.assert_frame_equal(training, training_shuffled)

    # The same comparison does notice outcomes that were known before the split: the guard can fail.
    earlier = shuffled.copy()
    earlier.loc[~later, "MIS_Status"] = np.where(raw.loc[~later, "MIS_Status"] == "P I F", "CHGOFF", "P I F")
    _, evaluation_earlier = _evaluation_inputs(earlier, naics)
    assert not evaluation["track_success_rate"].equals(evaluation_earlier["track_success_rate"])


# -- the command ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kiva_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kiva")
    import_kiva(REALDATA / "kiva", folder)
    return folder


@needs_data
def test_evaluate_json_gives_each_method_four_metrics_and_the_trained_ranker_beats_popularity(
        kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2016-01-01", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"random", "popular_in_region", "text_only", "trained"} <= set(report)
    for scores in report.values():
        assert set(METRICS) <= set(scores)
        assert 0.0 <= scores["hit_at_1"] <= scores["hit_at_5"] <= scores["hit_at_10"] <= 1.0
        assert scores["hit_at_1"] <= scores["mrr"] <= scores["hit_at_10"]
    assert report["trained"]["mrr"] > report["popular_in_region"]["mrr"] + 0.1
    assert report["trained"]["mrr"] > report["random"]["mrr"] + 0.1


@needs_data
def test_evaluate_prints_markdown_tables_with_and_without_the_largest_institutions(kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2016-01-01",
                                 "--exclude-top-lenders", "2"])
    assert result.exit_code == 0, result.output
    evaluated = int(re.search(r"([\d,]+) evaluated", result.output)[1].replace(",", ""))
    without = re.search(r"Without the 2 largest institutions\*\* \((.+)\): ([\d,]+) cases", result.output)
    assert without is not None and without[1].count(";") == 1
    assert 0 < int(without[2].replace(",", "")) < evaluated
    for method in ("random", "popular_in_region", "text_only", "trained"):
        assert result.output.count(f"| `{method}` |") == 2


def test_json_of_a_report_with_exclusions_adds_one_key_keyed_by_method() -> None:
    score = MethodScore(hit_at_1=0.1, hit_at_5=0.2, hit_at_10=0.3, mrr=0.15, cases=10)
    report = EvaluationReport(split_date="2005-01-01", train_cases=5, test_cases=10, institutions=3,
                              methods={m: score for m in METHODS}, excluded=("L1", "L2"),
                              without_top={m: score for m in METHODS})
    out = report.to_json()
    assert set(out) == {*METHODS, "without_top_2_institutions"}
    assert out["trained"] == {"hit_at_1": 0.1, "hit_at_5": 0.2, "hit_at_10": 0.3, "mrr": 0.15, "cases": 10}
    assert set(out["without_top_2_institutions"]) == set(METHODS)


@needs_data
def test_a_split_before_the_profiles_cutoff_is_refused(kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2015-06-01"])
    assert result.exit_code != 0 and "2016-01-01" in result.output and "profile" in result.output


@needs_data
def test_a_split_with_nothing_after_it_is_refused(kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2030-01-01"])
    assert result.exit_code != 0 and "after the split date" in result.output


def test_evaluate_names_the_missing_tables_and_a_bad_date(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path), "--split-date", "2016-01-01"])
    assert result.exit_code != 0 and "enterprises.csv" in result.output and "problems.csv" in result.output
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path), "--split-date", "soon"])
    assert result.exit_code != 0 and "split-date" in result.output and "'soon'" in result.output


def _import_sba_head(folder: Path) -> None:
    from training.realdata.sba import import_sba

    import_sba(SBA_FILE, folder / "tables", naics_path=NAICS_FILE, profile_until="2004-10-01")


@needs_data
def test_auto_soft_rules_follow_what_the_records_break(kiva_folder: Path, tmp_path: Path) -> None:
    from matching.tables import read_tables
    from training.realdata.study import broken_rules

    # Kiva partners never leave their country: after the profile date no served case breaks a rule.
    kiva = read_tables(kiva_folder)
    assert broken_rules(kiva, pd.Timestamp("2017-01-01"), since=pd.Timestamp("2016-01-01")) == {}
    # SBA lenders reach states they had not served before the profile date: region is broken, counted.
    _import_sba_head(tmp_path)
    sba = read_tables(tmp_path / "tables")
    broken = broken_rules(sba, pd.Timestamp("2006-01-01"), since=pd.Timestamp("2004-10-01"))
    assert set(broken) == {"region"}
    n_broken, n_cases = broken["region"]
    assert 0.01 * n_cases <= n_broken < n_cases


@needs_data
def test_evaluate_says_which_rules_it_only_scored_and_refuses_unknown_ones(kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2016-01-01",
                                 "--soft-rules", "region"])
    assert result.exit_code == 0, result.output
    assert "scored but not enforced: region" in result.output
    bad = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2016-01-01",
                              "--soft-rules", "region,colour"])
    assert bad.exit_code != 0 and "soft-rules" in bad.output and "Traceback" not in bad.output
