"""Specification of the served model: what ``GET /v1/model`` says, and that ``POST /v1/admin/model/reload``
swaps in a good bundle atomically while a corrupt, incompatible or unservable one is refused and the old
model keeps serving."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from test_api_fixtures import Api, another_worker, running_api

from matching import FEATURE_NAMES, LearnedRanker, save_bundle

AD_HOC = {"text": "need a bank loan for new equipment 需要贷款", "sector": "manufacturing", "region": "Dongcheng"}


def bundle(folder: Path, version: str, *, estimator: object | None = None) -> Path:
    """A small trained bundle: a classifier fitted on random features (it handles missing values)."""
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.random((200, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    labels = (features["text_similarity"] + 0.3 * rng.random(200) > 0.6).astype(int)
    model = estimator if estimator is not None else HistGradientBoostingClassifier(max_iter=10)
    model.fit(features, labels)  # type: ignore[attr-defined]
    ranker = LearnedRanker(model, version=version, escalate_below=0.05)
    return save_bundle(ranker, folder, metrics={"ndcg@5": 0.5}, data_digest="sha256:abc")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(f"sqlite:///{tmp_path / 'store.db'}", tmp_path) as running:
        yield running


def reload(api: Api, path: str | None = None):  # type: ignore[no-untyped-def]
    return api.post("/v1/admin/model/reload", role="admin", json=None if path is None else {"path": path})


def served_version(api: Api) -> str:
    response = api.post("/v1/recommendations", json=AD_HOC)
    assert response.status_code == 200
    return response.json()["model_version"]


def test_a_good_bundle_is_swapped_in_and_described(api: Api) -> None:
    bundle(api.settings.models_dir / "v2", "learned-v2")
    response = reload(api, "v2")
    assert response.status_code == 200, response.text
    assert response.json()["previous_version"] == "baseline-1"
    model = api.get("/v1/model", role="analyst").json()
    assert model["version"] == "learned-v2" and model["ranker"] == "learned"
    assert model["metrics"] == {"ndcg@5": 0.5} and model["data_digest"] == "sha256:abc"
    assert model["trained_at"] and model["sklearn_version"] and model["source"] == "v2"
    assert served_version(api) == "learned-v2"
    metrics = api.client.get("/metrics").text
    assert 'smematch_model_info{ranker="learned",version="learned-v2"} 1.0' in metrics
    assert 'version="baseline-1"' not in metrics
    assert 'smematch_model_reloads_total{result="swapped"} 1.0' in metrics


def test_reload_without_a_body_loads_current(api: Api) -> None:
    bundle(api.settings.models_dir / "current", "learned-current")
    assert reload(api).status_code == 200
    assert served_version(api) == "learned-current"


def test_a_corrupt_bundle_is_refused_and_the_old_model_keeps_serving(api: Api) -> None:
    folder = bundle(api.settings.models_dir / "broken", "learned-broken")
    (folder / "model.joblib").write_bytes(b"this is not a pickle")
    response = reload(api, "broken")
    assert response.status_code == 422
    assert "checksum mismatch for model.joblib" in response.json()["error"]
    assert api.get("/v1/model", role="analyst").json()["version"] == "baseline-1"
    assert served_version(api) == "baseline-1"
    assert 'smematch_model_reloads_total{result="refused"} 1.0' in api.client.get("/metrics").text


@pytest.mark.parametrize(
    ("field", "value"),
    [("sklearn_version", "0.24.2"), ("feature_names", list(reversed(FEATURE_NAMES)))],
)
def test_an_incompatible_bundle_is_refused_with_409(api: Api, field: str, value: object) -> None:
    folder = bundle(api.settings.models_dir / "tampered", "learned-tampered")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, field: value}))
    response = reload(api, "tampered")
    assert response.status_code == 409
    assert response.json()["detail"][0]["field"] == "model"
    assert served_version(api) == "baseline-1"


def test_a_model_that_fails_on_live_features_is_refused(api: Api) -> None:
    # A plain logistic regression cannot take the missing values real candidates have (amount fit, track record).
    bundle(api.settings.models_dir / "no-nans", "learned-no-nans", estimator=LogisticRegression())
    response = reload(api, "no-nans")
    assert response.status_code == 422
    assert "live catalogue" in response.json()["error"]
    assert served_version(api) == "baseline-1"


@pytest.mark.parametrize("path", ["../elsewhere", "/etc", "missing"])
def test_reload_only_reads_bundles_inside_the_models_folder(api: Api, tmp_path: Path, path: str) -> None:
    bundle(tmp_path / "elsewhere", "outside")
    response = reload(api, path)
    assert response.status_code == 404 and response.json()["detail"][0]["field"] == "path"


def test_workers_serving_current_follow_a_new_current_bundle_and_refuse_a_broken_one(api: Api) -> None:
    with another_worker(api, refresh_seconds=0.1) as other:
        bundle(api.settings.models_dir / "current", "learned-promoted")
        assert eventually(lambda: served_version(other) == "learned-promoted")
        broken = bundle(api.settings.models_dir / "next", "learned-broken")
        (broken / "model.joblib").write_bytes(b"garbage")
        shutil.rmtree(api.settings.models_dir / "current")
        broken.rename(api.settings.models_dir / "current")
        time.sleep(0.5)  # several refresh rounds
        assert served_version(other) == "learned-promoted"
        assert 'smematch_model_reloads_total{result="refused"}' in other.client.get("/metrics").text


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_service_starts_with_the_current_bundle(tmp_path: Path) -> None:
    bundle(tmp_path / "models" / "current", "learned-at-start")
    with running_api(f"sqlite:///{tmp_path / 'store.db'}", tmp_path) as api:
        assert served_version(api) == "learned-at-start"
        shutil.rmtree(tmp_path / "models" / "current")
        assert served_version(api) == "learned-at-start"
