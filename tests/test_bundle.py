"""Model bundles: a learned ranker round-trips through a folder, and a bundle that does not fit is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from matching import (
    FEATURE_NAMES,
    IncompatibleModel,
    LearnedRanker,
    Matcher,
    ModelError,
    Problem,
    load_bundle,
    save_bundle,
)

from engine_fixtures import city_institutions


def fitted_ranker() -> LearnedRanker:
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.random((200, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    target = (features["kind_prior"] + 0.2 * rng.random(200) > 0.6).astype(int)
    model = make_pipeline(SimpleImputer(fill_value=0.0, strategy="constant", keep_empty_features=True),
                          LogisticRegression()).fit(features, target)
    return LearnedRanker(model, version="test-1", escalate_below=0.05)


def test_a_saved_bundle_loads_and_scores_the_same(tmp_path: Path) -> None:
    ranker = fitted_ranker()
    save_bundle(ranker, tmp_path, metrics={"ndcg_at_5": 0.5}, data_digest="abc")
    loaded = load_bundle(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["metrics"] == {"ndcg_at_5": 0.5} and manifest["data_digest"] == "abc"
    assert loaded.version == "test-1"
    matcher = Matcher(loaded).fit(city_institutions())
    frame = pd.DataFrame(np.random.default_rng(1).random((5, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    assert np.allclose(loaded.score(frame), ranker.score(frame))
    (result,) = matcher.recommend(Problem(text="loan"), k=2)
    assert result.model_version == "test-1"


def test_a_bundle_from_another_sklearn_version_is_refused(tmp_path: Path) -> None:
    save_bundle(fitted_ranker(), tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["sklearn_version"] = "0.1.0"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleModel, match="scikit-learn 0.1.0"):
        load_bundle(tmp_path)


def test_a_bundle_with_other_features_is_refused(tmp_path: Path) -> None:
    save_bundle(fitted_ranker(), tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["feature_names"] = manifest["feature_names"][:-1] + ["shoe_size"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleModel, match="shoe_size"):
        load_bundle(tmp_path)


def test_a_corrupt_model_file_is_refused(tmp_path: Path) -> None:
    save_bundle(fitted_ranker(), tmp_path)
    (tmp_path / "model.joblib").write_bytes(b"not a pickle at all")
    with pytest.raises(ModelError, match="checksum mismatch for model.joblib"):
        load_bundle(tmp_path)


def test_a_missing_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="manifest.json is missing"):
        load_bundle(tmp_path / "nowhere")


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_the_trained_model_scores_as_its_predict_proba(calibration: str) -> None:
    """The learned ranker scores trained models on a float array, past predict_proba's frame checks: the
    scores must be predict_proba's, missing values included."""
    from dataclasses import replace

    from training.config import load_config
    from training.train import fit_classifier

    config = load_config()
    config = replace(config, model=replace(config.model, max_iter=30, calibration=calibration))
    rng = np.random.default_rng(3)
    features = pd.DataFrame(rng.random((600, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    features = features.mask(rng.random(features.shape) < 0.1)
    labels = ((features["text_similarity"].fillna(0.5) + 0.3 * rng.random(600)) > 0.7).astype(int).to_numpy()
    weights = np.ones(600)
    model = fit_classifier(features[:400], labels[:400], weights[:400], features[400:], labels[400:],
                           weights[400:], config=config)
    ranker = LearnedRanker(model, version="direct-1")
    stage = ranker._stages[0]
    assert stage._direct is not None and stage._trees is not None  # the direct paths are the ones taken
    shuffled = features.sample(frac=1.0, axis=1, random_state=0)  # columns in another order
    expected = model.predict_proba(features)[:, 1]
    assert np.array_equal(ranker.score(shuffled), expected)
    assert len(np.unique(expected)) > 5  # isotonic makes steps, sigmoid a smooth range


def test_a_calibrated_model_without_trees_is_scored_through_its_own_decision_function() -> None:
    """The tree-by-tree path serves only gradient-boosted trees; another calibrated classifier keeps the public
    path, with the same scores as its predict_proba."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    rng = np.random.default_rng(5)
    features = pd.DataFrame(rng.random((300, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    labels = (features["text_similarity"] + 0.3 * rng.random(300) > 0.7).astype(int).to_numpy()
    linear = LogisticRegression(max_iter=500).fit(features[:200], labels[:200])
    model = CalibratedClassifierCV(FrozenEstimator(linear), method="sigmoid").fit(features[200:], labels[200:])
    ranker = LearnedRanker(model, version="linear-1")
    assert ranker._stages[0]._direct is not None and ranker._stages[0]._trees is None
    assert np.allclose(ranker.score(features), model.predict_proba(features)[:, 1], rtol=0, atol=1e-12)
