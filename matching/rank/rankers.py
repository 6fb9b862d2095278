"""Rankers: anything with ``score(features) -> array`` over the frame of ``matching.features.pairs``.

    Ranker (Protocol)         name, version, escalate_below, score(features)
     ├── BaselineRanker       text similarity + category-kind prior; needs no training (cold start)
     ├── TextOnlyRanker       text similarity alone: the yardstick every trained model must beat
     └── LearnedRanker        a fitted scikit-learn classifier's calibrated P(solved), from a bundle

Bundles (``save_bundle``/``load_bundle``) are a folder with ``model.joblib`` and ``manifest.json`` (version,
feature names, metrics, data digest, scikit-learn version, a sha256 checksum of the model file); a bundle whose
library version or features do not match this code is refused with ``IncompatibleModel``, one whose manifest
fails its schema or whose files fail the checksum with ``ModelError``, before anything is unpickled
(``matching.rank.manifest``).
"""

from __future__ import annotations

import json
import warnings
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import joblib
import numpy as np
import pandas as pd
import sklearn
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from threadpoolctl import ThreadpoolController

from matching.eligibility import RULES
from matching.errors import IncompatibleModel, ModelError, NotFittedError
from matching.features.pairs import FEATURE_NAMES
from matching.rank.manifest import file_checksums, read_manifest, verify_checksum

__all__ = [
    "Ranker",
    "BaselineRanker",
    "TextOnlyRanker",
    "LearnedRanker",
    "save_bundle",
    "load_bundle",
    "MODEL_FILE",
    "MANIFEST_FILE",
]

MODEL_FILE = "model.joblib"
SUCCESS_FILE = "success.joblib"
MANIFEST_FILE = "manifest.json"


@runtime_checkable
class Ranker(Protocol):
    name: str
    version: str
    escalate_below: float

    def score(self, features: pd.DataFrame) -> np.ndarray: ...


class BaselineRanker:
    """A weighted sum of text similarity, category-kind prior, category overlap and fit, in [0, 1]."""

    name = "baseline"
    version = "baseline-1"

    def __init__(self, *, escalate_below: float = 0.33, similarity_scale: float = 0.25) -> None:
        self.escalate_below = escalate_below
        self.similarity_scale = similarity_scale

    def score(self, features: pd.DataFrame) -> np.ndarray:
        text = np.clip(features["text_similarity"].to_numpy() / self.similarity_scale, 0.0, 1.0)
        amount = np.nan_to_num(features["amount_fit"].to_numpy(), nan=0.5)
        return (
            0.25 * features["kind_prior"].to_numpy()
            + 0.30 * features["category_overlap"].to_numpy()
            + 0.30 * text
            + 0.05 * features["sector_fit"].to_numpy()
            + 0.05 * features["region_fit"].to_numpy()
            + 0.05 * amount
        )


class TextOnlyRanker:
    """Text similarity alone (the text-only baseline of every evaluation)."""

    name = "text_only"
    version = "text-only-1"

    def __init__(self, *, escalate_below: float = 0.02) -> None:
        self.escalate_below = escalate_below

    def score(self, features: pd.DataFrame) -> np.ndarray:
        return features["text_similarity"].to_numpy(dtype=np.float64)


class _Probability:
    """One fitted classifier's probability of class 1, computed as ``predict_proba`` does but, for the
    calibrated trees ``training.train`` fits, on a float array without the per-call checks."""

    def __init__(self, estimator: Any, threads: int) -> None:
        self.estimator = estimator
        self.threads = threads
        self._direct = _calibrated_parts(estimator)
        self._trees = _tree_parts(self._direct[0]) if self._direct is not None else None
        # A sigmoid calibrator's own computation, without its per-call input check (which a one-problem call pays).
        calibrator = self._direct[1] if self._direct is not None else None
        self._sigmoid = ((float(calibrator.a_), float(calibrator.b_))
                         if type(calibrator).__name__ == "_SigmoidCalibration" else None)

    def __call__(self, features: pd.DataFrame, matrix: np.ndarray) -> np.ndarray:
        if not hasattr(self.estimator, "predict_proba"):
            raise NotFittedError("the estimator has no predict_proba: is it fitted?")
        if self._direct is None:
            # Tree ensembles open an OpenMP region per tree: on a busy or shared machine the threads wait for
            # each other's cores and one request's scoring goes from milliseconds to a second. One thread is
            # steady.
            with _openmp_threads(self.threads):
                return self.estimator.predict_proba(features)[:, 1]
        # The same computation as predict_proba (tests/test_bundle.py checks they agree), on a float array: the
        # checks predict_proba makes on a frame, three times over (calibration, frozen model, trees), cost as
        # much as the trees themselves on a request's pairs (benchmarks/bench_api.py).
        base, calibrator = self._direct
        if self._trees is not None:
            # Each tree is told its thread count: no OpenMP limit to set and lift around them.
            raw = _sum_of_trees(self._trees, matrix, max(1, self.threads))
        else:
            with _openmp_threads(self.threads), warnings.catch_warnings(), \
                    sklearn.config_context(skip_parameter_validation=True):
                # The model was fitted on a frame: it warns that an array has no column names. The columns
                # are the bundle's feature names, in order, selected by the caller.
                warnings.filterwarnings("ignore", message="X does not have valid feature names")
                raw = base.decision_function(matrix)
        if self._sigmoid is not None:
            slope, intercept = self._sigmoid
            return np.asarray(expit(-(slope * raw + intercept)), dtype=np.float64)
        return np.asarray(calibrator.predict(raw), dtype=np.float64)


class LearnedRanker:
    """Fitted classifiers with ``predict_proba``; the score is the probability that the pair ends solved.

    ``estimator`` gives P(the institution takes the case up); ``success_estimator``, when there is one,
    P(solved | taken up), and the score is their product (without it, the score is ``estimator``'s own).
    ``need_evidence_below``: problems whose text evidence (``matching.understand.evidence``) is at most this are
    escalated for a better description, whatever the scores; set from held-out problems when training."""

    name = "learned"

    def __init__(
        self,
        estimator: Any,
        *,
        version: str,
        feature_names: tuple[str, ...] = FEATURE_NAMES,
        escalate_below: float = 0.1,
        manifest: dict[str, Any] | None = None,
        threads: int = 1,
        success_estimator: Any = None,
        need_evidence_below: float = 0.0,
        soft_rules: tuple[str, ...] = (),
    ) -> None:
        self.soft_rules = tuple(soft_rules)  # eligibility rules it was trained to score rather than enforce
        self.estimator = estimator
        self.success_estimator = success_estimator
        self.threads = threads
        self.version = version
        self.feature_names = tuple(feature_names)
        self.escalate_below = escalate_below
        self.need_evidence_below = need_evidence_below
        self.manifest = dict(manifest or {})
        self._ordered_columns: pd.Index | None = None  # the last column index seen in the bundle's order
        self._stages = [_Probability(e, threads) for e in (estimator, success_estimator) if e is not None]

    def score(self, features: pd.DataFrame) -> np.ndarray:
        return self.score_parts(features)[0]

    def score_parts(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(score, fit): the score, and what ``escalate_below`` is compared with: P(solved | taken up) where
        there is a success stage (nobody who takes the case up would solve it: escalate), else 1 (the take-up
        stage says who serves such a case, not whether anyone can solve it)."""
        if len(features) == 0:
            return np.zeros(0), np.zeros(0)
        if features.columns is not self._ordered_columns:  # ``pair_features`` reuses one column index
            if tuple(features.columns) != self.feature_names:
                features = features.loc[:, list(self.feature_names)]
            else:
                self._ordered_columns = features.columns
        matrix = np.ascontiguousarray(features.to_numpy(dtype=np.float64))
        take_up = self._stages[0](features, matrix)
        if len(self._stages) == 1:
            return take_up, np.ones(len(take_up))
        success = self._stages[1](features, matrix)
        return take_up * success, success


def _calibrated_parts(estimator: Any) -> tuple[Any, Any] | None:
    """(fitted binary classifier, its calibrator) of a one-fold ``CalibratedClassifierCV`` around a frozen
    model (what ``training.train`` fits); ``None`` for anything else, which is scored with ``predict_proba``."""
    folds = getattr(estimator, "calibrated_classifiers_", None)
    if not isinstance(folds, list) or len(folds) != 1:
        return None
    fold = folds[0]
    base = fold.estimator.estimator if isinstance(fold.estimator, FrozenEstimator) else fold.estimator
    calibrators = getattr(fold, "calibrators", ())
    classes = getattr(base, "classes_", ())
    if (len(calibrators) != 1 or len(classes) != 2 or getattr(fold, "method", None) not in ("sigmoid", "isotonic")
            or not hasattr(base, "decision_function") or list(classes) != list(getattr(estimator, "classes_", ()))):
        return None
    return base, calibrators[0]


def _tree_parts(base: Any) -> tuple[Any, ...] | None:
    """What ``_sum_of_trees`` needs from a fitted binary ``HistGradientBoostingClassifier`` without categorical
    features: (baseline, trees, known-category bitsets, feature map); ``None`` for anything else."""
    if not isinstance(base, HistGradientBoostingClassifier) or getattr(base, "n_trees_per_iteration_", 0) != 1:
        return None
    if getattr(base, "is_categorical_", None) is not None or not hasattr(base, "_predictors"):
        return None
    try:
        known, feature_map = base._bin_mapper.make_known_categories_bitsets()
        parts = (base._baseline_prediction, [trees[0] for trees in base._predictors], known, feature_map)
        probe = np.random.default_rng(0).normal(size=(64, base.n_features_in_))
        probe[::7, ::3] = np.nan
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            agrees = np.array_equal(_sum_of_trees(parts, probe), base.decision_function(probe))
    except Exception:  # another scikit-learn inside: the public path serves
        return None
    return parts if agrees else None


def _sum_of_trees(parts: tuple[Any, ...], matrix: np.ndarray, threads: int = 1) -> np.ndarray:
    """The raw score of ``decision_function`` for a C-contiguous float64 array: the baseline plus every tree's
    leaf value, added in the same order (so the same floats), without the per-call input checks and
    conversions around the trees, a large share of scoring a request's pairs (``benchmarks/bench_api.py``). Private
    scikit-learn structures: ``_tree_parts`` checks the result against ``decision_function`` at load."""
    baseline, trees, known, feature_map = parts
    raw = np.zeros((matrix.shape[0], 1), dtype=baseline.dtype, order="F")
    raw += baseline
    column = raw[:, 0]
    for tree in trees:
        column += tree.predict(matrix, known, feature_map, threads)
    return raw.ravel()


_controller: ThreadpoolController | None = None


def _openmp_threads(threads: int) -> AbstractContextManager[object]:
    """Limit OpenMP to ``threads`` while scoring (a controller built once, on first use, not per call)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=threads, user_api="openmp")


def save_bundle(
    ranker: LearnedRanker,
    directory: str | Path,
    *,
    metrics: dict[str, float] | None = None,
    data_digest: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.joblib`` and ``manifest.json`` into ``directory`` (created); returns the folder."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "version": ranker.version,
        "feature_names": list(ranker.feature_names),
        "escalate_below": ranker.escalate_below,
        "need_evidence_below": ranker.need_evidence_below,
        "soft_rules": list(ranker.soft_rules),
        "stages": ["take_up", "success"] if ranker.success_estimator is not None else ["take_up"],
        "metrics": dict(metrics or {}),
        "data_digest": data_digest,
        "sklearn_version": sklearn.__version__,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **dict(extra or {}),
    }
    # Write to temporary names first, then rename: a reader never sees half a bundle.
    model_tmp, manifest_tmp = folder / (MODEL_FILE + ".tmp"), folder / (MANIFEST_FILE + ".tmp")
    success_tmp = folder / (SUCCESS_FILE + ".tmp")
    joblib.dump(ranker.estimator, model_tmp, compress=3)
    written = {MODEL_FILE: model_tmp}
    if ranker.success_estimator is not None:
        joblib.dump(ranker.success_estimator, success_tmp, compress=3)
        written[SUCCESS_FILE] = success_tmp
    manifest["checksum"] = file_checksums(written)
    manifest_tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    model_tmp.replace(folder / MODEL_FILE)
    if ranker.success_estimator is not None:
        success_tmp.replace(folder / SUCCESS_FILE)
    else:
        (folder / SUCCESS_FILE).unlink(missing_ok=True)
    manifest_tmp.replace(folder / MANIFEST_FILE)
    ranker.manifest = manifest
    return folder


def load_bundle(directory: str | Path) -> LearnedRanker:
    """Load and check a bundle: same scikit-learn version, same feature names, and a smoke prediction."""
    folder = Path(directory)
    manifest = read_manifest(folder, name=MANIFEST_FILE)
    built_with = manifest.get("sklearn_version")
    if built_with != sklearn.__version__:
        raise IncompatibleModel(
            f"model bundle at {folder} was built with scikit-learn {built_with}; "
            f"this process runs {sklearn.__version__}"
        )
    features = tuple(manifest.get("feature_names") or ())
    if features != FEATURE_NAMES:
        missing = sorted(set(FEATURE_NAMES) - set(features))
        unknown = sorted(set(features) - set(FEATURE_NAMES))
        raise IncompatibleModel(
            f"model bundle at {folder} does not match the engine's features: missing from the bundle: "
            f"{', '.join(missing) or 'none'}; unknown to the engine: {', '.join(unknown) or 'none'}"
            + ("" if missing or unknown else "; the same names in another order")
        )
    stages = manifest.get("stages") or ["take_up"]
    verify_checksum(folder, manifest, required=(MODEL_FILE, *((SUCCESS_FILE,) if "success" in stages else ())))
    try:
        estimator = joblib.load(folder / MODEL_FILE)
    except FileNotFoundError:
        raise ModelError(f"no model bundle at {folder}: {MODEL_FILE} is missing") from None
    except Exception as error:  # a corrupt pickle can raise nearly anything
        raise ModelError(f"model bundle at {folder} could not be loaded: {type(error).__name__}: {error}") from None
    success = None
    if "success" in stages:
        try:
            success = joblib.load(folder / SUCCESS_FILE)
        except FileNotFoundError:
            raise ModelError(f"model bundle at {folder}: {SUCCESS_FILE} is missing") from None
        except Exception as error:
            raise ModelError(f"model bundle at {folder}: {SUCCESS_FILE} could not be loaded: "
                             f"{type(error).__name__}: {error}") from None
    try:
        thresholds = {name: float(manifest.get(name, default))
                      for name, default in (("escalate_below", 0.1), ("need_evidence_below", 0.0))}
    except (TypeError, ValueError) as error:
        raise ModelError(f"model bundle at {folder}: a threshold in the manifest is not a number: {error}") from None
    soft_rules = manifest.get("soft_rules") or []
    if not isinstance(soft_rules, list) or not set(map(str, soft_rules)) <= set(RULES):
        raise ModelError(f"model bundle at {folder}: soft_rules must be a list of {', '.join(RULES)}; "
                         f"got {soft_rules!r}")
    ranker = LearnedRanker(
        estimator,
        version=str(manifest.get("version", "unknown")),
        feature_names=features,
        manifest=manifest,
        success_estimator=success,
        soft_rules=tuple(map(str, soft_rules)),
        **thresholds,
    )
    smoke = pd.DataFrame(np.zeros((2, len(features))), columns=list(features))
    try:
        scores = ranker.score(smoke)
    except Exception as error:
        detail = f"{type(error).__name__}: {error}"
        raise ModelError(f"model bundle at {folder} fails a smoke prediction: {detail}") from None
    if scores.shape != (2,) or not np.all(np.isfinite(scores)):
        raise ModelError(f"model bundle at {folder} returns invalid scores on a smoke prediction")
    return ranker
