"""Ranking metrics as small pure functions, plus one vectorised form over many ranked lists.

Definitions (``k`` counts positions 1..k; a list shorter than ``k`` is scored over what it has):

- **DCG@k** = sum over positions r = 1..k of ``gain_r / log2(r + 1)``, with *linear* gains (the gain itself,
  not ``2**gain - 1``): outcome stages 0..3 (``matching.records.STATUS_GAIN``) or a true success probability.
- **NDCG@k** = DCG@k of the ranking / DCG@k of the ideal ranking of *all* gains that could have been ranked
  (``ideal_gains``: e.g. every eligible institution's true p_success, not only those in the list). A list
  whose ideal DCG is 0 has no defined NDCG and is left out of averages (``nan`` here).
- **AP@k** = (1 / min(n_relevant, k)) * sum over relevant positions r <= k of precision@r; binary relevance.
- **Reciprocal rank** = 1 / position of the first relevant item, 0 when none is ranked.
- **Recall@k** = relevant items in the first k / all relevant items (``nan`` when there are none).
- **Coverage** = distinct institutions recommended anywhere / catalogue size.
- **Kind diversity** = mean number of distinct institution kinds in a top-k list.

``grouped_metrics`` computes the same numbers for many lists at once from a long frame (one row per ranked
item) without a Python loop over lists; its tests check it against the pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "dcg_at_k",
    "ndcg_at_k",
    "average_precision_at_k",
    "reciprocal_rank",
    "recall_at_k",
    "coverage",
    "kind_diversity",
    "rank_within_groups",
    "grouped_metrics",
    "ideal_dcg_frame",
]


def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def dcg_at_k(ranked_gains: Sequence[float] | np.ndarray, k: int) -> float:
    """Discounted cumulative gain of the first ``k`` gains, in ranked order."""
    gains = np.asarray(ranked_gains, dtype=np.float64)[:k]
    return float(np.sum(gains * _discounts(len(gains))))


def ndcg_at_k(
    ranked_gains: Sequence[float] | np.ndarray, k: int, *, ideal_gains: Sequence[float] | np.ndarray | None = None
) -> float:
    """NDCG@k; the ideal is built from ``ideal_gains`` (default: the ranked gains themselves)."""
    ideal = np.sort(np.asarray(ranked_gains if ideal_gains is None else ideal_gains, dtype=np.float64))[::-1]
    best = dcg_at_k(ideal, k)
    return float("nan") if best <= 0 else dcg_at_k(ranked_gains, k) / best


def average_precision_at_k(
    ranked_relevant: Sequence[bool] | np.ndarray, k: int, *, n_relevant: int | None = None
) -> float:
    """AP@k of a binary relevance list; ``n_relevant`` counts relevant items beyond the list too."""
    relevant = np.asarray(ranked_relevant, dtype=bool)
    total = int(relevant.sum()) if n_relevant is None else n_relevant
    if total == 0:
        return float("nan")
    top = relevant[:k]
    precision = np.cumsum(top) / np.arange(1, len(top) + 1)
    return float(np.sum(precision * top) / min(total, k))


def reciprocal_rank(ranked_relevant: Sequence[bool] | np.ndarray) -> float:
    hits = np.flatnonzero(np.asarray(ranked_relevant, dtype=bool))
    return 0.0 if len(hits) == 0 else 1.0 / (hits[0] + 1)


def recall_at_k(ranked_relevant: Sequence[bool] | np.ndarray, k: int, *, n_relevant: int | None = None) -> float:
    relevant = np.asarray(ranked_relevant, dtype=bool)
    total = int(relevant.sum()) if n_relevant is None else n_relevant
    return float("nan") if total == 0 else float(relevant[:k].sum()) / total


def coverage(recommended: Iterable[str], catalogue_size: int) -> float:
    """Share of the catalogue recommended at least once."""
    return 0.0 if catalogue_size <= 0 else len(set(recommended)) / catalogue_size


def kind_diversity(top_lists: Iterable[Sequence[str]]) -> float:
    """Mean number of distinct kinds per list (lists given as their items' kinds)."""
    counts = [len(set(kinds)) for kinds in top_lists]
    return float(np.mean(counts)) if counts else float("nan")


def rank_within_groups(group: np.ndarray, score: np.ndarray, tie: np.ndarray) -> np.ndarray:
    """1-based rank of each row within its group by descending score; equal scores ordered by ``tie``.

    Ties are broken by a fixed key (not by input order) so that a ranker gains nothing from how rows arrive.
    """
    order = np.lexsort((tie, -np.asarray(score, dtype=np.float64), group))
    ranks = np.empty(len(order), dtype=np.int64)
    sorted_groups = np.asarray(group)[order]
    starts = np.r_[0, np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(order)])
    ranks[order] = np.arange(len(order)) - np.repeat(starts, sizes) + 1
    return ranks


def grouped_metrics(
    frame: pd.DataFrame,
    *,
    score: str,
    gain: str,
    relevant: str,
    ks: Sequence[int] = (5, 10),
    group: str = "problem_id",
    tie: str = "institution_id",
    ideal_dcg: pd.Series | None = None,
    n_relevant: pd.Series | None = None,
) -> pd.DataFrame:
    """Per list (``group``): ``ndcg_at_{k}``, ``map_at_5``, ``mrr``, ``recall_at_10`` of ranking by ``score``.

    ``ideal_dcg`` (indexed by group, columns ``k`` as given by ``ideal_dcg_frame``) and ``n_relevant`` let the
    ideal and the number of relevant items come from a larger set than the rows ranked here.
    """
    groups = frame[group].to_numpy()
    codes, uniques = pd.factorize(groups, sort=True)
    tie_codes = pd.factorize(frame[tie].to_numpy(), sort=True)[0]
    ranks = rank_within_groups(codes, frame[score].to_numpy(), tie_codes)
    gains = frame[gain].to_numpy(dtype=np.float64)
    hit = frame[relevant].to_numpy(dtype=bool)
    discount = 1.0 / np.log2(ranks + 1.0)
    n = len(uniques)
    out = pd.DataFrame(index=pd.Index(uniques, name=group))
    ideal = ideal_dcg_frame(frame, gain=gain, ks=ks, group=group) if ideal_dcg is None else ideal_dcg
    ideal = ideal.reindex(out.index)
    for k in ks:
        dcg = np.bincount(codes, weights=np.where(ranks <= k, gains * discount, 0.0), minlength=n)
        best = ideal[k].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"ndcg_at_{k}"] = np.where(best > 0, dcg / best, np.nan)
    total = np.bincount(codes, weights=hit.astype(np.float64), minlength=n)
    if n_relevant is not None:
        total = n_relevant.reindex(out.index).fillna(0).to_numpy(dtype=np.float64)
    # AP@5: precision at each relevant rank <= 5, i.e. (hits at or above r) / r.
    order = np.lexsort((ranks, codes))
    hits_sorted = hit[order].astype(np.float64)
    cumulative = _group_cumsum(hits_sorted, codes[order])
    precision = np.empty(len(order))
    precision[order] = cumulative / ranks[order]
    top5 = (ranks <= 5) & hit
    ap_sum = np.bincount(codes, weights=np.where(top5, precision, 0.0), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["map_at_5"] = np.where(total > 0, ap_sum / np.minimum(total, 5), np.nan)
        first = np.full(n, np.inf)
        np.minimum.at(first, codes[hit], ranks[hit].astype(np.float64))
        out["mrr"] = np.where(total > 0, np.where(np.isfinite(first), 1.0 / first, 0.0), np.nan)
        in_top10 = np.bincount(codes, weights=((ranks <= 10) & hit).astype(np.float64), minlength=n)
        out["recall_at_10"] = np.where(total > 0, in_top10 / total, np.nan)
    return out


def _group_cumsum(values: np.ndarray, sorted_groups: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each group (rows already sorted by group)."""
    running = np.cumsum(values)
    starts = np.r_[0, np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1]
    offsets = np.r_[0.0, running][starts]
    sizes = np.diff(np.r_[starts, len(values)])
    return running - np.repeat(offsets, sizes)


def ideal_dcg_frame(frame: pd.DataFrame, *, gain: str, ks: Sequence[int], group: str = "problem_id") -> pd.DataFrame:
    """Per group, the DCG@k of its gains sorted best first (columns: each k)."""
    codes, uniques = pd.factorize(frame[group].to_numpy(), sort=True)
    gains = frame[gain].to_numpy(dtype=np.float64)
    ranks = rank_within_groups(codes, gains, np.zeros(len(gains)))
    discount = 1.0 / np.log2(ranks + 1.0)
    return pd.DataFrame(
        {k: np.bincount(codes, weights=np.where(ranks <= k, gains * discount, 0.0), minlength=len(uniques))
         for k in ks},
        index=pd.Index(uniques, name=group),
    )
