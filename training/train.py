"""The learned ranker: gradient-boosted trees on the engine's features, calibrated on later outcomes.

Input: a ``PairData`` (``training.dataset``) and a ``TrainingConfig``. Output: a ``matching.LearnedRanker``
that scores P(the pair ends solved) as the product of two stages, each a scikit-learn ``CalibratedClassifierCV``
around a ``HistGradientBoostingClassifier``:

- *take-up*: P(the institution takes the case up), learnt from tried pairs (accepted, solved or failed: 1;
  contacted or declined: 0) and untried candidates (0): who serves such a case;
- *success*: P(solved | taken up), learnt from the pairs taken up that ended (solved: 1, failed: 0); left out
  when the earlier outcomes hold no such contrast (e.g. every case ended the same way).

For each stage:

- the trees learn P(solved) on the *train* part (IPW sample weights when enabled), with fixed iterations and no
  random early-stopping split, ``random_state`` from the seed: the same data and config give the same model;
- the probabilities are calibrated on the *calibration* part, which is later in time than the train part
  (a time-held-out step: ``FrozenEstimator`` + ``CalibratedClassifierCV``), by a sigmoid (order-preserving, so
  the ranking is the trees' own) or isotonic map, as configured.

The ranker's ``need_evidence_below`` (below it a text is sent back for a description, ``matching.understand.evidence``)
is learnt from held-out problems: a quarter of the evidence of the 1st permille of the calibration and evaluation
problems, so that real problems are (nearly) never sent back, while a text with no known word or need is.

Its ``escalate_below`` (a problem none of whose candidates reaches it in P(solved | taken up) is escalated:
nobody who would take it up would solve it) is the configured value,
or a quarter of the 1st permille of the scores of the evaluation part's pairs that were taken up where that is
lower (the same margin as the evidence floor, for the same reason: later cases differ from earlier ones).

Only scikit-learn objects are pickled, so ``matching.load_bundle`` needs nothing from ``training``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator

from matching import FEATURE_NAMES, LearnedRanker
from matching.understand.evidence import text_evidence
from training.config import TrainingConfig
from training.dataset import PairData

__all__ = ["fit_classifier", "fit_learned_ranker", "need_evidence_floor", "EVIDENCE_QUANTILE"]

EVIDENCE_QUANTILE = 0.001
# A quarter of it: new cases use words the profiles (built from earlier ones) lack, and go to institutions new
# to the records, so later problems' evidence and scores run lower than the held-out ones' (Kiva from 2016:
# benchmarks/bench_realdata.py); nonsense has no evidence at all.
EVIDENCE_MARGIN = 0.25
SCORE_QUANTILE = 0.001


def fit_classifier(
    train_features: pd.DataFrame,
    train_labels: np.ndarray,
    train_weights: np.ndarray,
    calibration_features: pd.DataFrame,
    calibration_labels: np.ndarray,
    calibration_weights: np.ndarray,
    *,
    config: TrainingConfig,
    max_iter: int | None = None,
) -> CalibratedClassifierCV:
    """Trees on the train part, probabilities calibrated on the (later) calibration part."""
    model = config.model
    trees = HistGradientBoostingClassifier(
        learning_rate=model.learning_rate,
        max_iter=max_iter or model.max_iter,
        max_leaf_nodes=model.max_leaf_nodes,
        min_samples_leaf=model.min_samples_leaf,
        l2_regularization=model.l2_regularization,
        max_bins=model.max_bins,
        early_stopping=False,
        random_state=config.seed,
    )
    features = train_features.loc[:, list(FEATURE_NAMES)]
    # A feature the data never fills (no revenue in the records, say) cannot be binned: constant 0 instead,
    # which the trees never split on; served values of it then change nothing.
    empty = [c for c in features.columns if features[c].isna().all()]
    features = _filled(features, empty)
    trees.fit(features, np.asarray(train_labels),
              sample_weight=np.asarray(train_weights, dtype=np.float64))
    calibrated = CalibratedClassifierCV(FrozenEstimator(trees), method=model.calibration)
    with warnings.catch_warnings():
        # The weights are meant for the calibration map only: the frozen trees are not refitted.
        warnings.filterwarnings("ignore", message="Since FrozenEstimator", category=UserWarning)
        calibrated.fit(calibration_features.loc[:, list(FEATURE_NAMES)], np.asarray(calibration_labels),
                       sample_weight=np.asarray(calibration_weights, dtype=np.float64))
    if model.refit_with_calibration:
        # The calibration part is the latest before the evaluation: trees that never saw it miss what changed
        # last (institutions that began taking cases up). Trees of the same settings on both parts keep the
        # calibration map (fitted on the first trees' raw scores, which share their scale).
        both = pd.concat([features, _filled(calibration_features.loc[:, list(FEATURE_NAMES)], empty)])
        refitted = clone(trees).fit(both, np.concatenate([np.asarray(train_labels), np.asarray(calibration_labels)]),
                                    sample_weight=np.concatenate([np.asarray(train_weights, dtype=np.float64),
                                                                  np.asarray(calibration_weights, dtype=np.float64)]))
        calibrated.calibrated_classifiers_[0].estimator = FrozenEstimator(refitted)
    return calibrated


def _filled(features: pd.DataFrame, empty: list[str]) -> pd.DataFrame:
    return features.assign(**{c: 0.0 for c in empty}) if empty else features


def fit_learned_ranker(data: PairData, *, config: TrainingConfig, version: str) -> LearnedRanker:
    """Fit both stages on ``data``'s train and calibration parts; the evaluation part only sets the score floor."""
    train_pairs, train_features = data.split("train")
    calibration_pairs, calibration_features = data.split("calibration")
    take_up = fit_classifier(
        train_features, train_pairs["taken_up"].to_numpy(), train_pairs["weight"].to_numpy(),
        calibration_features, calibration_pairs["taken_up"].to_numpy(), calibration_pairs["weight"].to_numpy(),
        config=config,
    )
    train_ended = (train_pairs["taken_up"].astype(bool) & train_pairs["ended"].astype(bool)).to_numpy()
    calibration_ended = (calibration_pairs["taken_up"].astype(bool)
                         & calibration_pairs["ended"].astype(bool)).to_numpy()
    success = None
    if config.model.success_stage != "never" and (train_pairs.loc[train_ended, "solved"].nunique() == 2
            and calibration_pairs.loc[calibration_ended, "solved"].nunique() == 2):
        success = fit_classifier(
            train_features[train_ended], train_pairs.loc[train_ended, "solved"].to_numpy(),
            train_pairs.loc[train_ended, "weight"].to_numpy(), calibration_features[calibration_ended],
            calibration_pairs.loc[calibration_ended, "solved"].to_numpy(),
            calibration_pairs.loc[calibration_ended, "weight"].to_numpy(),
            config=config, max_iter=config.model.success_max_iter,
        )
    ranker = LearnedRanker(take_up, success_estimator=success, version=version,
                           escalate_below=config.model.escalate_below, need_evidence_below=need_evidence_floor(data),
                           soft_rules=data.matcher.soft_rules_)
    # The score floor below which a problem is escalated: the configured one, or lower where the held-out cases
    # that were taken up score lower (a probability's scale depends on the data: how many institutions compete).
    # Held out means the evaluation part: the trees may have seen the calibration part (refit_with_calibration).
    evaluation_pairs, evaluation_features = data.split("evaluation")
    taken = evaluation_pairs["taken_up"].astype(bool).to_numpy() & evaluation_pairs["tried"].astype(bool).to_numpy()
    if taken.any():
        held_out = ranker.score_parts(evaluation_features[taken])[1]
        ranker.escalate_below = float(min(config.model.escalate_below,
                                          EVIDENCE_MARGIN * np.quantile(held_out, SCORE_QUANTILE)))
    return ranker


def need_evidence_floor(data: PairData) -> float:
    """A quarter of the text evidence of the ``EVIDENCE_QUANTILE`` of held-out problems (calibration and evaluation)."""
    rows = np.flatnonzero(data.problems["split"].isin(("calibration", "evaluation")).to_numpy())
    if len(rows) == 0:
        return 0.0
    evidence = text_evidence(data.prepared, rows, data.matcher.catalogue_.index)
    return float(EVIDENCE_MARGIN * np.quantile(evidence, EVIDENCE_QUANTILE))
