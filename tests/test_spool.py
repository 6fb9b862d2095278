"""No answer waits on the store for long: while the store's write lock is held elsewhere, recommendations are
answered at once and logged in a durable local spool, drained into the store once the lock is gone; nothing
acknowledged is lost, even when the server is killed with SIGKILL while the rows are spooled.

- Held lock (a real ``smematch serve``): another process holds SQLite's exclusive lock for 8 s; 10
  recommendations each answer 200 in < 2 s, ``/readyz`` says ``degraded``, and afterwards every one is in
  the log.
- The same in process on SQLite and PostgreSQL (a table lock there).
- The spool itself: a drain writes each batch once, even when drained twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from test_api_fixtures import Api, running_api, start_server, stock, stop_server
from test_api_model import AD_HOC

from matching.records import RankedInstitution, Recommendation
from service.store import LoggedRecommendation, RecommendationRow, get_logged, make_engine
from service.store.log import log_rows
from service.store.spool import SPOOL_FILE, Spool

HOLD_SECONDS = 8
ANSWER_WITHIN_SECONDS = 2.0

HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
if sys.argv[2] == "until-stdin-closes":
    sys.stdin.read()
else:
    time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""


@contextmanager
def exclusive_lock(database: Path, hold: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding SQLite's exclusive lock on ``database`` (``hold`` seconds, or until its standard
    input closes)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database), hold], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        if holder.poll() is None and holder.stdin is not None:
            holder.stdin.close()
        holder.wait(timeout=30)


def logged_ids(url: str, ids: list[str], *, within: float = 15.0) -> set[str]:
    """The ids of ``ids`` in the store's log, waiting up to ``within`` seconds for all of them."""
    engine = make_engine(url)
    deadline = time.monotonic() + within
    try:
        while True:
            with engine.connect() as connection:
                found = set(connection.execute(select(RecommendationRow.recommendation_id)
                                               .where(RecommendationRow.recommendation_id.in_(ids))).scalars())
            if found == set(ids) or time.monotonic() > deadline:
                return found
            time.sleep(0.2)
    finally:
        engine.dispose()


def recommend_timed(client: httpx.Client, key: str, count: int) -> list[tuple[int, float, str]]:
    """(status, seconds, logged id) of ``count`` recommendations in a row."""
    answers = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.post("/v1/recommendations", json=AD_HOC, headers={"X-API-Key": key})
        seconds = time.perf_counter() - started
        answers.append((response.status_code, seconds, f"{response.json().get('recommendation_id')}-1"))
    return answers


@pytest.mark.slow
def test_while_another_process_holds_the_lock_answers_go_out_at_once_and_all_are_logged_after(
    tmp_path: Path,
) -> None:
    database = tmp_path / "store.db"
    url = f"sqlite:///{database}"
    keys = stock(url)
    server = start_server(url, tmp_path, SMEMATCH_SPOOL_DIR=str(tmp_path / "spool"))
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            assert client.get("/readyz").json()["status"] == "ready"
            with exclusive_lock(database, str(HOLD_SECONDS)) as holder:
                started = time.monotonic()
                answers = recommend_timed(client, keys["caseworker"], 10)
                during = client.get("/readyz").json()
                assert time.monotonic() - started < HOLD_SECONDS, "the lock was gone before the last answer"
                assert holder.poll() is None
            ids = [identifier for _, _, identifier in answers]
            assert [(status, seconds < ANSWER_WITHIN_SECONDS) for status, seconds, _ in answers] == [(200, True)] * 10
            assert during["status"] == "degraded" and during["checks"]["store"].startswith("spooling")
            assert logged_ids(url, ids) == set(ids)
            assert client.get("/readyz").json()["status"] == "ready"
            metrics = client.get("/metrics").text
        assert "smematch_recommendation_log_spooled_batches_total" in metrics
    finally:
        stop_server(server)


@pytest.mark.slow
def test_spooled_recommendations_survive_kill_9_and_reach_the_store_after_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    url = f"sqlite:///{database}"
    keys = stock(url)
    spool = tmp_path / "spool"
    server = start_server(url, tmp_path, SMEMATCH_SPOOL_DIR=str(spool))
    try:
        with exclusive_lock(database, "until-stdin-closes"):
            with httpx.Client(base_url=server.base_url, timeout=60) as client:
                answers = recommend_timed(client, keys["caseworker"], 10)
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=15)
            assert Spool(spool).pending() >= 1  # the acknowledged rows are on disk, not in the store yet
        ids = [identifier for _, _, identifier in answers]
        assert [status for status, _, _ in answers] == [200] * 10
        assert logged_ids(url, ids, within=0.5) == set()

        server = start_server(url, tmp_path, SMEMATCH_SPOOL_DIR=str(spool))

        assert logged_ids(url, ids) == set(ids)
        assert Spool(spool).pending() == 0
    finally:
        stop_server(server)


@contextmanager
def store_locked(url: str, tmp_path: Path) -> Iterator[None]:
    """The store's write lock held elsewhere: SQLite's exclusive lock, or PostgreSQL's lock on the log table."""
    if url.startswith("sqlite"):
        with exclusive_lock(Path(url.removeprefix("sqlite:///")), "until-stdin-closes"):
            yield
        return
    import psycopg

    from conftest import _libpq

    with psycopg.connect(_libpq(url)) as connection:
        connection.execute("LOCK TABLE recommendations IN ACCESS EXCLUSIVE MODE")
        yield
        connection.rollback()


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path, spool_dir=tmp_path / "spool", app_options={"drain_seconds": 0.2},
                     log_write_timeout_seconds=0.3) as running:
        yield running


def test_a_held_store_lock_sends_the_log_to_the_spool_until_it_is_released(api: Api, tmp_path: Path) -> None:
    url = api.settings.database_url
    assert api.client.get("/readyz").json()["checks"]["store"] == "ok"
    with store_locked(url, tmp_path):
        before = api.client.get("/readyz").json()  # nothing written yet: the store's own health says it
        answers = [api.post("/v1/recommendations", json=AD_HOC) for _ in range(3)]
        readiness = api.client.get("/readyz").json()
        assert Spool(tmp_path / "spool").pending() >= 1
    ids = [f"{answer.json()['recommendation_id']}-1" for answer in answers]
    assert [answer.status_code for answer in answers] == [200] * 3
    assert before["status"] == "degraded" and before["checks"]["store"].startswith("not taking writes")
    assert readiness["status"] == "degraded" and "spooling" in readiness["checks"]["store"]

    assert logged_ids(url, ids) == set(ids)
    logged = get_logged(api.engine, ids[0])
    assert logged["model_version"] == answers[0].json()["model_version"] and logged["items"]
    deadline = time.monotonic() + 5
    while api.client.get("/readyz").json()["status"] != "ready":
        assert time.monotonic() < deadline, "still degraded after the spool was drained"
        time.sleep(0.1)
    fresh = api.post("/v1/recommendations", json=AD_HOC).json()["recommendation_id"]
    assert logged_ids(url, [f"{fresh}-1"], within=0) == {f"{fresh}-1"}  # straight to the store again


def spooled_rows(identifier: str) -> tuple[list, list]:
    shown = Recommendation(problem_id=None, model_version="v9",
                           institutions=(RankedInstitution("B01", "Bank", "bank", 0.5, 1),))
    return log_rows([LoggedRecommendation(shown, text="a loan", propensities=[1.0], recommendation_id=identifier,
                                          request={"k": 5, "categories": {"finance": 0.7}})])


def test_a_spooled_batch_reaches_the_store_as_written_and_once_when_drained_twice(engine: Engine,
                                                                                 tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    assert spool.pending() == 0 and not (tmp_path / "spool" / SPOOL_FILE).exists()  # made only when needed
    heads, items = spooled_rows("R-1")
    spool.append(heads, items)
    spool.append(*spooled_rows("R-2"))
    again = Spool(tmp_path / "spool")  # another worker on the same folder drains the same rows

    assert spool.drain(engine) == 2
    again.append(heads, items)
    assert again.drain(engine) == 1

    logged = get_logged(engine, "R-1")
    assert {key: logged[key] for key in heads[0]} == heads[0]
    assert [(i["institution_id"], i["propensity"]) for i in logged["items"]] == [("B01", 1.0)]
    assert get_logged(engine, "R-2") is not None and spool.pending() == 0
    spool.close()
    again.close()
