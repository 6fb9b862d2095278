"""The provincial queue's speed: a page of ``GET /v1/escalations`` over 100,000 escalated problems.

Builds a store (SQLite file, and PostgreSQL when it answers) with ``--escalated`` escalated problems plus a
fifth as many in other statuses, each with one event and a referral for every third; then times, in the same
run, pages of the queue at the start, the middle and the end (offsets), a filtered page, and as the baseline
a plain primary-key page of problems (``GET /v1/problems?limit=50&offset=...``, one indexed read). Each
figure is the median and 95th percentile over ``--repeats`` requests through the real app (TestClient) and,
beside it, the store function alone (``escalation_queue``).

    python benchmarks/bench_queue.py [--escalated 100000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from _common import machine, print_table
from tables_and_store import postgres_database

from matching.records import SECTORS
from service.store import create_schema, make_engine
from service.store.models import (
    CaseEventRow,
    CaseRow,
    EnterpriseRow,
    InstitutionRow,
    OutcomeRow,
    ProblemRow,
    table_of,
)
from service.store.queue import escalation_queue

PAGE = 50
DISTRICTS = [f"District {n:02d}" for n in range(20)]


def fill(url: str, escalated: int) -> None:
    """The store: 5,000 enterprises, escalated + escalated/5 problems, cases, events and referrals."""
    engine = make_engine(url)
    create_schema(engine)
    others = escalated // 5
    start = datetime(2025, 1, 1)
    with engine.begin() as connection:
        connection.execute(table_of(EnterpriseRow).insert(), [
            {"enterprise_id": f"E{n:07d}", "name": f"企业 {n}", "sector": SECTORS[n % len(SECTORS)],
             "region": DISTRICTS[n % len(DISTRICTS)], "employees": 10, "annual_revenue": None, "founded": 2010}
            for n in range(5_000)])
        connection.execute(table_of(InstitutionRow).insert(), [
            {"institution_id": f"I{n:04d}", "name": f"Bank {n}", "kind": "bank", "description": "loans",
             "sectors": [], "regions": [], "min_amount": None, "max_amount": None, "capacity": 10, "active": True}
            for n in range(50)])
    batch = 20_000
    for low in range(0, escalated + others, batch):
        numbers = range(low, min(low + batch, escalated + others))
        problems, cases, events, outcomes = [], [], [], []
        for n in numbers:
            problem_id = f"P{n:08d}"
            at = start + timedelta(minutes=n)
            status = "escalated" if n < escalated else "recommended"
            reason = ({"code": "no_recognisable_need", "params": {}} if status == "escalated"
                      else {"code": "recommended", "params": {"count": 5}})
            problems.append({"problem_id": problem_id, "enterprise_id": f"E{n % 5_000:07d}",
                             "text": f"需要贷款 problem {n}", "amount": None, "stated_at": at - timedelta(days=30)})
            cases.append({"problem_id": problem_id, "status": status, "sequence": 1, "updated_at": at,
                          "escalated_at": at if status == "escalated" else None,
                          "escalation_source": "engine" if status == "escalated" else None,
                          "escalation_reason": reason if status == "escalated" else None,
                          "engine_reason": reason if status == "escalated" else None, "failed_referrals": 0})
            events.append({"problem_id": problem_id, "sequence": 1, "status": status, "at": at, "source": "engine",
                           "by": None, "reason": reason})
            if n % 3 == 0:
                outcomes.append({"outcome_id": f"O{n:08d}", "problem_id": problem_id,
                                 "institution_id": f"I{n % 50:04d}", "status": "declined", "amount": None,
                                 "recorded_at": at - timedelta(days=1), "recorded_by": "bench"})
        with engine.begin() as connection:
            connection.execute(table_of(ProblemRow).insert(), problems)
            connection.execute(table_of(CaseRow).insert(), cases)
            connection.execute(table_of(CaseEventRow).insert(), events)
            connection.execute(table_of(OutcomeRow).insert(), outcomes)
    # What autovacuum (PostgreSQL) or a long-lived store has done by the time a queue is this long: statistics
    # for the planner, and (PostgreSQL) the visibility map that lets an index be read without the table.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    engine.dispose()


def timed(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    call()  # warm: caches, prepared statements
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def measure(url: str, backend: str, escalated: int, repeats: int, home: Path) -> list[dict[str, object]]:
    from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.api.keys import create_key
    from service.settings import Settings

    print(f"{backend}: filling {escalated:,} escalated problems ...", flush=True)
    began = time.perf_counter()
    fill(url, escalated)
    print(f"{backend}: filled in {time.perf_counter() - began:.1f} s", flush=True)
    engine = make_engine(url)
    key, _ = create_key(engine, "provincial", "bench")
    caseworker, _ = create_key(engine, "caseworker", "bench")
    rows = []
    cases = [
        ("queue, first page", "/v1/escalations?limit=50", {}, 0),
        ("queue, middle page", f"/v1/escalations?limit=50&offset={escalated // 2}", {}, escalated // 2),
        ("queue, last page", f"/v1/escalations?limit=50&offset={escalated - PAGE}", {}, escalated - PAGE),
        ("queue, sector filter", "/v1/escalations?limit=50&sector=manufacturing", {"sector": "manufacturing"}, 0),
        ("queue, district filter, deep", f"/v1/escalations?limit=50&region=District%2007&offset={escalated // 40}",
         {"region": "District 07"}, escalated // 40),
    ]
    settings = Settings(database_url=url, models_dir=home / "models")
    with TestClient(create_app(settings)) as client:
        headers = {"X-API-Key": key}
        for _ in range(5):  # the service's first requests after start-up (key cache, pools) are not the queue's
            client.get("/v1/escalations?limit=50", headers=headers)
        for name, path, filters, offset in cases:
            answer = client.get(path, headers=headers)
            assert answer.status_code == 200 and len(answer.json()["items"]) == PAGE, (name, answer.text[:200])
            http = timed(lambda path=path: client.get(path, headers=headers), repeats)
            store = timed(lambda filters=filters, offset=offset: escalation_queue(
                engine, limit=PAGE + 1, offset=offset, **filters), repeats)
            rows.append({"backend": backend, "what": name, "http_median_ms": http[0], "http_p95_ms": http[1],
                         "store_median_ms": store[0], "store_p95_ms": store[1]})
        for name, offset in (("baseline: problems by id, first page", 0),
                             ("baseline: problems by id, last page", escalated - PAGE)):
            path = f"/v1/problems?limit=50&offset={offset}"
            assert client.get(path, headers={"X-API-Key": caseworker}).status_code == 200
            http = timed(lambda path=path: client.get(path, headers={"X-API-Key": caseworker}), repeats)
            rows.append({"backend": backend, "what": name, "http_median_ms": http[0], "http_p95_ms": http[1]})
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--escalated", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        rows += measure(f"sqlite:///{home / 'queue.db'}", "sqlite", options.escalated, options.repeats, home)
    if not options.no_postgres:
        with postgres_database() as url, tempfile.TemporaryDirectory() as folder:
            if url is not None:
                rows += measure(url, "postgresql", options.escalated, options.repeats, Path(folder))
    print_table(f"queue pages of {PAGE} over {options.escalated:,} escalated problems ({machine()}, "
                f"{datetime.now():%Y-%m-%d})", rows,
                ["backend", "what", "http_median_ms", "http_p95_ms", "store_median_ms", "store_p95_ms"])
    worst = max(float(r["http_p95_ms"]) for r in rows if str(r["what"]).startswith("queue"))
    print(f"\nslowest queue page (p95, through HTTP): {worst:.1f} ms; target < 100 ms: "
          f"{'met' if worst < 100 else 'NOT met'}")
    sys.exit(0)


if __name__ == "__main__":
    main()
