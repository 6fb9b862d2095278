"""The matching engine: problems in, ranked and explained institutions (or an escalation) out.

``Matcher(ranker).fit(institutions, outcomes, problems).recommend(problems, k)`` runs the pipeline, one
module or package a step, in this order:

    normalise.py      text: Unicode and width folding, tokens, Chinese character n-grams
    understand/       validate and prepare problems; detect needs with the bilingual lexicon; the evidence
                      that a text states a need at all
    retrieve.py       TF-IDF over institution profiles; the candidate score; top-k per problem
    eligibility.py    hard and soft rules: active, region, sector, amount, capacity
    features/         the one feature function for a (problem, institution) pair, and what outcome history says
    rank/             rankers (baseline, text-only, learned) and the model bundles they load from
    explain/          reasons per pair and per escalation, as data rendered in English or Chinese
    assign.py         capacity-aware assignment for batch runs (one institution a problem)

Beside the steps: ``records.py`` (the domain's vocabularies and records), ``catalogue.py`` (the institutions as
arrays), ``errors.py``, and ``tables/`` (the four tables read from and written to CSV or Parquet, and fitting
a matcher on them). Imports neither ``service`` nor ``training`` and knows no HTTP, database or MLflow.
"""

from matching.errors import IncompatibleModel, InvalidInput, Issue, ModelError, NotFittedError, SmematchError
from matching.features.pairs import FEATURE_NAMES, pair_features, track_record, track_record_asof
from matching.matcher import Candidates, Matcher
from matching.rank.rankers import (
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
