"""A fleet serves one model version and its metrics add up: ``smematch serve --workers 2`` on real uvicorn, two
separate ``serve`` processes on one store (SQLite, and PostgreSQL when it answers), and one worker in process.

- Convergence: after a reload, all of 20 consecutive ``GET /v1/model`` give the new version within 5 s.
- A desired version whose bundle is broken is refused by every worker; each keeps serving and says why.
- Metrics: after 40 recommendations, every scrape of ``/metrics`` counts at least 40.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from test_api_fixtures import Api, Server, running_api, start_server, stock, stop_server
from test_api_model import AD_HOC, bundle

from service.fleet import publish
from service.store import RecommendationRow, desired_model, make_engine
from service.store.serving import set_desired_model

CONVERGED_WITHIN_SECONDS = 5.0
CONSECUTIVE = 20


def model_version(base_url: str, key: str) -> dict:
    """``GET /v1/model`` on a new connection: uvicorn's workers share the listening socket, so each new
    connection may reach either worker (a kept-alive one stays with one)."""
    response = httpx.get(f"{base_url}/v1/model", headers={"X-API-Key": key}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def converged_after(base_url: str, key: str, version: str) -> float:
    """Seconds until ``CONSECUTIVE`` consecutive ``GET /v1/model`` give ``version`` (inf if not within 3x the
    target, so a failure shows how far off it was)."""
    start = time.monotonic()
    streak = 0
    while time.monotonic() - start < 3 * CONVERGED_WITHIN_SECONDS:
        streak = streak + 1 if model_version(base_url, key)["version"] == version else 0
        if streak == CONSECUTIVE:
            return time.monotonic() - start
        time.sleep(0.01)
    return float("inf")


def worker_pids(base_url: str) -> set[str]:
    """The workers whose model is loaded, from the live ``smematch_model_info`` series (one per worker pid)."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return {re.search(r'pid="(\d+)"', line).group(1) for line in text.splitlines()
            if line.startswith("smematch_model_info{") and line.endswith(" 1.0")}


def served_total(text: str) -> float:
    match = re.search(r"^smematch_recommendations_served_total (\S+)$", text, re.MULTILINE)
    assert match, text[:2000]
    return float(match.group(1))


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str], str, Path]]:
    folder = tmp_path_factory.mktemp("two-workers")
    url = f"sqlite:///{folder / 'store.db'}"
    keys = stock(url)
    server = start_server(url, folder, args=("--workers", "2"))
    try:
        deadline = time.monotonic() + 120
        while len(worker_pids(server.base_url)) < 2:  # /readyz answered from the first worker up
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.2)
        yield server, keys, url, folder / "models"
    finally:
        stop_server(server)


@pytest.mark.slow
def test_every_scrape_sums_the_recommendations_of_both_workers(two_workers: tuple) -> None:
    server, keys, _, _ = two_workers
    answered_by: dict[str, int] = {}  # a recommendation id starts with its worker's own prefix
    for _ in range(400):  # new connections until both workers have answered and 40 are sent
        response = httpx.post(f"{server.base_url}/v1/recommendations", json=AD_HOC,
                              headers={"X-API-Key": keys["caseworker"]}, timeout=10)
        assert response.status_code == 200
        prefix = response.json()["recommendation_id"][:16]
        answered_by[prefix] = answered_by.get(prefix, 0) + 1
        if len(answered_by) == 2 and sum(answered_by.values()) >= 40:
            break
    sent = sum(answered_by.values())
    assert len(answered_by) == 2 and sent >= 40, answered_by

    scrapes = [httpx.get(f"{server.base_url}/metrics", timeout=10).text for _ in range(10)]

    # Each worker answered fewer than all of them, so a scrape that counts them all has summed both.
    assert [served_total(text) >= sent for text in scrapes] == [True] * 10


@pytest.mark.slow
def test_a_reload_reaches_both_workers_and_each_logs_the_version_that_answered(two_workers: tuple) -> None:
    server, keys, url, models = two_workers
    bundle(models / "fleet-2", "learned-fleet-2")
    reloaded = httpx.post(f"{server.base_url}/v1/admin/model/reload", json={"path": "fleet-2"},
                          headers={"X-API-Key": keys["admin"]}, timeout=30)
    assert reloaded.status_code == 200, reloaded.text

    assert converged_after(server.base_url, keys["analyst"], "learned-fleet-2") < CONVERGED_WITHIN_SECONDS

    readiness = [httpx.get(f"{server.base_url}/readyz", timeout=10).json() for _ in range(10)]
    answered = [httpx.post(f"{server.base_url}/v1/recommendations", json=AD_HOC,
                           headers={"X-API-Key": keys["caseworker"]}, timeout=10) for _ in range(20)]
    assert {(r["served_version"], r["desired_version"], r["matches_desired"]) for r in readiness} == {
        ("learned-fleet-2", "learned-fleet-2", True)}
    assert {r.json()["model_version"] for r in answered} == {"learned-fleet-2"}
    assert len({r.json()["recommendation_id"][:16] for r in answered}) == 2  # both workers answered
    ids = [f"{r.json()['recommendation_id']}-1" for r in answered]
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as connection:
                logged = connection.execute(select(RecommendationRow.recommendation_id, RecommendationRow.model_version)
                                            .where(RecommendationRow.recommendation_id.in_(ids))).all()
            if len(logged) == len(ids) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert desired_model(engine).bundle == "versions/learned-fleet-2"
    finally:
        engine.dispose()
    assert sorted(logged) == sorted((identifier, "learned-fleet-2") for identifier in ids)


@pytest.mark.slow
def test_two_serve_processes_on_one_store_follow_one_version_and_refuse_a_broken_one(
    database_url: str, tmp_path: Path
) -> None:
    keys = stock(database_url)
    first = start_server(database_url, tmp_path)
    second = start_server(database_url, tmp_path)
    engine = make_engine(database_url)
    try:
        bundle(tmp_path / "models" / "current", "learned-replicas")
        with httpx.Client(base_url=first.base_url, timeout=10) as one, \
                httpx.Client(base_url=second.base_url, timeout=10) as other:
            assert one.post("/v1/admin/model/reload", headers={"X-API-Key": keys["admin"]}).status_code == 200
            assert converged_after(second.base_url, keys["analyst"], "learned-replicas") < CONVERGED_WITHIN_SECONDS

            broken = bundle(tmp_path / "models" / "broken", "learned-broken")
            (broken / "model.joblib").write_bytes(b"not a model")
            publish(engine, tmp_path / "models", broken, check=False)  # as a fleet on other code might
            time.sleep(3)  # several polls

            for client in (one, other):
                described = model_version(str(client.base_url).rstrip("/"), keys["analyst"])
                assert described["version"] == "learned-replicas"
                assert described["desired_version"] == "learned-broken" and not described["matches_desired"]
                assert "checksum mismatch for model.joblib" in described["desired_refused"]  # refused before unpickling
                ready = client.get("/readyz")
                assert ready.status_code == 200 and ready.json()["matches_desired"] is False
                assert client.post("/v1/recommendations", json=AD_HOC,
                                   headers={"X-API-Key": keys["caseworker"]}).json()["model_version"] == \
                    "learned-replicas"
    finally:
        engine.dispose()
        stop_server(first)
        stop_server(second)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(f"sqlite:///{tmp_path / 'store.db'}", tmp_path,
                     app_options={"model_poll_seconds": 0.1}) as running:
        yield running


def test_before_any_reload_a_worker_reports_no_desired_version_and_matches(api: Api) -> None:
    described = api.get("/v1/model", role="analyst").json()
    assert (described["desired_version"], described["matches_desired"]) == (None, True)
    assert api.client.get("/readyz").json()["served_version"] == described["version"]


def test_a_version_set_in_the_store_is_served_within_a_poll_and_at_the_next_start(api: Api, tmp_path: Path) -> None:
    folder = bundle(api.settings.models_dir / "elsewhere", "learned-set")
    publish(api.engine, api.settings.models_dir, folder, set_by="test")
    deadline = time.monotonic() + 5
    while api.get("/v1/model", role="analyst").json()["version"] != "learned-set":
        assert time.monotonic() < deadline, "not converged"
        time.sleep(0.05)
    assert (api.settings.models_dir / "versions" / "learned-set" / "manifest.json").exists()

    with running_api(api.settings.database_url, tmp_path) as restarted:
        assert restarted.get("/v1/model", role="analyst").json()["version"] == "learned-set"


def test_a_desired_version_whose_bundle_holds_another_version_is_refused(api: Api) -> None:
    bundle(api.settings.models_dir / "versions" / "mislabelled", "learned-other")
    set_desired_model(api.engine, "learned-wanted", "versions/mislabelled")
    time.sleep(0.5)
    described = api.get("/v1/model", role="analyst").json()
    assert described["version"] == "baseline-1" and "not 'learned-wanted'" in described["desired_refused"]
