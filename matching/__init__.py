"""The matching engine: text, problem understanding, retrieval, eligibility, features, ranking, explanation.

Imports neither ``service`` nor ``training`` and knows no HTTP, database or MLflow. Public entry points are
re-exported here; see ``Matcher`` for the pipeline.
"""

from matching.errors import IncompatibleModel, InvalidInput, Issue, ModelError, NotFittedError, SmematchError
from matching.features import FEATURE_NAMES, pair_features, track_record, track_record_asof
from matching.matcher import Candidates, Matcher
from matching.ranking import (
    BaselineRanker,
    LearnedRanker,
    Ranker,
    TextOnlyRanker,
    load_bundle,
    save_bundle,
)
from matching.records import Problem, RankedInstitution, Recommendation

__all__ = [
    "Matcher",
    "Candidates",
    "Problem",
    "Recommendation",
    "RankedInstitution",
    "Ranker",
    "BaselineRanker",
    "TextOnlyRanker",
    "LearnedRanker",
    "load_bundle",
    "save_bundle",
    "FEATURE_NAMES",
    "pair_features",
    "track_record",
    "track_record_asof",
    "SmematchError",
    "InvalidInput",
    "Issue",
    "NotFittedError",
    "ModelError",
    "IncompatibleModel",
]
