"""Specification of the HTTP service's routes, against the real app, a real store (SQLite, and PostgreSQL when
it answers) and the real matcher on a small hand-written city (see ``test_api_fixtures``)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_fixtures import Api, another_worker, running_api

from service.store import get_logged


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    """The app on a stocked store (SQLite, and PostgreSQL when reachable), lifespan running."""
    with running_api(database_url, tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app on SQLite for the tests that only read or are refused: input checks do not depend on the store."""
    folder = tmp_path_factory.mktemp("shared")
    with running_api(f"sqlite:///{folder / 'store.db'}", folder) as running:
        yield running


AD_HOC = {"text": "需要贷款购买设备 we need a bank loan for new equipment", "sector": "manufacturing",
          "region": "Dongcheng", "amount": 1_000_000}


# ------------------------------------------------------------------------------------------- recommendations


def test_an_ad_hoc_problem_gets_ranked_institutions_with_kind_score_and_reasons(api: Api) -> None:
    response = api.post("/v1/recommendations", json={**AD_HOC, "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "baseline-1" and body["enterprise_id"] is None and body["escalate"] is False
    [result] = body["results"]
    assert [i["rank"] for i in result["institutions"]] == [1, 2, 3]
    scores = [i["score"] for i in result["institutions"]]
    assert scores == sorted(scores, reverse=True)
    top = result["institutions"][0]
    assert top["kind"] in ("bank", "guarantee", "microcredit") and top["reasons"]
    assert "financing" in result["categories"]
    assert result["escalate"] is False and result["escalate_reason"] is None


def test_every_recommendation_is_in_the_log_with_ranks_scores_propensities_and_no_text(api: Api) -> None:
    body = api.post("/v1/recommendations", json=AD_HOC).json()
    [result] = body["results"]
    assert result["recommendation_id"] == body["recommendation_id"] + "-1"
    logged = get_logged(api.engine, result["recommendation_id"])
    assert logged is not None
    assert logged["model_version"] == body["model_version"]
    assert [(i["rank"], i["institution_id"]) for i in logged["items"]] == [
        (i["rank"], i["institution_id"]) for i in result["institutions"]]
    assert [i["score"] for i in logged["items"]] == pytest.approx([i["score"] for i in result["institutions"]])
    assert [i["propensity"] for i in logged["items"]] == pytest.approx([1 / r for r in range(1, 6)])
    assert AD_HOC["text"] not in str(logged)
    assert logged["request"]["key_id"].startswith("k_")


def test_an_enterprise_gets_one_answer_per_problem_with_its_own_context(api: Api) -> None:
    body = api.post("/v1/recommendations", json={"enterprise_id": "E000001", "k": 2}).json()
    assert body["enterprise_id"] == "E000001"
    assert [r["problem_id"] for r in body["results"]] == ["P000001", "P000002"]
    assert [r["recommendation_id"] for r in body["results"]] == [
        body["recommendation_id"] + "-1", body["recommendation_id"] + "-2"]
    assert all(get_logged(api.engine, r["recommendation_id"])["enterprise_id"] == "E000001"
               for r in body["results"])


def test_a_stored_problem_can_be_recommended_by_its_id(api: Api) -> None:
    body = api.post("/v1/recommendations", json={"problem_id": "P000003"}).json()
    [result] = body["results"]
    assert result["problem_id"] == "P000003" and body["enterprise_id"] == "E000002"
    assert "water" in result["categories"]


def test_text_with_no_recognisable_need_is_escalated_with_a_reason(shared_api: Api) -> None:
    body = shared_api.post("/v1/recommendations", json={"text": "zxqv wpkj qqqz"}).json()
    [result] = body["results"]
    assert result["escalate"] is True and body["escalate"] is True
    assert result["institutions"] == [] and result["escalate_reason"]


def test_unknown_stored_subjects_are_404_naming_the_field(api: Api) -> None:
    for field, value in (("enterprise_id", "E999999"), ("problem_id", "P999999")):
        response = api.post("/v1/recommendations", json={field: value})
        assert response.status_code == 404
        assert response.json()["detail"][0]["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "?!… 🙂"}, "text"),
        ({"text": "x" * 5001}, "text"),
        ({"text": "loan\x00please"}, "text"),
        ({"text": "loan", "k": 0}, "k"),
        ({"text": "loan", "k": 51}, "k"),
        ({"text": "loan", "k": "five"}, "k"),
        ({"text": "loan", "sector": "mining"}, "sector"),
        ({"text": "loan", "region": "Atlantis"}, "region"),
        ({"text": "loan", "amount": -1}, "amount"),
        ({"text": "loan", "amount": "lots"}, "amount"),
        ({"text": "loan", "colour": "red"}, "colour"),
        ({"text": "loan", "enterprise_id": "E000001"}, "body"),
        ({}, "body"),
        ({"enterprise_id": "E000001", "region": "Dongcheng"}, "region"),
        (["loan"], "body"),
    ],
)
def test_bad_recommendation_requests_are_422_naming_the_field(shared_api: Api, body: dict, field: str) -> None:
    response = shared_api.post("/v1/recommendations", json=body)
    assert response.status_code == 422
    error = response.json()
    assert set(error) == {"error", "detail"} and error["detail"]
    assert field in {item["field"] for item in error["detail"]}


@pytest.mark.parametrize(("method", "path", "role"), [
    ("get", "/v1/enterprises?regoin=Dongcheng", "caseworker"),
    ("get", "/v1/outcomes?statuss=solved", "caseworker"),
    ("post", "/v1/recommendations?k=3", "caseworker"),  # k belongs in the body
    ("get", "/healthz?verbose=1", "caseworker"),
    ("get", "/v1/model?version=x", "analyst"),
])
def test_a_query_parameter_the_route_does_not_take_is_422_naming_it(shared_api: Api, method: str, path: str,
                                                                    role: str) -> None:
    options = {"json": {"text": "need a loan"}} if method == "post" else {}
    response = getattr(shared_api, method)(path, role=role, **options)
    name = path.split("?")[1].split("=")[0]
    assert response.status_code == 422
    assert response.json()["detail"] == [{"field": name, "problem": "not a query parameter of this route"}]


def test_the_query_parameters_a_route_takes_still_pass(shared_api: Api) -> None:
    assert shared_api.get("/v1/enterprises?region=Dongcheng&q=tea").status_code == 200
    assert shared_api.get("/v1/outcomes?status=solved").status_code == 200


def test_a_body_that_is_not_json_is_422_not_500(shared_api: Api) -> None:
    response = shared_api.post("/v1/recommendations", content=b"{not json",
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]


# ------------------------------------------------------------------------------------------- records


def test_enterprise_search_tolerates_typos_and_parts_of_chinese_names(shared_api: Api) -> None:
    def first(q: str) -> str | None:
        items = shared_api.get("/v1/enterprises", params={"q": q}).json()["items"]
        return items[0]["enterprise_id"] if items else None

    assert first("Gren Valey Farm") == "E000002"
    assert first("明达机械") == "E000001"
    assert first("老街") == "E000003"
    assert first("riverside softwre") == "E000004"
    assert first("qqqqqqqq") is None


def test_searches_filter_and_list_without_a_query(api: Api) -> None:
    items = api.get("/v1/enterprises", params={"region": "Dongcheng"}).json()["items"]
    assert [i["enterprise_id"] for i in items] == ["E000001", "E000004"] and items[0]["score"] is None
    banks = api.get("/v1/institutions", params={"q": "bank", "kind": "bank"}).json()["items"]
    assert banks and {i["kind"] for i in banks} == {"bank"}
    problems = api.get("/v1/problems", params={"enterprise_id": "E000001"}).json()["items"]
    assert [p["problem_id"] for p in problems] == ["P000001", "P000002"]
    water = api.get("/v1/problems", params={"q": "irigation upgrade"}).json()["items"]
    assert water[0]["problem_id"] == "P000003"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/enterprises", {"region": "Dong\x00cheng"}),
        ("/v1/enterprises", {"q": "ming\x00da"}),
        ("/v1/problems", {"enterprise_id": "E0\x0001"}),
        ("/v1/outcomes", {"recorded_by": "case\x00worker"}),
        ("/v1/outcomes", {"institution_id": "B\x0001"}),
        ("/v1/enterprises", {"regoin": "Dongcheng"}),
    ],
)
def test_filters_with_control_characters_or_unknown_names_are_422_on_every_store(
    api: Api, path: str, params: dict[str, str]
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == next(iter(params))


def test_records_are_read_and_replaced_by_id_and_created_when_new(api: Api) -> None:
    enterprise = api.get("/v1/enterprises/E000003").json()
    assert enterprise["name"] == "老街茶馆"
    changed = {**{k: v for k, v in enterprise.items() if k != "enterprise_id"}, "employees": 9}
    assert api.put("/v1/enterprises/E000003", json=changed).status_code == 200
    assert api.get("/v1/enterprises/E000003").json()["employees"] == 9
    new = api.put("/v1/enterprises/E000010", json={**changed, "name": "新开面馆"})
    assert new.status_code == 201 and new.json()["enterprise_id"] == "E000010"
    problem = {"enterprise_id": "E000010", "text": "需要小额贷款 装修店面", "amount": 80000, "stated_at": "2024-05-01"}
    assert api.put("/v1/problems/P000010", json=problem).status_code == 201
    assert api.get("/v1/problems/P000010").json() == {"problem_id": "P000010", **problem, "amount": 80000.0,
                                                      "status": "open", "history": []}
    assert api.get("/v1/enterprises/E999999").status_code == 404


def test_a_problem_of_an_unknown_enterprise_is_refused_with_422(api: Api) -> None:
    response = api.put("/v1/problems/P000011",
                       json={"enterprise_id": "E999999", "text": "need a loan", "stated_at": "2024-05-01"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "enterprise_id"


def test_an_institution_edit_changes_the_next_recommendation(api: Api) -> None:
    def shown() -> list[str]:
        body = api.post("/v1/recommendations", json={**AD_HOC, "k": 10}).json()
        return [i["institution_id"] for i in body["results"][0]["institutions"]]

    before = shown()
    first = before[0]
    record = api.get(f"/v1/institutions/{first}").json()
    record.pop("institution_id")
    assert api.put(f"/v1/institutions/{first}", json={**record, "active": False}).status_code == 200
    # The refit runs in the background, a moment after the edits pause (``refit_quiet_seconds``).
    deadline = time.monotonic() + 10
    while first in shown() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first not in shown()
    model = api.get("/v1/model", role="analyst").json()
    assert model["institutions"] == 24


def test_an_enterprise_in_a_new_district_can_be_recommended_for_at_once(api: Api) -> None:
    enterprise = {"name": "Hilltop Orchard", "sector": "agriculture", "region": "Newtown", "employees": 4,
                  "founded": 2020}
    assert api.put("/v1/enterprises/E000020", json=enterprise).status_code == 201
    problem = {"enterprise_id": "E000020", "text": "need a small loan for fruit trees", "stated_at": "2024-06-01"}
    assert api.put("/v1/problems/P000020", json=problem).status_code == 201
    response = api.post("/v1/recommendations", json={"enterprise_id": "E000020"})
    assert response.status_code == 200, response.text
    assert api.post("/v1/recommendations", json={**AD_HOC, "region": "Newtown"}).status_code == 200


def test_other_workers_refit_their_catalogue_when_the_store_changes(api: Api) -> None:
    with another_worker(api, refresh_seconds=0.1) as other:
        record = api.get("/v1/institutions/B01").json()
        record.pop("institution_id")
        assert api.put("/v1/institutions/B01", json={**record, "name": "Riverside Bank (renamed)"}).status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = other.post("/v1/recommendations", json={**AD_HOC, "k": 24}).json()
            names = {i["name"] for i in body["results"][0]["institutions"]}
            if "Riverside Bank (renamed)" in names:
                break
            time.sleep(0.1)
        assert "Riverside Bank (renamed)" in names


def test_an_institution_with_min_above_max_is_refused(api: Api) -> None:
    record = api.get("/v1/institutions/B01").json()
    record.pop("institution_id")
    response = api.put("/v1/institutions/B01", json={**record, "min_amount": 5.0, "max_amount": 1.0})
    assert response.status_code == 422


# ------------------------------------------------------------------------------------------- outcomes


OUTCOME = {"outcome_id": "O-client-1", "problem_id": "P000002", "institution_id": "C04", "status": "contacted"}


def test_an_outcome_is_recorded_once_and_a_replay_returns_the_stored_record(api: Api) -> None:
    first = api.post("/v1/outcomes", json=OUTCOME)
    assert first.status_code == 201
    stored = first.json()
    assert stored["recorded_by"] == "caseworker-key" and stored["recorded_at"].endswith("Z")
    replay = api.post("/v1/outcomes", json=OUTCOME)
    assert replay.status_code == 200 and replay.json() == stored
    listed = api.get("/v1/outcomes", params={"problem_id": "P000002"}).json()["items"]
    assert [o["outcome_id"] for o in listed] == ["O-client-1"]
    assert api.get("/v1/outcomes/O-client-1").json() == stored


def test_the_same_outcome_id_with_a_different_body_is_409_naming_the_fields(api: Api) -> None:
    assert api.post("/v1/outcomes", json=OUTCOME).status_code == 201
    response = api.post("/v1/outcomes", json={**OUTCOME, "status": "solved", "amount": 10.0})
    assert response.status_code == 409
    assert {d["field"] for d in response.json()["detail"]} == {"status", "amount"}
    assert api.get("/v1/outcomes/O-client-1").json()["status"] == "contacted"


def test_an_outcome_naming_unknown_records_is_422(api: Api) -> None:
    response = api.post("/v1/outcomes", json={**OUTCOME, "problem_id": "P999999", "institution_id": "X1"})
    assert response.status_code == 422
    assert {d["field"] for d in response.json()["detail"]} == {"problem_id", "institution_id"}


def test_outcomes_are_filtered_and_paged(api: Api) -> None:
    assert api.post("/v1/outcomes", json=OUTCOME).status_code == 201
    by_enterprise = api.get("/v1/outcomes", params={"enterprise_id": "E000001"}).json()["items"]
    assert sorted(o["outcome_id"] for o in by_enterprise) == ["O-client-1", "O0000001"]
    solved = api.get("/v1/outcomes", params={"status": "solved"}).json()["items"]
    assert [o["outcome_id"] for o in solved] == ["O0000001"]
    page = api.get("/v1/outcomes", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    rest = api.get("/v1/outcomes", params={"limit": 2, "offset": 2}).json()
    assert len(rest["items"]) == 1 and rest["next_offset"] is None
    recent = api.get("/v1/outcomes", params={"recorded_after": "2024-02-15T00:00:00Z"}).json()["items"]
    assert "O0000001" not in {o["outcome_id"] for o in recent}


def test_analysts_export_outcomes_as_csv(api: Api) -> None:
    response = api.get("/v1/exports/outcomes", role="analyst")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["outcome_id"] for r in rows] == ["O0000001", "O0000002"]
    assert rows[0]["status"] == "solved" and rows[1]["amount"] == ""


# ------------------------------------------------------------------------------------------- model, probes, metrics


def test_model_information_names_version_ranker_and_catalogue(api: Api) -> None:
    model = api.get("/v1/model", role="analyst").json()
    assert model["version"] == "baseline-1" and model["ranker"] == "baseline" and model["source"] is None
    assert model["institutions"] == 24


def test_health_readiness_and_metrics(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    api.post("/v1/recommendations", json=AD_HOC)
    api.post("/v1/recommendations", json={"text": "zxqv wpkj qqqz"})
    api.get("/v1/enterprises/E000001")
    metrics = api.client.get("/metrics").text
    assert 'smematch_http_requests_total{method="POST",route="/v1/recommendations",status="200"} 2.0' in metrics
    assert 'route="/v1/enterprises/{enterprise_id}"' in metrics and "E000001" not in metrics
    assert "smematch_recommendations_served_total 2.0" in metrics
    assert "smematch_escalations_total 1.0" in metrics
    assert 'smematch_model_info{ranker="baseline",version="baseline-1"} 1.0' in metrics
