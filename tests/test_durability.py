"""Nothing acknowledged is lost: an outcome answered with a 2xx survives ``kill -9`` of the server.

Each round: concurrent writers (threads, one HTTP connection each) post new outcomes to a real
``smematch serve`` as fast as they can; once enough are acknowledged, the server gets SIGKILL mid-load; the
store, opened afresh, must hold every acknowledged ``outcome_id`` exactly once with the body that was sent,
and the next server (started on the same store after the previous crash) answers a replay with 200.
Repeated over a few rounds, on SQLite (WAL, ``synchronous=FULL``) always and on PostgreSQL when it answers;
bounded by the rounds' count.
"""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from test_api_fixtures import Server, start_server, stock, stop_server

from service.store import OutcomeRow, make_engine

WRITERS = 8
KILL_AFTER_ACKS = 60
ROUNDS = {"sqlite": 3, "postgresql": 2}
STATUSES = ("contacted", "accepted", "declined", "solved", "failed")
PAIRS = [("P000001", "B01"), ("P000002", "C04"), ("P000003", "R02"), ("P000004", "G01"), ("P000005", "C01")]


def write_until_killed(server: Server, round_: int, key: str) -> dict[str, dict]:
    """Post outcomes from ``WRITERS`` threads; SIGKILL the server mid-load. Returns the acknowledged bodies."""
    acknowledged: dict[str, dict] = {}
    lock = threading.Lock()
    enough = threading.Event()

    def writer(number: int) -> None:
        with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=10.0) as client:
            for sequence in range(100_000):
                problem, institution = PAIRS[(number + sequence) % len(PAIRS)]
                body = {"outcome_id": f"O-r{round_}-w{number}-{sequence}", "problem_id": problem,
                        "institution_id": institution, "status": STATUSES[sequence % len(STATUSES)],
                        "amount": float(sequence), "recorded_by": f"writer-{number}"}
                try:
                    response = client.post("/v1/outcomes", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                assert response.status_code == 201, response.text
                with lock:
                    acknowledged[body["outcome_id"]] = body
                    if len(acknowledged) >= KILL_AFTER_ACKS:
                        enough.set()

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    assert enough.wait(timeout=60), f"only {len(acknowledged)} outcomes acknowledged in 60 s"
    os.kill(server.process.pid, signal.SIGKILL)  # mid-load: writers have requests in flight
    server.process.wait(timeout=15)
    for thread in threads:
        thread.join(timeout=30)
    with lock:
        return dict(acknowledged)


def assert_all_stored_once(url: str, server: Server, key: str, acknowledged: dict[str, dict]) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(OutcomeRow.__table__).where(OutcomeRow.outcome_id.in_(list(acknowledged)))
            ).all()
    finally:
        engine.dispose()
    stored = [row._mapping for row in rows]
    assert sorted(r["outcome_id"] for r in stored) == sorted(acknowledged)  # each exactly once (and present)
    for row in stored:
        sent = acknowledged[row["outcome_id"]]
        assert (row["status"], row["amount"], row["recorded_by"]) == (sent["status"], sent["amount"],
                                                                      sent["recorded_by"])
    replay = next(iter(acknowledged.values()))
    response = httpx.post(f"{server.base_url}/v1/outcomes", json=replay, headers={"X-API-Key": key}, timeout=10)
    assert response.status_code == 200 and response.json()["status"] == replay["status"]


@pytest.mark.slow
def test_acknowledged_outcomes_survive_kill_9_of_the_server(database_url: str, tmp_path: Path) -> None:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    keys = stock(database_url)
    server = start_server(database_url, tmp_path)
    pool = ThreadPoolExecutor(1)
    try:
        for round_ in range(ROUNDS[backend]):
            # The next server starts (on the same store, after the previous round's crash) while this one
            # is loaded, which keeps the test short; the check below reads the store with a new engine.
            following = pool.submit(start_server, database_url, tmp_path)
            acknowledged = write_until_killed(server, round_, keys["caseworker"])
            server = following.result(timeout=120)
            assert_all_stored_once(database_url, server, keys["caseworker"], acknowledged)
    finally:
        stop_server(server)
        pool.shutdown()
