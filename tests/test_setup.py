"""`smematch setup` (what `make run` calls): store loaded, first keys, first model; a second run changes nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.store import count_rows, make_engine
from training.simulator.generate import simulate, write

runner = CliRunner()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(simulate(n_enterprises=400, n_institutions=50, seed=3), tmp_path / "data")
    for name, value in {
        "HOME": tmp_path,
        "DATA_DIR": tmp_path / "data",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "MODELS_DIR": tmp_path / "models",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "MLFLOW_ARTIFACT_ROOT": tmp_path / "artifacts",
    }.items():
        monkeypatch.setenv(f"SMEMATCH_{name}", str(value))
    return tmp_path


def test_setup_loads_the_store_creates_keys_and_trains_the_first_model(home: Path) -> None:
    first = runner.invoke(app, ["setup"])
    assert first.exit_code == 0, first.output
    engine = make_engine(f"sqlite:///{home / 'store.db'}")
    assert count_rows(engine)["enterprises"] == 400
    keys = (home / ".smematch-keys").read_text().splitlines()
    assert [line.split(":")[0] for line in keys] == ["caseworker", "admin"]
    assert stat.S_IMODE((home / ".smematch-keys").stat().st_mode) == 0o600
    assert (home / "models" / "current" / "manifest.json").exists()
    assert keys[0].split(": ")[1] in first.output  # shown once, to the person who ran it

    again = runner.invoke(app, ["setup"])
    assert again.exit_code == 0, again.output
    assert "not loaded again" in again.output and "not trained again" in again.output
    assert "API keys created" not in again.output
    assert count_rows(engine)["enterprises"] == 400
    engine.dispose()


def test_setup_on_a_broken_data_folder_names_the_problem(home: Path) -> None:
    (home / "data" / "institutions.csv").write_text("institution_id,name\nI1,x\n", encoding="utf-8")
    result = runner.invoke(app, ["setup", "--no-train"])
    assert result.exit_code == 2
    assert "institutions.csv" in result.output and "Traceback" not in result.output
