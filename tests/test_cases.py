"""Specification of cases (``service.store.cases``, ``service.store.queue``) on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from matching.explain.reasons import Reason
from matching.records import Outcome
from service.store import create_schema, import_tables, make_engine, record_outcome
from service.store.cases import (
    CaseRules,
    apply_moves,
    count_events,
    escalate_overdue,
    escalation,
    history,
    resolution,
)
from service.store.errors import CaseConflict
from service.store.models import CaseEventRow, table_of
from service.store.queue import escalation_queue, overview, problems_with_status

from factories import valid_tables

CASEWORKER = {"code": "caseworker_escalated", "params": {"note": "no bank will lend"}}


@pytest.fixture
def stocked(engine: Engine) -> Engine:
    import_tables(engine, valid_tables(enterprises=3, problems=3, institutions=3, outcomes=0))
    return engine


def outcome(number: int, status: str, problem: str = "P000001", institution: str = "I0001") -> Outcome:
    return Outcome(outcome_id=f"O{number:07d}", problem_id=problem, institution_id=institution, status=status,
                   recorded_by="ana")


def test_a_problem_without_events_is_open_with_an_empty_history(stocked: Engine) -> None:
    assert history(stocked, "P000001") == ("open", [])
    assert history(stocked, "P999999") is None


def test_outcomes_move_the_status_and_each_move_is_an_event_with_who_when_why(stocked: Engine) -> None:
    record_outcome(stocked, outcome(1, "contacted"))
    record_outcome(stocked, outcome(2, "accepted"))
    record_outcome(stocked, outcome(3, "solved"))
    status, events = history(stocked, "P000001")
    assert status == "solved"
    assert [e["status"] for e in events] == ["referred", "accepted", "solved"]
    assert [e["sequence"] for e in events] == [1, 2, 3]
    assert events[0]["by"] == "ana" and events[0]["source"] == "outcome"
    assert events[0]["reason"] == {"code": "outcome_recorded", "params": {
        "outcome_id": "O0000001", "institution_id": "I0001", "outcome": "contacted"}}


def test_a_replayed_outcome_records_no_second_event(stocked: Engine) -> None:
    record_outcome(stocked, outcome(1, "contacted"))
    record_outcome(stocked, outcome(1, "contacted"))
    assert count_events(stocked, "P000001") == 1


def test_the_third_failed_referral_escalates_by_rule(stocked: Engine) -> None:
    rules = CaseRules(failed_referrals=3)
    for number, status in enumerate(["declined", "failed", "declined"], start=1):
        record_outcome(stocked, outcome(number, status, institution=f"I000{number}"), rules=rules)
    status, events = history(stocked, "P000001")
    assert status == "escalated"
    assert events[-1]["source"] == "rule"
    assert events[-1]["reason"] == {"code": "rule_failed_referrals", "params": {"count": 3, "limit": 3}}
    assert [e["status"] for e in events] == ["unsolved", "unsolved", "unsolved", "escalated"]


def test_escalating_an_escalated_problem_records_nothing_and_says_so(stocked: Engine) -> None:
    first, = apply_moves(stocked, [escalation("P000001", source="caseworker", reason=CASEWORKER, by="ana")])
    again, = apply_moves(stocked, [escalation("P000001", source="caseworker", reason=CASEWORKER, by="bo")])
    assert first.recorded and first.status == "escalated"
    assert not again.recorded and again.previous == "escalated"
    assert count_events(stocked, "P000001", "escalated") == 1


def test_a_resolution_needs_an_escalated_problem(stocked: Engine) -> None:
    with pytest.raises(CaseConflict, match="is open"):
        apply_moves(stocked, [resolution("P000001", "resolved_by_province", note="x", by="prov")])
    apply_moves(stocked, [escalation("P000001", source="engine", reason=Reason("no_recognisable_need").to_dict())])
    done, = apply_moves(stocked, [resolution("P000001", "resolved_by_province", note="a provincial fund", by="prov")])
    assert done.status == "resolved_by_province"
    assert history(stocked, "P000001")[0] == "resolved_by_province"


def test_an_outcome_does_not_move_a_case_the_province_holds(stocked: Engine) -> None:
    apply_moves(stocked, [escalation("P000001", source="caseworker", reason=CASEWORKER)])
    record_outcome(stocked, outcome(1, "contacted"))
    assert history(stocked, "P000001")[0] == "escalated"


def test_the_days_open_rule_escalates_old_active_problems_once(stocked: Engine) -> None:
    now = datetime(2030, 1, 1)
    rules = CaseRules(days_open=30)
    assert escalate_overdue(stocked, rules, now=now) == 3
    assert escalate_overdue(stocked, rules, now=now) == 0
    assert history(stocked, "P000002")[1][0]["reason"]["code"] == "rule_days_open"


def race_to_escalate(database_url: str, problem: str, writers: int) -> list[bool]:
    """``writers`` threads, each with its own engine, escalate ``problem`` at the same moment."""
    engines = [make_engine(database_url) for _ in range(writers)]  # one connection pool each
    barrier = threading.Barrier(writers)
    results: list[bool] = []
    errors: list[BaseException] = []

    def escalate(engine: Engine, number: int) -> None:
        try:
            barrier.wait()
            applied, = apply_moves(engine, [escalation(problem, source="caseworker", reason=CASEWORKER,
                                                       by=f"cw{number}")])
            results.append(applied.recorded)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=escalate, args=(e, n)) for n, e in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert not errors, errors
    return results


def test_four_caseworkers_escalating_at_once_make_one_event(database_url: str) -> None:
    setup = make_engine(database_url)
    create_schema(setup)
    import_tables(setup, valid_tables(enterprises=3, problems=3, institutions=3, outcomes=0))
    for problem in ("P000001", "P000002", "P000003"):
        results = race_to_escalate(database_url, problem, 4)
        assert sorted(results) == [False, False, False, True]
        assert count_events(setup, problem, "escalated") == 1
    setup.dispose()


def test_the_database_refuses_a_second_event_with_the_same_sequence(stocked: Engine) -> None:
    apply_moves(stocked, [escalation("P000001", source="caseworker", reason=CASEWORKER)])
    with pytest.raises(IntegrityError), stocked.begin() as connection:
        connection.execute(table_of(CaseEventRow).insert().values(
            problem_id="P000001", sequence=1, status="escalated", at=datetime(2030, 1, 1), source="caseworker",
            by=None, reason=CASEWORKER))


def test_the_queue_gives_each_escalated_problem_with_its_context_and_referrals(stocked: Engine) -> None:
    record_outcome(stocked, outcome(1, "declined"))
    apply_moves(stocked, [escalation("P000001", source="caseworker", reason=CASEWORKER, by="ana")])
    page = escalation_queue(stocked, limit=10, offset=0, now=datetime.now() + timedelta(days=1))
    assert [entry["problem_id"] for entry in page] == ["P000001"]
    entry = page[0]
    assert entry["enterprise_id"] == "E000001" and entry["escalated_by"] == "caseworker"
    assert entry["reason"] == CASEWORKER
    assert [(r["institution_id"], r["status"]) for r in entry["referrals"]] == [("I0001", "declined")]
    assert entry["days_open"] >= 1
    assert escalation_queue(stocked, limit=10, offset=0, source="engine") == []
    assert escalation_queue(stocked, limit=10, offset=1) == []


def test_problems_by_status_count_a_problem_without_events_as_open(stocked: Engine) -> None:
    apply_moves(stocked, [escalation("P000002", source="caseworker", reason=CASEWORKER)])
    assert [p["problem_id"] for p in problems_with_status(stocked, "open", limit=10, offset=0)] == [
        "P000001", "P000003"]
    assert [p["problem_id"] for p in problems_with_status(stocked, "escalated", limit=10, offset=0)] == ["P000002"]


def test_the_overview_counts_by_status_sector_district_kind_and_age(stocked: Engine) -> None:
    record_outcome(stocked, outcome(1, "contacted"))
    apply_moves(stocked, [escalation("P000002", source="caseworker", reason=CASEWORKER)])
    counts = overview(stocked)
    assert counts["total"] == 3
    assert counts["by_status"] == {"open": 1, "referred": 1, "escalated": 1}
    assert sum(sum(v.values()) for v in counts["by_sector"].values()) == 3
    assert sum(sum(v.values()) for v in counts["by_days_open"].values()) == 3
    assert sum(sum(v.values()) for v in counts["by_institution_kind"].values()) == 1


def test_the_cli_escalates_overdue_problems_and_makes_provincial_keys(database_url: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from service.cli import app
    from service.store.queue import problems_with_status

    engine = make_engine(database_url)
    create_schema(engine)
    import_tables(engine, valid_tables(enterprises=3, problems=3, institutions=3, outcomes=0))
    monkeypatch.setenv("SMEMATCH_DATABASE_URL", database_url)
    runner = CliRunner()
    off = runner.invoke(app, ["cases", "escalate-overdue"])
    assert off.exit_code == 0 and "off" in off.stdout
    done = runner.invoke(app, ["cases", "escalate-overdue", "--days", "30"])
    assert done.exit_code == 0, done.output
    assert "escalated 3 problem(s)" in done.stdout
    assert len(problems_with_status(engine, "escalated", limit=None)) == 3
    assert "escalated 0 problem(s)" in runner.invoke(app, ["cases", "escalate-overdue", "--days", "30"]).stdout
    key = runner.invoke(app, ["keys", "create", "--role", "provincial"])
    assert key.exit_code == 0 and key.stdout.strip().startswith("smk_")
    assert runner.invoke(app, ["keys", "create", "--role", "province"]).exit_code != 0
    engine.dispose()
