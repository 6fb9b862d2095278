"""What the problems an institution took up say about a new problem: text features of (problem, institution) pairs.

Input: the texts, institutions and times of the cases kept by ``matching.history.CaseHistory``, and the problems
asked about (their normalised text and words, as prepared). The cases get a vocabulary of their own (the words
cases use: trades, towns, goods), not the profiles'. Output, per pair, from cases strictly before its time:

- ``history_text_similarity``: cosine of the problem and the sum of the institution's earlier cases' vectors;
- ``history_neighbour_share``: of the problem's ``NEIGHBOURS`` most similar earlier cases in its district, the
  similarity-weighted share the institution took up (who took up problems like this one: the same trade in the
  same town);
- ``history_neighbour_best``: the similarity of the most similar earlier case the institution took up among them.

Neighbours are looked for among the cases of the problem's district (all cases when it has none), at most the
latest ``POOL`` of them, so a problem's cost is bounded by its district's history, not the whole history's size.
Pairs at different times (training) are grouped in at most ``TEXT_BLOCKS`` time blocks, each seeing the cases before its start (a little stale inside a block, never ahead).
Similarities are sparse products over blocks of problems, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from matching.retrieval import TextIndex

__all__ = ["CaseTexts", "TEXT_FEATURES", "NEIGHBOURS", "POOL", "TEXT_BLOCKS"]

TEXT_FEATURES: tuple[str, ...] = ("history_text_similarity", "history_neighbour_share", "history_neighbour_best")
NEIGHBOURS = 20
POOL = 50_000
TEXT_BLOCKS = 12
_CELLS = 2_000_000  # problems x cases compared at once


class CaseTexts:
    """The cases' vectors in their own vocabulary, with institutions and times (see the module docstring)."""

    def __init__(self, texts: Sequence[str], institutions: np.ndarray, times: np.ndarray, regions: np.ndarray,
                 n_institutions: int) -> None:
        self.institutions = np.asarray(institutions, dtype=np.int64)
        self.times = np.asarray(times, dtype=np.int64)
        self.regions = np.asarray(regions, dtype=np.int64)  # district code per case, 0: none
        self.n_institutions = n_institutions
        self.index: TextIndex | None = None
        try:
            self.index = TextIndex(min_df=2).fit(list(texts))
        except ValueError:  # too few cases for a vocabulary: no text history
            self.index = None
        if self.index is None:
            return
        self.vectors = self.index.transform(list(texts))
        self.centroids = _centroids(self.vectors, self.institutions, n_institutions)
        # Per district (and 0: every case), its cases in time order, and the latest POOL as a column matrix.
        by_time = np.argsort(self.times, kind="stable")
        self.in_region = {int(r): by_time[self.regions[by_time] == r] for r in np.unique(self.regions)}
        self.in_region[0] = by_time
        self._pools: dict[int, tuple[sp.csc_matrix, np.ndarray]] = {}

    def _pool(self, region: int, start: int | None) -> tuple[sp.csc_matrix, np.ndarray]:
        """(case vectors as columns, their institutions) of the district's latest cases before ``start``."""
        cases = self.in_region.get(region, self.in_region[0]) if region > 0 else self.in_region[0]
        if start is not None:
            cases = cases[self.times[cases] < start]
        elif region in self._pools:
            return self._pools[region]
        cases = cases[-POOL:]
        pool = (self.vectors[cases].T.tocsc(), self.institutions[cases])
        if start is None:
            self._pools[region] = pool
        return pool

    def features(self, normalized: Sequence[str], tokens: Sequence[Sequence[str]], problem_rows: np.ndarray,
                 institution_rows: np.ndarray, regions: np.ndarray, times: np.ndarray | None
                 ) -> dict[str, np.ndarray]:
        """``TEXT_FEATURES`` of pairs; ``normalized`` and ``tokens`` are indexed by problem row, ``regions`` (the
        problems' district codes, 0: none) by pair."""
        p, i = np.asarray(problem_rows, dtype=np.int64), np.asarray(institution_rows, dtype=np.int64)
        out = {name: np.full(len(p), np.nan) for name in TEXT_FEATURES}
        if self.index is None or len(p) == 0:
            return out
        unique, local = np.unique(p, return_inverse=True)
        vectors = self.index.transform([normalized[u] for u in unique], normalized=True,
                                       tokens=[tokens[u] for u in unique])
        regions = np.asarray(regions, dtype=np.int64)
        if times is None:
            if not hasattr(self, "_served_centroids"):
                self._served_centroids = _columns(self.centroids)
            for region in np.unique(regions):
                chosen = np.flatnonzero(regions == region)
                self._fill(out, chosen, vectors, local, i, self._served_centroids, *self._pool(int(region), None))
            return out
        times = np.asarray(times, dtype=np.int64)
        starts = np.unique(np.quantile(times, np.linspace(0, 1, TEXT_BLOCKS + 1)[:-1], method="lower"))
        block_of = np.searchsorted(starts, times, side="right") - 1
        for block, start in enumerate(starts):
            in_block = block_of == block
            past = self.times < start
            if not in_block.any() or not past.any():
                continue
            centroids = _columns(_centroids(self.vectors[past], self.institutions[past], self.n_institutions))
            for region in np.unique(regions[in_block]):
                chosen = np.flatnonzero(in_block & (regions == region))
                self._fill(out, chosen, vectors, local, i, centroids, *self._pool(int(region), int(start)))
        return out

    def _fill(self, out: dict[str, np.ndarray], chosen: np.ndarray, vectors: sp.csr_matrix, local: np.ndarray,
              institutions: np.ndarray, centroids: tuple[sp.csc_matrix, np.ndarray], pool_t: sp.csc_matrix,
              owners: np.ndarray) -> None:
        """Features of the pairs ``chosen`` (positions), against ``centroids`` (``_columns``) and the pool of
        cases ``pool_t``."""
        problems, at = np.unique(local[chosen], return_inverse=True)
        inst = institutions[chosen]
        centroids_t, has_centroid = centroids
        k = min(NEIGHBOURS, pool_t.shape[1])  # 0 in a district with no case before: share and best stay NaN
        step = max(1, _CELLS // max(pool_t.shape[1], 1))
        for first in range(0, len(problems), step):
            mine = (at >= first) & (at < first + step)
            rows, here = at[mine] - first, chosen[mine]
            queries = vectors[problems[first:first + step]]
            centroid_similarity = (queries @ centroids_t).toarray()[rows, inst[mine]]
            out["history_text_similarity"][here] = np.where(has_centroid[inst[mine]], centroid_similarity, np.nan)
            if k == 0:
                continue
            dense = (queries @ pool_t).toarray()
            top = np.argpartition(-dense, k - 1, axis=1)[:, :k]
            weight = np.clip(np.take_along_axis(dense, top, axis=1), 0.0, None)
            served_by = owners[top]
            match = served_by[rows] == inst[mine][:, None]
            taken = np.where(match, weight[rows], 0.0)
            total = np.maximum(weight.sum(axis=1), 1e-12)[rows]
            out["history_neighbour_share"][here] = taken.sum(axis=1) / total
            out["history_neighbour_best"][here] = taken.max(axis=1)


def _columns(centroids: sp.csr_matrix) -> tuple[sp.csc_matrix, np.ndarray]:
    """Centroids as columns for products, and which institutions have one."""
    return centroids.T.tocsc(), np.asarray(centroids.getnnz(axis=1) > 0)


def _centroids(vectors: sp.csr_matrix, institutions: np.ndarray, n_institutions: int) -> sp.csr_matrix:
    """Per institution, the unit-length sum of its cases' vectors (empty rows for institutions with none)."""
    owner = sp.csr_matrix((np.ones(len(institutions), dtype=np.float32), (institutions, np.arange(len(institutions)))),
                          shape=(n_institutions, vectors.shape[0]))
    summed = (owner @ vectors).tocsr()
    norms = np.sqrt(np.asarray(summed.multiply(summed).sum(axis=1)).ravel())
    return (sp.diags((1.0 / np.maximum(norms, 1e-12)).astype(np.float32)) @ summed).tocsr()
