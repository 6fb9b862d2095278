"""The console in a real browser (headless Chromium from Debian's package, driven by Playwright) against a live
``smematch serve`` on 127.0.0.1 with a real SQLite store of a small generated city.

Walks the caseworker's whole flow (key, language, typo search, enterprise, recommendations with reasons, an
outcome recorded by a double click and stored once, an ad-hoc problem, an escalation), a problem escalated by a
caseworker, resolved by the provincial working group in Chinese and seen resolved by the caseworker, checks that
what users typed is shown as text, and that each role sees only its controls. Screenshots of the main screens go to
``test-output/web/`` (git-ignored). Chromium missing or broken fails these tests: CI installs it.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from matching import FEATURE_NAMES, LearnedRanker, save_bundle
from matching.explain.reasons import render
from service.api.keys import create_key
from service.store import make_engine
from service.web.i18n import catalogue
from training.simulator.generate import simulate, write

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-output" / "web"
SMEMATCH = Path(sys.executable).parent / "smematch"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ZH = "zh-Hans"
RUNS = {  # run id -> (trained at, ndcg@5 of the model, text-only baseline, popularity, oracle)
    "r1": ("2026-01-10T09:00:00+00:00", 0.55, 0.50, 0.45, 0.80),
    "r2": ("2026-02-10T09:00:00+00:00", 0.60, 0.50, 0.46, 0.80),
    "r3": ("2026-03-10T09:00:00+00:00", 0.66, 0.51, 0.47, 0.81),
}
LABELS = catalogue().labels


def label(key: str, language: str = "en") -> str:
    return LABELS[key][language]


@dataclass
class City:
    base: str
    database: Path
    log: Path
    keys: dict[str, str]
    enterprise: dict[str, Any]
    region: str
    chinese: tuple[str, str] = ("", "")  # an enterprise with a Chinese name: (id, a part of its name)
    outcome_counts: dict[str, int] = field(default_factory=dict)

    def api(self, role: str = "caseworker") -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"X-API-Key": self.keys[role]}, timeout=30)

    def count(self, sql: str, *params: object) -> int:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as connection:
            return int(connection.execute(sql, params).fetchone()[0])


def _bundle(folder: Path, run_id: str) -> None:
    """A real (tiny) learned model bundle whose manifest carries the metrics of ``RUNS[run_id]``."""
    trained_at, model, text, popularity, oracle = RUNS[run_id]
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.random((300, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    solved = (features["text_similarity"] + features["kind_prior"] > 1.0).astype(int)
    estimator = HistGradientBoostingClassifier(max_iter=10).fit(features, solved)
    metrics = {"ndcg_at_5": model, "ndcg_at_5_text_baseline": text, "ndcg_at_5_popularity": popularity,
               "ndcg_at_5_oracle": oracle, "mrr": model - 0.1, "mrr_text_baseline": text - 0.1}
    save_bundle(LearnedRanker(estimator, version=f"run-{run_id}", escalate_below=0.0), folder, metrics=metrics,
                data_digest="0f3a9c1d2b4e5f60", extra={"trained_at": trained_at, "run_id": run_id})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _typo(name: str, frequency: Counter[str]) -> str:
    """``name`` with two letters swapped in its most distinctive word (the rarest among all names, then longest)."""
    word = min((w for w in name.split() if len(w) >= 5), key=lambda w: (frequency[w], -len(w)))
    middle = len(word) // 2
    return name.replace(word, word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1:], 1)


def _candidates(folder: Path) -> list[dict[str, Any]]:
    """Enterprises with an English name, problems and past outcomes, by id."""
    enterprises = pd.read_csv(folder / "enterprises.csv", dtype=str)
    problems = pd.read_csv(folder / "problems.csv", dtype=str)
    outcomes = pd.read_csv(folder / "outcomes.csv", dtype=str).merge(problems[["problem_id", "enterprise_id"]])
    frequency = Counter(word for name in enterprises["name"] for word in name.split())
    found = []
    for row in enterprises.itertuples():
        mine = sorted(problems.loc[problems["enterprise_id"] == row.enterprise_id, "problem_id"])
        past = int((outcomes["enterprise_id"] == row.enterprise_id).sum())
        if row.name.isascii() and max(map(len, row.name.split())) >= 5 and mine and past:
            found.append({"enterprise_id": row.enterprise_id, "name": row.name, "problems": mine, "outcomes": past,
                          "typo": _typo(row.name, frequency)})
    return found


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    home = tmp_path_factory.mktemp("live")
    data, models, database = home / "data", home / "models", home / "store.db"
    write(simulate(n_enterprises=200, n_institutions=40, seed=0), data)
    for run_id in RUNS:
        _bundle(models / "runs" / run_id, run_id)
    _bundle(models / "current", "r3")
    env = {name: value for name, value in os.environ.items() if not name.startswith("SMEMATCH_")}
    env.update({"SMEMATCH_HOME": str(home), "SMEMATCH_DATABASE_URL": f"sqlite:///{database}",
                "SMEMATCH_MODELS_DIR": str(models), "SMEMATCH_MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
                "SMEMATCH_MLFLOW_UI_URL": "http://127.0.0.1:5000/"})

    def smematch(*args: str) -> str:
        done = subprocess.run([str(SMEMATCH), *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    smematch("import", str(data))
    port = _free_port()
    log = home / "server.log"
    with open(log, "wb") as sink:  # the server starts while the keys are made (each CLI start costs seconds)
        server = subprocess.Popen([str(SMEMATCH), "serve", "--port", str(port)], env=env, stdout=sink,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        keys = {"caseworker": smematch("keys", "create", "--role", "caseworker")}
        engine = make_engine(f"sqlite:///{database}")
        try:
            keys.update({role: create_key(engine, role, f"web test {role}")[0]
                         for role in ("analyst", "curator", "admin", "provincial")})
        finally:
            engine.dispose()
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log.read_text(errors="replace")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.25)
        enterprises = pd.read_csv(data / "enterprises.csv", dtype=str)
        chinese = enterprises[~enterprises["name"].map(str.isascii)].iloc[0]
        city = City(base=base, database=database, log=log, keys=keys, enterprise={},
                    region=str(enterprises["region"].iloc[0]),
                    chinese=(chinese["enterprise_id"], chinese["name"][3:7]))  # 龙腾保洁 of 江南区龙腾保洁服务…
        with city.api() as api:  # an enterprise whose first problem gets institutions, not an escalation
            for candidate in _candidates(data):
                answer = api.post("/v1/recommendations", json={"problem_id": candidate["problems"][0]}).json()
                if not answer["escalate"] and answer["results"][0]["institutions"]:
                    city.enterprise = candidate
                    break
        assert city.enterprise, "no enterprise of the generated city suits the walk"
        yield city
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: `apt-get install -y chromium` (CI's .ci/run does)")
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watch:
    """What a page did that a test wants to know: errors, alerts, every URL it asked for."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(browser: Any, city: City) -> Iterator[Any]:
    contexts = []

    def open_(*, locale: str = "en-US") -> tuple[Any, Watch]:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        watch = Watch()
        page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        page.on("dialog", lambda dialog: (watch.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: watch.urls.append(request.url))
        page.goto(f"{city.base}/")
        page.wait_for_selector("body[data-ready=true]")
        return page, watch

    yield open_
    for context in contexts:
        context.close()


def sign_in(page: Any, key: str) -> None:
    from playwright.sync_api import expect

    page.fill("#key-input", key)
    page.click("#key-form button[type=submit]")
    expect(page.locator("#workspace")).to_be_visible()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_caseworker_walks_the_whole_flow_and_a_double_click_records_one_outcome(open_page: Any,
                                                                                   city: City) -> None:
    from playwright.sync_api import expect

    key, enterprise = city.keys["caseworker"], city.enterprise
    page, watch = open_page()
    expect(page.locator("#key-panel")).to_be_visible()
    page.fill("#key-input", "smk_not-a-real-key")
    page.click("#key-form button[type=submit]")
    expect(page.locator("#key-error")).to_have_text(label("key_invalid"))
    shot(page, "01-sign-in")
    watch.errors.clear()  # Chromium reports the refused key's 401 as a console error: that one was wanted
    sign_in(page, key)
    expect(page.locator("#who-role")).to_have_text(label("role_caseworker"))
    assert page.evaluate("sessionStorage.getItem('smematch.apiKey')") == key
    expect(page.locator(".tab[data-view=model]")).to_be_hidden()
    expect(page.locator("#reload-model")).to_be_hidden()

    page.click("button[data-lang=zh-Hans]")  # Chinese from here on
    expect(page.locator("h1")).to_have_text(label("app_title", ZH))
    assert page.evaluate("document.documentElement.lang") == ZH

    chinese_id, chinese_part = city.chinese
    page.fill("#search-q", chinese_part)
    page.press("#search-q", "Enter")
    expect(page.locator(f"#search-results button[data-enterprise-id={chinese_id}]")).to_be_visible()

    query = enterprise["typo"]
    assert query != enterprise["name"]
    page.fill("#search-q", query)
    page.press("#search-q", "Enter")
    hit = page.locator(f"#search-results button[data-enterprise-id={enterprise['enterprise_id']}]")
    expect(hit).to_be_visible()
    expect(hit.locator(".name")).to_have_text(enterprise["name"])
    expect(page.locator("#search-results button.result").first).to_have_attribute(
        "data-enterprise-id", enterprise["enterprise_id"])  # the best match comes first
    shot(page, "02-search-with-a-typo-zh")

    hit.click()
    expect(page.locator(".enterprise-name")).to_have_text(enterprise["name"])
    expect(page.locator(".problem")).to_have_count(len(enterprise["problems"]))
    expect(page.locator("#enterprise-outcomes tbody tr")).to_have_count(min(50, enterprise["outcomes"]))

    problem = page.locator(f".problem[data-problem-id={enterprise['problems'][0]}]")
    problem.locator("button.recommend").click()
    cards = problem.locator(".institution")
    expect(cards.first).to_be_visible()
    assert 1 <= cards.count() <= 5
    kinds = {label(f"kind_{kind}", ZH) for kind in ("bank", "guarantee", "microcredit", "research_institute",
                                                     "college", "government")}
    for card in cards.all():
        assert card.locator(".kind").inner_text() in kinds
        assert 0.0 <= float(card.locator(".score .value").inner_text()) <= 1.0
        reasons = card.locator(".reason")
        assert reasons.count() >= 1
        for reason in reasons.all():  # the page renders as the Python reference does, reason by reason
            data = json.loads(reason.get_attribute("data-reason"))
            assert reason.inner_text() == render(data["code"], data["params"], "zh")
    shot(page, "03-recommendations-zh")

    page.click("button[data-lang=en]")
    expect(problem.locator("h4")).to_have_text(label("recs_heading"))
    first_reason = cards.first.locator(".reason").first
    data = json.loads(first_reason.get_attribute("data-reason"))
    assert first_reason.inner_text() == render(data["code"], data["params"], "en")

    institution_id = cards.first.get_attribute("data-institution-id")
    before = city.count("SELECT count(*) FROM outcomes")
    posted: list[dict[str, Any]] = []
    answered: list[int] = []
    page.on("request", lambda r: posted.append(r.post_data_json) if r.method == "POST" and
            r.url.endswith("/v1/outcomes") else None)
    page.on("response", lambda r: answered.append(r.status) if r.request.method == "POST" and
            r.url.endswith("/v1/outcomes") else None)
    cards.first.locator("button.outcome[data-status=solved]").dblclick()
    deadline = time.monotonic() + 15
    while len(answered) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert sorted(answered) == [200, 201]  # the second click is a replay of the first, answered as such
    assert len(posted) == 2 and posted[0] == posted[1]
    outcome_id = posted[0]["outcome_id"]
    assert posted[0]["status"] == "solved" and posted[0]["institution_id"] == institution_id
    expect(cards.first.locator(".outcome-status")).to_contain_text(label("status_solved"))
    expect(cards.first.locator("button.outcome[data-status=solved]")).to_have_attribute("aria-pressed", "true")
    assert city.count("SELECT count(*) FROM outcomes WHERE outcome_id = ?", outcome_id) == 1
    assert city.count("SELECT count(*) FROM outcomes") == before + 1
    with city.api() as api:
        stored = api.get(f"/v1/outcomes/{outcome_id}").json()
    assert (stored["problem_id"], stored["institution_id"], stored["status"]) == (
        enterprise["problems"][0], institution_id, "solved")
    expect(page.locator(f"#enterprise-outcomes tr[data-outcome-id='{outcome_id}']")).to_have_count(1)
    shot(page, "04-outcome-recorded-en")

    page.click(".tab[data-view=adhoc]")
    page.fill("#adhoc-text", "We need a bank loan of 500,000 yuan to buy a new packaging machine. 需要贷款购买新设备")
    page.select_option("#adhoc-sector", "manufacturing")
    page.fill("#adhoc-region", city.region)
    page.fill("#adhoc-amount", "500000")
    page.click("#adhoc-form button[type=submit]")
    expect(page.locator("#adhoc-results .institution").first).to_be_visible()
    expect(page.locator("#adhoc-results .reason").first).to_be_visible()
    expect(page.locator("#adhoc-results button.outcome")).to_have_count(0)  # no stored problem to record against
    shot(page, "05-adhoc-problem")

    page.fill("#adhoc-text", "qwzx vbnm plokij")
    page.click("#adhoc-form button[type=submit]")
    expect(page.locator("#adhoc-results .escalation")).to_contain_text(label("escalate_heading"))
    expect(page.locator("#adhoc-results .institution")).to_have_count(0)
    shot(page, "06-escalation")

    assert watch.errors == [] and watch.dialogs == []
    assert not [url for url in watch.urls if key in url]
    assert key not in city.log.read_text(errors="replace")


def test_a_caseworker_escalates_the_province_resolves_in_chinese_and_the_caseworker_sees_it(open_page: Any,
                                                                                          city: City) -> None:
    from playwright.sync_api import expect

    enterprise_id, _ = city.chinese
    with city.api() as api:
        problem_id = api.get("/v1/problems", params={"enterprise_id": enterprise_id}).json()["items"][0]["problem_id"]
    why = "本市没有机构能提供这笔贷款 no city lender takes this amount"
    page, watch = open_page()
    sign_in(page, city.keys["caseworker"])
    from_search(page, enterprise_id, city.chinese[1])
    problem = page.locator(f".problem[data-problem-id={problem_id}]")
    problem.locator("button.escalate-open").click()
    problem.locator("form.escalate textarea").fill(why)
    problem.locator("form.escalate button[type=submit]").click()
    expect(problem.locator("div.case")).to_have_attribute("data-status", "escalated")
    expect(problem.locator(".case-status strong")).to_have_text(label("case_escalated"))
    expect(problem.locator(".notice")).to_have_text(label("escalated_now"))
    shot(page, "10-caseworker-escalates")

    province, province_watch = open_page(locale="zh-CN")
    sign_in(province, city.keys["provincial"])
    expect(province.locator("#who-role")).to_have_text(label("role_provincial", ZH))
    for hidden in (".tab[data-view=enterprises]", ".tab[data-view=adhoc]", ".tab[data-view=model]"):
        expect(province.locator(hidden)).to_be_hidden()
    entry = province.locator(f".queue-entry[data-problem-id={problem_id}]")
    expect(entry).to_be_visible()
    expect(entry.locator(".reason").first).to_have_text(f"个案工作人员上报：{why}")
    expect(entry).to_contain_text(label("source_caseworker", ZH))
    expect(entry).to_contain_text(label("queue_days_open", ZH))
    shot(province, "11-province-queue-zh")
    entry.locator("form.resolution textarea").fill("省级融资担保基金提供担保")
    entry.locator("form.resolution button[type=submit]").click()
    expect(entry.locator(".resolved")).to_have_attribute("data-status", "resolved_by_province")
    expect(entry.locator(".resolved")).to_contain_text(label("case_resolved_by_province", ZH))
    shot(province, "12-province-resolution-zh")

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    from_search(page, enterprise_id, city.chinese[1])
    problem = page.locator(f".problem[data-problem-id={problem_id}]")
    expect(problem.locator("div.case")).to_have_attribute("data-status", "resolved_by_province")
    expect(problem.locator(".case-status strong")).to_have_text(label("case_resolved_by_province"))
    expect(problem.locator("button.escalate-open")).to_have_count(0)
    problem.locator(".case-history summary").click()
    expect(problem.locator(".history li").last).to_contain_text("省级融资担保基金提供担保")
    shot(page, "13-caseworker-sees-the-resolution")
    page.click(".tab[data-view=overview]")
    resolved = page.locator("#overview-body rect.bar[data-status=resolved_by_province]")
    expect(resolved).to_have_count(1)
    assert int(resolved.get_attribute("data-value")) >= 1
    expect(page.locator("#overview-body rect.bar")).to_have_count(9)
    shot(page, "14-overview")
    assert watch.errors == [] and province_watch.errors == [] and watch.dialogs == []


def from_search(page: Any, enterprise_id: str, query: str) -> None:
    """Open an enterprise through the search, as a caseworker does."""
    page.fill("#search-q", query)
    page.press("#search-q", "Enter")
    page.locator(f"#search-results button[data-enterprise-id={enterprise_id}]").click()
    page.wait_for_selector(".enterprise-name")


def test_names_and_texts_typed_by_users_are_shown_as_text_never_run_as_markup(open_page: Any, city: City) -> None:
    from playwright.sync_api import expect

    name = "<script>alert(1)</script>"
    text = '<img src=x onerror="alert(2)"> we need a <b>bank loan</b> for new machines'
    with city.api("curator") as api:
        assert api.put("/v1/enterprises/E9XSS01", json={
            "name": name, "sector": "manufacturing", "region": city.region, "employees": 5, "founded": 2020,
        }).status_code in (200, 201)
        assert api.put("/v1/problems/P9XSS01", json={
            "enterprise_id": "E9XSS01", "text": text, "stated_at": "2026-05-01",
        }).status_code in (200, 201)
    page, watch = open_page()
    sign_in(page, city.keys["caseworker"])
    page.fill("#search-q", name)
    page.press("#search-q", "Enter")
    hit = page.locator("#search-results button[data-enterprise-id=E9XSS01]")
    expect(hit.locator(".name")).to_have_text(name)
    expect(page.locator("#search-status q")).to_have_text(name)
    hit.click()
    expect(page.locator(".enterprise-name")).to_have_text(name)
    expect(page.locator(".problem-text")).to_have_text(text)
    assert page.locator("main script, main img, main b").count() == 0
    shot(page, "07-user-text-shown-as-text")
    assert watch.dialogs == [] and watch.errors == []


def test_each_role_sees_only_its_controls_and_analysts_see_the_model_and_its_runs(open_page: Any,
                                                                                 city: City) -> None:
    from playwright.sync_api import expect

    page, watch = open_page(locale="zh-CN")
    assert page.evaluate("document.documentElement.lang") == ZH  # from Accept-Language
    sign_in(page, city.keys["analyst"])
    expect(page.locator("#who-role")).to_have_text(label("role_analyst", ZH))
    page.click(".tab[data-view=model]")
    expect(page.locator("#model-facts")).to_contain_text("run-r3")
    row = page.locator("#model-metrics tr[data-metric=ndcg_at_5] td")
    expect(row).to_have_text(["0.660", "0.510", "0.470", "0.810"])
    expect(page.locator("#runs-source")).to_have_text(label("runs_source_bundles", ZH))
    expect(page.locator("#runs-chart table.runs tbody tr")).to_have_count(len(RUNS))
    bars = page.locator("#runs-chart rect.bar")
    expect(bars).to_have_count(len(RUNS) * 4)  # model, text-only, popularity and oracle, run by run
    assert [bar.get_attribute("data-run") for bar in bars.all()[::4]] == list(RUNS)  # oldest on the left
    expect(page.locator("#mlflow-link")).to_have_attribute("href", "http://127.0.0.1:5000/")
    expect(page.locator("#admin-panel")).to_be_hidden()
    shot(page, "08-analyst-model-and-runs-zh")

    page.click("#forget-key")
    expect(page.locator("#key-panel")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('smematch.apiKey')") is None
    sign_in(page, city.keys["admin"])
    page.click(".tab[data-view=model]")
    page.click("#reload-model")
    expect(page.locator("#reload-status")).to_contain_text("run-r3")
    shot(page, "09-admin-reload")

    page.click("#forget-key")
    sign_in(page, city.keys["caseworker"])
    for selector in (".tab[data-view=model]", "#admin-panel", "#reload-model", "#view-model"):
        expect(page.locator(selector)).to_be_hidden()
    assert watch.errors == [] and watch.dialogs == []
