"""One evaluation set-up on real tables: who served which case, split at a date, and the simple rankings.

Input: validated ``Tables`` and a split time. ``build_study`` finds the cases (a problem and the institution that
took it up: an outcome ``accepted``, ``solved`` or ``failed``), splits them by ``stated_at``, fits a
``matching.Matcher`` on the institutions with the outcomes *recorded before the split* (its track record) and
prepares every case's problem. Output: a ``Study`` that gives

- the simple rankings of the evaluation cases: random among eligible institutions, most popular in the
  region (training cases), and ``TextOnlyRanker`` through the Matcher's own retrieval and features;
- diagnostics: how often the served institution is known, eligible and among the Matcher's candidates.

The trained ranker is not built here: ``training.realdata.evaluate`` trains it with ``training.api.fit_ranker``
(what ``smematch train`` runs) and ranks through ``Matcher.recommend`` (what ``serve`` runs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from matching import Matcher, TextOnlyRanker
from matching.catalogue import Catalogue
from matching.eligibility import combine, eligibility_masks
from matching.errors import InvalidInput, Issue
from matching.retrieve import top_k
from matching.tables.context import fit_matcher
from matching.tables.files import Tables
from matching.understand.problems import PreparedProblems
from training.dataset import problem_frame

__all__ = ["Study", "Popularity", "build_study", "broken_rules", "BREAK_THRESHOLD", "ranked_lists", "TAKEN_UP",
           "N_TEXT"]

TAKEN_UP = ("accepted", "solved", "failed")
BREAK_THRESHOLD = 0.01
N_TEXT = 50


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


@dataclass(slots=True)
class Study:
    split: pd.Timestamp
    matcher: Matcher
    prepared: PreparedProblems  # every case's problem; row i is problems.iloc[i]
    problems: pd.DataFrame  # problem_frame rows of the cases
    served: pd.DataFrame  # problem_id, institution_id, problem_row, institution_row
    train: np.ndarray  # problem rows stated before the split
    test: np.ndarray  # problem rows stated from the split on
    truth_by_row: pd.Series  # problem row -> frozenset of institution ids that served it
    train_cases: pd.DataFrame  # institution_id, region, sector, amount, time, text of training cases
    popularity: Popularity

    @property
    def catalogue(self) -> Catalogue:
        return self.matcher.catalogue_

    @property
    def regions(self) -> np.ndarray:
        return self.problems["region"].astype(str).to_numpy()

    @property
    def truth(self) -> list[frozenset]:
        return [self.truth_by_row[row] for row in self.test]

    # -- simple rankings of the evaluation cases -------------------------------------------------------------
    def random_lists(self, length: int, *, seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        out: list[np.ndarray] = []
        for chunk in self.matcher.chunks(len(self.test)):
            eligible = combine(eligibility_masks(self.prepared, self.test[chunk], self.catalogue),
                               self.matcher.hard_rules_)
            index, values = top_k(np.where(eligible, rng.random(eligible.shape), -1.0), length)
            out.extend(self.catalogue.ids[index[n][values[n] > -1.0]] for n in range(len(index)))
        return out

    def popular_lists(self, length: int, *, recent_days: int | None = None) -> list[np.ndarray]:
        """Most popular in the region over the training period, or over its last ``recent_days`` only."""
        popularity = self.popularity
        if recent_days is not None:
            since = self.split - pd.Timedelta(days=recent_days)
            recent = self.train_cases[self.train_cases["time"] >= since]
            popularity = Popularity(recent if len(recent) else self.train_cases)
        regions = self.regions
        return [popularity.in_region(regions[row], length) for row in self.test]

    def text_only_lists(self, length: int) -> list[np.ndarray]:
        """The Matcher's own path: retrieval and eligibility, the engine's features, TextOnlyRanker's scores."""
        ranker = TextOnlyRanker()
        out: list[np.ndarray] = []
        for chunk in self.matcher.chunks(len(self.test)):
            rows = self.test[chunk]
            found = self.matcher.candidates(self.prepared, rows, n=length)
            scores = ranker.score(self.matcher.features(self.prepared, found))
            out.extend(ranked_lists(self.catalogue.ids, found.problem_rows, found.institution_rows, scores, rows,
                                    length))
        return out

    # -- diagnostics -------------------------------------------------------------------------------------------
    def diagnostics(self) -> dict[str, float]:
        truth, seen = self.truth, set(self.train_cases["institution_id"])
        eligible, in_candidates = [], []
        for chunk in self.matcher.chunks(len(self.test)):
            rows = self.test[chunk]
            mask = combine(eligibility_masks(self.prepared, rows, self.catalogue), self.matcher.hard_rules_)
            found = self.matcher.candidates(self.prepared, rows, n=N_TEXT)
            listed = pd.DataFrame({"p": found.problem_rows, "id": self.catalogue.ids[found.institution_rows]})
            grouped = listed.groupby("p")["id"].agg(frozenset)
            for local, row in enumerate(rows):
                served = truth[chunk[0] + local]
                eligible.append(bool(mask[local, [self.catalogue.position[s] for s in served]].any()))
                in_candidates.append(bool(grouped.get(row, frozenset()) & served))
        return {"served_institution_seen_in_training": float(np.mean([bool(t & seen) for t in truth])),
                "served_institution_eligible": float(np.mean(eligible)),
                "served_in_matcher_candidates": float(np.mean(in_candidates))}


def broken_rules(tables: Tables, split: pd.Timestamp, *, since: pd.Timestamp | None = None,
                 threshold: float = BREAK_THRESHOLD) -> dict[str, tuple[int, int]]:
    """Eligibility rules that the served cases stated in ``[since, split)`` break in at least ``threshold`` of
    cases (rule -> (cases breaking it, cases looked at)): where the records show institutions serving outside
    what their profile says (profiles built up to ``since``), the rule cannot be a hard filter on this data."""
    outcomes = tables.outcomes
    served = outcomes.loc[outcomes["status"].isin(TAKEN_UP), ["problem_id", "institution_id"]].drop_duplicates()
    problems = problem_frame(tables)
    stated = pd.to_datetime(problems["stated_at"])
    window = (stated < split) if since is None else (stated >= since) & (stated < split)
    problems = problems[window & problems["problem_id"].isin(set(served["problem_id"]))].reset_index(drop=True)
    if problems.empty:
        return {}
    matcher = Matcher().fit(tables.institutions, regions=tables.enterprises["region"].astype(str).unique())
    prepared = matcher.prepare(problems)
    catalogue = matcher.catalogue_
    masks = eligibility_masks(prepared, np.arange(len(problems)), catalogue)
    pairs = served.merge(problems[["problem_id"]].reset_index(), on="problem_id")
    pairs = pairs[pairs["institution_id"].isin(catalogue.position)]
    columns = pairs["institution_id"].map(catalogue.position).to_numpy(dtype=np.int64)
    out: dict[str, tuple[int, int]] = {}
    for rule, mask in masks.items():
        # a case passes a rule when any institution that served it passes it
        passed = pd.Series(mask[pairs["index"].to_numpy(), columns]).groupby(pairs["index"].to_numpy()).any()
        broken = int((~passed).sum())
        if broken and broken >= threshold * len(passed):
            out[rule] = (broken, int(len(passed)))
    return out


def build_study(tables: Tables, split: pd.Timestamp, *, soft_rules: tuple[str, ...] = ()) -> Study:
    """Cases, split, fitted Matcher (track record: outcomes recorded before ``split``), prepared problems."""
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
    matcher = fit_matcher(tables, as_of=split, soft_rules=soft_rules)
    prepared = matcher.prepare(problems)
    served = served.assign(problem_row=served["problem_id"].map(
        pd.Series(np.arange(len(problems)), index=problems["problem_id"]))).dropna(subset=["problem_row"])
    served = served.astype({"problem_row": np.int64})
    served["institution_row"] = served["institution_id"].map(matcher.catalogue_.position).astype(np.int64)
    cases = served.merge(problems[["region", "sector", "amount", "stated_at", "text"]], left_on="problem_row",
                         right_index=True).rename(columns={"stated_at": "time"})
    train_cases = cases.loc[cases["time"] < split, ["institution_id", "region", "sector", "amount", "time", "text"]]
    return Study(
        split=split, matcher=matcher, prepared=prepared, problems=problems, served=served, train=train, test=test,
        truth_by_row=served.groupby("problem_row")["institution_id"].agg(frozenset), train_cases=train_cases,
        popularity=Popularity(train_cases),
    )


def ranked_lists(ids: np.ndarray, p: np.ndarray, i: np.ndarray, scores: np.ndarray, rows: np.ndarray,
                 length: int) -> list[np.ndarray]:
    """Per row of ``rows``: institution ids by descending score (ties by catalogue order), at most ``length``."""
    order = np.lexsort((i, -scores, p))
    p, i = p[order], i[order]
    starts, stops = np.searchsorted(p, rows, side="left"), np.searchsorted(p, rows, side="right")
    return [ids[i[a:min(b, a + length)]] for a, b in zip(starts, stops, strict=True)]
