"""Specification of the case routes: a problem's status and history, escalation, the provincial queue and its
resolutions, exports, logged recommendations, reasons in the caller's language and the overview; against the
real app on a real store (SQLite, and PostgreSQL when it answers) with the hand-written city."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from test_api_fixtures import Api, running_api


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path) as running:
        yield running


def escalate(api: Api, problem_id: str = "P000002", reason: str = "没有机构能提供这种培训") -> dict:
    answer = api.post(f"/v1/problems/{problem_id}/escalate", json={"reason": reason})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_a_caseworker_escalation_is_an_event_and_the_status_follows_it(api: Api) -> None:
    answer = api.post("/v1/problems/P000002/escalate", json={"reason": "no college runs this course"})
    assert answer.status_code == 201
    assert answer.json()["escalated"] is True and answer.json()["status"] == "escalated"
    problem = api.get("/v1/problems/P000002").json()
    assert problem["status"] == "escalated"
    event = problem["history"][-1]
    assert event["source"] == "caseworker" and event["by"] == "caseworker-key"
    assert event["reason"] == {"code": "caseworker_escalated", "params": {"note": "no college runs this course"},
                               "text": "escalated by a caseworker: no college runs this course"}


def test_escalating_twice_records_one_event_and_the_second_answer_says_so(api: Api) -> None:
    escalate(api)
    again = api.post("/v1/problems/P000002/escalate", json={"reason": "still nothing"})
    assert again.status_code == 200
    assert again.json()["escalated"] is False and "already escalated" in again.json()["message"]
    history = api.get("/v1/problems/P000002").json()["history"]
    assert [e["status"] for e in history].count("escalated") == 1


def test_a_solved_problem_cannot_be_escalated(api: Api) -> None:
    api.post("/v1/outcomes", json={"outcome_id": "O-s", "problem_id": "P000004", "institution_id": "G01",
                                   "status": "solved"})
    answer = api.post("/v1/problems/P000004/escalate", json={"reason": "x"})
    assert answer.status_code == 409 and answer.json()["detail"][0]["field"] == "status"


def test_escalating_an_unknown_problem_is_404_and_a_blank_reason_422(api: Api) -> None:
    assert api.post("/v1/problems/P999999/escalate", json={"reason": "x"}).status_code == 404
    answer = api.post("/v1/problems/P000002/escalate", json={"reason": "  "})
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "reason"


def test_recording_outcomes_moves_the_status(api: Api) -> None:
    for number, status in enumerate(["contacted", "accepted", "solved"]):
        answer = api.post("/v1/outcomes", json={"outcome_id": f"O-m{number}", "problem_id": "P000005",
                                                "institution_id": "C01", "status": status})
        assert answer.status_code == 201
    problem = api.get("/v1/problems/P000005").json()
    assert problem["status"] == "solved"
    assert [e["status"] for e in problem["history"]] == ["referred", "accepted", "solved"]


def test_the_province_sees_the_queue_and_resolves_and_the_caseworker_sees_the_status(api: Api) -> None:
    api.post("/v1/outcomes", json={"outcome_id": "O-d", "problem_id": "P000002", "institution_id": "C01",
                                   "status": "declined"})
    escalate(api)
    queue = api.get("/v1/escalations", role="provincial", headers={"Accept-Language": "zh-CN"}).json()
    entry, = queue["items"]
    assert entry["problem_id"] == "P000002" and entry["enterprise_id"] == "E000001"
    assert entry["sector"] == "manufacturing" and entry["district"] == "Dongcheng"
    assert entry["days_open"] > 300 and entry["escalated_by"] == "caseworker"
    assert entry["reason"]["text"] == "个案工作人员上报：没有机构能提供这种培训"
    assert [(r["institution_id"], r["status"]) for r in entry["referrals"]] == [("C01", "declined")]
    assert queue["next_offset"] is None
    answer = api.post("/v1/escalations/P000002/resolution", role="provincial",
                      json={"resolution": "省级技能培训基金承担培训费用"})
    assert answer.status_code == 200 and answer.json()["status"] == "resolved_by_province"
    problem = api.get("/v1/problems/P000002").json()
    assert problem["status"] == "resolved_by_province"
    assert problem["history"][-1]["reason"]["params"] == {"note": "省级技能培训基金承担培训费用"}
    assert api.get("/v1/escalations", role="provincial").json()["items"] == []


def test_a_resolution_for_a_problem_that_is_not_escalated_is_409(api: Api) -> None:
    answer = api.post("/v1/escalations/P000002/resolution", role="provincial", json={"resolution": "done"})
    assert answer.status_code == 409
    assert answer.json()["detail"] == [{"field": "status", "problem": "the problem is open"}]


def test_only_the_provincial_role_records_resolutions(api: Api) -> None:
    escalate(api)
    for role in ("caseworker", "admin"):
        assert api.post("/v1/escalations/P000002/resolution", role=role,
                        json={"resolution": "x"}).status_code == 403
    assert api.post("/v1/problems/P000003/escalate", role="provincial", json={"reason": "x"}).status_code == 403
    assert api.get("/v1/escalations", role="caseworker").status_code == 200


def test_the_queue_filters_and_pages_with_next_offset(api: Api) -> None:
    for problem_id in ("P000002", "P000003", "P000005"):
        escalate(api, problem_id)
    first = api.get("/v1/escalations?limit=2", role="provincial").json()
    assert [e["problem_id"] for e in first["items"]] == ["P000002", "P000003"] and first["next_offset"] == 2
    second = api.get(f"/v1/escalations?limit=2&offset={first['next_offset']}", role="provincial").json()
    assert [e["problem_id"] for e in second["items"]] == ["P000005"] and second["next_offset"] is None
    dongcheng = api.get("/v1/escalations?region=Dongcheng&sector=information_services", role="provincial").json()
    assert [e["problem_id"] for e in dongcheng["items"]] == ["P000005"]
    assert api.get("/v1/escalations?source=engine", role="provincial").json()["items"] == []


def test_problems_are_listed_by_status_and_an_unknown_status_names_the_allowed_ones(api: Api) -> None:
    escalate(api, "P000003")
    listed = api.get("/v1/problems?status=escalated").json()
    assert [(p["problem_id"], p["status"]) for p in listed["items"]] == [("P000003", "escalated")]
    assert [p["problem_id"] for p in api.get("/v1/problems?status=open&limit=2").json()["items"]] == [
        "P000001", "P000002"]
    assert api.get("/v1/problems?status=open&limit=2").json()["next_offset"] == 2
    found = api.get("/v1/problems?status=escalated&q=irigation").json()["items"]  # a typo, as search allows
    assert [(p["problem_id"], p["status"]) for p in found] == [("P000003", "escalated")]
    assert api.get("/v1/problems?status=open&q=irrigation").json()["items"] == []
    assert [p["problem_id"] for p in api.get("/v1/problems?status=open&enterprise_id=E000001").json()["items"]] == [
        "P000001", "P000002"]
    refused = api.get("/v1/problems?status=stuck")
    assert refused.status_code == 422
    problem = refused.json()["detail"][0]
    assert problem["field"] == "status" and "'resolved_by_province'" in problem["problem"]


def test_the_export_is_csv_with_a_byte_order_mark_and_xlsx(api: Api) -> None:
    escalate(api)
    answer = api.get("/v1/exports/escalations?lang=zh", role="provincial")
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [row["problem_id"] for row in rows] == ["P000002"]
    assert rows[0]["reason"] == "个案工作人员上报：没有机构能提供这种培训"
    assert rows[0]["enterprise_name"] == "杭州明达机械有限公司"
    book = api.get("/v1/exports/escalations?format=xlsx", role="provincial")
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content)).active
    values = list(sheet.values)
    assert values[0][0] == "problem_id" and values[1][0] == "P000002"


def test_reasons_are_code_params_and_text_in_the_requested_language(api: Api) -> None:
    body = {"problem_id": "P000001", "k": 3}
    english = api.post("/v1/recommendations", json=body).json()["results"][0]["institutions"][0]["reasons"]
    chinese = api.post("/v1/recommendations?lang=zh", json=body).json()["results"][0]["institutions"][0]["reasons"]
    by_header = api.post("/v1/recommendations", json=body, headers={"Accept-Language": "zh-CN,zh;q=0.9"}).json()
    assert [r["code"] for r in english] == [r["code"] for r in chinese]
    assert english[-1]["code"] == "eligibility_passed" and english[-1]["text"].startswith("eligibility passed")
    assert chinese[-1]["text"].startswith("资格审核通过")
    assert by_header["results"][0]["institutions"][0]["reasons"] == chinese
    assert api.post("/v1/recommendations?lang=fr", json=body).status_code == 422


def test_a_problem_s_logged_recommendations_are_listed_with_reasons(api: Api) -> None:
    for _ in range(3):
        assert api.post("/v1/recommendations", json={"problem_id": "P000001", "k": 2}).status_code == 200
    page = api.get("/v1/problems/P000001/recommendations?limit=2&lang=zh").json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    item = page["items"][0]
    assert item["model_version"] and len(item["institutions"]) == 2
    assert item["institutions"][0]["reasons"][-1]["text"].startswith("资格审核通过")
    rest = api.get("/v1/problems/P000001/recommendations?limit=2&offset=2").json()
    assert len(rest["items"]) == 1 and rest["next_offset"] is None


def test_an_engine_recommendation_moves_an_open_problem_to_recommended(api: Api) -> None:
    api.post("/v1/recommendations", json={"problem_id": "P000005", "k": 2})
    problem = api.get("/v1/problems/P000005").json()
    assert problem["status"] == "recommended" and problem["history"][0]["source"] == "engine"


def test_the_overview_counts_by_status_sector_district_kind_and_age(api: Api) -> None:
    escalate(api)
    counts = api.get("/v1/cases/overview").json()
    assert counts["total"] == 5
    assert counts["by_status"]["escalated"] == 1
    assert counts["by_sector"]["manufacturing"] == {"escalated": 1, "open": 1}
    assert counts["by_district"]["Dongcheng"]["escalated"] == 1
    assert counts["by_days_open"]["91+"]["escalated"] == 1


def test_a_record_fetched_can_be_put_back_and_a_different_id_is_named(api: Api) -> None:
    enterprise = api.get("/v1/enterprises/E000003").json()
    assert api.put("/v1/enterprises/E000003", json=enterprise, role="curator").status_code == 200
    answer = api.put("/v1/enterprises/E000003", json={**enterprise, "enterprise_id": "E000004"}, role="curator")
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "enterprise_id"
    institution = api.get("/v1/institutions/B01").json()
    assert api.put("/v1/institutions/B01", json=institution, role="curator").status_code == 200
    escalate(api)
    problem = api.get("/v1/problems/P000002").json()  # with its status and history, which a PUT leaves alone
    assert api.put("/v1/problems/P000002", json={**problem, "status": "solved"}, role="curator").status_code == 200
    assert api.get("/v1/problems/P000002").json()["status"] == "escalated"


def test_the_engine_escalates_a_stored_problem_it_cannot_place_and_the_queue_gives_its_reason(api: Api) -> None:
    stated = {"enterprise_id": "E000002", "text": "qwzx vbnm plokij", "stated_at": "2024-06-01"}
    assert api.put("/v1/problems/P000009", json=stated, role="curator").status_code == 201
    answer = api.post("/v1/recommendations", json={"problem_id": "P000009"}).json()
    assert answer["escalate"] is True
    assert answer["results"][0]["escalate_reason"]["code"] == "no_recognisable_need"
    problem = api.get("/v1/problems/P000009").json()
    assert problem["status"] == "escalated" and problem["history"][-1]["source"] == "engine"
    entry, = api.get("/v1/escalations?source=engine&lang=zh", role="provincial").json()["items"]
    assert entry["engine_reason"]["code"] == "no_recognisable_need"
    assert entry["engine_reason"]["text"].startswith("问题描述中没有可识别的需求")
