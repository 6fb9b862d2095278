"""Training through the CLI into a real MLflow store (SQLite in a temporary folder): what a run logs, the
registry's aliases, promotion both ways with its reason, the champion loading in a fresh process, the exported
bundle, the comparison of runs, and bad input refused with no half-registered version.

One small simulated city (600 enterprises, 60 institutions) is trained on twice: first with a model that cannot
split (every score equal: a poor champion), then with the default model and ``--promote-if-better``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from matching import FEATURE_NAMES, IncompatibleModel, load_bundle
from service.cli import app
from training.simulator.generate import simulate, write

ROOT = Path(__file__).resolve().parent.parent
CONSTANT_MODEL = "[model]\nmax_iter = 5\nmin_samples_leaf = 100000\n"
QUICK_MODEL = "[model]\nmax_iter = 80\n"


@dataclass
class Store:
    folder: Path
    data: Path
    env: dict[str, str]
    first: object  # CliRunner results, one per step
    second: object
    refusal: object
    first_tags: dict[str, str]

    @property
    def uri(self) -> str:
        return self.env["SMEMATCH_MLFLOW_TRACKING_URI"]

    def client(self):  # noqa: ANN201 - mlflow is imported lazily
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri)


def invoke(*args: str):  # noqa: ANN201
    return CliRunner().invoke(app, list(args))


def output(result) -> str:  # noqa: ANN001
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("mlflow-store")
    data = folder / "city"
    write(simulate(n_enterprises=600, n_institutions=60, seed=5), data)
    (folder / "constant.toml").write_text(CONSTANT_MODEL, encoding="utf-8")
    (folder / "quick.toml").write_text(QUICK_MODEL, encoding="utf-8")
    env = {
        "SMEMATCH_MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "SMEMATCH_MLFLOW_ARTIFACT_ROOT": str(folder / "artifacts"),
        "SMEMATCH_MODELS_DIR": str(folder / "models"),
        "SMEMATCH_MLFLOW_EXPERIMENT": "tests",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        for key, value in env.items():
            patch.setenv(key, value)
        first = invoke("train", "--data", str(data), "--config", str(folder / "constant.toml"))
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=env["SMEMATCH_MLFLOW_TRACKING_URI"])
        first_tags = dict(client.get_model_version("smematch-ranker", "1").tags) if first.exit_code == 0 else {}
        second = invoke("train", "--data", str(data), "--config", str(folder / "quick.toml"), "--promote-if-better")
        refusal = invoke("promote", "--version", "1")
        yield Store(folder, data, env, first, second, refusal, first_tags)


def test_the_first_model_becomes_champion_because_there_was_none(store: Store) -> None:
    assert store.first.exit_code == 0, output(store.first)
    assert "ndcg_at_5" in store.first.output and "text only" in store.first.output
    assert store.first_tags["promotion_decision"] == "promoted"
    assert "no champion" in store.first_tags["promotion_reason"]


def test_a_run_logs_the_named_metrics_params_datasets_plots_and_commit(store: Store) -> None:
    assert store.second.exit_code == 0, output(store.second)
    client = store.client()
    version = client.get_model_version("smematch-ranker", "2")
    run = client.get_run(version.run_id)
    for name in ("ndcg_at_5", "ndcg_at_5_text_baseline", "ndcg_at_5_popularity", "ndcg_at_5_oracle",
                 "gt_ndcg_at_5", "ndcg_at_10", "map_at_5", "mrr", "recall_at_10", "coverage_at_10",
                 "kind_diversity_at_5", "bias_top10pct_share", "bias_ess_ratio", "sector/manufacturing/ndcg_at_5"):
        assert name in run.data.metrics, name
    assert run.data.params["model.max_iter"] == "80"
    assert run.data.tags["mlflow.source.git.commit"] not in ("", None)
    assert len(run.data.tags["data_digest"]) == 64
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"training_pairs", "evaluation_pairs"}
    assert all(len({t.key: t.value for t in d.tags}["sha256"]) == 64 for d in inputs.values())
    plots = {Path(f.path).name for f in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"ndcg_at_k.png", "feature_importance.png", "calibration.png"}


def test_every_version_is_registered_with_alias_challenger_and_its_bundle_exported(store: Store) -> None:
    client = store.client()
    latest = client.get_model_version_by_alias("smematch-ranker", "challenger")
    assert str(latest.version) == "2"
    assert (store.folder / "models" / "runs" / latest.run_id / "manifest.json").is_file()


def test_a_better_challenger_is_promoted_and_a_worse_one_is_not_and_both_say_why(store: Store) -> None:
    client = store.client()
    assert str(client.get_model_version_by_alias("smematch-ranker", "champion").version) == "2"
    promoted = client.get_model_version("smematch-ranker", "2").tags
    assert promoted["promotion_decision"] == "promoted" and "beats champion v1" in promoted["promotion_reason"]
    assert store.refusal.exit_code == 1
    assert "not promoted" in output(store.refusal)
    refused = client.get_model_version("smematch-ranker", "1").tags
    assert refused["promotion_decision"] == "not promoted"
    assert "does not beat champion v2" in refused["promotion_reason"]
    assert float(refused["promotion_challenger_value"]) < float(refused["promotion_champion_value"])


def test_the_champion_loads_in_a_fresh_process_and_ranks_institutions(store: Store) -> None:
    code = (
        "import mlflow, pandas as pd, json\n"
        "model = mlflow.pyfunc.load_model('models:/smematch-ranker@champion')\n"
        "out = model.predict(pd.DataFrame({'text': ['We need a bank loan to buy new machines', '员工技能培训']}),"
        " params={'k': 3})\n"
        "print(json.dumps(out.astype({'score': float}).to_dict(orient='records'), ensure_ascii=False))\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": store.uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=store.folder,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = pd.DataFrame(json.loads(done.stdout.strip().splitlines()[-1]))
    assert set(rows["problem_index"]) == {0, 1}
    first = rows[rows["problem_index"] == 0]
    assert list(first["rank"]) == [1, 2, 3] and first["institution_id"].str.startswith("I").all()
    assert first["score"].is_monotonic_decreasing
    assert "bank" in set(first["kind"]) or "microcredit" in set(first["kind"])


def test_the_champion_bundle_round_trips_and_a_tampered_manifest_is_refused(store: Store, tmp_path: Path) -> None:
    current = store.folder / "models" / "current"
    ranker = load_bundle(current)
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["registered_version"] == "2" and len(manifest["data_digest"]) == 64
    assert manifest["feature_names"] == list(FEATURE_NAMES) and "ndcg_at_5" in manifest["metrics"]
    same = load_bundle(store.folder / "models" / "runs" / manifest["run_id"])
    probe = pd.DataFrame([[0.1] * len(FEATURE_NAMES)] * 3, columns=list(FEATURE_NAMES))
    assert (ranker.score(probe) == same.score(probe)).all()
    for key, value in (("sklearn_version", "0.0.1"), ("feature_names", list(FEATURE_NAMES)[::-1])):
        tampered = tmp_path / key
        shutil.copytree(current, tampered)
        (tampered / "manifest.json").write_text(json.dumps({**manifest, key: value}), encoding="utf-8")
        with pytest.raises(IncompatibleModel):
            load_bundle(tampered)


def test_compare_shows_the_runs_side_by_side_and_draws_a_chart(store: Store, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    chart = tmp_path / "runs.png"
    result = invoke("compare", "--plot", str(chart))
    assert result.exit_code == 0, output(result)
    assert "champion" in result.output and "challenger" in result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _bad_folder(store: Store, name: str, outcomes: pd.DataFrame) -> Path:
    folder = store.folder / name
    shutil.copytree(store.data, folder)
    outcomes.to_csv(folder / "outcomes.csv", index=False)
    (folder / "logging_policy.csv").unlink()
    return folder


@pytest.mark.parametrize(("case", "message"), [
    ("no outcomes", "at least one outcome"),
    ("one label", "cases taken up and cases not taken up"),
    ("unknown institution", "institution_id"),
    ("unreachable store", "reachable MLflow tracking store"),
])
def test_bad_input_fails_clearly_and_registers_nothing(store: Store, monkeypatch: pytest.MonkeyPatch, case: str,
                                                       message: str) -> None:
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    outcomes = pd.read_csv(store.data / "outcomes.csv", dtype=str, keep_default_na=False)
    folders = {
        "no outcomes": lambda: _bad_folder(store, "empty", outcomes.iloc[0:0]),
        "one label": lambda: _bad_folder(store, "declined", outcomes.assign(status="declined")),
        "unknown institution": lambda: _bad_folder(store, "unknown", outcomes.assign(
            institution_id=outcomes["institution_id"].where(outcomes.index % 50 != 0, "I9999"))),
        "unreachable store": lambda: store.data,
    }
    if case == "unreachable store":
        monkeypatch.setenv("SMEMATCH_MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    client = store.client()
    versions_before = len(client.search_model_versions("name = 'smematch-ranker'"))
    runs_before = len(client.search_runs([client.get_experiment_by_name("tests").experiment_id]))
    result = invoke("train", "--data", str(folders[case]()))
    assert result.exit_code == 2, output(result)
    assert message in output(result) and "Traceback" not in output(result)
    assert len(client.search_model_versions("name = 'smematch-ranker'")) == versions_before
    assert len(client.search_runs([client.get_experiment_by_name("tests").experiment_id])) == runs_before


@pytest.mark.slow
def test_processes_creating_a_fresh_store_at_once_leave_one_working_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = ("import sys; from training.tracking import ensure_store; "
            "ensure_store(sys.argv[1], sys.argv[2]).search_experiments()")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    started = [subprocess.Popen([sys.executable, "-c", code, uri, str(tmp_path / "artifacts")], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for process in started:
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors[-2000:]
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    assert [e.name for e in client.search_experiments()] == ["Default"]
