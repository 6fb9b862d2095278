"""The entry object of the engine: ``Matcher(ranker).fit(institutions).recommend(problems, k)``.

One path for the API, the CLI and batch runs: validate and prepare the problems, retrieve candidates with one
sparse product per chunk of problems, filter them by eligibility, featurise the pairs with the one feature
function, rank them with the ranker (the baseline when none is given), diversify kinds, explain, and escalate
when nothing fits. Chunks keep memory bounded: at most ``chunk_cells`` problem-institution scores at once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching.catalogue import Catalogue, build_catalogue
from matching.eligibility import RULE_TEXT, RULES, combine, eligibility_masks
from matching.errors import NotFittedError
from matching.explain import CATEGORY_THRESHOLD, diversify, reasons_for
from matching.features import FEATURE_NAMES, pair_features, track_record
from matching.lexicon import CategoryDetector, kind_prior
from matching.problems import PreparedProblems, as_problem_frame, prepare_problems, validate_problems
from matching.ranking import BaselineRanker, Ranker
from matching.records import CATEGORIES, INSTITUTION_KINDS, Problem, RankedInstitution, Recommendation
from matching.retrieval import top_k
from matching.text import readable_terms

__all__ = ["Matcher", "Candidates"]

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass(slots=True)
class Candidates:
    """Eligible candidate pairs of a chunk of problems, grouped by problem (rows ascending)."""

    problem_rows: np.ndarray
    institution_rows: np.ndarray
    text_similarity: np.ndarray
    row_max_similarity: np.ndarray  # per pair: the problem's best similarity over all institutions
    excluded: dict[str, np.ndarray]  # rule -> per problem of the chunk, institutions failing it


class Matcher:
    """Recommend institutions for problems. Parameters are stored as given; ``fit`` does the work."""

    def __init__(
        self,
        ranker: Ranker | None = None,
        *,
        n_candidates: int = 40,
        chunk_cells: int = 8_000_000,
        diversify: bool = True,
        gibberish_similarity: float = 0.12,
    ) -> None:
        self.ranker = ranker
        self.n_candidates = n_candidates
        self.chunk_cells = chunk_cells
        self.diversify = diversify
        self.gibberish_similarity = gibberish_similarity

    # -- fitting -----------------------------------------------------------------------------------------
    def fit(
        self,
        institutions: pd.DataFrame,
        *,
        outcomes: pd.DataFrame | None = None,
        regions: Sequence[str] = (),
        load: pd.Series | None = None,
    ) -> Matcher:
        """Index the institutions. ``outcomes`` give the track record; ``regions`` adds known districts
        (e.g. every enterprise's) to those the institutions name; ``load`` is cases taken per institution."""
        self.detector_ = CategoryDetector()
        self.catalogue_: Catalogue = build_catalogue(
            institutions, detector=self.detector_, load=load, extra_regions=regions
        )
        self.track_ = track_record(outcomes, self.catalogue_.ids)
        self.ranker_: Ranker = self.ranker if self.ranker is not None else BaselineRanker()
        return self

    def with_ranker(self, ranker: Ranker) -> Matcher:
        """A matcher sharing this one's fitted catalogue but ranking with ``ranker`` (cheap; for reloads)."""
        self._check()
        other = copy.copy(self)
        other.ranker = ranker
        other.ranker_ = ranker
        return other

    def _check(self) -> None:
        if not hasattr(self, "catalogue_"):
            raise NotFittedError("Matcher is not fitted yet: call fit(institutions) first.")

    @property
    def model_version(self) -> str:
        self._check()
        return self.ranker_.version

    @property
    def regions(self) -> tuple[str, ...]:
        self._check()
        return self.catalogue_.regions

    # -- the pipeline, step by step (training reuses these) ---------------------------------------------
    def prepare(
        self, problems: pd.DataFrame | Sequence[Problem] | Problem, *, k: int | None = None
    ) -> PreparedProblems:
        self._check()
        frame = as_problem_frame(problems)
        validate_problems(frame, regions=self.catalogue_.regions, k=k)
        return prepare_problems(frame, catalogue=self.catalogue_, detector=self.detector_)

    def chunks(self, n_problems: int) -> Iterator[np.ndarray]:
        size = max(1, self.chunk_cells // max(1, len(self.catalogue_)))
        for start in range(0, n_problems, size):
            yield np.arange(start, min(start + size, n_problems))

    def candidates(self, prepared: PreparedProblems, rows: np.ndarray, n: int | None = None) -> Candidates:
        """Top-n eligible institutions per problem by text similarity, category-kind prior and overlap."""
        catalogue = self.catalogue_
        similarity = catalogue.index.similarity(prepared.queries[rows])
        masks = eligibility_masks(prepared, rows, catalogue)
        eligible = combine(masks)
        confidence = prepared.detection.confidence[rows]
        prior = kind_prior(confidence)[:, catalogue.kinds]
        overlap = (confidence @ catalogue.categories.T) / np.maximum(confidence.sum(axis=1), 1.0)[:, None]
        retrieval = 0.3 * prior + 0.35 * overlap + 0.35 * np.clip(similarity / 0.25, 0.0, 1.0)
        retrieval[~eligible] = -1.0
        index, values = top_k(retrieval, n or self.n_candidates)
        keep = values > -1.0
        local = np.broadcast_to(np.arange(len(rows))[:, None], index.shape)[keep]
        institution_rows = index[keep]
        row_max = similarity.max(axis=1) if similarity.shape[1] else np.zeros(len(rows))
        return Candidates(
            problem_rows=rows[local],
            institution_rows=institution_rows,
            text_similarity=similarity[local, institution_rows].astype(np.float64),
            row_max_similarity=row_max[local].astype(np.float64),
            excluded={rule: (~masks[rule]).sum(axis=1) for rule in RULES},
        )

    def features(self, prepared: PreparedProblems, candidates: Candidates) -> pd.DataFrame:
        return pair_features(
            prepared,
            self.catalogue_,
            candidates.problem_rows,
            candidates.institution_rows,
            text_similarity=candidates.text_similarity,
            row_max_similarity=candidates.row_max_similarity,
            institution_track=self.track_,
        )

    # -- recommending -------------------------------------------------------------------------------------
    def recommend(
        self, problems: pd.DataFrame | Sequence[Problem] | Problem, k: int = 5
    ) -> list[Recommendation]:
        """Top-k institutions per problem, explained, or an escalation with its reason; in input order."""
        prepared = self.prepare(problems, k=k)
        results: list[Recommendation] = []
        for rows in self.chunks(len(prepared)):
            results.extend(self._recommend_chunk(prepared, rows, k))
        return results

    def recommend_frame(self, problems: pd.DataFrame, k: int = 5) -> pd.DataFrame:
        """The same as ``recommend``, as one row per problem and rank (an escalated problem: one row, rank 0)."""
        records: list[dict] = []
        frame = as_problem_frame(problems)
        for recommendation, problem_id, enterprise_id in zip(
            self.recommend(frame, k), frame["problem_id"], frame["enterprise_id"], strict=True
        ):
            categories = ";".join(recommendation.categories)
            base = {
                "problem_id": problem_id,
                "enterprise_id": enterprise_id,
                "categories": categories,
                "escalate": recommendation.escalate,
                "escalate_reason": recommendation.escalate_reason,
                "model_version": recommendation.model_version,
            }
            if not recommendation.institutions:
                records.append({**base, "rank": 0, "institution_id": None, "name": None, "kind": None,
                                "score": np.nan, "reasons": ""})
            for item in recommendation.institutions:
                records.append({**base, "rank": item.rank, "institution_id": item.institution_id,
                                "name": item.name, "kind": item.kind, "score": item.score,
                                "reasons": " | ".join(item.reasons)})
        columns = ["problem_id", "enterprise_id", "rank", "institution_id", "name", "kind", "score", "reasons",
                   "categories", "escalate", "escalate_reason", "model_version"]
        return pd.DataFrame.from_records(records, columns=columns)

    def _recommend_chunk(self, prepared: PreparedProblems, rows: np.ndarray, k: int) -> list[Recommendation]:
        catalogue, ranker = self.catalogue_, self.ranker_
        candidates = self.candidates(prepared, rows, max(self.n_candidates, 3 * k))
        features = self.features(prepared, candidates)
        scores = np.asarray(ranker.score(features), dtype=np.float64)
        matrix = features.to_numpy(dtype=np.float64)
        bounds = np.searchsorted(candidates.problem_rows, np.append(rows, rows[-1] + 1))
        out: list[Recommendation] = []
        for local, row in enumerate(rows):
            start, stop = bounds[local], bounds[local + 1]
            confidence = prepared.detection.confidence[row]
            categories = {
                CATEGORIES[c]: float(confidence[c])
                for c in np.argsort(-confidence)
                if confidence[c] >= CATEGORY_THRESHOLD
            }
            excluded = {rule: int(candidates.excluded[rule][local]) for rule in RULES}
            excluded = {rule: n for rule, n in excluded.items() if n}
            problem_id = prepared.frame.at[row, "problem_id"]
            problem_id = None if problem_id is None or pd.isna(problem_id) else str(problem_id)

            def escalation(reason: str, *, _pid=problem_id, _cat=categories, _exc=excluded) -> Recommendation:
                return Recommendation(problem_id=_pid, institutions=(), categories=_cat, escalate=True,
                                      escalate_reason=reason, model_version=ranker.version, excluded=_exc)

            best_similarity = candidates.row_max_similarity[start] if stop > start else 0.0
            if not categories and best_similarity < self.gibberish_similarity:
                out.append(escalation("the text states no need we recognise and matches no institution's profile"))
                continue
            if stop == start:
                detail = ", ".join(f"{RULE_TEXT[r]}: {n}" for r, n in excluded.items()) or "none"
                out.append(escalation(f"no eligible institution in the city (excluded: {detail})"))
                continue
            segment = scores[start:stop]
            order = np.argsort(-segment, kind="stable")
            order = order[segment[order] >= ranker.escalate_below]
            if len(order) == 0:
                out.append(escalation(
                    f"no institution fits well enough (best score {segment.max():.2f} is below "
                    f"{ranker.escalate_below:.2f})"
                ))
                continue
            inst_rows = candidates.institution_rows[start:stop]
            if self.diversify:
                picked = order[diversify(order, catalogue.kinds[inst_rows[order]], confidence, k)]
            else:
                picked = order[:k]
            picked = picked[np.argsort(-segment[picked], kind="stable")]
            track = matrix[start:stop, _COL["track_success_rate"]]
            track_mean = float(track[~np.isnan(track)].mean()) if (~np.isnan(track)).any() else np.nan
            problem_terms = readable_terms(prepared.normalized[row]) + list(prepared.detection.terms[row])
            region_index = prepared.region[row]
            region = catalogue.regions[region_index] if region_index >= 0 else None
            ranked = []
            for rank, position in enumerate(picked, start=1):
                institution = int(inst_rows[position])
                values = dict(zip(FEATURE_NAMES, matrix[start + position], strict=True))
                shared = [t for t in dict.fromkeys(problem_terms) if t in catalogue.terms[institution]][:4]
                reasons = reasons_for(
                    values, {"track_success_rate": track_mean}, kind=int(catalogue.kinds[institution]),
                    institution_categories=catalogue.categories[institution],
                    confidence=confidence, shared_terms=shared, sector=int(prepared.sector[row]),
                    region=region, amount=float(prepared.amount[row]),
                    min_amount=float(catalogue.min_amount[institution]),
                    max_amount=float(catalogue.max_amount[institution]),
                )
                ranked.append(RankedInstitution(
                    institution_id=str(catalogue.ids[institution]), name=str(catalogue.names[institution]),
                    kind=INSTITUTION_KINDS[catalogue.kinds[institution]], score=float(segment[position]),
                    rank=rank, reasons=reasons,
                ))
            out.append(Recommendation(problem_id=problem_id, institutions=tuple(ranked), categories=categories,
                                      model_version=ranker.version, excluded=excluded))
        return out

    def eligibility(self, problem: Problem) -> pd.DataFrame:
        """Every institution with the rules it fails for one problem (empty tuple: eligible)."""
        prepared = self.prepare(problem)
        masks = eligibility_masks(prepared, np.array([0]), self.catalogue_)
        failed = [tuple(rule for rule in RULES if not masks[rule][0, j]) for j in range(len(self.catalogue_))]
        return pd.DataFrame({"institution_id": self.catalogue_.ids, "failed_rules": failed,
                             "eligible": [not f for f in failed]})


