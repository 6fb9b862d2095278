"""Evaluation on real records: nothing after a loan reaches a feature, ``evaluate --json`` keeps its contract,
what ``evaluate`` ranks is what ``recommend --model --as-of`` answers, and bad input is refused clearly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matching.tables.context import fit_matcher
from matching.tables.files import validate_tables
from service.cli import app
from service.imports.kiva import import_kiva
from service.imports.naics import read_naics
from service.imports.sba import POST_LOAN, sba_frames
from training.dataset import build_pairs
from training.realdata.evaluate import METHODS, EvaluationReport, MethodScore, before, evaluation_config
from training.realdata.study import build_study

# Small cuts of the real files (tests/data/realdata/README.md says which rows and how they were cut).
REALDATA = Path(__file__).resolve().parent / "data" / "realdata"
SBA_FILE = REALDATA / "sba_7a" / "SBAnational_head.csv"
NAICS_FILE = REALDATA / "naics_2017" / "2017_NAICS_Descriptions.csv"
METRICS = ("hit_at_1", "hit_at_5", "hit_at_10", "mrr")
SPLIT = pd.Timestamp("2004-10-01")

runner = CliRunner()


# -- leakage guard on the real SBA records -----------------------------------------------------------------------

def _sba_raw() -> pd.DataFrame:
    return pd.read_csv(SBA_FILE, dtype=str, keep_default_na=False)


def _evaluation_inputs(raw: pd.DataFrame, naics) -> tuple[pd.DataFrame, pd.DataFrame]:  # noqa: ANN001
    """What evaluate trains on (the pairs smematch train builds from what was known at the split) and what the
    served engine computes for the evaluated cases (history as of the split)."""
    frames = sba_frames(raw, naics, profile_until=SPLIT)
    tables = validate_tables(*(frames[t] for t in ("enterprises", "problems", "institutions", "outcomes")))
    training = build_pairs(before(tables, SPLIT), config=evaluation_config(None)).features
    study = build_study(tables, SPLIT)
    matcher = fit_matcher(tables, as_of=SPLIT)
    cases = study.problems.iloc[study.test].reset_index(drop=True)
    prepared = matcher.prepare(cases)
    evaluation = matcher.features(prepared, matcher.candidates(prepared, np.arange(len(cases)), 30))
    return training, evaluation


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


def test_evaluate_json_gives_each_method_four_metrics_and_the_trained_ranker_beats_popularity(
        kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2016-01-01", "--json",
                                 "--no-track"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"random", "popular_in_region", "text_only", "trained"} <= set(report)
    for scores in report.values():
        assert set(METRICS) <= set(scores)
        assert 0.0 <= scores["hit_at_1"] <= scores["hit_at_5"] <= scores["hit_at_10"] <= 1.0
        assert scores["hit_at_1"] <= scores["mrr"] <= scores["hit_at_10"]
    assert report["trained"]["mrr"] > report["popular_in_region"]["mrr"] + 0.1
    assert report["trained"]["mrr"] > report["random"]["mrr"] + 0.1


def test_evaluate_prints_markdown_tables_with_and_without_the_largest_institutions(kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2016-01-01",
                                 "--exclude-top-lenders", "2", "--no-track"])
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


def test_a_split_before_the_profiles_cutoff_is_refused(kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2015-06-01", "--no-track"])
    assert result.exit_code != 0 and "2016-01-01" in result.output and "profile" in result.output


def test_a_split_with_nothing_after_it_is_refused(kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2030-01-01", "--no-track"])
    assert result.exit_code != 0 and "after the split date" in result.output


def test_evaluate_names_the_missing_tables_and_a_bad_date(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path), "--split-date", "2016-01-01", "--no-track"])
    assert result.exit_code != 0 and "enterprises.csv" in result.output and "problems.csv" in result.output
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path), "--split-date", "soon", "--no-track"])
    assert result.exit_code != 0 and "split-date" in result.output and "'soon'" in result.output


def _import_sba(folder: Path) -> None:
    from service.imports.sba import import_sba

    import_sba(SBA_FILE, folder / "tables", naics_path=NAICS_FILE, profile_until="2004-10-01")


def test_auto_soft_rules_follow_what_the_records_break(kiva_folder: Path, tmp_path: Path) -> None:
    from matching.tables.files import read_tables
    from training.realdata.study import broken_rules

    # Kiva partners never leave their country: after the profile date no served case breaks a rule.
    kiva = read_tables(kiva_folder)
    assert broken_rules(kiva, pd.Timestamp("2017-01-01"), since=pd.Timestamp("2016-01-01")) == {}
    # SBA lenders reach states they had not served before the profile date: region is broken, counted.
    _import_sba(tmp_path)
    sba = read_tables(tmp_path / "tables")
    broken = broken_rules(sba, pd.Timestamp("2006-01-01"), since=pd.Timestamp("2004-10-01"))
    assert set(broken) == {"region"}
    n_broken, n_cases = broken["region"]
    assert 0.01 * n_cases <= n_broken < n_cases


def test_evaluate_says_which_rules_it_only_scored_and_refuses_unknown_ones(kiva_folder: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2016-01-01",
                                 "--soft-rules", "region", "--no-track"])
    assert result.exit_code == 0, result.output
    assert "scored but not enforced: region" in result.output
    bad = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2016-01-01",
                              "--soft-rules", "region,colour", "--no-track"])
    assert bad.exit_code != 0 and "soft-rules" in bad.output and "Traceback" not in bad.output


# -- served equals evaluated ----------------------------------------------------------------------------------------

def test_what_evaluate_ranks_is_what_recommend_answers_with_the_exported_model_as_of_the_split(
        kiva_folder: Path, tmp_path: Path) -> None:
    rankings, bundle = tmp_path / "out" / "rankings.jsonl", tmp_path / "bundle"
    tracking = {"SMEMATCH_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
                "SMEMATCH_MLFLOW_ARTIFACT_ROOT": str(tmp_path / "mlartifacts")}
    (tmp_path / "out").mkdir()
    result = runner.invoke(app, ["evaluate", "--data", str(kiva_folder), "--split-date", "2016-01-01", "--json",
                                 "--rankings", str(rankings), "--export-model", str(bundle)], env=tracking)
    assert result.exit_code == 0, result.output
    evaluated = [json.loads(line) for line in rankings.read_text(encoding="utf-8").splitlines()]
    assert len(evaluated) == json.loads(result.stdout)["trained"]["cases"]
    # every case ranked (nothing escalated on this data), in as many places as there are active partners that
    # lend in its country or have no country yet (no loans before the profile date), ten at most
    from matching.tables.files import read_tables

    tables = read_tables(kiva_folder)
    country = tables.problems.merge(tables.enterprises, on="enterprise_id").set_index("problem_id")["region"]
    partners = list(zip(tables.institutions["active"], tables.institutions["regions"], strict=True))

    def places(problem_id: str) -> int:
        return min(10, sum(bool(active) and (not regions or country[problem_id] in regions)
                           for active, regions in partners))

    assert [len(e["ranking"]) for e in evaluated] == [places(e["problem_id"]) for e in evaluated]
    assert min(len(e["ranking"]) for e in evaluated) >= 3
    lines = tmp_path / "cases.jsonl"
    lines.write_text("".join(json.dumps({"problem_id": e["problem_id"]}) + "\n" for e in evaluated), encoding="utf-8")
    answered = runner.invoke(app, ["recommend", "--data", str(kiva_folder), "--model", str(bundle), "--as-of",
                                   "2016-01-01", "--input", str(lines), "--json", "-k", "10"])
    assert answered.exit_code == 0, answered.output
    served = [json.loads(line) for line in answered.output.splitlines() if line.startswith("{")]
    assert [s["problem_id"] for s in served] == [e["problem_id"] for e in evaluated]
    for case, answer in zip(evaluated, served, strict=True):
        assert [i["institution_id"] for i in answer["institutions"]] == case["ranking"], case["problem_id"]

    # The evaluation is a tracked run named after its data and split, with the table and the rankings.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking["SMEMATCH_MLFLOW_TRACKING_URI"])
    [run] = client.search_runs([client.get_experiment_by_name("smematch-evaluate").experiment_id])
    assert run.info.run_name.startswith("evaluate ") and "2016-01-01" in run.info.run_name
    assert run.data.metrics["trained/mrr"] == pytest.approx(json.loads(result.stdout)["trained"]["mrr"], abs=1e-4)
    assert "rankings.jsonl" in {a.path for a in client.list_artifacts(run.info.run_id)}


def test_an_as_of_date_before_every_outcome_is_refused(kiva_folder: Path) -> None:
    result = runner.invoke(app, ["recommend", "--data", str(kiva_folder), "--as-of", "1990-01-01", "--text",
                                 "to buy a cow"])
    assert result.exit_code == 2 and "as-of" in result.output and "first outcome" in result.output
    result = runner.invoke(app, ["recommend", "--data", str(kiva_folder), "--as-of", "someday", "--text", "cow"])
    assert result.exit_code == 2 and "as-of" in result.output and "'someday'" in result.output


def test_unwritable_rankings_or_model_paths_are_named_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path), "--split-date", "2016-01-01", "--no-track",
                                 "--rankings", str(blocker / "rankings.jsonl")])
    assert result.exit_code == 2 and "--rankings" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path), "--split-date", "2016-01-01", "--no-track",
                                 "--export-model", str(blocker)])
    assert result.exit_code == 2 and "--export-model" in result.output and "Traceback" not in result.output
