"""A shared MLflow tracking server, as replicas would use one: ``SMEMATCH_MLFLOW_TRACKING_URI=http://127.0.0.1:PORT``
against a real ``mlflow server`` (started here on loopback, artifacts served by it): train, compare, promote
with ``--reload``, and a ``smematch serve`` that serves the champion as the fleet's desired version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_api_fixtures import free_port, start_server, stop_server
from typer.testing import CliRunner

from service.cli import app
from service.store import create_schema, desired_model, make_engine
from training.simulator.generate import simulate, write

MLFLOW = Path(sys.executable).parent / "mlflow"
CONSTANT_MODEL = "[model]\nmax_iter = 5\nmin_samples_leaf = 100000\n"
QUICK_MODEL = "[model]\nmax_iter = 80\n"


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (folder / "server.log").open("wb")
    environment = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    server = subprocess.Popen(
        [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'backend.db'}", "--serve-artifacts",
         "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, env=environment, stdout=log, stderr=log, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (folder / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server did not answer within 120 s"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, 15)  # the server runs its workers in its own process group
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait(timeout=20)
        log.close()


def invoke(*args: str):  # noqa: ANN201 - typer's Result
    return CliRunner().invoke(app, list(args))


@pytest.mark.slow
def test_train_compare_promote_and_serve_the_champion_through_a_tracking_server(
    tracking_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "city"
    write(simulate(n_enterprises=600, n_institutions=60, seed=5), data)
    (tmp_path / "constant.toml").write_text(CONSTANT_MODEL, encoding="utf-8")
    (tmp_path / "quick.toml").write_text(QUICK_MODEL, encoding="utf-8")
    store = f"sqlite:///{tmp_path / 'store.db'}"
    environment = {
        "SMEMATCH_MLFLOW_TRACKING_URI": tracking_server,
        "SMEMATCH_MLFLOW_ARTIFACT_ROOT": str(tmp_path / "client-artifacts"),
        "SMEMATCH_MODELS_DIR": str(tmp_path / "models"),
        "SMEMATCH_DATABASE_URL": store,
        "SMEMATCH_MLFLOW_EXPERIMENT": "fleet",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert invoke("import", str(data)).exit_code == 0

    first = invoke("train", "--data", str(data), "--config", str(tmp_path / "constant.toml"))
    assert first.exit_code == 0, first.output
    second = invoke("train", "--data", str(data), "--config", str(tmp_path / "quick.toml"))
    assert second.exit_code == 0, second.output
    compared = invoke("compare")
    assert compared.exit_code == 0, compared.output
    assert "champion" in compared.output and "challenger" in compared.output
    promoted = invoke("promote", "--reload")
    assert promoted.exit_code == 0, promoted.output
    assert "champion:" in promoted.output and "served version set" in promoted.output

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_server)
    champion = client.get_model_version_by_alias("smematch-ranker", "champion")
    assert str(champion.version) == "2"
    assert client.get_run(champion.run_id).info.artifact_uri.startswith("mlflow-artifacts:")  # held by the server
    version = json.loads((tmp_path / "models" / "current" / "manifest.json").read_text())["version"]
    engine = make_engine(store)
    try:
        create_schema(engine)
        assert desired_model(engine).version == version
    finally:
        engine.dispose()

    server = start_server(store, tmp_path, **environment)
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            ready = http.get("/readyz").json()
    finally:
        stop_server(server)
    assert (ready["served_version"], ready["desired_version"], ready["matches_desired"]) == (version, version, True)
