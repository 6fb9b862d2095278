"""Text normalisation and the one analyser for English, Chinese and mixed text.

``normalize`` applies Unicode NFKC (full-width to half-width, compatibility forms), lower case and collapses
white space. ``analyze`` turns a text into index terms that serve both scripts in one vocabulary, with no
segmenter: Latin words and word bigrams (``w:``), character trigrams of each Latin word for typo tolerance
(``g:``), and CJK character unigrams and bigrams (``c:``). ``words`` gives the plain tokens, for lexicon
matching and for explaining which terms matched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["normalize", "analyze", "analyze_normalized", "terms_of_words", "words", "readable_terms", "has_content",
           "is_cjk_token", "STOPWORDS"]

_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK_CLASS}]+|[a-z0-9]+(?:[-'][a-z0-9]+)*")
_SPACE = re.compile(r"\s+")
_CONTENT = re.compile(rf"[a-z0-9{_CJK_CLASS}]")
# Characters that are content before normalising and stay content after it: NFKC leaves digits and unified
# ideographs as they are, and ASCII letters too unless a combining mark follows (a + U+0301 composes to an
# accented letter; every mark that composes with an ASCII letter is in U+0300-U+036F, checked exhaustively).
# Compatibility ideographs are left to the full check.
_PLAIN_CONTENT = re.compile(r"[0-9\u3400-\u4dbf\u4e00-\u9fff]|[A-Za-z](?![\u0300-\u036f])")

STOPWORDS: frozenset[str] = frozenset(
    """a an and are as at be been but by can could do does for from had has have how i if in into is it its
    me my need needs no not of on or our ours so some such than that the their them then there these they this
    to too up us very was we were what when which who will with would you your also about more most other
    any all just only want wants looking get got""".split()
)


def normalize(text: str) -> str:
    """NFKC, lower case, single spaces; full-width letters and digits become half-width."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def has_content(text: str) -> bool:
    """True when the text holds at least one letter, digit or CJK character (not only punctuation/emoji)."""
    # Nearly every text has a plain letter, digit or ideograph: found as given, without normalising it first.
    return _PLAIN_CONTENT.search(text) is not None or _CONTENT.search(normalize(text)) is not None


def is_cjk_token(token: str) -> bool:
    return bool(token) and "\u3400" <= token[0] <= "\ufaff"


def words(normalized: str) -> list[str]:
    """Latin word tokens (stop words removed) and CJK runs of an already normalised text, in order."""
    return [t for t in _TOKEN.findall(normalized) if t not in STOPWORDS]


@lru_cache(maxsize=200_000)
def _word_grams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    if len(word) < 4:
        return ()
    return tuple("g:" + padded[i : i + 3] for i in range(len(padded) - 2))


@lru_cache(maxsize=200_000)
def _cjk_terms(run: str) -> tuple[str, ...]:
    unigrams = ["c:" + ch for ch in run]
    bigrams = ["c:" + run[i : i + 2] for i in range(len(run) - 1)]
    return tuple(unigrams + bigrams)


def analyze(text: str) -> list[str]:
    """Index terms of a raw text (see the module docstring); the analyser of every TF-IDF index here."""
    return analyze_normalized(normalize(text))


def analyze_normalized(normalized: str) -> list[str]:
    """``analyze`` of a text already through ``normalize`` (the engine normalises each problem once)."""
    return terms_of_words(words(normalized))


def terms_of_words(tokens: Sequence[str]) -> list[str]:
    """``analyze_normalized`` of a text whose ``words`` are ``tokens`` (the engine splits each problem once)."""
    terms: list[str] = []
    previous: str | None = None
    for token in tokens:
        if is_cjk_token(token):
            terms.extend(_cjk_terms(token))
            previous = None
            continue
        terms.append("w:" + token)
        terms.extend(_word_grams(token))
        if previous is not None:
            terms.append(f"w:{previous} {token}")
        previous = token
    return terms


def readable_terms(normalized: str, tokens: Sequence[str] | None = None) -> list[str]:
    """Terms a person would recognise, in text order: Latin words of 3+ letters and CJK character pairs.
    ``tokens``: the text's ``words`` when the caller has them already."""
    out: dict[str, None] = {}
    for token in words(normalized) if tokens is None else tokens:
        if is_cjk_token(token):
            for i in range(len(token) - 1):
                out[token[i : i + 2]] = None
        elif len(token) >= 3 and not token.isdigit():
            out[token] = None
    return list(out)
