"""Specification of catalogue curation: only curators and admins edit, every edit is an audit event, ETags
stop lost updates, refits run in the background coalesced, and the last admin key stays."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_fixtures import Api, running_api
from typer.testing import CliRunner

from service.cli import app as cli


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path, refit_quiet_seconds=0.2, refit_max_delay_seconds=1.0) as running:
        yield running


def _institution(api: Api, institution_id: str = "B01") -> tuple[dict, str]:
    answer = api.get(f"/v1/institutions/{institution_id}")
    record = answer.json()
    record.pop("institution_id")
    return record, answer.headers["etag"]


@pytest.mark.parametrize("path", ["/v1/institutions/B01", "/v1/enterprises/E000001", "/v1/problems/P000001"])
def test_caseworkers_and_analysts_read_records_but_only_curators_and_admins_replace_them(api: Api, path: str) -> None:
    record = api.get(path).json()
    body = {k: v for k, v in record.items() if not k.endswith("_id") or k == "enterprise_id" and "problems" in path}
    for role in ("caseworker", "analyst"):
        refused = api.put(path, role=role, json=body)
        assert refused.status_code == 403 and "curator" in refused.json()["error"]
    for role in ("curator", "admin"):
        assert api.put(path, role=role, json=body).status_code == 200


def test_every_edit_is_an_audit_event_with_who_when_before_and_after(api: Api) -> None:
    record, _ = _institution(api)
    assert api.put("/v1/institutions/B01", json={**record, "capacity": 0}).status_code == 200
    new = {**record, "name": "Hillside Credit", "capacity": 3}
    assert api.put("/v1/institutions/B99", json=new).status_code == 201
    events = api.get("/v1/audit", role="analyst", params={"entity": "institutions"}).json()["items"]
    assert [(e["action"], e["record_id"]) for e in events] == [("replace", "B01"), ("create", "B99")]
    first, second = events
    assert first["before"]["capacity"] == record["capacity"] and first["after"]["capacity"] == 0
    assert first["actor_name"] == "curator-key" and first["at"]
    assert second["before"] is None and second["after"]["name"] == "Hillside Credit"
    only_b99 = api.get("/v1/audit", role="admin", params={"record_id": "B99"}).json()["items"]
    assert [e["record_id"] for e in only_b99] == ["B99"]
    for role in ("caseworker", "curator"):
        assert api.get("/v1/audit", role=role).status_code == 403


def test_a_put_with_a_stale_if_match_is_412_and_changes_nothing(api: Api) -> None:
    record, tag = _institution(api)
    first = api.put("/v1/institutions/B01", json={**record, "capacity": 7}, headers={"If-Match": tag})
    assert first.status_code == 200 and first.headers["etag"] != tag
    stale = api.put("/v1/institutions/B01", json={**record, "capacity": 1}, headers={"If-Match": tag})
    assert stale.status_code == 412 and stale.json()["detail"][0]["field"] == "If-Match"
    assert api.get("/v1/institutions/B01").json()["capacity"] == 7
    fresh = api.get("/v1/institutions/B01").headers["etag"]
    assert fresh == first.headers["etag"]
    assert api.put("/v1/institutions/B01", json={**record, "capacity": 1},
                   headers={"If-Match": fresh}).status_code == 200
    assert api.put("/v1/institutions/B77", json=record, headers={"If-Match": "*"}).status_code == 412
    assert api.get("/v1/institutions/B77").status_code == 404


def test_a_burst_of_edits_is_refitted_once_in_the_background(api: Api) -> None:
    record, _ = _institution(api)
    metrics = api.client.app.state.context.metrics  # type: ignore[attr-defined]
    before = metrics.refits._value.get()
    started = time.monotonic()
    for number in range(20):
        assert api.put("/v1/institutions/B01", json={**record, "name": f"Bank {number}"}).status_code == 200
    assert time.monotonic() - started < 5  # no edit waited for a refit
    deadline = time.monotonic() + 10
    while metrics.refits._value.get() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert 1 <= metrics.refits._value.get() - before <= 3
    answer = api.post("/v1/recommendations", json={"text": "need a bank loan for new machines", "k": 24}).json()
    names = {i["institution_id"]: i["name"] for i in answer["results"][0]["institutions"]}
    assert names["B01"] == "Bank 19"


def test_the_last_active_admin_key_cannot_be_revoked(api: Api) -> None:
    keys = api.get("/v1/admin/keys", role="admin").json()
    admin = next(k for k in keys if k["role"] == "admin")
    refused = api.client.delete(f"/v1/admin/keys/{admin['key_id']}", headers=api.headers("admin"))
    assert refused.status_code == 409 and "last active admin" in refused.json()["error"]
    created = api.post("/v1/admin/keys", role="admin", json={"role": "admin", "name": "second admin"}).json()
    assert api.client.delete(f"/v1/admin/keys/{admin['key_id']}", headers=api.headers("admin")).status_code == 200
    second = {"X-API-Key": created["key"]}
    assert api.client.delete(f"/v1/admin/keys/{created['key_id']}", headers=second).status_code == 409
    revoked = api.get("/v1/audit", role="analyst", params={"entity": "api_keys"}).json()["items"]
    assert ("revoke", admin["key_id"]) in [(e["action"], e["record_id"]) for e in revoked]


def test_the_cli_refuses_to_revoke_the_last_admin_key_without_a_traceback(database_url: str) -> None:
    runner = CliRunner()
    env = {"SMEMATCH_DATABASE_URL": database_url}
    assert runner.invoke(cli, ["keys", "create", "--role", "curator"], env=env).exit_code == 0
    assert runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "only admin"], env=env).exit_code == 0
    listed = runner.invoke(cli, ["keys", "list"], env=env).stdout
    admin_id = next(line.split()[1] for line in listed.splitlines() if "only admin" in line)
    refused = runner.invoke(cli, ["keys", "revoke", admin_id], env=env)
    assert refused.exit_code != 0 and "last active admin" in refused.output and "Traceback" not in refused.output


def test_a_model_swap_is_an_audit_event_with_the_model_before_and_after(api: Api) -> None:
    from test_api_model import bundle, reload

    bundle(api.settings.models_dir / ("runs/" + "r" * 200), "learned-audited")
    assert reload(api, "runs/" + "r" * 200).status_code == 200
    [event] = api.get("/v1/audit", role="admin", params={"entity": "model"}).json()["items"]
    assert event["action"] == "reload" and event["record_id"] == "runs/" + "r" * 200
    assert event["before"]["ranker"] == "baseline" and event["after"]["version"] == "learned-audited"
