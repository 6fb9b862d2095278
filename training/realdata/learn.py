"""Learning which institution serves a case: candidates, pair features and a pointwise ranker.

Inputs: a fitted ``matching.Matcher`` (its catalogue, eligibility and retrieval), prepared problems, the served
cases of the training period and the outcomes known at the split. Outputs:

- ``Popularity``: institutions ordered by cases served in a region (then overall), from training cases only;
- ``candidate_pairs``: per problem, the Matcher's eligible retrieval candidates plus the institutions most
  popular in its region (the engine's retrieval knows no track record, so on real data it misses the lenders
  that serve a region most; see the report);
- ``Featuriser``: the engine's ``FEATURE_NAMES`` (``pair_features``, track record as of each pair's time) plus
  ``HISTORY_FEATURES`` (``training.realdata.history``), also as of each pair's time;
- ``fit_served_ranker``: gradient-boosted trees on served pairs (label 1) against sampled candidates that did
  not serve (label 0). ``training.train.fit_learned_ranker`` learns P(solved) among *tried* pairs with the engine's
  features only, a different question, so it is not used here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer

from matching import FEATURE_NAMES, Matcher, pair_features, track_record_asof
from matching.eligibility import combine, eligibility_masks
from matching.problems import PreparedProblems
from matching.text import analyze
from training.config import ModelConfig
from training.realdata.history import HISTORY_FEATURES, History

__all__ = ["Popularity", "Featuriser", "candidate_pairs", "training_pairs", "fit_served_ranker", "ALL_FEATURES"]

ALL_FEATURES: tuple[str, ...] = (*FEATURE_NAMES, *HISTORY_FEATURES)


class Popularity:
    """Institutions by number of training cases served in a region, ties and the rest by overall count."""

    def __init__(self, cases: pd.DataFrame) -> None:
        overall = cases.groupby("institution_id").size()
        self.overall = overall.sort_index().sort_values(ascending=False, kind="stable")
        by_region = cases.groupby(["region", "institution_id"]).size().rename("n").reset_index()
        by_region["total"] = by_region["institution_id"].map(overall)
        by_region = by_region.sort_values(["region", "n", "total", "institution_id"],
                                          ascending=[True, False, False, True])
        self.by_region = {region: group["institution_id"].to_numpy() for region, group in
                          by_region.groupby("region", sort=False)}

    def in_region(self, region: str, length: int) -> np.ndarray:
        """The region's institutions by cases, then the most served overall, ``length`` in all."""
        local = self.by_region.get(region, np.array([], dtype=object))[:length]
        if len(local) >= length:
            return local
        rest = self.overall.index.to_numpy()
        rest = rest[~np.isin(rest, local)][: length - len(local)]
        return np.concatenate([local, rest])

    def top(self, n: int) -> tuple[str, ...]:
        return tuple(self.overall.index[:n])


def candidate_pairs(matcher: Matcher, prepared: PreparedProblems, regions: Sequence[str], rows: np.ndarray,
                    popularity: Popularity, *, n_text: int, n_popular: int) -> tuple[np.ndarray, np.ndarray]:
    """(problem_rows, institution_rows): the Matcher's top ``n_text`` eligible candidates and the region's
    ``n_popular`` most popular institutions (only those the Matcher finds eligible), without duplicates."""
    catalogue = matcher.catalogue_
    problem_parts, inst_parts = [], []
    for chunk in matcher.chunks(len(rows)):
        chunk_rows = rows[chunk]
        found = matcher.candidates(prepared, chunk_rows, n=n_text)
        problem_parts.append(found.problem_rows)
        inst_parts.append(found.institution_rows)
        eligible = combine(eligibility_masks(prepared, chunk_rows, catalogue), matcher.hard_rules_)
        for local, row in enumerate(chunk_rows):
            ids = popularity.in_region(regions[row], n_popular)
            positions = np.array([catalogue.position[i] for i in ids if i in catalogue.position], dtype=np.int64)
            positions = positions[eligible[local, positions]] if positions.size else positions
            problem_parts.append(np.full(positions.size, row, dtype=np.int64))
            inst_parts.append(positions)
    pairs = pd.DataFrame({"p": np.concatenate(problem_parts), "i": np.concatenate(inst_parts)}).drop_duplicates()
    pairs = pairs.sort_values(["p", "i"], kind="stable")
    return pairs["p"].to_numpy(dtype=np.int64), pairs["i"].to_numpy(dtype=np.int64)


@dataclass(slots=True)
class Featuriser:
    """Engine features plus history features of pairs, everything as of each problem's ``stated_at``.

    ``vectors`` are the text vectors (history vocabulary) of every prepared problem, computed once."""

    matcher: Matcher
    known_outcomes: pd.DataFrame  # outcomes recorded before the split
    history: History
    vectors: sp.csr_matrix | None

    @classmethod
    def fit(cls, matcher: Matcher, known_outcomes: pd.DataFrame, train_cases: pd.DataFrame,
            texts: Sequence[str]) -> Featuriser:
        """``train_cases``: institution_id, region, sector, amount, time, text (one row per served case);
        ``texts``: the text of every prepared problem (row order)."""
        vectorizer = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, min_df=2, dtype=np.float32)
        try:
            case_vectors = vectorizer.fit_transform(train_cases["text"].tolist())
            vectors = vectorizer.transform(list(texts)).tocsr()
        except ValueError:  # too few texts for min_df: no text history
            case_vectors, vectors = None, None
        history = History(train_cases.drop(columns=["text"]), text_vectors=case_vectors)
        return cls(matcher=matcher, known_outcomes=known_outcomes, history=history, vectors=vectors)

    def frame(self, prepared: PreparedProblems, problems: pd.DataFrame, problem_rows: np.ndarray,
              institution_rows: np.ndarray, *, columns: Sequence[str] = ALL_FEATURES) -> pd.DataFrame:
        """Features of pairs of ``prepared`` rows, text similarity computed as the Matcher's retrieval does
        (one sparse product per block of problems; the row maximum over the whole catalogue)."""
        catalogue = self.matcher.catalogue_
        ids = catalogue.ids[institution_rows]
        times = pd.to_datetime(problems["stated_at"]).to_numpy(dtype="datetime64[ns]")[problem_rows]
        rate, cases = track_record_asof(self.known_outcomes, ids, times)
        similarity, row_max = self._similarity(prepared, problem_rows, institution_rows)
        engine = pair_features(prepared, catalogue, problem_rows, institution_rows, text_similarity=similarity,
                               row_max_similarity=row_max, track_success_rate=rate, track_cases=cases)
        if not any(c in HISTORY_FEATURES for c in columns):
            return engine.loc[:, list(columns)]
        queries = pd.DataFrame({
            "institution_id": ids,
            "region": problems["region"].astype(str).to_numpy()[problem_rows],
            "sector": problems["sector"].astype(str).to_numpy()[problem_rows],
            "amount": problems["amount"].to_numpy()[problem_rows],
            "time": times,
        })
        history = self.history.features(queries, vectors=self.vectors, problem_index=problem_rows)
        both = pd.concat([engine.reset_index(drop=True), history], axis=1)
        return both.loc[:, list(columns)]

    def _similarity(self, prepared: PreparedProblems, problem_rows: np.ndarray, institution_rows: np.ndarray,
                    block: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        unique, local = np.unique(problem_rows, return_inverse=True)
        similarity, row_max = np.zeros(len(problem_rows)), np.zeros(len(problem_rows))
        for start in range(0, len(unique), block):
            chosen = (local >= start) & (local < start + block)
            dense = self.matcher.catalogue_.index.similarity(prepared.queries[unique[start:start + block]])
            similarity[chosen] = dense[local[chosen] - start, institution_rows[chosen]]
            row_max[chosen] = dense.max(axis=1)[local[chosen] - start] if dense.shape[1] else 0.0
        return similarity, row_max


def training_pairs(candidates: tuple[np.ndarray, np.ndarray], served: pd.DataFrame, *, negatives: int,
                   seed: int) -> pd.DataFrame:
    """Served pairs (label 1) and up to ``negatives`` random non-serving candidates per problem (label 0).

    ``served``: problem_row, institution_row of every served case (a served pair is kept even when retrieval
    missed it, so the model learns from every case)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"problem_row": candidates[0], "institution_row": candidates[1]})
    positive = served[["problem_row", "institution_row"]].drop_duplicates()
    keys = set(zip(positive["problem_row"], positive["institution_row"], strict=True))
    is_served = np.array([k in keys for k in zip(frame["problem_row"], frame["institution_row"], strict=True)],
                         dtype=bool)
    frame = frame[~is_served]
    frame = frame.assign(draw=rng.random(len(frame))).sort_values(["problem_row", "draw"])
    negative = frame.groupby("problem_row").head(negatives)[["problem_row", "institution_row"]]
    pairs = pd.concat([positive.assign(label=1), negative.assign(label=0)], ignore_index=True)
    return pairs.sort_values(["problem_row", "label"], ascending=[True, False], kind="stable").reset_index(drop=True)


def fit_served_ranker(features: pd.DataFrame, labels: np.ndarray, *, seed: int) -> HistGradientBoostingClassifier:
    """Trees with the training package's default hyperparameters; fixed iterations, so deterministic."""
    config = ModelConfig()
    model = HistGradientBoostingClassifier(
        learning_rate=config.learning_rate, max_iter=config.max_iter, max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf, l2_regularization=config.l2_regularization,
        max_bins=config.max_bins, early_stopping=False, random_state=seed,
    )
    return model.fit(features, np.asarray(labels))
