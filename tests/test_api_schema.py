"""The live service against its own OpenAPI document, with schemathesis and all its checks: for generated
requests to every operation (valid and invalid ones), with a key of each role, no server error, and every
response conforms to the document (status codes, content types, bodies). Then a stateful phase (sequences
that follow the document's links: create, read, replace, revoke, ...) with an admin key, after which an admin
can still act. Runs against a real ``smematch serve`` on a stocked SQLite store; bounded (a few examples per
operation, no shrinking, a step limit) to stay within a few minutes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from test_api_fixtures import start_server, stock, stop_server

MAX_EXAMPLES = 6
STATEFUL_SCENARIOS = 15
STATEFUL_STEPS = 8
STATEFUL_SUITES = 3
ROLES = ("caseworker", "analyst", "curator", "admin")
# Checks no OpenAPI document can state: the districts the service knows, references to stored records, and
# ETags the client read before (``If-Match``). For these operations a schema-valid request may be refused with
# 422 or 412, but only naming these fields.
DATA_DEPENDENT = {
    "POST /v1/recommendations": {"region"},
    "POST /v1/outcomes": {"problem_id", "institution_id"},
    # A body may carry its record's id, but only the path's: no OpenAPI document ties a body field to the path.
    "PUT /v1/problems/{problem_id}": {"enterprise_id", "problem_id", "If-Match"},
    "PUT /v1/enterprises/{enterprise_id}": {"enterprise_id", "If-Match"},
    # max_amount: at least min_amount, a rule between two fields that the JSON Schema cannot state
    "PUT /v1/institutions/{institution_id}": {"institution_id", "If-Match", "max_amount"},
}
Live = tuple[str, dict[str, str]]
# The stateful phase acts with this key: it lives in the settings, not the store, so no sequence of requests
# can revoke it, and the suite always has an admin.
BOOTSTRAP_ADMIN = "smk_schema-bootstrap-admin"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder: Path = tmp_path_factory.mktemp("schema")
    url = f"sqlite:///{folder / 'store.db'}"
    keys = stock(url)
    server = start_server(url, folder, SMEMATCH_BOOTSTRAP_ADMIN_KEY=BOOTSTRAP_ADMIN)
    try:
        yield server.base_url, {**keys, "bootstrap": BOOTSTRAP_ADMIN}
    finally:
        stop_server(server)


def _name(case: schemathesis.Case) -> str:
    return f"{case.operation.method.upper()} {case.operation.path}"


def _check_data_refusal(case: schemathesis.Case, response: Any) -> None:
    """A schema-valid request to a data-dependent operation may be refused only for its data-dependent fields."""
    name = _name(case)
    positive = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
    if positive and response.status_code in (412, 422):
        fields = {item["field"] for item in response.json()["detail"]}
        assert fields <= DATA_DEPENDENT[name], (name, response.text)


def exercise(operation: schemathesis.APIOperation, mode: GenerationMode, key: str) -> None:
    """Send ``MAX_EXAMPLES`` generated requests (valid or invalid per ``mode``) and validate each response."""
    name = f"{operation.method.upper()} {operation.path}"

    @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        if name not in DATA_DEPENDENT:
            case.call_and_validate(headers={"X-API-Key": key}, timeout=30)
            return
        response = case.call_and_validate(headers={"X-API-Key": key}, timeout=30,
                                          excluded_checks=[positive_data_acceptance])
        _check_data_refusal(case, response)

    check()


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_the_live_service_answers_every_request_as_its_openapi_document_says(live: Live, role: str) -> None:
    base_url, keys = live
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: dict[str, str] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                exercise(operation, mode, keys[role])
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing invalid can be sent to an operation without parameters
            except (Exception, BaseExceptionGroup) as error:  # collect every failure, then report them all
                failures[f"{operation.method.upper()} {operation.path} ({mode.value})"] = str(error)[:3000]
    if failures:
        pytest.fail("\n\n".join(f"=== {name}\n{detail}" for name, detail in failures.items()), pytrace=False)


def test_the_served_process_freezes_its_start_up_objects_out_of_garbage_collection(live: tuple[str, str]) -> None:
    """``smematch serve`` freezes what exists after start-up (libraries, catalogue, model): full collections
    then skip it. The metrics say how many objects were frozen and count collections per generation."""
    import httpx

    base_url, _ = live
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(values["smematch_gc_frozen_objects"]) > 10_000
    assert {f'python_gc_collections_total{{generation="{g}"}}' for g in range(3)} <= values.keys()


def test_the_served_process_checkpoints_its_sqlite_log_in_the_background(live: tuple[str, str]) -> None:
    """The service's commits never checkpoint the write-ahead log themselves (``wal_autocheckpoint=0``): the
    served process does it every second, and says so in its metrics."""
    import time

    import httpx

    base_url, keys = live
    admin_key = keys["bootstrap"]
    for _ in range(3):  # something to checkpoint: logged recommendations
        answer = httpx.post(f"{base_url}/v1/recommendations", json={"text": "need a loan for a kiln 贷款"},
                            headers={"X-API-Key": admin_key}, timeout=30)
        assert answer.status_code == 200
    deadline = time.monotonic() + 10
    while True:
        text = httpx.get(f"{base_url}/metrics", timeout=10).text
        values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
        if float(values["smematch_sqlite_checkpoints_total"]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert float(values["smematch_sqlite_checkpoints_total"]) >= 2
    assert float(values["smematch_sqlite_wal_frames"]) > 0  # the logged recommendations were in the log


@pytest.mark.slow
def test_the_stateful_phase_as_an_admin_conforms_and_leaves_an_admin(live: Live) -> None:
    """Sequences along the document's links (schemathesis infers them: a listed key id feeds a revocation, a
    created record a read...), with the bootstrap admin key and every check. Whatever they revoke, the last
    active admin key of the store is kept, and the bootstrap key cannot be revoked."""
    base_url, keys = live
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    admin = keys["bootstrap"]

    steps = 0

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def step(self, input: Any) -> Any:
            nonlocal steps
            steps += 1
            return super().step(input)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": {"X-API-Key": admin}, "timeout": 30}

        def validate_response(self, response: Any, case: schemathesis.Case, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            if _name(case) not in DATA_DEPENDENT:
                super().validate_response(response, case, additional_checks, **kwargs)
                return
            case.validate_response(response, excluded_checks=[positive_data_acceptance],
                                   transport_kwargs=kwargs or None)
            _check_data_refusal(case, response)

    settings = hypothesis.settings(
        max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS, deadline=None, database=None,
        phases=[hypothesis.Phase.generate], suppress_health_check=list(hypothesis.HealthCheck))
    for seed in range(STATEFUL_SUITES):
        try:
            hypothesis.seed(seed)(Workflow).run(settings=settings)
        except hypothesis.errors.FlakyStrategyDefinition:
            # The store changed under a replayed scenario (the server keeps what earlier steps did), so the same
            # choices drew other values. Every step that ran was validated; the next seed goes on.
            continue
    assert steps >= STATEFUL_SCENARIOS * 2
    listed = httpx.get(f"{base_url}/v1/admin/keys", headers={"X-API-Key": admin}, timeout=30)
    assert listed.status_code == 200
    assert any(key["role"] == "admin" and not key["revoked"] for key in listed.json())


# ------------------------------------------------------------------------------------------- the document itself

# FastAPI's own validation-error schemas, in case they ever appear: the service answers 422 in its ErrorBody.
FASTAPI_SCHEMAS = {"HTTPValidationError", "ValidationError"}
# The operations a client of the service uses most: each carries examples of what it takes and returns.
MAIN_OPERATIONS = [
    ("post", "/v1/recommendations"),
    ("post", "/v1/outcomes"),
    ("get", "/v1/outcomes"),
    ("get", "/v1/problems/{problem_id}"),
    ("post", "/v1/problems/{problem_id}/escalate"),
    ("get", "/v1/escalations"),
    ("post", "/v1/escalations/{problem_id}/resolution"),
    ("get", "/v1/cases/overview"),
    ("get", "/v1/model"),
    ("post", "/v1/admin/model/reload"),
    ("get", "/v1/enterprises"),
    ("get", "/v1/problems"),
    ("get", "/v1/institutions"),
    ("get", "/healthz"),
    ("get", "/readyz"),
]
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
INTERNAL_NAME = re.compile(r"\b(service|matching|training)\.[a-z_]+")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The OpenAPI document as the app serves it at /openapi.json (no store needed to serve it)."""
    from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.settings import Settings

    answer = TestClient(create_app(Settings(database_url="sqlite://", docs_enabled=True))).get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _texts(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every description and summary in the document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield f"{where}/{key}", value
            elif key not in ("examples", "example"):  # examples are data, written as a client would send it
                yield from _texts(value, f"{where}/{key}")
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from _texts(value, f"{where}[{position}]")


def test_every_schema_and_every_field_of_the_document_is_described(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert len(schemas) >= 50
    described = [name for name, schema in schemas.items() if schema.get("description", "").strip()]
    assert len(described) / len(schemas) >= 0.9
    assert sorted(set(schemas) - set(described) - FASTAPI_SCHEMAS) == []
    undescribed_fields = [f"{name}.{field}" for name, schema in schemas.items() if name not in FASTAPI_SCHEMAS
                          for field, value in schema.get("properties", {}).items()
                          if not value.get("description", "").strip()]
    assert undescribed_fields == []


def test_the_document_is_written_for_a_client_not_for_the_code(document: dict[str, Any]) -> None:
    """Markdown, not reStructuredText (no double backticks), and no names of the service's own modules."""
    found = [(where, text) for where, text in _texts(document) if "``" in text or INTERNAL_NAME.search(text)]
    assert found == []


def test_every_operation_has_a_summary_and_a_description(document: dict[str, Any]) -> None:
    operations = [(method, path, operation) for path, item in document["paths"].items()
                  for method, operation in item.items()]
    assert len(operations) >= 30
    bare = [f"{method.upper()} {path}" for method, path, operation in operations
            if not operation.get("summary", "").strip() or not operation.get("description", "").strip()]
    assert bare == []


def _request_examples(document: dict[str, Any], operation: dict[str, Any]) -> list[Any] | None:
    """The examples of an operation's JSON body: the operation's own, else those of its schema (every one of a
    choice of schemas must have some); None for an operation without a body."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is None:
        return None
    if body.get("examples"):
        return [example["value"] for example in body["examples"].values()]
    schema = body["schema"]
    choices = [_resolve(document, one) for one in schema.get("oneOf", schema.get("anyOf", [schema]))
               if one.get("type") != "null"]  # an optional body: null needs no example
    return [example for choice in choices for example in choice.get("examples", [])] if all(
        choice.get("examples") for choice in choices) else []


def _response_examples(document: dict[str, Any], operation: dict[str, Any]) -> list[Any]:
    found = []
    for status, answer in operation["responses"].items():
        content = answer.get("content", {}).get("application/json")
        if status.startswith("2") and content is not None:
            found += _resolve(document, content["schema"]).get("examples", [])
    return found


def test_the_main_operations_carry_examples_of_what_they_take_and_return(document: dict[str, Any]) -> None:
    missing = []
    for method, path in MAIN_OPERATIONS:
        operation = document["paths"][path][method]
        if _request_examples(document, operation) == []:
            missing.append(f"{method.upper()} {path}: request")
        if not _response_examples(document, operation):
            missing.append(f"{method.upper()} {path}: response")
    assert missing == []
    texts = _request_examples(document, document["paths"]["/v1/recommendations"]["post"]) or []
    assert any(CJK.search(str(example.get("text", ""))) for example in texts), "a problem stated in Chinese"


def test_every_example_in_the_document_is_a_valid_body(document: dict[str, Any]) -> None:
    """Each schema's examples are accepted by the model the schema is made from, and the recommendation
    examples by the request body's type: examples a client copies work."""
    from pydantic import BaseModel, TypeAdapter

    from service.api import case_schemas, schemas

    models = {name: value for module in (schemas, case_schemas) for name, value in vars(module).items()
              if isinstance(value, type) and issubclass(value, BaseModel)}
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            models[name].model_validate(example)
            checked += 1
    for example in _request_examples(document, document["paths"]["/v1/recommendations"]["post"]) or []:
        TypeAdapter(schemas.RecommendationIn).validate_python(example)
        checked += 1
    assert checked >= 30
