"""The one feature function: (problem, institution) candidate pairs in, a feature frame out.

Training, the HTTP service and batch runs all call ``pair_features``, so what a model learns on is what it is
served (no train/serve skew). Track-record features come from ``track_record`` (everything recorded so far,
for serving) or ``track_record_asof`` (only outcomes strictly before each pair's time, for training).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matching.catalogue import Catalogue
from matching.features.history import HISTORY_FEATURES, CaseHistory
from matching.records import CATEGORIES, INSTITUTION_KINDS
from matching.understand.lexicon import CATEGORY_KIND_PRIOR
from matching.understand.problems import PreparedProblems

__all__ = ["FEATURE_NAMES", "pair_features", "track_record", "track_record_asof", "TRACK_SMOOTHING"]

TRACK_SMOOTHING = 5.0  # pseudo-cases pulling an institution's success rate towards the overall rate

FEATURE_NAMES: tuple[str, ...] = (
    "text_similarity",
    "text_similarity_relative",
    "kind_prior",
    "category_overlap",
    "category_confidence_max",
    "sector_fit",
    "region_fit",
    "amount_fit",
    "amount_log",
    "is_lender",
    *(f"kind_{k}" for k in INSTITUTION_KINDS),
    *(f"category_{c}" for c in CATEGORIES),
    "track_success_rate",
    "track_cases_log",
    "load_ratio",
    "employees_log",
    "revenue_log",
    "enterprise_age",
    *HISTORY_FEATURES,
)


_COLUMNS = pd.Index(FEATURE_NAMES)  # built once, not per call: a one-problem call should not pay for it


def pair_features(
    problems: PreparedProblems,
    catalogue: Catalogue,
    problem_rows: np.ndarray,
    institution_rows: np.ndarray,
    *,
    text_similarity: np.ndarray | None = None,
    row_max_similarity: np.ndarray | None = None,
    track_success_rate: np.ndarray | None = None,
    track_cases: np.ndarray | None = None,
    institution_track: tuple[np.ndarray, np.ndarray] | None = None,
    history: CaseHistory | None = None,
    times: np.ndarray | None = None,
) -> pd.DataFrame:
    """Features of pairs ``(problem_rows[i], institution_rows[i])``, in FEATURE_NAMES order.

    ``text_similarity`` may be passed when the caller already has it from retrieval; otherwise it is computed
    per pair from the sparse vectors. Track record: per-pair arrays (training, as of each pair's time) or a
    per-institution ``(rate, cases)`` pair (serving); neither means no history (the overall prior of 0).
    ``history``: what outcomes say about institutions and enterprises (``HISTORY_FEATURES``), counted before each
    pair's time in ``times`` (seconds, ``matching.features.history.as_seconds``; training) or from all it keeps (None:
    serving, the history being built as of the time served); without it those features are missing (NaN).
    """
    p, i = np.asarray(problem_rows), np.asarray(institution_rows)
    if text_similarity is None:
        queries = problems.queries[p]
        documents = catalogue.index.documents_[:, i].T.tocsr()
        text_similarity = np.asarray(queries.multiply(documents).sum(axis=1)).ravel()
    if row_max_similarity is None:
        row_max_similarity = pd.Series(text_similarity).groupby(p).transform("max").to_numpy()
    confidence = problems.detection.confidence[p]
    kinds = catalogue.kinds[i]
    prior = (confidence * CATEGORY_KIND_PRIOR[:, kinds].T).max(axis=1) if len(p) else np.zeros(0)
    inst_categories = catalogue.categories[i]
    overlap = (confidence * inst_categories).sum(axis=1) / np.maximum(confidence.sum(axis=1), 1.0)

    sector = problems.sector[p]
    has_sector = sector >= 0
    sector_fit = np.full(len(p), 0.5)
    served = catalogue.serves_sector[i, np.where(has_sector, sector, 0)]
    sector_fit[has_sector] = np.where(
        served[has_sector], np.where(catalogue.sector_explicit[i][has_sector], 1.0, 0.5), 0.0
    )
    region = problems.region[p]
    has_region = region >= 0
    region_fit = np.full(len(p), 0.5)
    if catalogue.serves_region.shape[1]:
        r_served = catalogue.serves_region[i, np.where(has_region, region, 0)]
        region_fit[has_region] = np.where(
            r_served[has_region], np.where(catalogue.region_explicit[i][has_region], 1.0, 0.5), 0.0
        )

    amount = problems.amount[p]
    low, high = catalogue.min_amount[i], catalogue.max_amount[i]
    with np.errstate(invalid="ignore", divide="ignore"):
        log_amount = np.log1p(amount)
        low_log, high_log = np.log1p(np.nan_to_num(low, nan=0.0)), np.log1p(high)
        middle, half = (low_log + high_log) / 2, np.maximum((high_log - low_log) / 2, 1e-6)
        amount_fit = np.clip(1.0 - np.abs(log_amount - middle) / half, 0.0, 1.0)
    amount_fit = np.where(catalogue.is_lender[i] & ~np.isnan(amount) & ~np.isnan(high), amount_fit, np.nan)

    if track_success_rate is None:
        if institution_track is not None:
            track_success_rate, track_cases = institution_track[0][i], institution_track[1][i]
        else:
            track_success_rate, track_cases = np.full(len(p), np.nan), np.zeros(len(p))
    capacity = catalogue.capacity[i]
    load_ratio = np.where(np.isfinite(capacity) & (capacity > 0), catalogue.load[i] / capacity, 0.0)

    columns: dict[str, np.ndarray] = {
        "text_similarity": text_similarity.astype(np.float64),
        "text_similarity_relative": np.where(
            row_max_similarity > 0, text_similarity / np.maximum(row_max_similarity, 1e-9), 0.0
        ),
        "kind_prior": prior,
        "category_overlap": overlap,
        "category_confidence_max": confidence.max(axis=1) if len(p) else np.zeros(0),
        "sector_fit": sector_fit,
        "region_fit": region_fit,
        "amount_fit": amount_fit,
        "amount_log": log_amount,
        "is_lender": catalogue.is_lender[i].astype(np.float64),
    }
    for k, kind in enumerate(INSTITUTION_KINDS):
        columns[f"kind_{kind}"] = (kinds == k).astype(np.float64)
    for c, category in enumerate(CATEGORIES):
        columns[f"category_{category}"] = confidence[:, c]
    columns["track_success_rate"] = np.asarray(track_success_rate, dtype=np.float64)
    columns["track_cases_log"] = np.log1p(np.asarray(track_cases, dtype=np.float64))
    columns["load_ratio"] = load_ratio
    columns["employees_log"] = np.log1p(problems.employees[p])
    columns["revenue_log"] = np.log1p(problems.revenue[p])
    columns["enterprise_age"] = problems.age[p]
    if history is not None:
        unique, inverse = np.unique(p, return_inverse=True)
        enterprise = history.enterprise_code(problems.columns["enterprise_id"][unique])[inverse]
        columns.update(history.features(problems, p, i, region=problems.region[p],
                                        sector=problems.sector[p], amount=problems.amount[p],
                                        enterprise=enterprise, times=times))
    else:
        columns.update({name: np.full(len(p), np.nan) for name in HISTORY_FEATURES})
    # One float block: a frame built from a dict of columns (a block per column) makes this step markedly
    # slower for a request's problems (the engine alone in ``benchmarks/bench_api.py``).
    matrix = np.empty((len(p), len(FEATURE_NAMES)), dtype=np.float64)
    for position, name in enumerate(FEATURE_NAMES):
        matrix[:, position] = columns[name]
    return pd.DataFrame(matrix, columns=_COLUMNS, copy=False)


def _solved(outcomes: pd.DataFrame) -> np.ndarray:
    return (outcomes["status"].astype(str) == "solved").to_numpy()


def track_record(
    outcomes: pd.DataFrame | None, institution_ids: np.ndarray, *, smoothing: float = TRACK_SMOOTHING
) -> tuple[np.ndarray, np.ndarray]:
    """Per institution: smoothed solved rate and number of past cases, from every outcome given."""
    if outcomes is None or len(outcomes) == 0:
        return np.full(len(institution_ids), np.nan), np.zeros(len(institution_ids))
    frame = pd.DataFrame({"institution_id": outcomes["institution_id"].astype(str), "solved": _solved(outcomes)})
    stats = frame.groupby("institution_id")["solved"].agg(["sum", "count"])
    overall = frame["solved"].mean()
    solved = pd.Series(institution_ids).map(stats["sum"]).fillna(0).to_numpy(dtype=np.float64)
    cases = pd.Series(institution_ids).map(stats["count"]).fillna(0).to_numpy(dtype=np.float64)
    return (solved + smoothing * overall) / (cases + smoothing), cases


def track_record_asof(
    outcomes: pd.DataFrame,
    institution_ids: np.ndarray,
    times: np.ndarray,
    *,
    smoothing: float = TRACK_SMOOTHING,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair ``(institution_ids[j], times[j])``: the smoothed rate and count from outcomes strictly before."""
    history = pd.DataFrame(
        {
            "institution_id": outcomes["institution_id"].astype(str).to_numpy(),
            "time": pd.to_datetime(outcomes["recorded_at"]).to_numpy(dtype="datetime64[ns]"),
            "solved": _solved(outcomes).astype(np.float64),
        }
    ).sort_values(["institution_id", "time"], kind="stable")
    query_times = pd.to_datetime(pd.Series(times)).to_numpy(dtype="datetime64[ns]")
    query_ids = np.asarray(institution_ids).astype(str)
    rate = np.full(len(query_ids), np.nan)
    cases = np.zeros(len(query_ids))
    solved_before = np.zeros(len(query_ids))
    # The overall rate, too, may only use the past: cumulative over all outcomes by time.
    everything = history.sort_values("time", kind="stable")
    all_times = everything["time"].to_numpy()
    all_solved = np.concatenate([[0.0], np.cumsum(everything["solved"].to_numpy())])
    n_before = np.searchsorted(all_times, query_times, side="left")
    overall = np.where(n_before > 0, all_solved[n_before] / np.maximum(n_before, 1), np.nan)
    wanted = pd.Series(np.arange(len(query_ids))).groupby(query_ids).indices
    for institution, group in history.groupby("institution_id", sort=False):
        where = wanted.get(institution)
        if where is None:
            continue
        cumulative = np.concatenate([[0.0], np.cumsum(group["solved"].to_numpy())])
        before = np.searchsorted(group["time"].to_numpy(), query_times[where], side="left")
        cases[where] = before
        solved_before[where] = cumulative[before]
    has_prior = ~np.isnan(overall)
    rate[has_prior] = (solved_before[has_prior] + smoothing * overall[has_prior]) / (cases[has_prior] + smoothing)
    return rate, cases
