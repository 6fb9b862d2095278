"""What the problems an institution took up say about a new problem: text features of (problem, institution) pairs.

Input: the texts, institutions and times of the cases kept by ``history.CaseHistory``, and the problems
asked about (their normalised text and words, as prepared). The cases get a vocabulary of their own (the words
cases use: trades, towns, goods), not the profiles'. Output, per pair, from cases strictly before its time:

- ``history_text_similarity``: cosine of the problem and the sum of the institution's earlier cases' vectors;
- ``history_neighbour_share``: of the problem's ``NEIGHBOURS`` most similar earlier cases in its district, the
  similarity-weighted share the institution took up (who took up problems like this one: the same trade in the
  same town);
- ``history_neighbour_best``: the similarity of the most similar earlier case the institution took up among them.

Neighbours are looked for among the cases of the problem's district (all cases when it has none), at most the
latest ``POOL`` of them, so a problem's cost is bounded by its district's history, not the whole history's size.
Pairs at different times (training) are grouped in at most ``TEXT_BLOCKS`` time blocks, each seeing the cases
before its start (a little stale inside a block, never ahead) in a vocabulary of those cases alone. Similarities
are sparse products over blocks of problems, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from matching.normalise import analyze, terms_of_words
from matching.retrieve import term_counts

__all__ = ["CaseTexts", "TEXT_FEATURES", "NEIGHBOURS", "POOL", "TEXT_BLOCKS"]

TEXT_FEATURES: tuple[str, ...] = ("history_text_similarity", "history_neighbour_share", "history_neighbour_best")
NEIGHBOURS = 20
POOL = 50_000
TEXT_BLOCKS = 12
_CELLS = 2_000_000  # problems x cases compared at once


class _Counts:
    """Term counts of texts in one vocabulary of every term any case uses (the analyser of ``matching.normalise``)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.vocabulary: dict[str, int] = {}
        rows = [analyze(text) for text in texts]
        for terms in rows:
            for term in terms:
                self.vocabulary.setdefault(term, len(self.vocabulary))
        self.matrix = term_counts(rows, self.vocabulary)

    def of_words(self, tokens: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """Counts of texts given as their ``matching.normalise.words`` (terms no case uses are left out)."""
        return term_counts(map(terms_of_words, tokens), self.vocabulary)


def _weighted(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear term frequency times IDF (0 for terms outside the vocabulary), rows of unit length."""
    matrix = counts.copy()
    np.log(matrix.data, out=matrix.data)
    matrix.data += 1.0
    matrix.data *= idf[matrix.indices]
    matrix.eliminate_zeros()
    inplace_csr_row_normalize_l2(matrix)
    return matrix


class _Snapshot:
    """The text side of the cases known at one time: their vocabulary (terms in at least two of them, with
    scikit-learn's smoothed IDF over them: ``TfidfVectorizer(min_df=2, sublinear_tf=True)`` fitted on them
    alone), vectors, centroids and district pools."""

    def __init__(self, counts: sp.csr_matrix, institutions: np.ndarray, times: np.ndarray, regions: np.ndarray,
                 n_institutions: int) -> None:
        n = counts.shape[0]
        document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
        kept = document_frequency >= 2
        if not kept.any():
            raise ValueError("too few cases for a vocabulary")
        self.idf = np.where(kept, np.log((1.0 + n) / (1.0 + document_frequency)) + 1.0, 0.0).astype(np.float32)
        self.vectors = _weighted(counts, self.idf)
        self.institutions = institutions
        self.centroids = _columns(_centroids(self.vectors, institutions, n_institutions))
        by_time = np.argsort(times, kind="stable")
        self.in_region = {int(r): by_time[regions[by_time] == r] for r in np.unique(regions)}
        self.in_region[0] = by_time
        self._pools: dict[int, tuple[sp.csr_matrix, np.ndarray]] = {}

    def pool(self, region: int) -> tuple[sp.csr_matrix, np.ndarray]:
        """(case vectors as columns, their institutions) of the district's latest ``POOL`` cases."""
        if region not in self._pools:
            cases = self.in_region.get(region, self.in_region[0]) if region > 0 else self.in_region[0]
            cases = cases[-POOL:]
            self._pools[region] = (self.vectors[cases].T.tocsr(), self.institutions[cases])
        return self._pools[region]


class CaseTexts:
    """The cases' texts with institutions, times and districts (see the module docstring)."""

    def __init__(self, texts: Sequence[str], institutions: np.ndarray, times: np.ndarray, regions: np.ndarray,
                 n_institutions: int) -> None:
        self.counts = _Counts(texts)  # analysed once; every snapshot weighs the rows it keeps
        self.institutions = np.asarray(institutions, dtype=np.int64)
        self.times = np.asarray(times, dtype=np.int64)
        self.regions = np.asarray(regions, dtype=np.int64)  # district code per case, 0: none
        self.n_institutions = n_institutions
        self.served = self._snapshot(np.ones(len(self.times), dtype=bool))

    def _snapshot(self, keep: np.ndarray) -> _Snapshot | None:
        """The cases ``keep`` selects as one snapshot; None when they are too few for a vocabulary. Every
        snapshot has its own vocabulary and IDF, so no later case weighs on an earlier time's features."""
        try:
            return _Snapshot(self.counts.matrix[keep], self.institutions[keep], self.times[keep], self.regions[keep],
                             self.n_institutions)
        except ValueError:
            return None

    def features(self, tokens: Sequence[Sequence[str]], problem_rows: np.ndarray,
                 institution_rows: np.ndarray, regions: np.ndarray, times: np.ndarray | None
                 ) -> dict[str, np.ndarray]:
        """``TEXT_FEATURES`` of pairs; ``tokens`` (each problem's ``matching.normalise.words``) are indexed by problem
        row, ``regions`` (the problems' district codes, 0: none) by pair."""
        p, i = np.asarray(problem_rows, dtype=np.int64), np.asarray(institution_rows, dtype=np.int64)
        out = {name: np.full(len(p), np.nan) for name in TEXT_FEATURES}
        if len(p) == 0:
            return out
        regions = np.asarray(regions, dtype=np.int64)
        if times is None:
            self._fill_snapshot(out, self.served, np.arange(len(p)), p, i, regions, tokens)
            return out
        times = np.asarray(times, dtype=np.int64)
        starts = np.unique(np.quantile(times, np.linspace(0, 1, TEXT_BLOCKS + 1)[:-1], method="lower"))
        block_of = np.searchsorted(starts, times, side="right") - 1
        for block, start in enumerate(starts):
            in_block = np.flatnonzero(block_of == block)
            past = self.times < start
            if in_block.size and past.any():
                self._fill_snapshot(out, self._snapshot(past), in_block, p, i, regions, tokens)
        return out

    def _fill_snapshot(self, out: dict[str, np.ndarray], snapshot: _Snapshot | None, chosen: np.ndarray,
                       p: np.ndarray, i: np.ndarray, regions: np.ndarray, tokens: Sequence[Sequence[str]]) -> None:
        """Features of the pairs ``chosen`` against one snapshot, district by district."""
        if snapshot is None:
            return
        unique, local = np.unique(p[chosen], return_inverse=True)
        vectors = _weighted(self.counts.of_words([tokens[u] for u in unique]), snapshot.idf)
        for region in np.unique(regions[chosen]):
            mine = regions[chosen] == region
            self._fill(out, chosen[mine], vectors, local[mine], i[chosen[mine]], snapshot.centroids,
                       *snapshot.pool(int(region)))

    @staticmethod
    def _fill(out: dict[str, np.ndarray], chosen: np.ndarray, vectors: sp.csr_matrix, vector_rows: np.ndarray,
              inst: np.ndarray, centroids: tuple[sp.csr_matrix, np.ndarray], pool_t: sp.csr_matrix,
              owners: np.ndarray) -> None:
        """Features of the pairs at positions ``chosen`` (their problem's row of ``vectors``, their institution)
        against ``centroids`` (``_columns``) and the pool of cases ``pool_t``."""
        problems, at = np.unique(vector_rows, return_inverse=True)
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


def _columns(centroids: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Centroids as columns for products, and which institutions have one."""
    return centroids.T.tocsr(), np.asarray(centroids.getnnz(axis=1) > 0)


def _centroids(vectors: sp.csr_matrix, institutions: np.ndarray, n_institutions: int) -> sp.csr_matrix:
    """Per institution, the unit-length sum of its cases' vectors (empty rows for institutions with none)."""
    owner = sp.csr_matrix((np.ones(len(institutions), dtype=np.float32), (institutions, np.arange(len(institutions)))),
                          shape=(n_institutions, vectors.shape[0]))
    summed = (owner @ vectors).tocsr()
    norms = np.sqrt(np.asarray(summed.multiply(summed).sum(axis=1)).ravel())
    return (sp.diags((1.0 / np.maximum(norms, 1e-12)).astype(np.float32)) @ summed).tocsr()
