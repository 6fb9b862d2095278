"""``smematch batch --engine dask``: the same output as the local engine, row for row, on a scheduler and two
workers started as separate processes on loopback (``dask scheduler``, ``dask worker``, as the README tells
users), on a ``distributed.LocalCluster``, and on the local cluster it starts itself."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from service.cli import app
from training.simulator.generate import simulate, write

runner = CliRunner()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("city")
    write(simulate(n_enterprises=80, n_institutions=20, seed=5), folder)
    return folder


@pytest.fixture(autouse=True)
def no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMEMATCH_MODELS_DIR", str(tmp_path / "no-models"))


def batch(*args: str | Path) -> object:
    return runner.invoke(app, ["batch", *map(str, args)])


DASK = Path(sys.executable).parent / "dask"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; yields the scheduler's address."""
    folder = tmp_path_factory.mktemp("dask-cluster")
    address_file = folder / "scheduler.json"
    logs = (folder / "scheduler.log").open("wb")
    # The workers run this checkout's code, as the client does (the README: the same smematch everywhere).
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                 "--scheduler-file", str(address_file)], cwd=ROOT, env=environment, stdout=logs,
                                stderr=logs)]
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists():
            assert started[0].poll() is None and time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        for number in range(2):
            started.append(subprocess.Popen(
                [str(DASK), "worker", "--scheduler-file", str(address_file), "--host", "127.0.0.1", "--nthreads", "1",
                 "--no-dashboard", "--local-directory", str(folder / f"worker-{number}")],
                cwd=ROOT, env=environment, stdout=logs, stderr=logs))
        address = json.loads(address_file.read_text())["address"]
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)
        logs.close()


@pytest.mark.slow
def test_a_scheduler_and_two_worker_processes_write_what_the_local_engine_writes_row_for_row(
    city: Path, tmp_path: Path, dask_cluster: str
) -> None:
    from distributed import Client

    local, dask = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    assert batch("--data", city, "--out", local, "--chunk-size", "30", "--assign").exit_code == 0

    result = batch("--data", city, "--out", dask, "--chunk-size", "30", "--assign", "--engine", "dask",
                   "--scheduler", dask_cluster)

    assert result.exit_code == 0, result.output
    with Client(dask_cluster, timeout=30) as client:
        transitions = client.run(lambda dask_worker: dask_worker.state.transition_counter)
    assert len(transitions) == 2 and all(count > 0 for count in transitions.values())  # both took part
    expected, written = pd.read_parquet(local), pd.read_parquet(dask)
    assert len(written) == len(expected) > 0
    pd.testing.assert_frame_equal(written, expected)


def test_dask_partitions_on_two_workers_write_what_the_local_engine_writes(city: Path, tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    local, dask = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    assert batch("--data", city, "--out", local, "--chunk-size", "30", "--assign").exit_code == 0

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        result = batch("--data", city, "--out", dask, "--chunk-size", "30", "--assign", "--engine", "dask",
                       "--scheduler", cluster.scheduler_address)
        assert result.exit_code == 0, result.output
        ran_on = client.run(lambda: __import__("os").getpid())

    assert len(set(ran_on.values())) == 2
    pd.testing.assert_frame_equal(pd.read_parquet(dask), pd.read_parquet(local))


def test_without_a_scheduler_a_local_cluster_is_started(city: Path, tmp_path: Path) -> None:
    local, dask = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    assert batch("--data", city, "--out", local, "--chunk-size", "50").exit_code == 0

    result = batch("--data", city, "--out", dask, "--chunk-size", "50", "--engine", "dask")

    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(dask), pd.read_parquet(local))
