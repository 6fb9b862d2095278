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
from matching.eligibility import RULES, check_rules, combine, eligibility_masks, eligible_matrix
from matching.errors import NotFittedError
from matching.explain.pairs import CATEGORY_THRESHOLD, ChosenPairs, Explanations, diversify, explain_pairs
from matching.explain.reasons import Reason
from matching.features.history import CaseHistory, as_seconds
from matching.features.pairs import FEATURE_NAMES, pair_features, track_record
from matching.normalise import readable_terms
from matching.rank.rankers import BaselineRanker, Ranker
from matching.records import CATEGORIES, INSTITUTION_KINDS, Problem, RankedInstitution, Recommendation
from matching.retrieve import candidate_scores, top_k
from matching.understand.evidence import text_evidence
from matching.understand.lexicon import CategoryDetector
from matching.understand.problems import (
    PreparedProblems,
    ProblemRows,
    as_problem_columns,
    prepare_problems,
    validate_problems,
)

__all__ = ["Matcher", "Candidates", "FRAME_COLUMNS"]

# The features the reasons speak of.
_EXPLAINED = ("track_success_rate", "track_cases_log", "sector_fit", "region_fit", "amount_fit")
_POSITIONS = {name: position for position, name in enumerate(FEATURE_NAMES)}


@dataclass(slots=True)
class Candidates:
    """Eligible candidate pairs of a chunk of problems, grouped by problem (rows ascending)."""

    problem_rows: np.ndarray
    institution_rows: np.ndarray
    text_similarity: np.ndarray
    row_max_similarity: np.ndarray  # per pair: the problem's best similarity over all institutions
    excluded: dict[str, np.ndarray]  # rule -> per problem of the chunk, institutions failing it
    best_similarity: np.ndarray  # per problem of the chunk: its best similarity over all institutions


def _stated(confidence: np.ndarray) -> list[list[int]]:
    """Per problem (a row of ``confidence``), the categories it states (confidence at least
    ``CATEGORY_THRESHOLD``), most confident first; one sort for all rows."""
    order = np.argsort(-confidence, axis=1)
    stated = np.take_along_axis(confidence, order, axis=1) >= CATEGORY_THRESHOLD
    return [row[keep].tolist() for row, keep in zip(order, stated, strict=True)]


FRAME_COLUMNS = ("problem_id", "enterprise_id", "rank", "institution_id", "name", "kind", "score", "reasons",
                 "categories", "escalate", "escalate_reason", "model_version")


@dataclass(slots=True)
class _Decided:
    """What a chunk's problems get: per problem the chosen candidate positions (best first) or the reason it
    is escalated; ``pairs`` concatenates the chosen positions, ``reasons`` has one entry per pair."""

    candidates: Candidates
    chosen: list[np.ndarray | str]
    pairs: np.ndarray
    scores: np.ndarray
    reasons: Explanations

    def frame(self, matcher: Matcher, prepared: PreparedProblems, rows: np.ndarray) -> pd.DataFrame:
        """One row per problem and rank (an escalated problem: one row of rank 0), columns ``FRAME_COLUMNS``."""
        catalogue = matcher.catalogue_
        counts = np.array([1 if isinstance(c, str) else len(c) for c in self.chosen], dtype=np.int64)
        escalated = np.array([isinstance(c, str) for c in self.chosen], dtype=bool)
        total = int(counts.sum())
        shown = np.repeat(~escalated, counts)  # per output row: an institution is shown
        starts = np.cumsum(counts) - counts
        rank = np.arange(total) - np.repeat(starts, counts) + 1
        rank[~shown] = 0
        institution_rows = self.candidates.institution_rows[self.pairs]
        institution_id = np.full(total, None, dtype=object)
        name = np.full(total, None, dtype=object)
        kind = np.full(total, None, dtype=object)
        score = np.full(total, np.nan)
        reasons = np.full(total, "", dtype=object)
        institution_id[shown] = catalogue.ids[institution_rows].astype(str)
        name[shown] = catalogue.names[institution_rows].astype(str)
        kind[shown] = np.asarray(INSTITUTION_KINDS, dtype=object)[catalogue.kinds[institution_rows]]
        score[shown] = self.scores[self.pairs]
        reasons[shown] = [" | ".join(r) for r in self.reasons]
        confidence = prepared.detection.confidence[rows]
        categories = [";".join(CATEGORIES[c] for c in stated) for stated in _stated(confidence)]
        problems = prepared.columns
        return pd.DataFrame({
            "problem_id": np.repeat(problems["problem_id"][rows].astype(object), counts),
            "enterprise_id": np.repeat(problems["enterprise_id"][rows].astype(object), counts),
            "rank": rank,
            "institution_id": institution_id,
            "name": name,
            "kind": kind,
            "score": score,
            "reasons": reasons,
            "categories": np.repeat(np.asarray(categories, dtype=object), counts),
            "escalate": np.repeat(escalated, counts),
            "escalate_reason": np.repeat(np.array([c if isinstance(c, str) else None for c in self.chosen],
                                                  dtype=object), counts),
            "model_version": matcher.ranker_.version,
        }, columns=list(FRAME_COLUMNS))


class Matcher:
    """Recommend institutions for problems. Parameters are stored as given; ``fit`` does the work."""

    def __init__(
        self,
        ranker: Ranker | None = None,
        *,
        n_candidates: int = 16,
        chunk_cells: int = 8_000_000,
        diversify: bool = True,
        gibberish_similarity: float = 0.12,
        soft_rules: Sequence[str] = (),
        max_popular: int = 40,
    ) -> None:
        self.ranker = ranker
        # Candidates from the outcomes, beside retrieval's n: per problem the 2n/3 institutions that took up most
        # cases in its district and the n/3 most in its district and sector (at most ``max_popular``), and every
        # institution its enterprise worked with. Retrieval knows only profiles; on real records the institution
        # that serves a case is often the one that serves its district most (benchmarks/bench_realdata.py).
        self.max_popular = max_popular
        # Eligibility rules that only score (through their fit features), never exclude: for records whose
        # institutions' regions, sectors or ranges were observed from past cases rather than declared.
        self.soft_rules = tuple(soft_rules)
        # Candidates the ranker scores per problem (at least 3k). Scoring, features and reasons over the
        # candidates dominate the engine's time, so the default is a narrow pool whose ground-truth ranking
        # quality on the simulator's sample stays close to a wider one's (``benchmarks/bench_training.py --part
        # quality``, ``benchmarks/bench_engine.py``).
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
        problems: pd.DataFrame | None = None,
        as_of: object = None,
    ) -> Matcher:
        """Index the institutions. ``outcomes`` give the track record and, with ``problems`` (the outcomes'
        problems with their enterprise's district and sector, as ``matching.tables.context.problem_frame`` gives them),
        the history of cases (``matching.features.history``); with ``as_of`` only outcomes recorded before it count.
        ``regions`` adds known districts (e.g. every enterprise's) to those the institutions name; ``load`` is
        cases taken per institution."""
        self.ranker_: Ranker = self.ranker if self.ranker is not None else BaselineRanker()
        self._set_rules()
        self.detector_ = CategoryDetector()
        self.catalogue_: Catalogue = build_catalogue(
            institutions, detector=self.detector_, load=load, extra_regions=regions
        )
        if outcomes is not None and as_of is not None and len(outcomes):
            outcomes = outcomes[as_seconds(outcomes["recorded_at"]) < as_seconds([as_of])[0]]
        self.track_ = track_record(outcomes, self.catalogue_.ids)
        self.history_ = CaseHistory.build(outcomes, problems, self.catalogue_, as_of=as_of, popular=self.max_popular,
                                          popular_sector=self.max_popular // 2)
        return self

    def _set_rules(self) -> None:
        # Soft rules as given, else as the ranker was trained and evaluated with (a bundle carries them).
        self.soft_rules_ = check_rules(self.soft_rules or tuple(getattr(self.ranker_, "soft_rules", ())))
        self.hard_rules_ = tuple(r for r in RULES if r not in self.soft_rules_)

    def with_ranker(self, ranker: Ranker) -> Matcher:
        """A matcher sharing this one's fitted catalogue but ranking with ``ranker`` (cheap; for reloads)."""
        self._check()
        other = copy.copy(self)
        other.ranker = ranker
        other.ranker_ = ranker
        other._set_rules()
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
    def prepare(self, problems: ProblemRows, *, k: int | None = None, checked: bool = False) -> PreparedProblems:
        """Validate (unless ``checked``: the caller ran ``validate_problems`` on these rows) and vectorise."""
        self._check()
        columns = as_problem_columns(problems)
        if not checked:
            validate_problems(columns, regions=self.catalogue_.regions, k=k)
        return prepare_problems(columns, catalogue=self.catalogue_, detector=self.detector_)

    def chunks(self, n_problems: int) -> Iterator[np.ndarray]:
        size = max(1, self.chunk_cells // max(1, len(self.catalogue_)))
        for start in range(0, n_problems, size):
            yield np.arange(start, min(start + size, n_problems))

    def candidates(self, prepared: PreparedProblems, rows: np.ndarray, n: int | None = None) -> Candidates:
        """Top-n eligible institutions per problem by text similarity, category-kind prior and overlap."""
        catalogue = self.catalogue_
        queries = prepared.queries
        if not np.array_equal(rows, np.arange(queries.shape[0])):
            queries = queries[rows]  # only a chunk needs a copy; all the rows in order (the usual case) do not
        similarity = catalogue.index.similarity(queries)
        eligible, excluded = eligible_matrix(prepared, rows, catalogue, self.hard_rules_)
        soft_passing = None
        if self.soft_rules_:
            soft_passing = combine(eligibility_masks(prepared, rows, catalogue), self.soft_rules_)
        retrieval = candidate_scores(similarity, prepared.detection.confidence[rows], catalogue.category_fit,
                                     eligible, soft_passing)
        n = n or self.n_candidates
        index, values = top_k(retrieval, n)
        keep = values > -1.0
        local = np.broadcast_to(np.arange(len(rows))[:, None], index.shape)[keep]
        institution_rows = index[keep]
        if self.history_.cases:
            enterprise = self.history_.enterprise_code(prepared.columns["enterprise_id"][rows])
            more_local, more_rows = self.history_.candidate_rows(prepared.region[rows], prepared.sector[rows],
                                                                 enterprise, popular=2 * n // 3, popular_sector=n // 3)
            passing = eligible[more_local, more_rows]
            width = len(catalogue)
            codes = np.unique(np.concatenate([local * width + institution_rows,
                                              more_local[passing] * width + more_rows[passing]]))
            local, institution_rows = codes // width, codes % width
        row_max = similarity.max(axis=1) if similarity.shape[1] else np.zeros(len(rows))
        return Candidates(
            problem_rows=rows[local],
            institution_rows=institution_rows,
            text_similarity=similarity[local, institution_rows].astype(np.float64),
            row_max_similarity=row_max[local].astype(np.float64),
            excluded=excluded,
            best_similarity=row_max.astype(np.float64),
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
            history=self.history_,
        )

    # -- recommending -------------------------------------------------------------------------------------
    def recommend(self, problems: ProblemRows, k: int = 5) -> list[Recommendation]:
        """Top-k institutions per problem, explained, or an escalation with its reason; in input order.

        ``problems``: a frame, ``Problem`` records or plain mappings with the same keys (``PROBLEM_COLUMNS``)."""
        prepared = self.prepare(problems, k=k)
        results: list[Recommendation] = []
        for rows in self.chunks(len(prepared)):
            results.extend(self._recommend_chunk(prepared, rows, k))
        return results

    def recommend_frame(self, problems: pd.DataFrame, k: int = 5, *, checked: bool = False) -> pd.DataFrame:
        """The same as ``recommend``, as one row per problem and rank (an escalated problem: one row, rank 0).

        Built column by column from the chosen pairs, without the per-pair objects of ``recommend``: for batch
        runs, where those objects cost a quarter of the engine's time. ``checked``: the rows went through
        ``validate_problems`` against this matcher's regions already (a batch run's staging), and k is valid."""
        prepared = self.prepare(problems, k=k, checked=checked)
        parts = [self._decide(prepared, rows, k).frame(self, prepared, rows) for rows in self.chunks(len(prepared))]
        if not parts:
            return pd.DataFrame({column: pd.Series(dtype=object) for column in FRAME_COLUMNS})
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def _recommend_chunk(self, prepared: PreparedProblems, rows: np.ndarray, k: int) -> list[Recommendation]:
        return self._assemble(prepared, rows, self._decide(prepared, rows, k))

    def _decide(self, prepared: PreparedProblems, rows: np.ndarray, k: int) -> _Decided:
        """Rank, choose and explain one chunk: per problem its chosen candidate positions or escalation reason."""
        catalogue, ranker = self.catalogue_, self.ranker_
        candidates = self.candidates(prepared, rows, max(self.n_candidates, 3 * k))
        features = self.features(prepared, candidates)
        parts = getattr(ranker, "score_parts", None)
        scores, fit = parts(features) if parts is not None else (ranker.score(features),) * 2
        scores = np.asarray(scores, dtype=np.float64)
        # Every problem's candidates, best first, in one sort: grouped by problem row, then by score.
        order = np.lexsort((-scores, candidates.problem_rows))
        clears = np.asarray(fit, dtype=np.float64)[order] >= ranker.escalate_below
        bounds = np.searchsorted(candidates.problem_rows[order], np.append(rows, rows[-1] + 1))
        confidence_all = prepared.detection.confidence
        needs_many = ((confidence_all[rows] >= CATEGORY_THRESHOLD).sum(axis=1) > 1) & self.diversify
        # The frame is one float block (``pair_features``): columns by position, without a frame lookup each.
        values = features.to_numpy(dtype=np.float64, copy=False)
        track = values[:, _POSITIONS["track_success_rate"]]
        has_need = (confidence_all[rows] >= CATEGORY_THRESHOLD).any(axis=1)
        # Whatever the scores, a text that states nothing the engine can act on is sent back for a description:
        # the ranker's learnt floor on the evidence (matching.understand.evidence), and no need with no similar profile.
        unknown = text_evidence(prepared, rows, catalogue.index) <= float(getattr(ranker, "need_evidence_below", 0.0))
        unknown |= ~has_need & (candidates.best_similarity < self.gibberish_similarity)
        chosen_per_problem: list[np.ndarray | str] = []
        for local, row in enumerate(rows):
            start, stop = bounds[local], bounds[local + 1]
            if unknown[local]:
                chosen_per_problem.append(Reason("no_recognisable_need"))
            elif stop == start:
                excluded = {r: int(n[local]) for r, n in candidates.excluded.items() if n[local]}
                chosen_per_problem.append(Reason("no_eligible_institution", {"excluded": excluded}))
            elif not clears[start:stop].any():
                chosen_per_problem.append(Reason("below_threshold", {"best": float(scores[order[start]]),
                                                                     "threshold": float(ranker.escalate_below)}))
            else:
                # Once one clears the floor, the k best candidates in order: a caseworker reads a ranking, and
                # the institution that serves a case is often not the one the model is surest of.
                passing = order[start:stop]
                if needs_many[local]:
                    passing = passing[diversify(catalogue.kinds[candidates.institution_rows[passing]],
                                                confidence_all[row], k)]
                chosen_per_problem.append(passing[:k])
        chosen = [c for c in chosen_per_problem if not isinstance(c, str)]
        pairs = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
        reasons = self._explain(prepared, candidates, values, pairs, track, order, bounds, rows)
        return _Decided(candidates=candidates, chosen=chosen_per_problem, pairs=pairs, scores=scores, reasons=reasons)

    def _explain(self, prepared: PreparedProblems, candidates: Candidates, values: np.ndarray,
                 pairs: np.ndarray, track: np.ndarray, order: np.ndarray, bounds: np.ndarray,
                 rows: np.ndarray) -> Explanations:
        catalogue = self.catalogue_
        # Mean known track record over each problem's candidates, to say when an institution's is above it
        # (NaN for a problem none of whose candidates has one).
        group = np.repeat(np.arange(len(rows)), np.diff(bounds))
        ordered = track[order]
        known = ~np.isnan(ordered)
        total = np.bincount(group[known], weights=ordered[known], minlength=len(rows))
        count = np.bincount(group[known], minlength=len(rows))
        with np.errstate(invalid="ignore", divide="ignore"):
            track_mean = np.where(count > 0, total / count, np.nan)
        local_of = {int(row): local for local, row in enumerate(rows)}
        problem_rows = candidates.problem_rows[pairs]
        institution_rows = candidates.institution_rows[pairs]
        terms: dict[int, list[str]] = {}
        shared: list[list[str]] = []
        for row, institution in zip(problem_rows.tolist(), institution_rows.tolist(), strict=True):
            if row not in terms:
                terms[row] = list(dict.fromkeys([*readable_terms(prepared.normalized[row], prepared.tokens[row]),
                                                 *prepared.detection.terms[row]]))
            profile = catalogue.terms[institution]
            shared.append([t for t in terms[row] if t in profile][:4])
        chosen = ChosenPairs(
            problem_rows=problem_rows,
            institution_rows=institution_rows,
            features={name: values[pairs, _POSITIONS[name]] for name in _EXPLAINED},
            track_mean=track_mean[[local_of[int(r)] for r in problem_rows]] if len(pairs) else np.zeros(0),
            shared_terms=shared,
        )
        return explain_pairs(
            chosen, confidence=prepared.detection.confidence, sector=prepared.sector, region=prepared.region,
            amount=prepared.amount, regions=catalogue.regions, kinds=catalogue.kinds,
            institution_categories=catalogue.categories, min_amount=catalogue.min_amount,
            max_amount=catalogue.max_amount,
        )

    def _assemble(self, prepared: PreparedProblems, rows: np.ndarray, decided: _Decided) -> list[Recommendation]:
        candidates, chosen_per_problem, pairs = decided.candidates, decided.chosen, decided.pairs
        scores, reasons = decided.scores, decided.reasons
        catalogue, version = self.catalogue_, self.ranker_.version
        confidence_all = prepared.detection.confidence
        stated = _stated(confidence_all[rows])
        problem_ids = prepared.columns["problem_id"][rows].tolist()
        ids, names = catalogue.ids, catalogue.names
        chosen_rows = candidates.institution_rows[pairs]
        kinds = [INSTITUTION_KINDS[k] for k in catalogue.kinds[chosen_rows].tolist()]  # per pair
        institution_rows = chosen_rows.tolist()
        pair_scores = scores[pairs].tolist()
        out: list[Recommendation] = []
        cursor = 0
        for local, (row, chosen) in enumerate(zip(rows.tolist(), chosen_per_problem, strict=True)):
            confidence = confidence_all[row]
            categories = {CATEGORIES[c]: float(confidence[c]) for c in stated[local]}
            excluded = {rule: int(n[local]) for rule, n in candidates.excluded.items() if n[local]}
            problem_id = problem_ids[local]
            problem_id = None if problem_id is None or pd.isna(problem_id) else str(problem_id)
            if isinstance(chosen, str):
                out.append(Recommendation(problem_id=problem_id, institutions=(), categories=categories,
                                          escalate=True, escalate_reason=chosen, model_version=version,
                                          excluded=excluded))
                continue
            ranked = []
            for rank in range(1, len(chosen) + 1):
                institution = institution_rows[cursor]
                ranked.append(RankedInstitution(
                    institution_id=str(ids[institution]), name=str(names[institution]), kind=kinds[cursor],
                    score=pair_scores[cursor], rank=rank, reasons=reasons[cursor], reason_data=reasons.data[cursor],
                ))
                cursor += 1
            out.append(Recommendation(problem_id=problem_id, institutions=tuple(ranked), categories=categories,
                                      model_version=version, excluded=excluded))
        return out

    def eligibility(self, problem: Problem) -> pd.DataFrame:
        """Every institution with the rules it fails for one problem (empty tuple: eligible)."""
        prepared = self.prepare(problem)
        masks = eligibility_masks(prepared, np.array([0]), self.catalogue_)
        failed = [tuple(rule for rule in self.hard_rules_ if not masks[rule][0, j])
                  for j in range(len(self.catalogue_))]
        return pd.DataFrame({"institution_id": self.catalogue_.ids, "failed_rules": failed,
                             "eligible": [not f for f in failed]})


