"""What an institution served before a given time, as pair features: shares by region and sector, volume,
recency, amount gap and text similarity to the problems it served.

Input: the served cases of the training period (institution_id, region, sector, amount, time and optionally the
problems' text vectors) and query pairs (the same columns for the problem, plus the institution asked about).
Output (``History.features``): one row per query pair with ``HISTORY_FEATURES``, each computed from cases
*strictly before* the pair's time, so training pairs see only their past and evaluation pairs see the whole
training period. Nothing here knows SBA or Kiva: these are the features the engine's track record lacks (it
has one global success rate and case count per institution), proposed for ``matching.features``.

Counting is vectorised: cases are sorted by (key, time) as one integer code and each query is two
``searchsorted`` calls, whatever the number of cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from training.realdata.neighbours import TEXT_FEATURES, text_history

__all__ = ["HISTORY_FEATURES", "History", "RECENT_DAYS"]

RECENT_DAYS = 365

HISTORY_FEATURES: tuple[str, ...] = (
    "history_cases_log",
    "history_share",
    "history_recent_share",
    "history_days_since_last_log",
    "history_days_since_first_log",
    "history_region_share",
    "history_region_cases_log",
    "history_region_recent_share",
    "history_sector_share",
    "history_region_sector_share",
    "history_amount_gap",
    *TEXT_FEATURES,
)


class _Before:
    """Counts (and sums) of cases with a given integer key strictly before given times."""

    def __init__(self, keys: np.ndarray, ranks: np.ndarray, span: int, values: np.ndarray | None = None) -> None:
        self.span = span
        codes = keys.astype(np.int64) * span + ranks
        order = np.argsort(codes, kind="stable")
        self.codes = codes[order]
        self.sums = None if values is None else np.concatenate([[0.0], np.cumsum(values[order])])

    def _bounds(self, keys: np.ndarray, ranks: np.ndarray, since: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        base = keys.astype(np.int64) * self.span
        start = np.searchsorted(self.codes, base + (0 if since is None else since), side="left")
        stop = np.searchsorted(self.codes, base + ranks, side="left")
        return start, np.maximum(stop, start)

    def count(self, keys: np.ndarray, ranks: np.ndarray, since: np.ndarray | None = None) -> np.ndarray:
        start, stop = self._bounds(keys, ranks, since)
        return (stop - start).astype(np.float64)

    def total(self, keys: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        assert self.sums is not None
        start, stop = self._bounds(keys, ranks, None)
        return self.sums[stop] - self.sums[start]

    def last(self, keys: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Rank of the latest case before each time, -1 when there is none."""
        return self._end(keys, ranks, latest=True)

    def first(self, keys: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Rank of the earliest case before each time, -1 when there is none."""
        return self._end(keys, ranks, latest=False)

    def _end(self, keys: np.ndarray, ranks: np.ndarray, *, latest: bool) -> np.ndarray:
        start, stop = self._bounds(keys, ranks, None)
        found = stop > start
        out = np.full(len(keys), -1, dtype=np.int64)
        out[found] = self.codes[(stop[found] - 1) if latest else start[found]] % self.span
        return out


class History:
    """Served cases to count from. ``cases`` columns: institution_id, region, sector, amount, time."""

    def __init__(self, cases: pd.DataFrame, *, text_vectors: sp.csr_matrix | None = None) -> None:
        self.cases = cases.reset_index(drop=True)
        self.text_vectors = text_vectors

    def features(self, queries: pd.DataFrame, *, vectors: sp.csr_matrix | None = None,
                 problem_index: np.ndarray | None = None, text_blocks: int = 12) -> pd.DataFrame:
        """``HISTORY_FEATURES`` for query pairs (columns institution_id, region, sector, amount, time).

        ``vectors`` holds the problems' text vectors (same vocabulary as the cases') and ``problem_index`` the row
        of ``vectors`` of each query; without them the text similarity is NaN."""
        cases, n = self.cases, len(queries)
        case_times = pd.to_datetime(cases["time"]).to_numpy(dtype="datetime64[ns]")
        query_times = pd.to_datetime(queries["time"]).to_numpy(dtype="datetime64[ns]")
        window = query_times - np.timedelta64(RECENT_DAYS, "D")
        timeline = np.unique(np.concatenate([case_times, query_times, window]))
        span = len(timeline) + 1
        case_rank = np.searchsorted(timeline, case_times)
        query_rank = np.searchsorted(timeline, query_times)
        window_rank = np.searchsorted(timeline, window)

        def codes(*columns: str) -> tuple[np.ndarray, np.ndarray]:
            both = pd.concat([cases[list(columns)], queries[list(columns)]], ignore_index=True).astype(str)
            code = both.groupby(list(columns), sort=False).ngroup().to_numpy(dtype=np.int64)
            return code[: len(cases)], code[len(cases):]

        def counter(*columns: str) -> tuple[_Before, np.ndarray]:
            if not columns:
                return _Before(np.zeros(len(cases)), case_rank, span), np.zeros(n, dtype=np.int64)
            case_code, query_code = codes(*columns)
            return _Before(case_code, case_rank, span), query_code

        everyone, zero = counter()
        institution, inst_code = counter("institution_id")
        region, region_code = counter("region")
        inst_region, inst_region_code = counter("institution_id", "region")
        sector, sector_code = counter("sector")
        inst_sector, inst_sector_code = counter("institution_id", "sector")
        region_sector, rs_code = counter("region", "sector")
        inst_rs, inst_rs_code = counter("institution_id", "region", "sector")

        n_all = everyone.count(zero, query_rank)
        n_inst = institution.count(inst_code, query_rank)
        recent_all = everyone.count(zero, query_rank, since=window_rank)
        recent_inst = institution.count(inst_code, query_rank, since=window_rank)
        n_region = region.count(region_code, query_rank)
        n_inst_region = inst_region.count(inst_region_code, query_rank)
        recent_region = region.count(region_code, query_rank, since=window_rank)
        recent_inst_region = inst_region.count(inst_region_code, query_rank, since=window_rank)
        def days_since(rank: np.ndarray) -> np.ndarray:
            elapsed = (query_times - timeline[np.maximum(rank, 0)]) / np.timedelta64(1, "D")
            return np.log1p(np.clip(np.where(rank >= 0, elapsed, np.nan), 0, None))

        amounts = np.log1p(pd.to_numeric(cases["amount"], errors="coerce").to_numpy(dtype=np.float64))
        known = ~np.isnan(amounts)
        case_code, query_code = codes("institution_id")
        amount_sum = _Before(case_code[known], case_rank[known], span, amounts[known])
        amount_n = amount_sum.count(query_code, query_rank)
        mean_amount = np.where(amount_n > 0, amount_sum.total(query_code, query_rank) / np.maximum(amount_n, 1),
                               np.nan)
        query_amount = np.log1p(pd.to_numeric(queries["amount"], errors="coerce").to_numpy(dtype=np.float64))

        columns = {
            "history_cases_log": np.log1p(n_inst),
            "history_share": n_inst / np.maximum(n_all, 1.0),
            "history_recent_share": recent_inst / np.maximum(recent_all, 1.0),
            "history_days_since_last_log": days_since(institution.last(inst_code, query_rank)),
            # how long the institution has been serving: a young one with few cases is growing, an old one
            # with few cases is fading (Kiva partners new in 2016 took a country's cases from their first year)
            "history_days_since_first_log": days_since(institution.first(inst_code, query_rank)),
            "history_region_share": n_inst_region / (n_region + 1.0),
            "history_region_cases_log": np.log1p(n_inst_region),
            "history_region_recent_share": recent_inst_region / (recent_region + 1.0),
            "history_sector_share": inst_sector.count(inst_sector_code, query_rank)
            / (sector.count(sector_code, query_rank) + 1.0),
            "history_region_sector_share": inst_rs.count(inst_rs_code, query_rank)
            / (region_sector.count(rs_code, query_rank) + 1.0),
            "history_amount_gap": np.abs(query_amount - mean_amount),
        }
        columns.update(self._text(queries, vectors, problem_index, case_times, query_times, text_blocks))
        return pd.DataFrame(columns, columns=list(HISTORY_FEATURES))

    def _text(self, queries: pd.DataFrame, vectors: sp.csr_matrix | None, problem_index: np.ndarray | None,
              case_times: np.ndarray, query_times: np.ndarray, blocks: int) -> dict[str, np.ndarray]:
        if self.text_vectors is None or vectors is None or problem_index is None:
            return {name: np.full(len(queries), np.nan) for name in TEXT_FEATURES}
        ids, codes = np.unique(np.concatenate([self.cases["institution_id"].astype(str).to_numpy(),
                                               queries["institution_id"].astype(str).to_numpy()]),
                               return_inverse=True)
        return text_history(self.text_vectors, codes[: len(self.cases)], case_times, vectors, problem_index,
                            codes[len(self.cases):], query_times, len(ids), blocks=blocks)
