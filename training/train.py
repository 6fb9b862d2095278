"""The learned ranker: gradient-boosted trees on the engine's features, calibrated on later outcomes.

Input: a ``PairData`` (``training.dataset``) and a ``TrainingConfig``. Output: a ``matching.LearnedRanker``
whose estimator is a scikit-learn ``CalibratedClassifierCV`` around a ``HistGradientBoostingClassifier``:

- the trees learn P(solved) on the *train* part (IPW sample weights when enabled), with fixed iterations and no
  random early-stopping split, ``random_state`` from the seed: the same data and config give the same model;
- the probabilities are calibrated on the *calibration* part, which is later in time than the train part
  (a time-held-out step: ``FrozenEstimator`` + ``CalibratedClassifierCV``), by a sigmoid (order-preserving, so
  the ranking is the trees' own) or isotonic map, as configured.

Only scikit-learn objects are pickled, so ``matching.load_bundle`` needs nothing from ``training``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator

from matching import FEATURE_NAMES, LearnedRanker
from training.config import TrainingConfig
from training.dataset import PairData

__all__ = ["fit_classifier", "fit_learned_ranker"]


def fit_classifier(
    train_features: pd.DataFrame,
    train_labels: np.ndarray,
    train_weights: np.ndarray,
    calibration_features: pd.DataFrame,
    calibration_labels: np.ndarray,
    calibration_weights: np.ndarray,
    *,
    config: TrainingConfig,
) -> CalibratedClassifierCV:
    """Trees on the train part, probabilities calibrated on the (later) calibration part."""
    model = config.model
    trees = HistGradientBoostingClassifier(
        learning_rate=model.learning_rate,
        max_iter=model.max_iter,
        max_leaf_nodes=model.max_leaf_nodes,
        min_samples_leaf=model.min_samples_leaf,
        l2_regularization=model.l2_regularization,
        max_bins=model.max_bins,
        early_stopping=False,
        random_state=config.seed,
    )
    trees.fit(train_features.loc[:, list(FEATURE_NAMES)], np.asarray(train_labels),
              sample_weight=np.asarray(train_weights, dtype=np.float64))
    calibrated = CalibratedClassifierCV(FrozenEstimator(trees), method=model.calibration)
    with warnings.catch_warnings():
        # The weights are meant for the calibration map only: the frozen trees are not refitted.
        warnings.filterwarnings("ignore", message="Since FrozenEstimator", category=UserWarning)
        calibrated.fit(calibration_features.loc[:, list(FEATURE_NAMES)], np.asarray(calibration_labels),
                       sample_weight=np.asarray(calibration_weights, dtype=np.float64))
    return calibrated


def fit_learned_ranker(data: PairData, *, config: TrainingConfig, version: str) -> LearnedRanker:
    """Fit on ``data``'s train and calibration parts; the evaluation part is not touched."""
    train_pairs, train_features = data.split("train")
    calibration_pairs, calibration_features = data.split("calibration")
    estimator = fit_classifier(
        train_features, train_pairs["solved"].to_numpy(), train_pairs["weight"].to_numpy(),
        calibration_features, calibration_pairs["solved"].to_numpy(), calibration_pairs["weight"].to_numpy(),
        config=config,
    )
    return LearnedRanker(estimator, version=version, escalate_below=config.model.escalate_below)
