"""``smematch batch``: every problem scored to Parquet, assignment under capacity, resumable, clear refusals."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from matching.tables.files import read_tables
from service.batch import OUTPUT_COLUMNS, STOP_AFTER_VARIABLE
from service.cli import app
from service.store.queue import QUEUE_COLUMNS
from training.simulator.generate import simulate, write

runner = CliRunner()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated city: 120 enterprises (about 210 problems), 25 institutions of 3 cases each."""
    folder = tmp_path_factory.mktemp("city")
    data = simulate(n_enterprises=120, n_institutions=25, seed=3)
    write(replace(data, institutions=data.institutions.assign(capacity=3)), folder)
    return folder


@pytest.fixture(autouse=True)
def no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No bundle at <models_dir>/current: the baseline ranker, whatever the checkout holds."""
    monkeypatch.setenv("SMEMATCH_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.delenv(STOP_AFTER_VARIABLE, raising=False)


def batch(*args: str | Path) -> object:
    return runner.invoke(app, ["batch", *map(str, args)])


def test_every_problem_gets_its_ranked_institutions_or_one_escalation_row(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = batch("--data", city, "--out", out, "-k", "3", "--chunk-size", "50")

    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    problems = read_tables(city).problems
    assert tuple(frame.columns) == OUTPUT_COLUMNS
    assert frame["problem_id"].drop_duplicates().tolist() == problems["problem_id"].tolist()
    for _, rows in frame.groupby("problem_id", sort=False):
        if rows["escalate"].iat[0]:
            assert rows["rank"].tolist() == [0] and rows["institution_id"].isna().all()
        else:
            assert rows["rank"].tolist() == list(range(1, len(rows) + 1)) and len(rows) <= 3
            assert rows["score"].is_monotonic_decreasing and rows["reasons"].str.len().gt(0).all()
    summary = json.loads((tmp_path / "out.summary.json").read_text(encoding="utf-8"))
    assert summary["problems"] == len(problems)
    assert summary["problems_escalated"] == int(frame.loc[frame["rank"] == 0, "problem_id"].nunique())
    assert summary["rows"] == len(frame)
    assert not (tmp_path / "out.parquet.parts").exists()


def test_the_run_s_escalations_are_written_with_the_queue_s_columns(city: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(city, data)
    problems = pd.read_csv(data / "problems.csv", dtype=str, keep_default_na=False)
    gibberish = {**problems.iloc[0].to_dict(), "problem_id": "P9GIBBERISH", "text": "qwzx vbnm plokij", "amount": ""}
    pd.concat([problems, pd.DataFrame([gibberish])]).to_csv(data / "problems.csv", index=False)
    out = tmp_path / "out.parquet"
    result = batch("--data", data, "--out", out, "-k", "3")
    assert result.exit_code == 0, result.output
    raw = (tmp_path / "out.escalations.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte order mark, for Excel
    written = pd.read_csv(tmp_path / "out.escalations.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert tuple(written.columns) == QUEUE_COLUMNS
    frame = pd.read_parquet(out)
    escalated = frame.loc[frame["escalate"], ["problem_id", "escalate_reason"]]
    assert len(escalated) > 0
    assert written["problem_id"].tolist() == escalated["problem_id"].tolist()
    assert written["reason"].tolist() == escalated["escalate_reason"].tolist()
    assert set(written["escalated_by"]) == {"engine"}
    tables = read_tables(data)
    first = written.iloc[0]
    problem = tables.problems.set_index("problem_id").loc[first["problem_id"]]
    enterprise = tables.enterprises.set_index("enterprise_id").loc[problem["enterprise_id"]]
    assert (first["text"], first["sector"], first["district"]) == (problem["text"], enterprise["sector"],
                                                                   enterprise["region"])
    assert int(first["days_open"]) >= 0


def test_assignment_respects_capacity_and_gives_each_problem_at_most_one(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = batch("--data", city, "--out", out, "--assign")

    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    chosen = frame[frame["assigned"]]
    capacity = read_tables(city).institutions.set_index("institution_id")["capacity"]
    assert chosen["problem_id"].is_unique
    taken = chosen.groupby("institution_id").size()
    assert (taken <= capacity.loc[taken.index]).all()
    assert not frame.loc[frame["rank"] == 0, "assigned"].any()
    figures = json.loads((tmp_path / "out.summary.json").read_text(encoding="utf-8"))["assignment"]
    top1 = frame.loc[frame["rank"] == 1, "score"].sum()
    assert figures["problems_assigned"] == len(chosen)
    assert figures["score_given_up"] == pytest.approx(top1 - chosen["score"].sum(), abs=1e-5)
    assert figures["problems_unassigned_for_capacity"] == frame.loc[frame["rank"] == 1, "problem_id"].nunique() \
        - len(chosen)
    assert figures["problems_unassigned_for_capacity"] > 0  # the fixture's capacity is tight: a real test


def test_a_run_stopped_halfway_resumes_to_the_output_of_an_uninterrupted_run(
    city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean, resumed = tmp_path / "clean.parquet", tmp_path / "resumed.parquet"
    assert batch("--data", city, "--out", clean, "--chunk-size", "40", "--assign").exit_code == 0

    monkeypatch.setenv(STOP_AFTER_VARIABLE, "2")
    stopped = batch("--data", city, "--out", resumed, "--chunk-size", "40", "--assign")
    assert stopped.exit_code != 0 and "stopped after 2 chunk(s)" in stopped.output
    assert not resumed.exists()
    assert len(list((tmp_path / "resumed.parquet.parts").glob("part-*.parquet"))) == 2

    monkeypatch.delenv(STOP_AFTER_VARIABLE)
    finished = batch("--data", city, "--out", resumed, "--chunk-size", "40", "--assign", "--resume")
    assert finished.exit_code == 0, finished.output
    assert json.loads((tmp_path / "resumed.summary.json").read_text(encoding="utf-8"))["chunks_resumed"] == 2
    pd.testing.assert_frame_equal(pd.read_parquet(resumed), pd.read_parquet(clean))


def test_an_existing_output_is_refused_without_resume_or_overwrite(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    out.write_bytes(b"keep me")

    refused = batch("--data", city, "--out", out)
    assert refused.exit_code != 0 and "--overwrite" in refused.output
    assert out.read_bytes() == b"keep me"

    assert batch("--data", city, "--out", out, "--overwrite").exit_code == 0
    assert len(pd.read_parquet(out)) > 0


def test_parts_of_another_input_are_not_mixed_in(city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.parquet"
    monkeypatch.setenv(STOP_AFTER_VARIABLE, "1")
    assert batch("--data", city, "--out", out, "--chunk-size", "40").exit_code != 0
    monkeypatch.delenv(STOP_AFTER_VARIABLE)

    other_k = batch("--data", city, "--out", out, "--chunk-size", "40", "-k", "2", "--resume")
    assert other_k.exit_code != 0 and "another input, model, k or chunk size" in other_k.output
    assert batch("--data", city, "--out", out, "--chunk-size", "40", "-k", "2", "--overwrite").exit_code == 0


def test_missing_columns_and_bad_rows_are_all_reported_with_file_and_row(city: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    for name in ("enterprises.csv", "institutions.csv"):
        (folder / name).write_bytes((city / name).read_bytes())
    problems = pd.read_csv(city / "problems.csv", dtype=str, keep_default_na=False).head(12)
    problems.loc[4, "text"] = "!!! ???"
    problems.loc[7, "enterprise_id"] = "E999999"
    problems.to_csv(folder / "problems.csv", index=False)
    out = tmp_path / "out.parquet"

    for workers in ("2", "1"):  # chunks checked in forked processes, and in this one: the same report
        result = batch("--data", folder, "--out", out, "--chunk-size", "4", "--workers", workers)

        assert result.exit_code == 2
        assert "problems.csv, row 5, column 'text'" in result.output
        assert "problems.csv, row 8, column 'enterprise_id'" in result.output
        assert not out.exists() and not (tmp_path / "out.parquet.parts").exists()

    problems.drop(columns=["stated_at"]).to_csv(folder / "problems.csv", index=False)
    missing = batch("--data", folder, "--out", out)
    assert missing.exit_code == 2 and "column 'stated_at'" in missing.output


def test_an_unreadable_parquet_file_is_reported(city: Path, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    for name in ("enterprises.csv", "institutions.csv"):
        (folder / name).write_bytes((city / name).read_bytes())
    (folder / "problems.parquet").write_bytes(b"PAR1 this is not parquet")

    result = batch("--data", folder, "--out", tmp_path / "out.parquet")

    assert result.exit_code == 2 and "problems.parquet" in result.output and "Traceback" not in result.output


def test_parquet_tables_and_the_store_give_the_same_output_as_csv(city: Path, tmp_path: Path) -> None:
    from matching.tables.files import write_tables
    from service.store import create_schema, import_tables, make_engine

    tables = read_tables(city)
    write_tables(tables, tmp_path / "pq", format="parquet")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    create_schema(engine)
    import_tables(engine, tables)
    engine.dispose()

    outputs = {}
    for name, source in {"csv": ["--data", city], "parquet": ["--data", tmp_path / "pq"], "db": ["--db", url]}.items():
        outputs[name] = tmp_path / f"{name}.parquet"
        result = batch(*source, "--out", outputs[name], "--assign")
        assert result.exit_code == 0, result.output
    expected = pd.read_parquet(outputs["csv"])
    for name in ("parquet", "db"):
        pd.testing.assert_frame_equal(pd.read_parquet(outputs[name]), expected)


def test_an_unreachable_scheduler_fails_fast_with_a_clear_message(city: Path, tmp_path: Path) -> None:
    result = batch("--data", city, "--out", tmp_path / "out.parquet", "--engine", "dask",
                   "--scheduler", "tcp://127.0.0.1:9")

    assert result.exit_code != 0
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in result.output
    assert not (tmp_path / "out.parquet").exists()


def test_bad_options_are_reported_together(city: Path, tmp_path: Path) -> None:
    result = batch("--data", city, "--out", tmp_path / "out.csv", "-k", "0", "--engine", "local",
                   "--scheduler", "tcp://127.0.0.1:9")

    assert result.exit_code == 2
    for column in ("'k'", "'scheduler'", "'out'"):
        assert column in result.output
    assert np.all([not p.exists() for p in tmp_path.iterdir() if p.name.startswith("out")])


def test_an_engine_that_is_not_a_choice_is_refused_naming_the_option(city: Path, tmp_path: Path) -> None:
    result = batch("--data", city, "--out", tmp_path / "out.parquet", "--engine", "spark")

    assert result.exit_code == 2
    assert "'--engine'" in result.output and "'spark'" in result.output and "'local', 'dask'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.parquet").exists()


def test_the_same_command_picks_up_matching_parts_without_being_told(
    city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.parquet"
    monkeypatch.setenv(STOP_AFTER_VARIABLE, "1")
    assert batch("--data", city, "--out", out, "--chunk-size", "60").exit_code != 0
    monkeypatch.delenv(STOP_AFTER_VARIABLE)

    again = batch("--data", city, "--out", out, "--chunk-size", "60")

    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "out.summary.json").read_text(encoding="utf-8"))["chunks_resumed"] == 1


def test_cases_taken_up_this_month_count_against_capacity() -> None:
    from service.batch import Context
    from service.batch.scoring import capacity_left
    from tests.factories import valid_tables

    tables = valid_tables()
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    outcomes = tables.outcomes.assign(recorded_at=[now, now, now - pd.DateOffset(months=2)])
    # I0001 solved a case this month (taken up), I0002 declined one (took none), I0003's case is older.

    left = capacity_left(Context(tables.enterprises, tables.institutions, outcomes))

    assert left.tolist() == [19.0, 5.0, 8.0]


def test_forked_local_workers_write_the_output_of_one_process(city: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    assert batch("--data", city, "--out", one, "--chunk-size", "30", "--assign", "--workers", "1").exit_code == 0
    result = batch("--data", city, "--out", two, "--chunk-size", "30", "--assign", "--workers", "2")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "two.summary.json").read_text(encoding="utf-8"))
    assert summary["chunks"] > 2
    pd.testing.assert_frame_equal(pd.read_parquet(two), pd.read_parquet(one))


def test_a_bad_worker_count_is_named(city: Path, tmp_path: Path) -> None:
    result = batch("--data", city, "--out", tmp_path / "out.parquet", "--workers", "0")
    assert result.exit_code != 0 and "workers" in result.output and "Traceback" not in result.output


def test_without_a_chunk_size_the_input_is_cut_into_about_eight_chunks(city: Path, tmp_path: Path) -> None:
    from service.batch.run import auto_chunk_size
    from service.batch.sources import FolderSource

    assert [auto_chunk_size(n) for n in (0, 210, 4_000, 13_912, 1_749_443)] == [500, 500, 500, 1_739, 4_000]
    problems = len(pd.read_csv(city / "problems.csv"))
    # a CSV's line breaks: the rows, or more when a text holds a line break (an estimate is enough)
    assert FolderSource(city).size_hint() >= problems
    folder = tmp_path / "bigger"
    folder.mkdir()
    for name in ("enterprises.csv", "institutions.csv"):
        (folder / name).write_bytes((city / name).read_bytes())
    rows = pd.read_csv(city / "problems.csv", dtype=str, keep_default_na=False)
    many = pd.concat([rows.assign(problem_id=rows["problem_id"] + f"-{n}") for n in range(25)], ignore_index=True)
    many.to_parquet(folder / "problems.parquet")
    assert FolderSource(folder).size_hint() == len(many)  # Parquet: exact, from the metadata

    out = tmp_path / "auto.parquet"
    assert batch("--data", folder, "--out", out).exit_code == 0
    summary = json.loads(out.with_name("auto.summary.json").read_text())
    assert summary["chunk_size"] == auto_chunk_size(len(many)) > 500
    assert summary["chunks"] == -(-len(many) // summary["chunk_size"]) and 8 <= summary["chunks"] <= 9
    assert summary["problems"] == len(many)


def test_batch_as_of_a_date_answers_what_recommend_answers_as_of_it(city: Path, tmp_path: Path) -> None:
    outcomes = read_tables(city).outcomes
    as_of = str(pd.to_datetime(outcomes["recorded_at"]).quantile(0.5).date())
    out = tmp_path / "as-of.parquet"
    result = batch("--data", city, "--out", out, "-k", "3", "--as-of", as_of)
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    asked = frame["problem_id"].drop_duplicates().head(40).tolist()
    lines = tmp_path / "asked.jsonl"
    lines.write_text("".join(json.dumps({"problem_id": p}) + "\n" for p in asked), encoding="utf-8")
    answered = runner.invoke(app, ["recommend", "--data", str(city), "--as-of", as_of, "--input", str(lines),
                                   "--json", "-k", "3"])
    assert answered.exit_code == 0, answered.output
    served = [json.loads(line) for line in answered.stdout.splitlines() if line.startswith("{")]
    for problem_id, answer in zip(asked, served, strict=True):
        expected = frame.loc[(frame["problem_id"] == problem_id) & (frame["rank"] > 0), "institution_id"].tolist()
        assert [i["institution_id"] for i in answer["institutions"]] == expected, problem_id


def test_an_as_of_date_before_every_outcome_is_refused(city: Path, tmp_path: Path) -> None:
    result = batch("--data", city, "--out", tmp_path / "x.parquet", "--as-of", "1990-01-01")
    assert result.exit_code == 2 and "as-of" in result.output and "first outcome" in result.output
