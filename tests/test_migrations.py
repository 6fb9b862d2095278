"""Alembic owns the schema: the migrations make exactly the models' schema, keep rows, and the CLI drives them.

On SQLite always and on PostgreSQL when it answers (the ``database_url`` fixture).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from typer.testing import CliRunner

from matching.records import RankedInstitution, Recommendation
from service.cli import app
from service.store import (
    Base,
    ServedModelRow,
    count_rows,
    current_revision,
    get_logged,
    head_revision,
    import_tables,
    load_tables,
    log_recommendation,
    make_engine,
    upgrade_schema,
)
from service.store.migrate import FIRST_REVISION

from factories import valid_tables

runner = CliRunner()


@pytest.fixture
def bare(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database (no schema)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def stock_first_revision(engine: Engine) -> str:
    """Rows in every table the first revision has: the contract tables, a key and a logged recommendation."""
    import_tables(engine, valid_tables())
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO api_keys (key_id, name, role, hash, created_at, revoked) VALUES "
                                "('k1', 'old key', 'admin', 'abc', '2024-01-01 00:00:00', false)"))
    shown = Recommendation(problem_id="P1", institutions=(RankedInstitution("I1", "Bank", "bank", 0.9, 1),),
                           model_version="v1")
    return log_recommendation(engine, shown, text="a loan", propensities=[1.0])


def test_the_migrations_make_exactly_the_models_schema(bare: Engine) -> None:
    assert upgrade_schema(bare) == head_revision()

    assert schema_differences(bare) == []
    assert current_revision(bare) == head_revision()


def test_an_empty_database_differs_from_the_models_so_the_comparison_can_fail(bare: Engine) -> None:
    differences = schema_differences(bare)

    assert {op[1].name for op in differences if op[0] == "add_table"} == set(Base.metadata.tables)


def test_upgrading_from_the_first_revision_keeps_every_row(bare: Engine) -> None:
    assert upgrade_schema(bare, FIRST_REVISION) == FIRST_REVISION
    assert "served_model" not in inspect(bare).get_table_names()
    logged = stock_first_revision(bare)
    before_tables, before_counts = load_tables(bare), count_rows(bare)

    assert upgrade_schema(bare) == head_revision()

    assert count_rows(bare) == before_counts
    after = load_tables(bare)
    for name, frame in before_tables.frames().items():
        assert after.frames()[name].equals(frame), name
    assert get_logged(bare, logged)["items"][0]["institution_id"] == "I1"
    with bare.connect() as connection:
        assert connection.execute(text("SELECT name FROM api_keys")).scalar_one() == "old key"
        assert connection.execute(select(ServedModelRow)).all() == []
    assert schema_differences(bare) == []


def test_a_store_created_before_migrations_is_stamped_and_upgraded_with_its_rows(bare: Engine) -> None:
    later = {"served_model", "audit_events", "cases", "case_events"}  # the tables revisions after the first add
    first_tables = [table for name, table in Base.metadata.tables.items() if name not in later]
    Base.metadata.create_all(bare, tables=first_tables)
    logged = stock_first_revision(bare)
    counts = count_rows(bare)

    assert upgrade_schema(bare) == head_revision()

    assert count_rows(bare) == counts and get_logged(bare, logged) is not None
    assert schema_differences(bare) == []


def test_upgrading_twice_or_from_two_starters_at_once_changes_nothing(bare: Engine) -> None:
    results: list[object] = []

    def start() -> None:
        try:
            results.append(upgrade_schema(bare))
        except Exception as error:  # collected: the assertion below names it
            results.append(error)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [head_revision()] * 3
    assert upgrade_schema(bare) == head_revision()
    assert schema_differences(bare) == []


def test_db_upgrade_and_db_current_on_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    behind = runner.invoke(app, ["db", "current", "--db", url])
    assert behind.exit_code == 1 and "revision none" in behind.output and "db upgrade" in behind.output

    upgraded = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"revision {head_revision()}" in upgraded.output

    current = runner.invoke(app, ["db", "current", "--db", url])
    assert current.exit_code == 0 and "up to date" in current.output


def test_a_store_migrated_by_newer_code_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    engine = make_engine(url)
    upgrade_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()

    result = runner.invoke(app, ["db", "upgrade", "--db", url])

    assert result.exit_code == 2 and "9999" in result.output and "Traceback" not in result.output
