"""Text normalisation and the bilingual analyser."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from matching.normalise import analyze, has_content, normalize, readable_terms


def test_normalize_folds_full_width_case_and_spaces() -> None:
    assert normalize("  ＬＯＡＮ　ｆｏｒ\tＣＮＣ  ") == "loan for cnc"


@given(st.text(max_size=200))
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


def test_chinese_runs_become_character_unigrams_and_bigrams() -> None:
    terms = analyze("贷款难")
    assert {"c:贷", "c:款", "c:难", "c:贷款", "c:款难"} <= set(terms)


def test_latin_words_get_word_terms_bigrams_and_trigrams_for_typos() -> None:
    terms = set(analyze("equipment upgrade"))
    assert "w:equipment" in terms and "w:equipment upgrade" in terms
    # a typo shares most character trigrams with the correct word
    typo = {t for t in analyze("equipmnet") if t.startswith("g:")}
    right = {t for t in terms if t.startswith("g:")}
    assert len(typo & right) >= 4


def test_mixed_text_yields_both_scripts_in_one_vocabulary() -> None:
    terms = set(analyze("需要 loan 贷款"))
    assert "w:loan" in terms and "c:贷款" in terms


def test_stop_words_are_dropped() -> None:
    assert "w:the" not in analyze("the loan")


def test_content_requires_letters_digits_or_cjk() -> None:
    assert not has_content("!!! ??? 🎉🎉")
    assert has_content("电")
    assert has_content("x")


_CONTENT_ALPHABET = st.sampled_from(list("aZ9 !?,.-") + ["\u0301", "\u0323", "\u0338", "\u20dd", "\u4e2d",
                                                           "\uf900", "\uff21", "\u2460", "\u00c9", "\U0001f600"])


@given(st.lists(_CONTENT_ALPHABET, max_size=6).map("".join))
def test_content_is_what_the_normalised_text_holds_whatever_the_shortcut(text: str) -> None:
    # ``has_content`` answers from the raw text when it can; the answer must be the normalised text's.
    assert has_content(text) == (re.search(r"[a-z0-9\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", normalize(text))
                                 is not None)


def test_a_letter_that_composes_into_an_accented_one_is_not_plain_content() -> None:
    assert not has_content("E\u0301")  # NFKC: one accented letter, which the content class does not hold
    assert has_content("E\u0301x") and has_content("\uff21")  # a plain letter after it; a full-width A


def test_readable_terms_keep_text_order_without_duplicates() -> None:
    assert readable_terms(normalize("Loan loan 贷款")) == ["loan", "贷款"]


def test_normalised_text_is_analysed_and_vectorised_as_its_raw_text() -> None:
    """The engine normalises each problem once and vectorises the normalised text: same terms, same vectors."""
    from matching.normalise import analyze_normalized
    from matching.retrieve import TextIndex

    texts = ["Need a LOAN for ＢＯＩＬＥＲ upgrade", "企业需要贷款担保", "ERP 软件 and   training\tplease",
             "Ｆｕｌｌ－ｗｉｄｔｈ　ｄｉｇｉｔｓ １２３", "equipmnet finacing (typo)"]
    for text in texts:
        assert analyze_normalized(normalize(text)) == analyze(text)
    index = TextIndex().fit(["bank loans and guarantees 贷款", "software training college", "boiler energy"])
    raw = index.transform(texts)
    assert raw.nnz > 0
    assert (index.transform([normalize(t) for t in texts], normalized=True) != raw).nnz == 0


def test_similarity_is_the_same_in_any_tiles_and_blocks(monkeypatch) -> None:
    """Tiles of institutions and blocks of queries only change the order of the work, never a score."""
    import numpy as np

    import matching.retrieve as retrieval

    profiles = [f"bank {n} loans guarantees 贷款 software training boiler energy land water {n % 7}" for n in range(23)]
    profiles += ["college research 研究 technology", "utility power electricity 电力"]
    texts = [normalize(t) for t in ["loan for a boiler", "贷款 担保", "software training", "land and water 用地",
                                    "electricity connection", "research on energy saving"]]
    untiled = retrieval.TextIndex().fit(profiles)
    expected = untiled.similarity(untiled.transform(texts, normalized=True))
    monkeypatch.setattr(retrieval, "TILE", 4)
    tiled = retrieval.TextIndex().fit(profiles)
    assert len(tiled.tiles_) == 7 and len(untiled.tiles_) == 1
    queries = tiled.transform(texts, normalized=True)
    assert np.array_equal(tiled.similarity(queries), expected)
    assert np.array_equal(tiled.similarity(queries, block=2, max_cells=8), expected)
    direct = (queries @ tiled.documents_).toarray()
    assert np.allclose(expected, direct, atol=1e-6) and (expected > 0.05).sum() > 10


def test_the_fast_transform_equals_the_fitted_vectorizers_bit_for_bit() -> None:
    """``TextIndex.transform`` skips scikit-learn's per-call checks but must compute exactly what it would."""
    import numpy as np

    from matching.retrieve import TextIndex

    profiles = ["bank loans and guarantees 贷款 担保", "software training college 培训", "boiler energy saving 节能",
                "land water electricity utility 用地 用水", "research institute technology transfer 研究"]
    texts = ["loan loan loan for a boiler", "贷款担保 guarantee", "", "only unknown zzzz qqqq",
             "Training 培训 for SOFTWARE and energy saving boiler", "the of and", "用地用地 land water 研究 loan"]
    index = TextIndex().fit(profiles)
    fast = index.transform(texts)
    reference = index.vectorizer_.transform(texts).tocsr()
    reference.sort_indices()
    assert fast.shape == reference.shape and fast.dtype == reference.dtype == np.float32
    assert np.array_equal(fast.indptr, reference.indptr) and np.array_equal(fast.indices, reference.indices)
    assert np.array_equal(fast.data, reference.data)
    assert fast.nnz > 10 and fast[2].nnz == 0 and fast[3].nnz == 0  # empty and unknown texts: zero rows
    assert np.allclose(np.asarray(fast.multiply(fast).sum(axis=1)).ravel()[[0, 1, 4, 6]], 1.0, atol=1e-6)
