"""The auth matrix, driven by the OpenAPI document: every operation the service documents is called with no
key, a wrong key, a revoked key and a key of each role, and only the roles of ``POLICY`` get through. A new
route that is not in ``POLICY`` fails the suite, so none can be added without deciding who may call it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from test_api_fixtures import ROLES, Api, running_api

from service.api.app import create_app
from service.api.keys import create_key, revoke_key
from service.settings import Settings

PUBLIC = frozenset({"public"})
# The provincial working group holds only the routes of its queue: every other role holds the city's.
EVERY_ROLE = frozenset(ROLES) - {"provincial"}
PROVINCE = frozenset({"provincial"})
CASE_READERS = EVERY_ROLE | PROVINCE
ANALYSTS = frozenset({"analyst", "admin"})
CURATORS = frozenset({"curator", "admin"})
ADMINS = frozenset({"admin"})

POLICY: dict[str, frozenset[str]] = {
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,
    "POST /v1/recommendations": EVERY_ROLE,
    "GET /v1/enterprises": EVERY_ROLE,
    "GET /v1/enterprises/{enterprise_id}": EVERY_ROLE,
    "PUT /v1/enterprises/{enterprise_id}": CURATORS,
    "GET /v1/problems": EVERY_ROLE,
    "GET /v1/problems/{problem_id}": EVERY_ROLE,
    "PUT /v1/problems/{problem_id}": CURATORS,
    "GET /v1/institutions": EVERY_ROLE,
    "GET /v1/institutions/{institution_id}": EVERY_ROLE,
    "PUT /v1/institutions/{institution_id}": CURATORS,
    "POST /v1/outcomes": EVERY_ROLE,
    "GET /v1/outcomes": EVERY_ROLE,
    "GET /v1/outcomes/{outcome_id}": EVERY_ROLE,
    "GET /v1/model": ANALYSTS,
    "GET /v1/model/runs": ANALYSTS,
    "POST /v1/admin/model/reload": ADMINS,
    "GET /v1/admin/keys": ADMINS,
    "POST /v1/admin/keys": ADMINS,
    "DELETE /v1/admin/keys/{key_id}": ADMINS,
    "GET /v1/exports/outcomes": ANALYSTS,
    "GET /v1/audit": ANALYSTS,
    "GET /v1/me": EVERY_ROLE | PROVINCE,
    "POST /v1/problems/{problem_id}/escalate": EVERY_ROLE,
    "GET /v1/problems/{problem_id}/recommendations": EVERY_ROLE,
    "GET /v1/escalations": CASE_READERS,
    "POST /v1/escalations/{problem_id}/resolution": PROVINCE,
    "GET /v1/exports/escalations": CASE_READERS,
    "GET /v1/cases/overview": CASE_READERS,
}
# Values for path parameters: stored records (so a 404 cannot hide a 403), and a key id that does not exist
# (so an admin's DELETE revokes nothing).
PATH_VALUES = {"enterprise_id": "E000001", "problem_id": "P000001", "institution_id": "B01",
               "outcome_id": "O0000001", "key_id": "k_nope"}


def _document() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite://", docs_enabled=True)).openapi()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation) for path, operations in _document()["paths"].items()
            for method, operation in operations.items()]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("matrix")
    with running_api(f"sqlite:///{folder / 'store.db'}", folder) as running:
        create_key(running.engine, "admin", "spare admin")
        revoked, record = create_key(running.engine, "admin", "revoked admin")
        revoke_key(running.engine, record["key_id"])
        running.keys["revoked"] = revoked
        yield running


def test_every_documented_operation_has_a_decided_policy() -> None:
    documented = {f"{method} {path}" for method, path, _ in _operations()}
    assert documented == set(POLICY), "decide who may call each new route in POLICY"


def test_no_api_route_is_left_out_of_the_openapi_document() -> None:
    app = create_app(Settings(database_url="sqlite://", docs_enabled=True))
    hidden = [route.path for route in app.routes
              if isinstance(route, APIRoute) and route.path.startswith("/v1") and not route.include_in_schema]
    assert hidden == []


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in _operations()], ids=lambda value: str(value))
def test_only_the_roles_of_the_policy_get_through(api: Api, method: str, path: str) -> None:
    operation = next(op for m, p, op in _operations() if (m, p) == (method, path))
    allowed = POLICY[f"{method} {path}"]
    url = re.sub(r"\{(\w+)\}", lambda match: PATH_VALUES[match.group(1)], path)
    body = {} if method in ("POST", "PUT") else None

    def call(key: str | None) -> int:
        headers = {} if key is None else {"X-API-Key": key}
        return api.client.request(method, url, headers=headers, json=body).status_code

    if allowed == PUBLIC:
        assert not operation.get("security")
        assert call(None) not in (401, 403)
        return
    assert operation.get("security"), "a route that needs a key must say so in the document"
    assert call(None) == 401
    assert call("smk_not-a-key") == 401
    assert call(api.keys["revoked"]) == 401
    for role in ROLES:
        status = call(api.keys[role])
        if role in allowed:
            assert status not in (401, 403), (role, status)
        else:
            assert status == 403, (role, status)
