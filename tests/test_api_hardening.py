"""Specification of the service's hardening: security headers on every response, no caching of secrets, a CSP on
the docs, 422 (never 500) for times outside UTC's range and for over-long paths, bounded slow headers on a real
server, and a failed start-up logged as one line."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_fixtures import ROOT, Api, free_port, running_api, start_server, stock, stop_server

SLOW_CONNECTIONS = 500
HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, max_body_bytes=2000) as running:
        yield running


def test_every_response_carries_the_security_headers(api: Api) -> None:
    answers = [
        api.client.get("/healthz"), api.client.get("/readyz"), api.client.get("/metrics"),
        api.client.get("/openapi.json"), api.client.get("/docs"), api.client.get("/v1/nowhere"),
        api.client.get("/v1/enterprises/E000001"), api.get("/v1/enterprises/E000001"),
        api.post("/v1/recommendations", json={"text": "loan " * 1000}),  # 413 from the middleware
        api.client.get("/"),
    ]
    for answer in answers:
        for name, value in HEADERS.items():
            assert answer.headers.get(name) == value, (answer.request.url, name)


def test_api_answers_and_new_keys_are_never_cached(api: Api) -> None:
    created = api.post("/v1/admin/keys", role="admin", json={"role": "caseworker"})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    assert api.get("/v1/enterprises/E000001").headers["cache-control"] == "no-store"
    assert api.client.get("/v1/enterprises/E000001").headers["cache-control"] == "no-store"  # the 401 too


def test_the_docs_page_has_a_csp_that_allows_exactly_its_own_inline_script(api: Api) -> None:
    page = api.client.get("/docs")
    policy = page.headers["content-security-policy"]
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert scripts
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_outside_utc_range_are_422_naming_the_field(api: Api, moment: str) -> None:
    posted = api.post("/v1/outcomes", json={"outcome_id": "O-range", "problem_id": "P000001",
                                            "institution_id": "B01", "status": "contacted", "recorded_at": moment})
    assert posted.status_code == 422 and posted.json()["detail"][0]["field"] == "recorded_at"
    for path, role in (("/v1/outcomes", "caseworker"), ("/v1/exports/outcomes", "analyst")):
        for name in ("recorded_after", "recorded_before"):
            answer = api.get(path, role=role, params={name: moment})
            assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == name


def test_extreme_times_within_utc_range_are_fine(api: Api) -> None:
    answer = api.get("/v1/outcomes", params={"recorded_after": "0001-01-01T00:00:00-01:00",
                                             "recorded_before": "9999-12-31T00:00:00+01:00"})
    assert answer.status_code == 200 and len(answer.json()["items"]) == 2


@pytest.mark.parametrize("path", ["a" * 300, "a" * 255 + "/b", "x/" * 120 + "y" * 250])
def test_an_over_long_reload_path_is_422(api: Api, path: str) -> None:
    answer = api.post("/v1/admin/model/reload", role="admin", json={"path": path})
    assert answer.status_code in (404, 422) and answer.json()["detail"][0]["field"] == "path"
    assert answer.status_code == 422 or len(path) <= 255


def test_no_response_shows_a_server_path(api: Api) -> None:
    folder = str(api.settings.models_dir.parent)
    answers = [api.get("/v1/model", role="analyst"),
               api.post("/v1/admin/model/reload", role="admin", json={"path": "nowhere"}),
               api.post("/v1/admin/model/reload", role="admin", json={})]
    for answer in answers:
        assert folder not in answer.text


# ------------------------------------------------------------------------------------------- the real server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("slow")
    url = f"sqlite:///{folder / 'store.db'}"
    stock(url)
    running = start_server(url, folder, SMEMATCH_HEADER_TIMEOUT_SECONDS="1", SMEMATCH_KEEP_ALIVE_SECONDS="1")
    try:
        yield running.base_url
    finally:
        stop_server(running)


def test_connections_that_send_headers_slowly_are_closed_after_the_header_timeout(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    slow = []
    for _ in range(SLOW_CONNECTIONS):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(connection)
    started = time.monotonic()
    import httpx

    assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200  # others are still served
    closed = 0
    for connection in slow:
        answer = connection.recv(200)
        while answer and not answer.endswith(b"\r\n\r\n"):
            answer += connection.recv(200)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
        assert connection.recv(10) == b""  # then closed
        closed += 1
        connection.close()
    assert closed == SLOW_CONNECTIONS and time.monotonic() - started < 8


def test_huge_headers_are_refused_with_431(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        with pytest.raises(OSError):  # the server closes the connection while more is sent
            for _ in range(200):
                connection.sendall(b"X-Filler: " + b"a" * 1000 + b"\r\n")
                time.sleep(0.001)
            assert connection.recv(100).startswith(b"HTTP/1.1 431")
            raise OSError("refused")


def _failed_start(tmp_path: Path, **env: str) -> tuple[int, str]:
    environment = {**os.environ, "SMEMATCH_MODELS_DIR": str(tmp_path / "models"), "SMEMATCH_LOG_LEVEL": "info",
                   **env}
    done = subprocess.run([sys.executable, "-c", "from service.cli import main; main()", "serve", "--port",
                           str(free_port())], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_a_failed_start_up_is_one_clear_line_without_a_traceback(tmp_path: Path) -> None:
    code, output = _failed_start(tmp_path, SMEMATCH_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert code != 0 and "Traceback" not in output
    # serve migrates the store before any worker starts: its failure is that one line, and nothing else errs
    failures = [line for line in output.splitlines() if "start-up failed" in line]
    assert len(failures) == 1 and "database" in failures[0]
    assert [line for line in output.splitlines() if "error" in line.lower()] == failures


def test_invalid_settings_are_one_clear_line(tmp_path: Path) -> None:
    code, output = _failed_start(tmp_path, SMEMATCH_REFIT_QUIET_SECONDS="soon")
    assert code != 0 and "Traceback" not in output and "SMEMATCH_REFIT_QUIET_SECONDS" in output
