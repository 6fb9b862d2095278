"""Evaluation of rankers on the latest outcomes, always beside the baselines, on one frozen snapshot.

Input: a ``PairData`` (its evaluation part) and, on simulator data, the ground truth (``problem_id,
institution_id, p_success``). ``build_snapshot`` freezes what every ranker is scored on (features included),
so a champion can later be re-scored on a challenger's exact evaluation data (``save_snapshot``/
``load_snapshot``). ``evaluate_rankers`` returns flat metric names for MLflow.

Two families of metrics (functions and definitions in ``training.metrics``):

- **Logged** (any data; names ``ndcg_at_5``, ``map_at_5``, ``mrr``, ``recall_at_10``...): each evaluation
  problem's *tried* institutions re-ranked by the ranker; gains are the outcome stages (solved 3, accepted 2,
  contacted 1, declined/failed 0); relevant (for MAP/MRR/recall) means solved. Only problems with at least two
  tried institutions and one positive gain count: with one, every ranker scores the same.
- **Ground truth** (simulator; names prefixed ``gt_``): each evaluation problem's *eligible* institutions (all, or
  the top ``evaluation.candidates`` by retrieval) ranked; gains are the true p_success, the ideal is the best
  order of all eligible institutions; relevant means among the 5 truly best eligible. An oracle ranking by
  p_success scores 1.0 here by construction, so the oracle is also reported on the logged family, where outcome
  noise keeps it below 1.

Rankers and suffixes: the model (no suffix), ``_text_baseline`` (``TextOnlyRanker``), ``_popularity`` (solved
outcomes per institution in the training period), ``_cold_start`` (``BaselineRanker``) and, with ground truth,
``_oracle``. List metrics on the ranked lists: ``coverage_at_10`` (share of the catalogue in any top 10) and
``kind_diversity_at_5`` (distinct kinds in a top 5). Slices: ``kind/<kind>/<metric>`` (problems grouped by the kind
of their best institution: best outcome, or truly best with ground truth) and ``sector/<sector>/<metric>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matching import FEATURE_NAMES, BaselineRanker, LearnedRanker, TextOnlyRanker
from matching.records import INSTITUTION_KINDS
from training.dataset import PairData, featurise
from training.metrics import coverage, grouped_metrics, ideal_dcg_frame

__all__ = [
    "EvaluationSnapshot",
    "ScoreFunction",
    "build_snapshot",
    "save_snapshot",
    "load_snapshot",
    "evaluate_rankers",
    "standard_rankers",
    "SUFFIXES",
    "KEY_METRICS",
]

ScoreFunction = Callable[[pd.DataFrame], np.ndarray]
SUFFIXES = {"model": "", "text_baseline": "_text_baseline", "popularity": "_popularity",
            "cold_start": "_cold_start", "oracle": "_oracle"}
KEY_METRICS = ("ndcg_at_5", "ndcg_at_10", "map_at_5", "mrr", "recall_at_10", "gt_ndcg_at_5", "gt_ndcg_at_10",
               "coverage_at_10", "kind_diversity_at_5")
SLICE_METRICS = ("ndcg_at_5", "gt_ndcg_at_5")
GT_RELEVANT_TOP = 5
_INFO = ["problem_id", "institution_id", "kind", "sector", "popularity"]


@dataclass(slots=True)
class EvaluationSnapshot:
    logged: pd.DataFrame  # tried evaluation pairs: _INFO, gain, solved, true_p, FEATURE_NAMES
    ranked: pd.DataFrame  # eligible candidates of evaluation problems: _INFO, gain (logged or 0), true_p, features
    catalogue_size: int
    has_ground_truth: bool


def _popularity(data: PairData) -> pd.Series:
    """Solved outcomes per institution before the cutoff, ties broken by tries (a thousandth each)."""
    past = data.pairs[data.pairs["tried"] & (data.pairs["split"] != "evaluation")]
    grouped = past.groupby("institution_id")["solved"].agg(["sum", "count"])
    return grouped["sum"] + 1e-3 * grouped["count"]


def build_snapshot(data: PairData, *, candidates: int = 0, ground_truth: pd.DataFrame | None = None
                   ) -> EvaluationSnapshot:
    """Freeze the evaluation data: the tried pairs, and every eligible candidate of the same problems."""
    matcher, prepared = data.matcher, data.prepared
    catalogue = matcher.catalogue_
    popularity = _popularity(data)
    logged_pairs, logged_features = data.split("evaluation")
    tried = logged_pairs["tried"].to_numpy()
    logged = pd.concat([logged_pairs.loc[tried, ["problem_id", "institution_id", "kind", "sector", "gain",
                                                 "solved"]].reset_index(drop=True),
                        logged_features[tried].reset_index(drop=True)], axis=1)
    rows = np.flatnonzero((data.problems["split"] == "evaluation").to_numpy())
    n = candidates or len(catalogue)
    parts = []
    for chunk in matcher.chunks(len(rows)):
        found = matcher.candidates(prepared, rows[chunk], n=n)
        parts.append(pd.DataFrame({"problem_row": found.problem_rows, "institution_row": found.institution_rows}))
    pairs = pd.concat(parts, ignore_index=True)
    pairs["problem_id"] = data.problems["problem_id"].to_numpy()[pairs["problem_row"]]
    pairs["institution_id"] = catalogue.ids[pairs["institution_row"]]
    pairs["decided_at"] = data.problems["decided_at"].to_numpy()[pairs["problem_row"]]
    features = featurise(matcher, prepared, pairs, data.outcomes)
    gains = logged.set_index(["problem_id", "institution_id"])["gain"]
    key = pd.MultiIndex.from_frame(pairs[["problem_id", "institution_id"]])
    ranked = pd.DataFrame({
        "problem_id": pairs["problem_id"], "institution_id": pairs["institution_id"],
        "kind": np.asarray(INSTITUTION_KINDS)[catalogue.kinds[pairs["institution_row"]]],
        "sector": data.problems["sector"].to_numpy()[pairs["problem_row"]],
        "gain": gains.reindex(key).fillna(0).to_numpy(dtype=np.int64),
    })
    ranked = pd.concat([ranked, features.reset_index(drop=True)], axis=1)
    has_truth = ground_truth is not None and len(ground_truth) > 0
    for frame in (logged, ranked):
        frame["popularity"] = frame["institution_id"].map(popularity).fillna(0.0).to_numpy(dtype=np.float64)
        frame["true_p"] = _truth(frame, ground_truth) if has_truth else np.nan
    return EvaluationSnapshot(logged=logged, ranked=ranked, catalogue_size=len(catalogue),
                              has_ground_truth=has_truth)


def _truth(frame: pd.DataFrame, ground_truth: pd.DataFrame | None) -> np.ndarray:
    assert ground_truth is not None
    truth = ground_truth.astype({"problem_id": str, "institution_id": str})
    truth = truth.drop_duplicates(["problem_id", "institution_id"]).set_index(["problem_id", "institution_id"])
    key = pd.MultiIndex.from_frame(frame[["problem_id", "institution_id"]].astype(str))
    return truth["p_success"].reindex(key).to_numpy(dtype=np.float64)


def save_snapshot(snapshot: EvaluationSnapshot, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    snapshot.logged.to_parquet(folder / "logged.parquet", index=False)
    snapshot.ranked.to_parquet(folder / "ranked.parquet", index=False)
    (folder / "catalogue_size.txt").write_text(f"{snapshot.catalogue_size}\n", encoding="utf-8")
    return folder


def load_snapshot(folder: str | Path) -> EvaluationSnapshot:
    folder = Path(folder)
    logged = pd.read_parquet(folder / "logged.parquet")
    ranked = pd.read_parquet(folder / "ranked.parquet")
    size = int((folder / "catalogue_size.txt").read_text(encoding="utf-8").strip())
    return EvaluationSnapshot(logged=logged, ranked=ranked, catalogue_size=size,
                              has_ground_truth=bool(ranked["true_p"].notna().any()))


def standard_rankers(model: LearnedRanker | None, snapshot: EvaluationSnapshot) -> dict[str, ScoreFunction]:
    """The model (if given) beside popularity, text-only, cold-start and (with ground truth) the oracle."""
    text, cold = TextOnlyRanker(), BaselineRanker()
    rankers: dict[str, ScoreFunction] = {
        "text_baseline": lambda frame: text.score(frame[list(FEATURE_NAMES)]),
        "popularity": lambda frame: frame["popularity"].to_numpy(dtype=np.float64),
        "cold_start": lambda frame: cold.score(frame[list(FEATURE_NAMES)]),
    }
    if model is not None:
        rankers = {"model": lambda frame: model.score(frame[list(model.feature_names)]), **rankers}
    if snapshot.has_ground_truth:
        rankers["oracle"] = lambda frame: np.nan_to_num(frame["true_p"].to_numpy(dtype=np.float64), nan=0.0)
    return rankers


def evaluate_rankers(snapshot: EvaluationSnapshot, rankers: Mapping[str, ScoreFunction], *,
                     ks: tuple[int, ...] = (1, 3, 5, 10), slices: bool = True) -> dict[str, float]:
    """Every metric of every ranker, named ``<metric><suffix>`` (suffix per ``SUFFIXES``, else ``_<name>``)."""
    ks = tuple(sorted(set(ks) | {5, 10}))
    logged = snapshot.logged[snapshot.logged.groupby("problem_id")["problem_id"].transform("size") >= 2]
    logged = logged.assign(relevant=logged["solved"].astype(bool))
    truth = _truth_frame(snapshot) if snapshot.has_ground_truth else None
    groups = {"logged": _problem_groups(logged, "gain"), "gt": _problem_groups(truth, "true_p")}
    out: dict[str, float] = {"eval_problems_logged": float(logged["problem_id"].nunique()),
                             "eval_pairs_logged": float(len(logged)),
                             "eval_problems_ground_truth": float(0 if truth is None else truth["problem_id"].nunique()),
                             "eval_candidates": float(len(snapshot.ranked))}
    ideal = None if truth is None else ideal_dcg_frame(truth, gain="true_p", ks=ks)
    for name, score in rankers.items():
        suffix = SUFFIXES.get(name, f"_{name}")
        ranked_scores = pd.Series(score(snapshot.ranked), index=snapshot.ranked.index)
        per_problem: dict[str, pd.DataFrame | None] = {"logged": None, "gt": None}
        if len(logged):
            table = grouped_metrics(logged.assign(score=score(logged)), score="score", gain="gain",
                                    relevant="relevant", ks=ks)
            per_problem["logged"] = table
            out.update({f"{metric}{suffix}": float(table[metric].mean()) for metric in table.columns})
        if truth is not None:
            table = grouped_metrics(truth.assign(score=ranked_scores.loc[truth.index]), score="score",
                                    gain="true_p", relevant="relevant", ks=ks, ideal_dcg=ideal)
            per_problem["gt"] = table
            out.update({f"gt_{metric}{suffix}": float(table[metric].mean()) for metric in table.columns})
        out.update({f"{metric}{suffix}": value for metric, value in _list_metrics(snapshot, ranked_scores).items()})
        if slices:
            out.update(_slices(per_problem, groups, suffix))
    return out


def _truth_frame(snapshot: EvaluationSnapshot) -> pd.DataFrame:
    """Eligible candidates of problems with ground truth; relevant = among the 5 truly best (ties included)."""
    ranked = snapshot.ranked
    known = ranked["true_p"].notna().groupby(ranked["problem_id"]).transform("any").to_numpy(dtype=bool)
    truth = ranked.loc[known, ["problem_id", "institution_id", "kind", "sector", "true_p"]].copy()
    truth["true_p"] = truth["true_p"].fillna(0.0)
    order = truth.sort_values(["problem_id", "true_p"], ascending=[True, False])
    position = order.groupby("problem_id").cumcount()
    # The 5th best value (or the last, in a shorter list) of each problem: everything at least as good counts.
    last = order.groupby("problem_id").cumcount(ascending=False) == 0
    kth = order[(position == GT_RELEVANT_TOP - 1) | (last & (position < GT_RELEVANT_TOP - 1))]
    threshold = truth["problem_id"].map(kth.set_index("problem_id")["true_p"])
    truth["relevant"] = (truth["true_p"] >= threshold) & (truth["true_p"] > 0)
    return truth


def _problem_groups(frame: pd.DataFrame | None, gain: str) -> pd.DataFrame | None:
    """Per problem: its sector and the kind of its best institution (highest gain, first by id on ties)."""
    if frame is None or len(frame) == 0:
        return None
    best = frame.sort_values([gain, "institution_id"], ascending=[False, True]).drop_duplicates("problem_id")
    return best.set_index("problem_id")[["kind", "sector"]]


def _slices(per_problem: dict[str, pd.DataFrame | None], groups: dict[str, pd.DataFrame | None], suffix: str
            ) -> dict[str, float]:
    out: dict[str, float] = {}
    for family, prefix in (("logged", ""), ("gt", "gt_")):
        table, group = per_problem[family], groups[family]
        if table is None or group is None:
            continue
        joined = table[["ndcg_at_5"]].join(group, how="left")
        for by in ("kind", "sector"):
            for value, part in joined.groupby(by):
                mean = part["ndcg_at_5"].mean()
                if not np.isnan(mean):
                    out[f"{by}/{value}/{prefix}ndcg_at_5{suffix}"] = float(mean)
    return out


def _list_metrics(snapshot: EvaluationSnapshot, scores: pd.Series) -> dict[str, float]:
    """Coverage of the top 10s and kind diversity of the top 5s, over every evaluation problem."""
    ranked = snapshot.ranked
    if len(ranked) == 0:
        return {}
    order = ranked[["problem_id", "institution_id", "kind"]].assign(score=scores)
    order = order.sort_values(["problem_id", "score", "institution_id"], ascending=[True, False, True],
                              kind="stable")
    position = order.groupby("problem_id").cumcount()
    top10, top5 = order[position < 10], order[position < 5]
    return {
        "coverage_at_10": coverage(top10["institution_id"], snapshot.catalogue_size),
        "kind_diversity_at_5": float(top5.groupby("problem_id")["kind"].nunique().mean()),
    }
