"""Problem understanding: categories from the bilingual lexicon, fuzzily."""

from __future__ import annotations

import numpy as np
import pytest

from matching.normalise import normalize
from matching.records import CATEGORIES, INSTITUTION_KINDS
from matching.understand.lexicon import CATEGORY_KIND_PRIOR, CategoryDetector, kind_prior


@pytest.fixture(scope="module")
def detector() -> CategoryDetector:
    return CategoryDetector()


def categories(detector: CategoryDetector, text: str, threshold: float = 0.35) -> set[str]:
    confidence = detector.detect([normalize(text)]).confidence[0]
    return {CATEGORIES[i] for i in np.nonzero(confidence >= threshold)[0]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We need a bank loan for working capital", "financing"),
        ("企业需要流动资金贷款", "financing"),
        ("no collateral, need a guarantee", "guarantee"),
        ("需要担保", "guarantee"),
        ("upgrade the production line with automation", "technology"),
        ("锅炉节能改造", "energy"),
        ("变压器增容", "electricity"),
        ("railway freight wagons", "transport"),
        ("工业用地", "land"),
        ("irrigation water", "water"),
        ("vocational training for workers", "skills"),
        ("ERP software", "it"),
        ("export to overseas buyers", "market"),
        ("new product prototype", "new_product"),
    ],
)
def test_a_plain_statement_finds_its_category(detector: CategoryDetector, text: str, expected: str) -> None:
    assert expected in categories(detector, text)


@pytest.mark.parametrize(
    ("typo", "expected"),
    [("we need finnancing", "financing"), ("equipmnet upgrde", "technology"), ("electricty outage", "electricity")],
)
def test_typos_still_find_the_category(detector: CategoryDetector, typo: str, expected: str) -> None:
    assert expected in categories(detector, typo)


def test_a_text_may_carry_several_categories(detector: CategoryDetector) -> None:
    assert {"financing", "skills"} <= categories(detector, "我们需要贷款, also need skills training")


def test_gibberish_has_no_category(detector: CategoryDetector) -> None:
    assert categories(detector, "qwzx plorb vint") == set()


def test_confidence_grows_with_evidence(detector: CategoryDetector) -> None:
    weak, strong = detector.detect([normalize("money"), normalize("loan credit financing 贷款")]).confidence
    index = CATEGORIES.index("financing")
    assert 0 < weak[index] < strong[index] < 1


def test_matched_terms_are_reported(detector: CategoryDetector) -> None:
    assert "loan" in detector.detect([normalize("a loan pls")]).terms[0]


def test_kind_prior_prefers_the_fitting_kind() -> None:
    confidence = np.zeros((1, len(CATEGORIES)))
    confidence[0, CATEGORIES.index("skills")] = 1.0
    prior = kind_prior(confidence)[0]
    assert INSTITUTION_KINDS[int(prior.argmax())] == "college"
    assert CATEGORY_KIND_PRIOR.shape == (len(CATEGORIES), len(INSTITUTION_KINDS))
