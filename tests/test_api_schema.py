"""The live service against its own OpenAPI document, with schemathesis: for generated requests to every
operation (valid and invalid ones), no server error, and every response conforms to the document (status
codes, content types, bodies). Runs against a real ``smematch serve`` on a stocked SQLite store, with an
admin key; bounded (a few examples per operation, no shrinking) to stay well under a minute."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from test_api_fixtures import start_server, stock, stop_server

MAX_EXAMPLES = 6
# Checks no OpenAPI document can state: the districts the service knows, and references to stored records.
# For these operations a schema-valid request may be refused with 422, but only naming these fields.
DATA_DEPENDENT = {
    "POST /v1/recommendations": {"region"},
    "POST /v1/outcomes": {"problem_id", "institution_id"},
    "PUT /v1/problems/{problem_id}": {"enterprise_id", "problem_id"},
    # A body may carry its record's id, but only the path's: no OpenAPI document ties a body field to the path.
    "PUT /v1/enterprises/{enterprise_id}": {"enterprise_id"},
    "PUT /v1/institutions/{institution_id}": {"institution_id"},
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder: Path = tmp_path_factory.mktemp("schema")
    url = f"sqlite:///{folder / 'store.db'}"
    keys = stock(url)
    server = start_server(url, folder)
    try:
        yield server.base_url, keys["admin"]
    finally:
        stop_server(server)


def exercise(operation: schemathesis.APIOperation, mode: GenerationMode, admin_key: str) -> None:
    """Send ``MAX_EXAMPLES`` generated requests (valid or invalid per ``mode``) and validate each response."""
    name = f"{operation.method.upper()} {operation.path}"

    @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        if name not in DATA_DEPENDENT:
            case.call_and_validate(headers={"X-API-Key": admin_key}, timeout=30)
            return
        response = case.call_and_validate(headers={"X-API-Key": admin_key}, timeout=30,
                                          excluded_checks=[positive_data_acceptance])
        if mode is GenerationMode.POSITIVE and response.status_code == 422:
            fields = {item["field"] for item in response.json()["detail"]}
            assert fields <= DATA_DEPENDENT[name], (name, response.text)

    check()


@pytest.mark.slow
def test_the_live_service_answers_every_request_as_its_openapi_document_says(live: tuple[str, str]) -> None:
    base_url, admin_key = live
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: dict[str, str] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                exercise(operation, mode, admin_key)
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

    base_url, admin_key = live
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
