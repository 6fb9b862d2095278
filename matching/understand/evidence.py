"""How much a problem's text says that the engine can act on: the evidence that it states a need at all.

Input: prepared problems (their category confidences and TF-IDF vectors) and the text index they were
vectorised with. Output, per problem, a value in [0, 1]: the larger of the lexicon's confidence in its most
likely need and the share of its vector's weight on whole known words (Latin words and word pairs, CJK
character pairs), as opposed to word fragments (character trigrams, single CJK characters). Greetings, thanks,
random letters and keyboard mash score 0 or nearly: none of their words is in any profile and no need is
recognised, however many fragments they share by chance. Where to draw the line is learnt: the trained ranker
carries ``need_evidence_below``, set from the evidence of held-out problems (``training.train``).
"""

from __future__ import annotations

import numpy as np

from matching.retrieve import TextIndex
from matching.understand.problems import PreparedProblems

__all__ = ["text_evidence"]


def text_evidence(prepared: PreparedProblems, rows: np.ndarray, index: TextIndex) -> np.ndarray:
    """Per problem of ``rows``: max(category confidence, squared weight on whole known words)."""
    queries = prepared.queries
    if not np.array_equal(rows, np.arange(queries.shape[0])):
        queries = queries[rows]
    on_words = np.asarray(queries.multiply(queries) @ index.word_terms_, dtype=np.float64).ravel()
    confidence = prepared.detection.confidence[rows]
    need = confidence.max(axis=1) if confidence.shape[1] else np.zeros(len(rows))
    return np.maximum(need, np.clip(on_words, 0.0, 1.0))
