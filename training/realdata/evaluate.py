"""Evaluate on real records: for each case stated after a date, is the institution that really served it found?

Input: a data folder of the four tables (``matching.tables``; e.g. written by ``import-real``) and a split date.
Everything before the date trains, everything from the date on is evaluated. A case is a problem with an
outcome whose status says an institution took it up (accepted, solved or failed). Output: an
``EvaluationReport`` with hit@1, hit@5, hit@10 and MRR (over the first ``MAX_RANK`` places; a miss counts 0) for

- ``random``: a random order of the institutions the Matcher finds eligible;
- ``popular_in_region``: institutions by training cases in the case's region, then overall;
- ``text_only``: ``matching.TextOnlyRanker`` through the Matcher (its retrieval, eligibility and features);
- ``trained``: trees on the engine's features plus history features (``training.realdata.learn``);
- ``trained_engine_features``: the same trees on the engine's ``FEATURE_NAMES`` only, to show what the
  engine's own features achieve;

and, with ``exclude_top``, the same without the largest institutions (by training cases): their cases are left
out and they are removed from every ranking. Nothing after the split reaches a feature: the track record uses
outcomes recorded before the split (and before each training pair), history features count training cases
before each pair's time, and a folder written by ``import-real`` is refused for a split earlier than the
date its profiles were built up to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from matching import FEATURE_NAMES, Matcher, TextOnlyRanker
from matching.eligibility import combine, eligibility_masks
from matching.errors import InvalidInput, Issue
from matching.retrieval import top_k
from matching.tables import Tables, read_tables
from training.dataset import problem_frame
from training.realdata.learn import Featuriser, Popularity, candidate_pairs, fit_served_ranker, training_pairs
from training.realdata.output import read_manifest

__all__ = ["METHODS", "ENGINE_ONLY", "MAX_RANK", "MethodScore", "EvaluationReport", "evaluate_folder",
           "evaluate_tables"]

METHODS: tuple[str, ...] = ("random", "popular_in_region", "text_only", "trained")
ENGINE_ONLY = "trained_engine_features"
TAKEN_UP = ("accepted", "solved", "failed")
MAX_RANK = 50
N_TEXT, N_POPULAR, NEGATIVES = 50, 30, 24
CHUNK = 2000


@dataclass(frozen=True, slots=True)
class MethodScore:
    hit_at_1: float
    hit_at_5: float
    hit_at_10: float
    mrr: float
    cases: int

    @classmethod
    def from_ranks(cls, ranks: np.ndarray) -> MethodScore:
        """``ranks``: 1-based place of the served institution, 0 when it is not in the first MAX_RANK."""
        found = ranks > 0
        reciprocal = np.where(found, 1.0 / np.maximum(ranks, 1), 0.0)

        def mean(values: np.ndarray) -> float:
            return float(np.mean(values)) if len(values) else float("nan")

        return cls(hit_at_1=mean(found & (ranks <= 1)), hit_at_5=mean(found & (ranks <= 5)),
                   hit_at_10=mean(found & (ranks <= 10)), mrr=mean(reciprocal), cases=int(len(ranks)))

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    split_date: str
    train_cases: int
    test_cases: int
    institutions: int
    methods: dict[str, MethodScore]
    excluded: tuple[str, ...] = ()
    without_top: dict[str, MethodScore] | None = None
    diagnostics: dict[str, float] = field(default_factory=dict)
    dataset: str | None = None
    empty_features: tuple[str, ...] = ()  # features with no value at all on this data (left out of the models)

    @property
    def without_key(self) -> str:
        return f"without_top_{len(self.excluded)}_institutions"

    def to_json(self) -> dict:
        """One object keyed by method; with exclusions also ``without_top_<n>_institutions`` keyed by method."""
        out: dict = {name: score.to_dict() for name, score in self.methods.items()}
        if self.without_top is not None:
            out[self.without_key] = {name: score.to_dict() for name, score in self.without_top.items()}
        return out

    def markdown(self) -> str:
        title = f"{self.dataset or 'data'}: split {self.split_date}, {self.train_cases:,} training cases, " \
                f"{self.test_cases:,} evaluated, {self.institutions:,} institutions"
        parts = [f"**{title}**", "", _table(self.methods)]
        if self.without_top is not None:
            parts += ["", f"**Without the {len(self.excluded)} largest institutions** "
                      f"({', '.join(self.excluded)}): {next(iter(self.without_top.values())).cases:,} cases", "",
                      _table(self.without_top)]
        if self.diagnostics:
            parts += ["", "Diagnostics (share of evaluated cases): " + "; ".join(
                f"{name.replace('_', ' ')} {value:.3f}" for name, value in self.diagnostics.items())]
        if self.empty_features:
            parts += ["", f"Features without any value on this data: {', '.join(self.empty_features)}"]
        return "\n".join(parts)


def _table(scores: dict[str, MethodScore]) -> str:
    lines = ["| method | hit@1 | hit@5 | hit@10 | MRR |", "| --- | ---: | ---: | ---: | ---: |"]
    best = {m: max(s.__getattribute__(m) for s in scores.values()) for m in ("hit_at_1", "hit_at_5", "hit_at_10",
                                                                               "mrr")}
    for name, score in scores.items():
        cells = [f"**{v:.3f}**" if v == best[m] else f"{v:.3f}" for m, v in
                 (("hit_at_1", score.hit_at_1), ("hit_at_5", score.hit_at_5), ("hit_at_10", score.hit_at_10),
                  ("mrr", score.mrr))]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _as_time(value: str | pd.Timestamp) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InvalidInput(Issue(column="split-date", expected="a date YYYY-MM-DD", found=repr(value)))
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp


def evaluate_folder(folder: str | Path, split_date: str, *, exclude_top: int = 0, seed: int = 0) -> EvaluationReport:
    """Read and validate the folder's tables, check the import's profile cut-off, and evaluate."""
    split = _as_time(split_date)
    manifest = read_manifest(folder) or {}
    until = manifest.get("profile_until")
    if until and split < pd.Timestamp(until):
        raise InvalidInput(Issue(column="split-date", found=split.date().isoformat(), file=str(folder),
                                 expected=f"a date on or after {until}: the import built institution profiles "
                                          f"from records before {until} (re-run import-real --profile-until)"))
    tables = read_tables(folder)
    return evaluate_tables(tables, split, exclude_top=exclude_top, seed=seed, dataset=manifest.get("dataset"))


def evaluate_tables(tables: Tables, split_date: str | pd.Timestamp, *, exclude_top: int = 0, seed: int = 0,
                    dataset: str | None = None) -> EvaluationReport:
    """Evaluate every method on the cases stated from ``split_date`` on (see the module docstring)."""
    # One OpenMP thread for the trees: on a small shared machine, more threads than free cores slow the
    # gradient boosting down by an order of magnitude (measured: 5 s single-threaded, 180 s oversubscribed).
    with threadpool_limits(limits=1, user_api="openmp"):
        return _evaluate(tables, _as_time(split_date), exclude_top=exclude_top, seed=seed, dataset=dataset)


def _evaluate(tables: Tables, split: pd.Timestamp, *, exclude_top: int, seed: int, dataset: str | None
              ) -> EvaluationReport:
    if exclude_top < 0:
        raise InvalidInput(Issue(column="exclude-top-lenders", expected="a number >= 0", found=str(exclude_top)))
    outcomes = tables.outcomes
    served = outcomes.loc[outcomes["status"].isin(TAKEN_UP), ["problem_id", "institution_id"]].drop_duplicates()
    problems = problem_frame(tables)
    problems = problems[problems["problem_id"].isin(set(served["problem_id"]))].reset_index(drop=True)
    stated = pd.to_datetime(problems["stated_at"])
    train, test = np.flatnonzero(stated < split), np.flatnonzero(stated >= split)
    if len(train) == 0 or len(test) == 0:
        raise InvalidInput(Issue(column="split-date", file="problems",
                                 expected="served cases both before and after the split date",
                                 found=f"{len(train)} before and {len(test)} from {split.date().isoformat()} on"))
    known = outcomes[pd.to_datetime(outcomes["recorded_at"]) < split]
    matcher = Matcher().fit(tables.institutions, outcomes=known,
                            regions=tables.enterprises["region"].astype(str).unique())
    prepared = matcher.prepare(problems)
    catalogue = matcher.catalogue_
    served["problem_row"] = served["problem_id"].map(pd.Series(np.arange(len(problems)), problems["problem_id"]))
    served = served.dropna(subset=["problem_row"]).astype({"problem_row": np.int64})
    served["institution_row"] = served["institution_id"].map(catalogue.position).astype(np.int64)
    truth_by_row = served.groupby("problem_row")["institution_id"].agg(frozenset)
    cases = served.merge(problems[["region", "sector", "amount", "stated_at", "text"]], left_on="problem_row",
                         right_index=True).rename(columns={"stated_at": "time"})
    train_cases = cases[cases["time"] < split]
    popularity = Popularity(train_cases)
    excluded = popularity.top(exclude_top) if exclude_top else ()
    length = MAX_RANK + len(excluded)
    regions = problems["region"].astype(str).to_numpy()

    rankings = {
        "random": _random(matcher, prepared, test, length, seed),
        "popular_in_region": [popularity.in_region(regions[row], length) for row in test],
        "text_only": _text_only(matcher, prepared, test, length),
    }
    featuriser = Featuriser.fit(matcher, known, train_cases, problems["text"].tolist())
    pairs = training_pairs(candidate_pairs(matcher, prepared, regions, train, popularity, n_text=N_TEXT,
                                           n_popular=N_POPULAR),
                           served[served["problem_row"].isin(train)], negatives=NEGATIVES, seed=seed)
    features = featuriser.frame(prepared, problems, pairs["problem_row"].to_numpy(),
                                pairs["institution_row"].to_numpy())
    labels = pairs["label"].to_numpy()
    empty = tuple(c for c in features.columns if features[c].isna().all())  # e.g. no revenue in the data
    full = [c for c in features.columns if c not in empty]
    engine = [c for c in FEATURE_NAMES if c not in empty]
    models = {"trained": (fit_served_ranker(features[full], labels, seed=seed), full),
              ENGINE_ONLY: (fit_served_ranker(features[engine], labels, seed=seed), engine)}
    reach = np.zeros(len(test), dtype=bool)
    learned: dict[str, list[np.ndarray]] = {name: [] for name in models}
    for start in range(0, len(test), CHUNK):
        rows = test[start:start + CHUNK]
        p, i = candidate_pairs(matcher, prepared, regions, rows, popularity, n_text=N_TEXT, n_popular=N_POPULAR)
        frame = featuriser.frame(prepared, problems, p, i)
        for name, (model, columns) in models.items():
            learned[name].extend(_lists(catalogue.ids, p, i, model.predict_proba(frame[columns])[:, 1], rows, length))
        found = pd.DataFrame({"p": p, "id": catalogue.ids[i]}).groupby("p")["id"].agg(frozenset)
        reach[start:start + len(rows)] = [bool(found.get(r, frozenset()) & truth_by_row[r]) for r in rows]
    rankings.update(learned)

    truth = [truth_by_row[row] for row in test]
    methods = {name: MethodScore.from_ranks(_ranks(rankings[name], truth, ())) for name in (*METHODS, ENGINE_ONLY)}
    without = None
    if excluded:
        keep = np.array([not (t & set(excluded)) for t in truth], dtype=bool)
        kept_truth = [t for t, k in zip(truth, keep, strict=True) if k]
        without = {name: MethodScore.from_ranks(_ranks([r for r, k in zip(rankings[name], keep, strict=True) if k],
                                                       kept_truth, excluded)) for name in methods}
    seen = set(train_cases["institution_id"])
    diagnostics = {
        "served_institution_seen_in_training": float(np.mean([bool(t & seen) for t in truth])),
        "served_institution_eligible": _eligible_share(matcher, prepared, test, truth),
        "served_in_matcher_candidates": _in_candidates(matcher, prepared, test, truth),
        "served_in_trained_candidates": float(reach.mean()),
    }
    return EvaluationReport(split_date=split.date().isoformat(), train_cases=len(train), test_cases=len(test),
                            institutions=len(catalogue), methods=methods, excluded=tuple(excluded),
                            without_top=without, diagnostics=diagnostics, dataset=dataset, empty_features=empty)


def _ranks(lists: list[np.ndarray], truth: list[frozenset], excluded: tuple[str, ...]) -> np.ndarray:
    ranks = np.zeros(len(lists), dtype=np.int64)
    for n, (ranking, served) in enumerate(zip(lists, truth, strict=True)):
        if excluded:
            ranking = ranking[~np.isin(ranking, excluded)]
        hits = np.flatnonzero(np.isin(ranking[:MAX_RANK], list(served)))
        ranks[n] = hits[0] + 1 if hits.size else 0
    return ranks


def _lists(ids: np.ndarray, p: np.ndarray, i: np.ndarray, scores: np.ndarray, rows: np.ndarray, length: int
           ) -> list[np.ndarray]:
    """Per row of ``rows``: institution ids by descending score (ties by catalogue order), at most ``length``."""
    order = np.lexsort((i, -scores, p))
    p, i = p[order], i[order]
    starts = np.searchsorted(p, rows, side="left")
    stops = np.searchsorted(p, rows, side="right")
    return [ids[i[a:min(b, a + length)]] for a, b in zip(starts, stops, strict=True)]


def _random(matcher: Matcher, prepared, rows: np.ndarray, length: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for chunk in matcher.chunks(len(rows)):
        eligible = combine(eligibility_masks(prepared, rows[chunk], matcher.catalogue_))
        scores = np.where(eligible, rng.random(eligible.shape), -1.0)
        index, values = top_k(scores, length)
        out.extend(matcher.catalogue_.ids[index[n][values[n] > -1.0]] for n in range(len(index)))
    return out


def _text_only(matcher: Matcher, prepared, rows: np.ndarray, length: int) -> list[np.ndarray]:
    """The Matcher's own path: retrieval and eligibility, the engine's features, TextOnlyRanker's scores."""
    ranker = TextOnlyRanker()
    out: list[np.ndarray] = []
    for chunk in matcher.chunks(len(rows)):
        found = matcher.candidates(prepared, rows[chunk], n=length)
        scores = ranker.score(matcher.features(prepared, found))
        out.extend(_lists(matcher.catalogue_.ids, found.problem_rows, found.institution_rows, scores, rows[chunk],
                          length))
    return out


def _eligible_share(matcher: Matcher, prepared, rows: np.ndarray, truth: list[frozenset]) -> float:
    hits = []
    for chunk in matcher.chunks(len(rows)):
        eligible = combine(eligibility_masks(prepared, rows[chunk], matcher.catalogue_))
        for local, served in enumerate(truth[chunk[0]:chunk[-1] + 1]):
            positions = [matcher.catalogue_.position[s] for s in served]
            hits.append(bool(eligible[local, positions].any()))
    return float(np.mean(hits))


def _in_candidates(matcher: Matcher, prepared, rows: np.ndarray, truth: list[frozenset]) -> float:
    hits = []
    for chunk in matcher.chunks(len(rows)):
        found = matcher.candidates(prepared, rows[chunk], n=N_TEXT)
        ids = pd.DataFrame({"p": found.problem_rows, "id": matcher.catalogue_.ids[found.institution_rows]})
        grouped = ids.groupby("p")["id"].agg(frozenset)
        hits.extend(bool(grouped.get(row, frozenset()) & served)
                    for row, served in zip(rows[chunk], truth[chunk[0]:chunk[-1] + 1], strict=True))
    return float(np.mean(hits))
