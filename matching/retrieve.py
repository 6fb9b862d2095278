"""Sparse text retrieval: TF-IDF over institution profiles, scored for a whole batch in blocks of products.

``TextIndex.fit(profiles)`` learns the vocabulary and IDF from institution profiles (name, kind, description,
sectors); ``similarity(queries)`` returns the (queries x institutions) cosine matrix, block by block as
sparse-dense products; ``top_k`` picks the best columns per row: a partition of a sample of the columns bounds
each row, and only what passes the bound is sorted (no Python loop over pairs); ``candidate_scores`` is the
score the engine keeps candidates by (text similarity and category fit, eligibility applied).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from matching.errors import NotFittedError
from matching.normalise import analyze, analyze_normalized, terms_of_words

__all__ = ["TextIndex", "term_counts", "top_k", "TILE"]

TILE = 1024  # institutions per column tile of the similarity product


def term_counts(analysed: Iterable[Sequence[str]], vocabulary: Mapping[str, int]) -> sp.csr_matrix:
    """Counts of the ``vocabulary``'s terms in each row of ``analysed`` (terms it lacks are left out), as a
    float32 CSR matrix with sorted column indices."""
    indices: list[int] = []
    counts: list[int] = []
    indptr = [0]
    for terms in analysed:
        row: dict[int, int] = {}
        for term in terms:
            column = vocabulary.get(term)
            if column is not None:
                row[column] = row.get(column, 0) + 1
        for column in sorted(row):
            indices.append(column)
            counts.append(row[column])
        indptr.append(len(indices))
    return sp.csr_matrix((np.asarray(counts, dtype=np.float32), np.asarray(indices, dtype=np.int32),
                          np.asarray(indptr, dtype=np.int32)), shape=(len(indptr) - 1, len(vocabulary)))


class TextIndex:
    """TF-IDF index of institution profiles with the bilingual analyser of ``matching.normalise``."""

    def __init__(self, *, sublinear_tf: bool = True, min_df: int = 1) -> None:
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df

    def fit(self, profiles: Sequence[str]) -> TextIndex:
        self.vectorizer_ = TfidfVectorizer(
            analyzer=analyze, sublinear_tf=self.sublinear_tf, min_df=self.min_df, dtype=np.float32
        )
        matrix = self.vectorizer_.fit_transform(profiles)
        self.documents_ = sp.csr_matrix(matrix.T, dtype=np.float32)  # terms x institutions, for Q @ D
        # The same, cut into column tiles of TILE institutions (see ``similarity``).
        self.tiles_ = [sp.csr_matrix(self.documents_[:, start:start + TILE])
                       for start in range(0, self.documents_.shape[1], TILE)]
        self.terms_ = self.vectorizer_.get_feature_names_out()
        # Terms that are words (Latin words and word pairs, CJK character pairs), not fragments of one (Latin
        # character trigrams, single CJK characters): a text none of whose words is known states nothing the
        # profiles speak of (``matching.understand.evidence``).
        self.word_terms_ = np.array([t.startswith("w:") or (t.startswith("c:") and len(t) == 4) for t in self.terms_],
                                    dtype=np.float32)
        return self

    def _check(self) -> None:
        if not hasattr(self, "vectorizer_"):
            raise NotFittedError("TextIndex is not fitted yet: call fit(profiles) first.")

    def transform(self, texts: Sequence[str], *, normalized: bool = False,
                  tokens: Sequence[Sequence[str]] | None = None) -> sp.csr_matrix:
        """TF-IDF vectors of ``texts`` (``normalized``: already through ``matching.normalise.normalize``; ``tokens``:
        each text's ``matching.normalise.words``, when the caller has them already).

        The fitted vectoriser's computation (counts of known terms, ``1 + log`` of each, times the IDF, rows
        scaled to unit length by scikit-learn's own routine), without its per-call checks and conversions, which
        outweigh the computation for the few texts of a request (the engine alone in ``benchmarks/bench_api.py``);
        tests/test_text.py checks the values equal the vectoriser's ``transform``, bit for bit."""
        self._check()
        analyzer = analyze_normalized if normalized else analyze
        analysed = (analyzer(text) for text in texts) if tokens is None else map(terms_of_words, tokens)
        matrix = term_counts(analysed, self.vectorizer_.vocabulary_)
        data = matrix.data
        if self.sublinear_tf:
            np.log(data, out=data)
            data += 1.0
        data *= self.vectorizer_.idf_[matrix.indices]
        inplace_csr_row_normalize_l2(matrix)
        return matrix

    def similarity(self, queries: sp.csr_matrix, *, block: int = 1024, max_cells: int = 64_000_000) -> np.ndarray:
        """Dense (queries x institutions) cosine similarities of already transformed queries.

        The result is dense anyway (common character n-grams touch most profiles), so per block of up to
        ``block`` queries and per tile of ``TILE`` institutions the profile rows of the terms the block uses
        are made dense (at most ``max_cells`` values at once; a block that needs more is halved) and multiplied
        by the block's sparse rows: faster than one sparse-sparse product, with identical values. Tiles keep the
        rows being added up in cache, also with identical values. ``benchmarks/bench_engine.py --scales large``
        and ``benchmarks/bench_batch.py --sizes nation`` time retrieval at 10,000 institutions. Each score is
        summed over its query's terms in the same order whatever the block or tile, so chunking never changes a
        score."""
        self._check()
        if not (sp.issparse(queries) and queries.format == "csr" and queries.dtype == np.float32):
            queries = sp.csr_matrix(queries, dtype=np.float32)
        out = np.zeros((queries.shape[0], self.documents_.shape[1]), dtype=np.float32)
        for start in range(0, queries.shape[0], block):
            self._block(queries, start, min(start + block, queries.shape[0]), out, max_cells)
        return out

    def _block(self, queries: sp.csr_matrix, start: int, stop: int, out: np.ndarray, max_cells: int) -> None:
        part = queries if start == 0 and stop == queries.shape[0] else queries[start:stop]
        used = np.unique(part.indices)
        if used.size == 0:
            return
        if used.size * min(TILE, self.documents_.shape[1]) > max_cells and stop - start > 1:
            middle = (start + stop) // 2
            self._block(queries, start, middle, out, max_cells)
            self._block(queries, middle, stop, out, max_cells)
            return
        # The block's rows over only the terms it uses: its own column indices renumbered into ``used`` (sorted,
        # as are each row's indices, so every row keeps its order and sums in the same order). The same matrix
        # as ``part[:, used]`` without scipy's general fancy indexing, whose fixed cost every block would pay.
        rows = sp.csr_matrix((part.data, np.searchsorted(used, part.indices).astype(part.indices.dtype, copy=False),
                              part.indptr), shape=(part.shape[0], used.size))
        column = 0
        for tile in self.tiles_:
            width = tile.shape[1]
            out[start:stop, column:column + width] = rows @ tile[used].toarray()
            column += width

    def shared_terms(self, query_row: sp.csr_matrix, institution: int, limit: int = 4) -> list[str]:
        """Readable terms a query shares with one institution's profile, heaviest first."""
        column = self.documents_[:, institution]
        shared = query_row.multiply(column.T).tocsr()
        if shared.nnz == 0:
            return []
        order = np.argsort(-shared.data)
        out: list[str] = []
        for position in order:
            term = self.terms_[shared.indices[position]]
            if term.startswith("g:"):
                continue  # trigrams only help matching; they mean nothing to a reader
            text = term[2:]
            if term.startswith("c:") and len(text) < 2:
                continue
            if text not in out:
                out.append(text)
            if len(out) >= limit:
                break
        return out


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the k largest entries per row, best first (ties broken by column).

    Exact, in three steps: a bound per row at or below its k-th largest value (the k-th largest of every
    ``SAMPLE_STRIDE``-th column, which is never above the row's own), the entries at or above it (a few times
    k per row), and one sort of those by row, value and column. A row whose bound lets through too many (few
    eligible columns, many equal values) gets its exact k-th value by partition instead. On a nation's
    retrieval scores this is faster than ``argpartition`` over whole rows and than a full ``partition`` as the
    bound; ``benchmarks/bench_batch.py --sizes nation`` times the batch run that uses it."""
    rows, columns = scores.shape
    k = min(k, columns)
    if k == 0:
        return np.empty((rows, 0), dtype=np.int64), np.empty((rows, 0))
    if rows == 0:
        return np.empty((0, k), dtype=np.int64), np.empty((0, k), dtype=scores.dtype)
    bound, exact = _kth_bound(scores, k)
    selected = scores >= bound[:, None]
    # an exact bound lets through only the k-th value's ties: nothing a partition of the whole row would cut
    crowded = np.zeros(0, dtype=np.int64) if exact else np.flatnonzero(
        selected.sum(axis=1) > _CROWDED + SAMPLE_STRIDE * k)
    if len(crowded):
        block = scores[crowded]
        bound[crowded] = np.partition(block, columns - k, axis=1)[:, columns - k]
        selected[crowded] = block >= bound[crowded, None]
    row, column = np.nonzero(selected)
    value = scores[row, column]
    order = np.lexsort((column, -value, row))
    row, column, value = row[order], column[order], value[order]
    # every row keeps at least k entries (its bound is at most its k-th value): the first k of each are its best
    first = np.searchsorted(row, np.arange(rows))
    keep = np.arange(len(row)) - first[row] < k
    return column[keep].reshape(rows, k).astype(np.int64, copy=False), value[keep].reshape(rows, k)


SAMPLE_STRIDE = 4
_CROWDED = 256


def _kth_bound(scores: np.ndarray, k: int) -> tuple[np.ndarray, bool]:
    """(per row, a value at most its k-th largest; whether it is the k-th largest itself): the k-th largest of
    a strided sample of its columns, or of the whole row when the sample would hold fewer than 4k columns."""
    columns = scores.shape[1]
    exact = columns < 4 * k * SAMPLE_STRIDE
    sample = scores if exact else scores[:, ::SAMPLE_STRIDE]
    width = sample.shape[1]
    return np.partition(sample, width - k, axis=1)[:, width - k].copy(), exact


def candidate_scores(similarity: np.ndarray, confidence: np.ndarray, category_fit: np.ndarray,
                     eligible: np.ndarray, soft_passing: np.ndarray | None = None) -> np.ndarray:
    """The score retrieval keeps candidates by: (problems x institutions), -1 where a pair is not eligible.

    Scaled text similarity (capped at 0.25, scaled to 0.35) plus the category fit, the problems' detected needs
    (``confidence``, problems x categories) times the catalogue's ``category_fit`` (categories x institutions),
    as one small matrix product, in float32 and in place, since this runs over every institution. A pair that
    fails a soft rule (``soft_passing`` False) is not excluded but comes after every pair that passes them all:
    mapped into (-0.5, -0.48], keeping its order and staying above the -1 of the excluded. Masking by
    multiplication and subtraction, not by assignment, is the faster of the two (``benchmarks/bench_engine.py``).
    """
    weights = (confidence / np.maximum(confidence.sum(axis=1), 1.0)[:, None]).astype(np.float32)
    scores = np.clip(similarity, 0.0, 0.25)
    scores *= np.float32(0.35 / 0.25)
    scores += weights @ category_fit
    if soft_passing is not None:
        scores[~soft_passing] = scores[~soft_passing] * np.float32(0.01) - np.float32(0.5)
    np.multiply(scores, eligible, out=scores)
    np.subtract(scores, ~eligible, out=scores)
    return scores
