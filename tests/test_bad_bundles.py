"""Specification of the service's defences against bad model bundles: every kind of broken, tampered or
mistaken bundle is refused on reload with a 4xx that names the fault (and no server path) while the old model
keeps serving; at start-up a refused ``current`` falls back to the newest good bundle under ``runs/`` and
``/readyz`` says ``degraded`` with the reason."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import joblib
import pytest
from test_api_fixtures import Api, running_api
from test_api_model import bundle, reload, served_version

from matching.rank.manifest import file_checksums

Breaker = Callable[[Path], None]


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _write_manifest(folder: Path, values: Any) -> None:
    (folder / "manifest.json").write_text(json.dumps(values), encoding="utf-8")


def _set(field: str, value: Any) -> Breaker:
    return lambda folder: _write_manifest(folder, {**_manifest(folder), field: value})


def _drop(field: str) -> Breaker:
    return lambda folder: _write_manifest(folder, {k: v for k, v in _manifest(folder).items() if k != field})


def _model_bytes(make: Callable[[bytes], bytes], *, rechecksum: bool) -> Breaker:
    """Replace the model file; with ``rechecksum`` the manifest is updated to match, as a careless exporter
    would, so the check that catches it is the one after the checksum."""

    def breaker(folder: Path) -> None:
        model = folder / "model.joblib"
        model.write_bytes(make(model.read_bytes()))
        if rechecksum:
            _write_manifest(folder, {**_manifest(folder), "checksum": file_checksums({"model.joblib": model})})

    return breaker


def _other_object(folder: Path) -> None:
    model = folder / "model.joblib"
    joblib.dump({"not": "an estimator"}, model)
    _write_manifest(folder, {**_manifest(folder), "checksum": file_checksums({"model.joblib": model})})


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])


# kind -> (how the bundle is broken, the status, words the error must hold)
BAD_BUNDLES: dict[str, tuple[Breaker, int, str]] = {
    "garbage model file": (_model_bytes(lambda _: os.urandom(4096), rechecksum=True), 422, "could not be loaded"),
    "truncated model file": (_model_bytes(lambda data: data[: len(data) // 2], rechecksum=True), 422,
                             "could not be loaded"),
    "empty model file": (_model_bytes(lambda _: b"", rechecksum=True), 422, "could not be loaded"),
    "missing model file": (lambda folder: (folder / "model.joblib").unlink(), 422, "model.joblib is missing"),
    "wrong estimator": (_other_object, 422, "fails a smoke prediction"),
    "checksum mismatch": (_model_bytes(_flip_last_byte, rechecksum=False), 422, "checksum mismatch"),
    "no checksum": (_drop("checksum"), 422, "checksum"),
    "checksum of another file name": (_set("checksum", {"algorithm": "sha256", "files": {"../x": "0" * 64}}), 422,
                                      "checksum.files"),
    "garbage manifest": (lambda folder: (folder / "manifest.json").write_bytes(b"\x00\xff{not json"), 422,
                         "unreadable manifest"),
    "empty manifest": (lambda folder: (folder / "manifest.json").write_bytes(b""), 422, "unreadable manifest"),
    "manifest not an object": (lambda folder: _write_manifest(folder, ["version", 1]), 422, "JSON object"),
    "oversized manifest": (_set("notes", "x" * 1_100_000), 422, "larger than"),
    "wrong features": (_set("feature_names", ["text_similarity", "shoe_size"]), 409, "shoe_size"),
    "missing features": (_drop("feature_names"), 422, "feature_names"),
    "threshold above one": (_set("escalate_below", 2.0), 422, "escalate_below"),
    "threshold below zero": (_set("escalate_below", -0.5), 422, "escalate_below"),
    "threshold of the wrong type": (_set("escalate_below", "high"), 422, "escalate_below"),
    "threshold that is not a number": (lambda folder: (folder / "manifest.json").write_text(
        json.dumps(_manifest(folder)).replace('"escalate_below": 0.05', '"escalate_below": NaN')), 422,
        "escalate_below"),
    "version too long": (_set("version", "v" * 5000), 422, "version"),
    "version of the wrong type": (_set("version", {"major": 1}), 422, "version"),
    "another scikit-learn": (_set("sklearn_version", "0.24.2"), 409, "scikit-learn 0.24.2"),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("bad-bundles")
    with running_api(f"sqlite:///{folder / 'store.db'}", folder) as running:
        bundle(running.settings.models_dir / "good", "learned-good")
        assert reload(running, "good").status_code == 200
        yield running


def test_there_are_at_least_fifteen_kinds_of_bad_bundle() -> None:
    assert len(BAD_BUNDLES) >= 15


@pytest.mark.parametrize("kind", sorted(BAD_BUNDLES))
def test_a_bad_bundle_is_refused_naming_the_fault_and_the_old_model_keeps_serving(api: Api, kind: str) -> None:
    breaker, status, words = BAD_BUNDLES[kind]
    name = kind.replace(" ", "-")
    folder = api.settings.models_dir / name
    shutil.copytree(api.settings.models_dir / "good", folder)
    breaker(folder)
    response = reload(api, name)
    assert response.status_code == status, response.text
    body = response.json()
    assert words in body["error"] and body["detail"][0]["field"] == "model"
    assert str(api.settings.models_dir.parent) not in response.text  # no server path
    assert served_version(api) == "learned-good"


def test_start_up_falls_back_to_the_newest_good_bundle_and_says_it_is_degraded(tmp_path: Path) -> None:
    models = tmp_path / "models"
    older = bundle(models / "runs" / "older", "learned-older")
    newer = bundle(models / "runs" / "newer", "learned-newer")
    os.utime(older / "manifest.json", (1_000_000, 1_000_000))
    broken = bundle(models / "runs" / "broken-newest", "learned-broken")
    (broken / "model.joblib").write_bytes(b"garbage")
    bundle(models / "current", "learned-current")
    _set("escalate_below", 2.0)(models / "current")
    assert newer.exists()
    with running_api(f"sqlite:///{tmp_path / 'store.db'}", tmp_path) as api:
        assert served_version(api) == "learned-newer"
        ready = api.client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        reason = ready.json()["checks"]["model"]
        assert "current refused" in reason and "escalate_below" in reason and "runs/newer" in reason
        model = api.get("/v1/model", role="analyst").json()
        assert model["version"] == "learned-newer" and model["source"] == "runs/newer"
        assert model["degraded"] == reason.split(": ", 1)[1]
        assert str(tmp_path) not in ready.text + json.dumps(model)
        # A good bundle reloaded ends the degraded state.
        bundle(models / "fixed", "learned-fixed")
        assert reload(api, "fixed").status_code == 200
        assert api.client.get("/readyz").json()["status"] == "ready"


def test_start_up_without_any_good_bundle_serves_the_baseline_degraded(tmp_path: Path) -> None:
    bundle(tmp_path / "models" / "current", "learned-current")
    (tmp_path / "models" / "current" / "model.joblib").write_bytes(b"")
    with running_api(f"sqlite:///{tmp_path / 'store.db'}", tmp_path) as api:
        assert api.get("/v1/model", role="analyst").json()["ranker"] == "baseline"
        ready = api.client.get("/readyz").json()
        assert ready["status"] == "degraded" and "serving the baseline ranker" in ready["checks"]["model"]


def test_a_degraded_service_serves_a_repaired_current_bundle_when_it_appears(tmp_path: Path) -> None:
    models = tmp_path / "models"
    bundle(models / "current", "learned-current")
    (models / "current" / "model.joblib").write_bytes(b"truncated")
    with running_api(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, app_options={"refresh_seconds": 0.1}) as api:
        assert api.client.get("/readyz").json()["status"] == "degraded"
        time.sleep(0.3)  # the broken current is tried once by the follower, refused, and not tried again
        shutil.rmtree(models / "current")
        bundle(models / "current", "learned-repaired")
        deadline = time.monotonic() + 10
        while served_version(api) != "learned-repaired" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert served_version(api) == "learned-repaired"
        assert api.client.get("/readyz").json()["status"] == "ready"
