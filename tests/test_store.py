"""Specification of the store (``service.store``) and of ``smematch import``, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner, Result

from matching.errors import InvalidInput
from matching.records import Outcome, RankedInstitution, Recommendation
from matching.tables.files import TABLE_NAMES, Tables, read_tables
from service.cli import app
from service.store import (
    LoggedRecommendation,
    OutcomeConflict,
    RecommendationRow,
    StoreError,
    checkpoint,
    count_rows,
    create_schema,
    database_url,
    get_institution,
    get_logged,
    get_outcome,
    get_problem,
    import_tables,
    load_tables,
    log_recommendation,
    log_recommendations,
    make_engine,
    record_outcome,
)

from factories import (
    enterprises_frame,
    institutions_frame,
    outcomes_frame,
    problems_frame,
    valid_frames,
    valid_tables,
    write_tables,
)


def assert_same_tables(left: Tables, right: Tables) -> None:
    for table in TABLE_NAMES:
        pd.testing.assert_frame_equal(left.frames()[table], right.frames()[table], obj=table)


@pytest.fixture
def stocked(engine: Engine) -> Engine:
    """A store holding ``valid_tables()``: 3 enterprises, problems, institutions and outcomes."""
    import_tables(engine, valid_tables())
    return engine


# ------------------------------------------------------------------------------------------------ engines


def test_a_plain_postgresql_url_gets_the_psycopg_driver() -> None:
    assert database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert database_url("sqlite:///x.db").drivername == "sqlite"


def test_background_checkpoints_leave_the_wal_to_checkpoint_and_it_copies_every_frame(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    quiet, plain = make_engine(url, background_checkpoints=True), make_engine(url)
    try:
        create_schema(quiet)
        with quiet.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        with plain.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        shown = Recommendation(problem_id=None, institutions=(RankedInstitution("I1", "x", "bank", 0.5, 1),))
        log_recommendations(quiet, [LoggedRecommendation(shown, text=str(n)) for n in range(2000)])
        frames, copied = checkpoint(quiet)

        assert frames > 0 and copied == frames
        assert checkpoint(quiet) == (frames, frames)  # nothing new since: the same frames, all copied
    finally:
        quiet.dispose()
        plain.dispose()


def test_an_unsupported_database_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        make_engine("mysql://u:secret@h/db")

    assert caught.value.issues[0].column == "database_url"
    assert "secret" not in str(caught.value)


def test_sqlite_connections_use_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'store.db'}")
    try:
        with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_the_store_refuses_an_outcome_of_an_unknown_problem_at_the_database_level(stocked: Engine) -> None:
    row = {"o": "O9", "p": "P404", "i": "I0001", "t": datetime(2024, 1, 1)}
    with pytest.raises(IntegrityError), stocked.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outcomes (outcome_id, problem_id, institution_id, status, recorded_at) "
                "VALUES (:o, :p, :i, 'solved', :t)"
            ),
            row,
        )


# ------------------------------------------------------------------------------------------------ import, load


def test_imported_tables_load_back_equal(engine: Engine) -> None:
    tables = valid_tables(enterprises=6, problems=9, institutions=4, outcomes=11)
    import_tables(engine, tables)
    back = load_tables(engine)

    assert_same_tables(back, tables)
    assert back.institutions["sectors"].iat[1] == ()
    assert back.institutions["regions"].iat[2] == ("西湖区", "Binjiang")
    assert pd.isna(back.problems["amount"].iat[1])
    assert back.outcomes["recorded_at"].iat[1] == pd.Timestamp("2024-03-05 14:00:00.25")


def test_an_empty_store_loads_as_empty_tables_with_the_contract_columns(engine: Engine) -> None:
    tables = load_tables(engine)

    assert all(len(frame) == 0 for frame in tables.frames().values())
    assert tables.problems["stated_at"].dtype == "datetime64[us]"


def test_an_import_counts_the_rows_it_inserted(engine: Engine) -> None:
    summary = import_tables(engine, valid_tables(enterprises=4, problems=5, institutions=3, outcomes=6))

    assert {name: counts.inserted for name, counts in summary.tables.items()} == {
        "enterprises": 4,
        "problems": 5,
        "institutions": 3,
        "outcomes": 6,
    }
    assert count_rows(engine) == {"enterprises": 4, "problems": 5, "institutions": 3, "outcomes": 6}


def test_re_importing_the_same_tables_changes_nothing(engine: Engine) -> None:
    tables = valid_tables()
    import_tables(engine, tables)
    again = import_tables(engine, tables)

    assert not again.changed
    assert all(counts.unchanged == 3 for counts in again.tables.values())
    assert_same_tables(load_tables(engine), tables)


def test_an_import_updates_changed_rows_adds_new_ones_and_keeps_the_rest(stocked: Engine) -> None:
    frames = valid_frames(enterprises=4)
    frames["enterprises"] = enterprises_frame(4, name=["杭州明达机械有限公司", "Renamed Farm", "老街茶馆", "New Co"])
    summary = import_tables(stocked, Tables(**{**valid_tables().frames(), "enterprises": frames["enterprises"]}))

    enterprises = summary.tables["enterprises"]
    assert (enterprises.inserted, enterprises.updated, enterprises.unchanged) == (1, 1, 2)
    stored = load_tables(stocked).enterprises.set_index("enterprise_id")["name"]
    assert stored.to_dict() == {
        "E000001": "杭州明达机械有限公司",
        "E000002": "Renamed Farm",
        "E000003": "老街茶馆",
        "E000004": "New Co",
    }


def test_a_failing_import_leaves_the_store_exactly_as_it_was(stocked: Engine) -> None:
    before, rows_before = load_tables(stocked), count_rows(stocked)
    # Enterprises change and problems are added, then an outcome names a problem that exists nowhere:
    # the database refuses it at the end of the import, which must undo everything before it.
    broken = Tables(
        enterprises=enterprises_frame(5, name=["A", "B", "C", "D", "E"]),
        problems=problems_frame(6, enterprises=5),
        institutions=institutions_frame(4),
        outcomes=outcomes_frame(2, problem_id=["P000001", "P404404"]),
    )
    with pytest.raises(StoreError):
        import_tables(stocked, broken)

    assert count_rows(stocked) == rows_before
    assert_same_tables(load_tables(stocked), before)


def test_an_import_of_thousands_of_rows_in_small_batches_reports_its_progress(engine: Engine) -> None:
    seen: list[tuple[str, int, int]] = []
    import_tables(
        engine, valid_tables(enterprises=2500, problems=2500), batch_size=1000, progress=lambda *step: seen.append(step)
    )

    assert [step for step in seen if step[0] == "enterprises"] == [
        ("enterprises", 1000, 2500),
        ("enterprises", 2000, 2500),
        ("enterprises", 2500, 2500),
    ]
    assert count_rows(engine)["problems"] == 2500


# ------------------------------------------------------------------------------------------------ outcomes


def an_outcome(**changes: Any) -> Outcome:
    base = Outcome("O7", "P000002", "I0001", "accepted", 250000.0, datetime(2024, 4, 1, 9, 0), "caseworker-2")
    return replace(base, **changes)


def test_recording_an_outcome_stores_it(stocked: Engine) -> None:
    stored, created = record_outcome(stocked, an_outcome())

    assert created
    assert stored == an_outcome()
    assert get_outcome(stocked, "O7") == an_outcome()


def test_replaying_an_outcome_returns_the_stored_one_and_writes_nothing(stocked: Engine) -> None:
    record_outcome(stocked, an_outcome(recorded_at=None))
    first = get_outcome(stocked, "O7")
    stored, created = record_outcome(stocked, an_outcome(recorded_at=None))

    assert not created
    assert stored == first
    assert count_rows(stocked)["outcomes"] == 4


def test_an_outcome_id_replayed_with_a_different_body_is_refused(stocked: Engine) -> None:
    record_outcome(stocked, an_outcome())
    with pytest.raises(OutcomeConflict) as caught:
        record_outcome(stocked, an_outcome(status="solved", amount=300000.0))

    assert [issue.column for issue in caught.value.issues] == ["status", "amount"]
    assert caught.value.issues[0].expected == "'accepted', as stored for outcome 'O7'"
    assert caught.value.issues[0].found == "'solved'"
    assert get_outcome(stocked, "O7") == an_outcome()


def test_an_outcome_time_with_an_offset_is_stored_in_utc(stocked: Engine) -> None:
    shanghai = timezone(timedelta(hours=8))
    stored, _ = record_outcome(stocked, an_outcome(recorded_at=datetime(2024, 4, 1, 17, 0, tzinfo=shanghai)))

    assert stored.recorded_at == datetime(2024, 4, 1, 9, 0)
    assert record_outcome(stocked, an_outcome(recorded_at=datetime(2024, 4, 1, 9, 0, tzinfo=UTC)))[1] is False


def test_an_outcome_of_an_unknown_problem_or_institution_is_refused(stocked: Engine) -> None:
    with pytest.raises(InvalidInput) as caught:
        record_outcome(stocked, an_outcome(problem_id="P404", institution_id="I404"))

    assert [(i.column, i.found) for i in caught.value.issues] == [
        ("problem_id", "'P404'"),
        ("institution_id", "'I404'"),
    ]
    assert get_outcome(stocked, "O7") is None


def test_an_outcome_with_bad_fields_is_refused_listing_each(stocked: Engine) -> None:
    with pytest.raises(InvalidInput) as caught:
        record_outcome(stocked, an_outcome(outcome_id=" ", status="won", amount=-5.0))

    assert [i.column for i in caught.value.issues] == ["outcome_id", "status", "amount"]


def test_concurrent_replays_of_one_new_outcome_store_it_once(stocked: Engine) -> None:
    results: list[tuple[Outcome, bool]] = []
    errors: list[BaseException] = []

    def record() -> None:
        try:
            results.append(record_outcome(stocked, an_outcome()))
        except BaseException as error:  # collected: the test fails on it below
            errors.append(error)

    threads = [threading.Thread(target=record) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert {stored for stored, _ in results} == {an_outcome()}


# ------------------------------------------------------------------------------------------------ log, lookups


def test_a_logged_recommendation_keeps_the_hash_of_the_text_never_the_text(stocked: Engine) -> None:
    shown = Recommendation(
        problem_id=None,
        institutions=(
            RankedInstitution("I0001", "杭州银行", "bank", 0.81, 1),
            RankedInstitution("I0002", "Zhejiang Water Research Institute", "research_institute", 0.4, 2),
        ),
        model_version="ranker-7",
    )
    secret = "需要贷款 五百万 for a new kiln"
    logged = log_recommendation(stocked, shown, text=secret, request={"text": secret, "k": 2}, propensities=[0.9, None])
    entry = get_logged(stocked, logged)

    assert entry is not None
    assert entry["text_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert entry["request"] == {"k": 2}
    assert entry["model_version"] == "ranker-7"
    assert [(i["rank"], i["institution_id"], i["score"], i["propensity"]) for i in entry["items"]] == [
        (1, "I0001", 0.81, 0.9),
        (2, "I0002", 0.4, None),
    ]
    with stocked.connect() as connection:
        row = connection.execute(select(RecommendationRow.__table__)).one()
    assert "五百万" not in repr(row)


def test_the_log_reads_back_what_was_written_times_json_and_floats_included(stocked: Engine) -> None:
    # The log is written through the driver with each column type's own conversion: what comes back must be
    # what SQLAlchemy's own insert would have stored (times with and without microseconds, nested JSON).
    shown = Recommendation(problem_id="P000001", institutions=(RankedInstitution("I0001", "x", "bank", 1 / 3, 1),),
                           model_version="v")
    moments = [datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 4, 5, 678901),
               datetime(2026, 1, 2, 11, 4, 5, tzinfo=timezone(timedelta(hours=8)))]
    ids = log_recommendations(stocked, [
        LoggedRecommendation(shown, text="t", request={"k": 1, "nested": {"区": ["a", 2.5, None]}},
                             enterprise_id="E000001", created_at=moment, propensities=[0.5])
        for moment in moments
    ])
    entries = [get_logged(stocked, identifier) for identifier in ids]

    assert [entry["created_at"] for entry in entries] == [moments[0], moments[1], datetime(2026, 1, 2, 3, 4, 5)]
    assert all(entry["request"] == {"k": 1, "nested": {"区": ["a", 2.5, None]}} for entry in entries)
    assert all(entry["problem_id"] == "P000001" and entry["enterprise_id"] == "E000001" for entry in entries)
    assert [entry["items"][0]["score"] for entry in entries] == [1 / 3] * 3


def test_a_stored_problem_comes_with_its_enterprise_context(stocked: Engine) -> None:
    problem = get_problem(stocked, "P000002")

    assert problem is not None
    assert (problem.enterprise_id, problem.sector, problem.region, problem.employees) == (
        "E000002",
        "agriculture",
        "Binjiang",
        8,
    )
    assert get_problem(stocked, "P404") is None


def test_a_stored_institution_has_tuples_of_sectors_and_regions(stocked: Engine) -> None:
    institution = get_institution(stocked, "I0001")

    assert institution is not None
    assert institution.sectors == ("manufacturing", "agriculture")
    assert institution.regions == ("西湖区",)


# ------------------------------------------------------------------------------------------------ smematch import


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_the_import_command_imports_a_folder_and_prints_a_summary(tmp_path: Path, database_url: str) -> None:
    folder = write_tables(tmp_path / "data")
    result = run_cli("import", str(folder), "--db", database_url)

    assert result.exit_code == 0, result.output
    assert "enterprises" in result.output and "inserted" in result.output
    engine = make_engine(database_url)
    try:
        assert_same_tables(load_tables(engine), read_tables(folder))
    finally:
        engine.dispose()


def test_the_import_command_run_twice_reports_no_changes(tmp_path: Path, database_url: str) -> None:
    folder = write_tables(tmp_path / "data")
    run_cli("import", str(folder), "--db", database_url)
    result = run_cli("import", str(folder), "--db", database_url)

    assert result.exit_code == 0, result.output
    assert "No changes" in result.output


def test_the_import_command_with_bad_rows_lists_them_all_writes_nothing_and_fails(
    tmp_path: Path, database_url: str
) -> None:
    run_cli("import", str(write_tables(tmp_path / "good")), "--db", database_url)
    engine = make_engine(database_url)
    before = load_tables(engine)
    frames = valid_frames(enterprises=5)
    frames["enterprises"] = enterprises_frame(5, sector=["other", "farming", "other", "other", "other"])
    frames["outcomes"] = outcomes_frame(2, amount=[1.0, -1.0])
    result = run_cli("import", str(write_tables(tmp_path / "bad", frames)), "--db", database_url)

    try:
        assert result.exit_code == 2
        assert "2 problem(s)" in result.output
        assert "enterprises.csv, row 2, column 'sector'" in result.output
        assert "outcomes.csv, row 2, column 'amount': expected a number >= 0 or empty, found '-1.0'" in result.output
        assert "Traceback" not in result.output
        assert_same_tables(load_tables(engine), before)
    finally:
        engine.dispose()


def test_the_import_command_uses_the_configured_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMEMATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'configured.db'}")
    result = run_cli("import", str(write_tables(tmp_path / "data")))

    assert result.exit_code == 0, result.output
    assert (tmp_path / "configured.db").exists()


def test_the_import_command_reports_an_unreachable_database_without_a_traceback(tmp_path: Path) -> None:
    folder = write_tables(tmp_path / "data")
    result = run_cli("import", str(folder), "--db", "postgresql://someone:hunter2@127.0.0.1:1/nothing")

    assert result.exit_code != 0
    assert "database error" in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_an_outcome_is_normalised_as_a_table_row_would_be(stocked: Engine) -> None:
    stored, _ = record_outcome(stocked, an_outcome(outcome_id=" O7 ", problem_id="P000002 ", recorded_by="  "))

    assert (stored.outcome_id, stored.problem_id, stored.recorded_by) == ("O7", "P000002", None)
    assert load_tables(stocked).outcomes.set_index("outcome_id").loc["O7", "problem_id"] == "P000002"
