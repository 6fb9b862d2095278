"""The console as the app serves it (no browser): the page, its files and headers, ``/v1/me`` and
``/v1/model/runs``, on the real app with a real SQLite store."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.keys import create_key
from service.api.runs import runs_from_bundles, tracking_store_exists
from service.settings import Settings
from service.store import create_schema, make_engine
from service.web import STATIC_DIR
from service.web.headers import CONTENT_SECURITY_POLICY


@dataclass
class Console:
    client: TestClient
    keys: dict[str, str]
    models: Path


def _manifest(folder: Path, **values: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(values), encoding="utf-8")


def _console(tmp_path: Path, **settings: object) -> Iterator[Console]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    create_schema(engine)
    keys = {role: create_key(engine, role, f"a {role}")[0] for role in ("caseworker", "analyst", "admin")}
    engine.dispose()
    models = tmp_path / "models"
    options = {"database_url": url, "models_dir": models, "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'no.db'}",
               **settings}
    with TestClient(create_app(Settings(**options))) as client:  # type: ignore[arg-type]
        yield Console(client, keys, models)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    yield from _console(tmp_path, mlflow_ui_url="http://mlflow.example:5000/")


class _Page(HTMLParser):
    """What matters about a page for its safety: scripts, styles, inline handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_code: list[str] = []
        self.styles: list[str] = []
        self.handlers: list[str] = []
        self.links: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if "style" in values:
            self.styles.append(tag)
        if tag == "script":
            self.scripts.append(values)
        if tag == "link" and values.get("href"):
            self.links.append(str(values["href"]))
        self._in = tag if tag in ("script", "style") else None

    def handle_data(self, data: str) -> None:
        if self._in and data.strip():
            self.inline_code.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def test_the_console_is_served_at_the_root_with_scripts_and_styles_from_its_own_files_only(console: Console) -> None:
    response = console.client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = _Page()
    page.feed(response.text)
    assert page.inline_code == [] and page.styles == [] and page.handlers == []
    assert [s.get("src") for s in page.scripts] == ["/console/static/console.js"]
    assert all(s.get("type") == "module" for s in page.scripts)
    for path in [*(s["src"] for s in page.scripts if s.get("src")), *page.links]:
        assert console.client.get(path).status_code == 200, path


def test_console_responses_carry_a_content_security_policy_allowing_only_self(console: Console) -> None:
    for path in ("/", "/console/static/console.js", "/console/static/console.css", "/console/static/labels.json"):
        headers = console.client.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY
    assert "content-security-policy" not in console.client.get("/healthz").headers  # the API's own responses


def test_every_module_the_console_imports_is_served(console: Console) -> None:
    for script in STATIC_DIR.glob("*.js"):
        for imported in re.findall(r'from "\./([\w.]+)"', script.read_text(encoding="utf-8")):
            response = console.client.get(f"/console/static/{imported}")
            assert response.status_code == 200, (script.name, imported)
            assert "javascript" in response.headers["content-type"]


def test_the_page_is_rendered_in_the_readers_language_and_holds_no_data(console: Console) -> None:
    chinese = console.client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-Hans">' in chinese.text
    assert "企业服务对接工作台" in chinese.text
    english = console.client.get("/", headers={"Accept-Language": "en-GB"})
    assert '<html lang="en">' in english.text and "caseworker console" in english.text
    assert "smk_" not in english.text and "E0000" not in english.text


def test_lang_picks_the_page_language_and_unknown_query_parameters_are_ignored(console: Console) -> None:
    chinese = console.client.get("/?lang=zh", headers={"Accept-Language": "en-GB"})
    assert chinese.status_code == 200 and '<html lang="zh-Hans">' in chinese.text
    shared = console.client.get("/?utm_source=wechat&lang=en&x=1", headers={"Accept-Language": "zh-CN"})
    assert shared.status_code == 200 and '<html lang="en">' in shared.text
    unknown = console.client.get("/?lang=fr", headers={"Accept-Language": "zh-CN"})
    assert unknown.status_code == 200 and '<html lang="zh-Hans">' in unknown.text
    assert console.client.get("/v1/me?utm_source=x").status_code == 422  # the API still refuses them


def test_the_reason_templates_are_served_for_the_page(console: Console) -> None:
    templates = console.client.get("/console/reasons.json").json()
    assert templates["templates"]["need_detected"]["zh"].startswith("识别到需求")
    assert templates["vocabulary"]["kind"]["bank"] == {"en": "a bank", "zh": "银行"}


def test_me_answers_the_role_of_the_presented_key(console: Console) -> None:
    for role, key in console.keys.items():
        answer = console.client.get("/v1/me", headers={"X-API-Key": key})
        assert answer.status_code == 200
        assert answer.json()["role"] == role and answer.json()["name"] == f"a {role}"
        assert key not in answer.text
    assert console.client.get("/v1/me").status_code == 401
    assert console.client.get("/v1/me", headers={"X-API-Key": "smk_not-a-key"}).status_code == 401


def test_training_runs_are_for_analysts_and_read_from_the_bundles_newest_first(console: Console) -> None:
    runs = console.models / "runs"
    _manifest(runs / "r1", version="run-r1", run_id="r1", trained_at="2026-01-01T00:00:00+00:00",
              metrics={"ndcg_at_5": 0.5, "ndcg_at_5_text_baseline": 0.4, "mrr": float("nan")})
    _manifest(runs / "r2", version="run-r2", run_id="r2", trained_at="2026-02-01T00:00:00+00:00",
              metrics={"ndcg_at_5": 0.6, "ndcg_at_5_text_baseline": 0.4})
    (runs / "broken").mkdir()
    (runs / "broken" / "manifest.json").write_text("{not json", encoding="utf-8")
    assert console.client.get("/v1/model/runs", headers={"X-API-Key": console.keys["caseworker"]}).status_code == 403
    answer = console.client.get("/v1/model/runs", headers={"X-API-Key": console.keys["analyst"]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["source"] == "bundles"
    assert [run["run_id"] for run in body["runs"]] == ["r2", "r1"]
    assert body["runs"][1]["metrics"] == {"ndcg_at_5": 0.5, "ndcg_at_5_text_baseline": 0.4}  # NaN left out
    assert body["mlflow_ui_url"] == "http://mlflow.example:5000/"


def test_the_current_bundle_counts_as_a_run_unless_it_is_a_copy_of_one(tmp_path: Path) -> None:
    _manifest(tmp_path / "runs" / "r1", version="run-r1", run_id="r1", trained_at="2026-01-01T00:00:00")
    _manifest(tmp_path / "current", version="run-r1", run_id="r1", trained_at="2026-01-01T00:00:00")
    assert [run.version for run in runs_from_bundles(tmp_path, limit=10)] == ["run-r1"]
    _manifest(tmp_path / "current", version="hand-made", trained_at="2026-03-01T00:00:00")
    assert [run.version for run in runs_from_bundles(tmp_path, limit=10)] == ["hand-made", "run-r1"]
    assert [run.version for run in runs_from_bundles(tmp_path, limit=1)] == ["hand-made"]
    assert runs_from_bundles(tmp_path / "nothing-here", limit=10) == []


def test_a_tracking_store_that_is_not_there_is_not_read(tmp_path: Path) -> None:
    assert not tracking_store_exists(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "mlflow.db").write_bytes(b"")
    assert tracking_store_exists(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert tracking_store_exists("http://127.0.0.1:5000")


def test_an_mlflow_address_that_is_not_a_web_address_is_never_offered_as_a_link(tmp_path: Path) -> None:
    for console in _console(tmp_path, mlflow_ui_url="javascript:alert(1)"):
        answer = console.client.get("/v1/model/runs", headers={"X-API-Key": console.keys["admin"]})
        assert answer.json() == {"source": "none", "mlflow_ui_url": None, "runs": []}


def test_the_console_routes_are_documented_in_the_openapi_and_the_page_is_not(console: Console) -> None:
    paths = console.client.get("/openapi.json").json()["paths"]
    assert "/v1/me" in paths and "/v1/model/runs" in paths
    assert "/" not in paths
