"""Builders shared by the HTTP service's tests (no tests here): a small city in a real store, keys for each
role, the app under ``TestClient``, and a real ``smematch serve`` subprocess on a free 127.0.0.1 port.

The city: the hand-written catalogue of 24 institutions (``tests/data/institutions_city.csv``), four
enterprises in its districts (Chinese and English names), one or two problems each, and two outcomes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from matching.tables.files import Tables, validate_tables
from service.api.app import create_app
from service.api.keys import create_key
from service.settings import Settings
from service.store import create_schema, import_tables, make_engine

from engine_fixtures import city_institutions

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("caseworker", "analyst", "curator", "admin", "provincial")


def city_tables() -> Tables:
    enterprises = pd.DataFrame({
        "enterprise_id": ["E000001", "E000002", "E000003", "E000004"],
        "name": ["杭州明达机械有限公司", "Green Valley Farm Co.", "老街茶馆", "Riverside Software Studio"],
        "sector": ["manufacturing", "agriculture", "catering_accommodation", "information_services"],
        "region": ["Dongcheng", "Qinghe", "Xicheng", "Dongcheng"],
        "employees": [45, 12, 6, 20],
        "annual_revenue": [12_000_000.0, 1_500_000.0, 600_000.0, 4_000_000.0],
        "founded": [2008, 2015, 2019, 2017],
    })
    problems = pd.DataFrame({
        "problem_id": ["P000001", "P000002", "P000003", "P000004", "P000005"],
        "enterprise_id": ["E000001", "E000001", "E000002", "E000003", "E000004"],
        "text": [
            "需要贷款 300万 购买新的数控机床 we need a loan for new CNC machines",
            "our workers need training to operate the new automated line",
            "irrigation upgrade to save water on the farm, 节水灌溉",
            "需要担保才能获得银行贷款",
            "we want to build an online ordering system and move to the cloud",
        ],
        "amount": [3_000_000.0, None, None, 500_000.0, None],
        "stated_at": pd.to_datetime(["2024-01-15", "2024-02-01", "2024-02-10", "2024-03-01", "2024-03-05"]),
    })
    outcomes = pd.DataFrame({
        "outcome_id": ["O0000001", "O0000002"],
        "problem_id": ["P000001", "P000003"],
        "institution_id": ["B01", "R02"],
        "status": ["solved", "accepted"],
        "amount": [2_500_000.0, None],
        "recorded_at": pd.to_datetime(["2024-02-01T09:30:00", "2024-03-01T10:00:00"]),
        "recorded_by": ["caseworker-1", "caseworker-2"],
    })
    return validate_tables(enterprises, problems, city_institutions(), outcomes)


def stock(url: str) -> dict[str, str]:
    """Fill the store at ``url`` with the city; returns a fresh key per role."""
    engine = make_engine(url)
    try:
        create_schema(engine)
        import_tables(engine, city_tables())
        return {role: create_key(engine, role, f"{role}-key")[0] for role in ROLES}
    finally:
        engine.dispose()


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    engine: Engine
    settings: Settings

    def headers(self, role: str = "caseworker") -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}

    def get(self, path: str, role: str = "caseworker", **options: Any) -> httpx.Response:
        headers = {**self.headers(role), **options.pop("headers", {})}
        return self.client.get(path, headers=headers, **options)

    def post(self, path: str, role: str = "caseworker", **options: Any) -> httpx.Response:
        headers = {**self.headers(role), **options.pop("headers", {})}
        return self.client.post(path, headers=headers, **options)

    def put(self, path: str, role: str = "curator", **options: Any) -> httpx.Response:
        headers = {**self.headers(role), **options.pop("headers", {})}
        return self.client.put(path, headers=headers, **options)


@contextmanager
def running_api(url: str, tmp_path: Path, *, app_options: dict[str, Any] | None = None,
                **settings: Any) -> Iterator[Api]:
    """The app (``create_app(settings, **app_options)``) with its lifespan running, on a freshly stocked store."""
    keys = stock(url)
    config = Settings(database_url=url, models_dir=tmp_path / "models", **{"spool_dir": tmp_path / "spool", **settings})
    engine = make_engine(url)
    try:
        with TestClient(create_app(config, **(app_options or {}))) as client:
            yield Api(client=client, keys=keys, engine=engine, settings=config)
    finally:
        engine.dispose()


@contextmanager
def another_worker(api: Api, **app_options: Any) -> Iterator[Api]:
    """A second app on the same store and settings, as a second ``--workers`` process would be."""
    with TestClient(create_app(api.settings, **app_options)) as client:
        yield Api(client=client, keys=api.keys, engine=api.engine, settings=api.settings)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path


def start_server(url: str, folder: Path, *, port: int | None = None, timeout: float = 60.0,
                 args: tuple[str, ...] = (), **env: str) -> Server:
    """``smematch serve [args]`` in a subprocess on 127.0.0.1, returned once ``/readyz`` answers 200."""
    port = port or free_port()
    log = folder / f"server-{port}-{time.monotonic_ns()}.log"
    environment = {**os.environ, "SMEMATCH_DATABASE_URL": url, "SMEMATCH_MODELS_DIR": str(folder / "models"),
                   "SMEMATCH_SPOOL_DIR": str(folder / "spool"), "SMEMATCH_LOG_LEVEL": "warning", **env}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", "from service.cli import main; main()", "serve", "--port", str(port), *args],
            cwd=ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT,
        )
    server = Server(process=process, base_url=f"http://127.0.0.1:{port}", log=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"the server was not ready within {timeout} s:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=15)
