"""Nothing acknowledged is lost: an escalation answered 201 survives ``kill -9`` of the server as exactly one
event, and the next server answers a repeat with 200 "already escalated".

Concurrent writers (threads, one HTTP connection each) escalate problems of their own to a real ``smematch
serve`` as fast as they can; once enough are acknowledged the server gets SIGKILL mid-load; the store, opened
afresh, must hold one ``escalated`` event for each acknowledged problem and the ``cases`` row that says so.
On SQLite always and on PostgreSQL when it answers; bounded by the number of problems. And four caseworkers
posting the same escalation at the same moment to a live server get one 201 and three 200s, one event.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from test_api_fixtures import Server, start_server, stock, stop_server

from service.store import import_tables, make_engine
from service.store.models import CaseEventRow, CaseRow

from factories import valid_tables

WRITERS = 6
PER_WRITER = 60
KILL_AFTER_ACKS = 80


def add_problems(url: str) -> list[str]:
    """Enough problems for every writer to escalate its own (the stocked city has five)."""
    tables = valid_tables(enterprises=4, problems=WRITERS * PER_WRITER, institutions=2, outcomes=0)
    engine = make_engine(url)
    try:
        ids = ["D" + problem_id for problem_id in tables.problems["problem_id"]]
        problems = tables.problems.assign(problem_id=ids, enterprise_id="E000001")
        import_tables(engine, type(tables)(tables.enterprises.iloc[:0], problems, tables.institutions.iloc[:0],
                                           tables.outcomes))
        return ids
    finally:
        engine.dispose()


def escalate_until_killed(server: Server, problems: list[str], key: str) -> set[str]:
    acknowledged: set[str] = set()
    lock = threading.Lock()
    enough = threading.Event()

    def writer(number: int) -> None:
        mine = problems[number * PER_WRITER:(number + 1) * PER_WRITER]
        with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=10.0) as client:
            for problem_id in mine:
                try:
                    response = client.post(f"/v1/problems/{problem_id}/escalate", json={"reason": f"w{number}"})
                except httpx.HTTPError:
                    return  # the server is gone
                assert response.status_code == 201, response.text
                with lock:
                    acknowledged.add(problem_id)
                    if len(acknowledged) >= KILL_AFTER_ACKS:
                        enough.set()

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    assert enough.wait(timeout=90), f"only {len(acknowledged)} escalations acknowledged in 90 s"
    os.kill(server.process.pid, signal.SIGKILL)  # mid-load: writers have requests in flight
    server.process.wait(timeout=15)
    for thread in threads:
        thread.join(timeout=30)
    with lock:
        return set(acknowledged)


@pytest.mark.slow
def test_acknowledged_escalations_survive_kill_9_as_one_event_each(database_url: str, tmp_path: Path) -> None:
    keys = stock(database_url)
    problems = add_problems(database_url)
    server = start_server(database_url, tmp_path)
    try:
        acknowledged = escalate_until_killed(server, problems, keys["caseworker"])
        engine = make_engine(database_url)
        try:
            with engine.connect() as connection:
                events = dict(connection.execute(
                    select(CaseEventRow.problem_id, func.count()).where(CaseEventRow.status == "escalated")
                    .group_by(CaseEventRow.problem_id)).all())
                cases = dict(connection.execute(select(CaseRow.problem_id, CaseRow.status)).all())
        finally:
            engine.dispose()
        assert {problem: events.get(problem) for problem in acknowledged} == dict.fromkeys(acknowledged, 1)
        assert {cases.get(problem) for problem in acknowledged} == {"escalated"}
        assert set(events.values()) == {1}  # no problem, acknowledged or not, has two
        server = start_server(database_url, tmp_path)
        again = httpx.post(f"{server.base_url}/v1/problems/{sorted(acknowledged)[0]}/escalate",
                           json={"reason": "again"}, headers={"X-API-Key": keys["caseworker"]}, timeout=10)
        assert again.status_code == 200 and again.json()["escalated"] is False
    finally:
        stop_server(server)


@pytest.mark.slow
def test_four_caseworkers_escalating_at_once_over_http_make_one_event(database_url: str, tmp_path: Path) -> None:
    keys = stock(database_url)
    server = start_server(database_url, tmp_path)
    try:
        for problem_id in ("P000002", "P000003", "P000005"):
            barrier = threading.Barrier(4)
            answers: list[int] = []

            def caseworker(number: int, problem_id: str = problem_id, barrier: threading.Barrier = barrier,
                           answers: list[int] = answers) -> None:
                with httpx.Client(base_url=server.base_url, headers={"X-API-Key": keys["caseworker"]},
                                  timeout=30.0) as client:
                    client.get("/healthz")  # connected before the barrier: the four posts leave together
                    barrier.wait()
                    answers.append(client.post(f"/v1/problems/{problem_id}/escalate",
                                               json={"reason": f"caseworker {number}"}).status_code)

            threads = [threading.Thread(target=caseworker, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert sorted(answers) == [200, 200, 200, 201]
            engine = make_engine(database_url)
            try:
                with engine.connect() as connection:
                    events = connection.execute(select(func.count()).select_from(CaseEventRow).where(
                        CaseEventRow.problem_id == problem_id, CaseEventRow.status == "escalated")).scalar_one()
            finally:
                engine.dispose()
            assert events == 1
    finally:
        stop_server(server)
