"""Specification of the service's edges: API keys and roles, body limits, one error shape, logs without
enterprise text, switchable docs, and ``smematch keys``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from test_api_fixtures import Api, running_api
from typer.testing import CliRunner

from service.api.security import hash_key
from service.cli import app as cli
from service.store import ApiKeyRow, get_logged, make_engine

SECRET_TEXT = "Zanzibar-Quokka-Widget factory needs a loan 需要贷款"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, max_body_bytes=2000) as running:
        yield running


# ------------------------------------------------------------------------------------------- keys and roles


def test_a_missing_or_unknown_key_is_401(api: Api) -> None:
    missing = api.client.get("/v1/enterprises/E000001")
    assert missing.status_code == 401 and missing.json()["error"]
    assert missing.headers["www-authenticate"] == "X-API-Key"
    wrong = api.client.get("/v1/enterprises/E000001", headers={"X-API-Key": "smk_not-a-key"})
    assert wrong.status_code == 401


@pytest.mark.parametrize("body", [b'{"text": "need a loan"}', b'{"k": "many"}', b"{not json"])
def test_the_recommendation_route_checks_the_key_before_the_body(api: Api, body: bytes) -> None:
    # The route checks its role itself (``requires_role``), before FastAPI reads the body: no key or an unknown
    # one is 401 whatever the body, as for the routes that take a role parameter.
    for headers in ({}, {"X-API-Key": "smk_not-a-key"}):
        answer = api.client.post("/v1/recommendations", content=body,
                                 headers={"Content-Type": "application/json", **headers})
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "X-API-Key"


def test_a_recommendation_is_logged_under_the_key_that_asked_for_it(api: Api) -> None:
    keys = {k["role"]: k["key_id"] for k in api.get("/v1/admin/keys", role="admin").json()}
    for role in ("caseworker", "analyst"):
        answer = api.post("/v1/recommendations", role=role, json={"text": "need a bank loan for a new kiln"})
        assert answer.status_code == 200
        logged = get_logged(api.engine, answer.json()["results"][0]["recommendation_id"])
        assert logged is not None and logged["request"]["key_id"] == keys[role]


@pytest.mark.parametrize(
    ("method", "path", "least"),
    [
        ("GET", "/v1/enterprises/E000001", "caseworker"),
        ("POST", "/v1/recommendations", "caseworker"),
        ("GET", "/v1/model", "analyst"),
        ("GET", "/v1/exports/outcomes", "analyst"),
        ("POST", "/v1/admin/model/reload", "admin"),
        ("GET", "/v1/admin/keys", "admin"),
    ],
)
def test_roles_are_ordered_caseworker_analyst_admin(api: Api, method: str, path: str, least: str) -> None:
    order = ["caseworker", "analyst", "admin"]
    body = {"text": "need a loan"} if path == "/v1/recommendations" else None
    for role in order:
        response = api.client.request(method, path, headers=api.headers(role), json=body)
        if order.index(role) < order.index(least):
            assert response.status_code == 403, role
            assert least in response.json()["error"]
        else:
            # Let through (a reload with no bundle to load is then refused for that reason, not the key's).
            assert response.status_code not in (401, 403), (role, response.text)


def test_a_revoked_key_is_refused_at_once(api: Api) -> None:
    keys = api.get("/v1/admin/keys", role="admin").json()
    caseworker = next(k for k in keys if k["role"] == "caseworker")
    assert api.get("/v1/enterprises/E000001").status_code == 200
    revoked = api.client.delete(f"/v1/admin/keys/{caseworker['key_id']}", headers=api.headers("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert api.get("/v1/enterprises/E000001").status_code == 401


def test_admins_create_keys_over_http_and_the_secret_is_shown_once(api: Api) -> None:
    created = api.post("/v1/admin/keys", role="admin", json={"role": "analyst", "name": "dashboards"})
    assert created.status_code == 201
    secret = created.json()["key"]
    assert api.client.get("/v1/model", headers={"X-API-Key": secret}).status_code == 200
    listed = api.get("/v1/admin/keys", role="admin").text
    assert secret not in listed and "dashboards" in listed


def test_the_bootstrap_admin_key_from_settings_works_without_a_stored_row(tmp_path: Path) -> None:
    with running_api(f"sqlite:///{tmp_path / 's.db'}", tmp_path, bootstrap_admin_key="smk_bootstrap-secret") as api:
        assert api.client.get("/v1/admin/keys", headers={"X-API-Key": "smk_bootstrap-secret"}).status_code == 200


def test_keys_cli_prints_the_key_alone_and_stores_only_its_hash(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"SMEMATCH_DATABASE_URL": database_url}
    created = runner.invoke(cli, ["keys", "create", "--role", "analyst", "--name", "nightly export"], env=env)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert created.stdout == key + "\n" and key.startswith("smk_") and len(key) > 40
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            [row] = connection.execute(select(ApiKeyRow.__table__)).all()
    finally:
        engine.dispose()
    assert row.hash == hash_key(key) and key not in str(tuple(row)) and row.role == "analyst"
    listed = runner.invoke(cli, ["keys", "list"], env=env)
    assert row.key_id in listed.stdout and "analyst" in listed.stdout and key not in listed.stdout
    assert runner.invoke(cli, ["keys", "revoke", row.key_id], env=env).exit_code == 0
    assert "yes" in runner.invoke(cli, ["keys", "list"], env=env).stdout
    assert runner.invoke(cli, ["keys", "revoke", "k_nope"], env=env).exit_code != 0
    bad = runner.invoke(cli, ["keys", "create", "--role", "superuser"], env=env)
    assert bad.exit_code != 0 and "Traceback" not in bad.output


# ------------------------------------------------------------------------------------------- limits and errors


def test_a_body_over_the_limit_is_413_by_its_declared_length(api: Api) -> None:
    response = api.post("/v1/recommendations", json={"text": "loan " * 1000})
    assert response.status_code == 413
    assert response.json()["detail"][0]["field"] == "body"


def test_a_streamed_body_over_the_limit_is_413_without_a_declared_length(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(100):
            yield b"loan " * 10
        yield b'"}'

    response = api.post("/v1/recommendations", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_errors_share_one_json_shape(api: Api) -> None:
    for response in (
        api.client.get("/v1/nowhere"),
        api.client.delete("/healthz"),
        api.client.get("/v1/model"),
        api.get("/v1/enterprises/E999999"),
        api.post("/v1/recommendations", json={"text": ""}),
        api.get("/v1/outcomes", params={"limit": 0}),
    ):
        assert response.status_code in (401, 404, 405, 422)
        body = response.json()
        assert isinstance(body["error"], str) and isinstance(body["detail"], list)


def test_a_query_parameter_error_names_the_parameter(api: Api) -> None:
    response = api.get("/v1/outcomes", params={"limit": 5000, "status": "lost"})
    assert response.status_code == 422
    assert {d["field"] for d in response.json()["detail"]} == {"limit", "status"}


# ------------------------------------------------------------------------------------------- logs and docs


def test_request_logs_carry_route_status_latency_and_request_id_but_no_text(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="smematch"):
        ok = api.post("/v1/recommendations", json={"text": SECRET_TEXT}, headers={"X-Request-ID": "req-42"})
        api.post("/v1/recommendations", json={"text": SECRET_TEXT, "k": 99})
        api.get("/v1/enterprises", params={"q": "Zanzibar-Quokka"})
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "req-42"
    records = [r for r in caplog.records if r.name == "smematch.access"]
    assert [(r.route, r.status) for r in records] == [
        ("/v1/recommendations", 200), ("/v1/recommendations", 422), ("/v1/enterprises", 200)]
    assert records[0].request_id == "req-42" and records[0].latency_ms > 0
    everything = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "Zanzibar" not in everything and "需要贷款" not in everything


def test_docs_and_the_openapi_document_can_be_switched_off(tmp_path: Path) -> None:
    with running_api(f"sqlite:///{tmp_path / 'a.db'}", tmp_path) as api:
        assert api.client.get("/docs").status_code == 200
        assert "/v1/recommendations" in api.client.get("/openapi.json").json()["paths"]
    with running_api(f"sqlite:///{tmp_path / 'b.db'}", tmp_path, docs_enabled=False) as api:
        assert api.client.get("/docs").status_code == 404
        assert api.client.get("/openapi.json").status_code == 404
