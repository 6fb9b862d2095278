"""Text history of institutions: how similar a problem is to the problems each institution served before.

Input: text vectors of the served cases (``case_vectors``, with each case's institution code and time) and of
the problems asked about (``problem_vectors``), and query pairs (problem row, institution code, time). Output:
per query pair, from cases strictly before the start of the query's time block,

- ``history_text_similarity``: cosine of the problem and the sum of the institution's earlier cases' vectors;
- ``history_neighbour_share``: of the problem's ``k`` most similar earlier cases, the similarity-weighted share
  the institution served (who served problems like this one, e.g. the same trade in the same town);
- ``history_neighbour_best``: the similarity of the most similar earlier case the institution served among them.

Queries are grouped in at most ``blocks`` time blocks (a little stale inside a block, never ahead of it);
similarities are sparse products over chunks of problems, so memory stays bounded.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["TEXT_FEATURES", "text_history"]

TEXT_FEATURES: tuple[str, ...] = ("history_text_similarity", "history_neighbour_share", "history_neighbour_best")


def _block_starts(times: np.ndarray, blocks: int) -> np.ndarray:
    quantiles = np.quantile(times.astype(np.int64), np.linspace(0, 1, blocks + 1)[:-1], method="lower")
    return np.unique(quantiles).astype("datetime64[ns]")


def text_history(
    case_vectors: sp.csr_matrix,
    case_institutions: np.ndarray,
    case_times: np.ndarray,
    problem_vectors: sp.csr_matrix,
    problem_index: np.ndarray,
    query_institutions: np.ndarray,
    query_times: np.ndarray,
    n_institutions: int,
    *,
    blocks: int = 12,
    neighbours: int = 20,
    chunk: int = 1000,
) -> dict[str, np.ndarray]:
    """The ``TEXT_FEATURES`` of each query pair (see the module docstring); NaN without earlier cases."""
    n = len(problem_index)
    out = {name: np.full(n, np.nan) for name in TEXT_FEATURES}
    if n == 0 or case_vectors.shape[0] == 0:
        return out
    starts = _block_starts(query_times, blocks)
    block_of = np.searchsorted(starts, query_times, side="right") - 1
    for block, start in enumerate(starts):
        rows = np.flatnonzero(block_of == block)
        past = np.flatnonzero(case_times < start)
        if rows.size == 0 or past.size == 0:
            continue
        vectors, owners = case_vectors[past], case_institutions[past]
        owner = sp.csr_matrix((np.ones(past.size), (owners, np.arange(past.size))), shape=(n_institutions, past.size))
        centroid = (owner @ vectors).tocsr()
        norms = np.sqrt(np.asarray(centroid.multiply(centroid).sum(axis=1)).ravel())
        centroid_t = (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ centroid).T.tocsc()
        vectors_t = vectors.T.tocsc()
        problems, local = np.unique(problem_index[rows], return_inverse=True)
        k = min(neighbours, past.size)
        for first in range(0, len(problems), chunk):
            chosen = (local >= first) & (local < first + chunk)
            at, inst = local[chosen] - first, query_institutions[rows[chosen]]
            queries = problem_vectors[problems[first:first + chunk]]
            centroid_similarity = (queries @ centroid_t).toarray()
            out["history_text_similarity"][rows[chosen]] = np.where(norms[inst] > 0, centroid_similarity[at, inst],
                                                                    np.nan)
            similarity = (queries @ vectors_t).toarray()
            top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
            weight = np.clip(np.take_along_axis(similarity, top, axis=1), 0.0, None)
            served_by = owners[top]
            line = np.repeat(np.arange(len(top)), k)
            share = np.zeros((len(top), n_institutions))
            best = np.zeros((len(top), n_institutions))
            np.add.at(share, (line, served_by.ravel()), weight.ravel())
            np.maximum.at(best, (line, served_by.ravel()), weight.ravel())
            total = np.maximum(weight.sum(axis=1), 1e-12)
            out["history_neighbour_share"][rows[chosen]] = share[at, inst] / total[at]
            out["history_neighbour_best"][rows[chosen]] = best[at, inst]
    return out
