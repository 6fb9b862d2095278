"""``smematch batch --engine dask`` on a real ``distributed.LocalCluster``: the same output as the local engine."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from service.cli import app
from training.simulator import simulate, write

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
