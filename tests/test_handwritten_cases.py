"""Hand-written problem statements (English, Chinese, mixed, typos; short and long) against a hand-written city:
an expected institution kind must be in the top 3 for at least 90% of them, in every language group."""

from __future__ import annotations

from collections import defaultdict

import pytest

from matching import Matcher, Problem

from engine_fixtures import city_institutions, handwritten_cases

CASES = handwritten_cases()


@pytest.fixture(scope="module")
def outcomes() -> dict[str, list[bool]]:
    matcher = Matcher().fit(city_institutions())
    problems = [Problem(text=c["text"], sector=c.get("sector"), amount=c.get("amount")) for c in CASES]
    by_language: dict[str, list[bool]] = defaultdict(list)
    for case, result in zip(CASES, matcher.recommend(problems, k=5), strict=True):
        kinds = {item.kind for item in result.institutions[:3]}
        by_language[case["lang"]].append(bool(kinds & set(case["expect"])))
    return by_language


def test_there_are_at_least_forty_cases_in_every_language() -> None:
    assert len(CASES) >= 40
    assert {c["lang"] for c in CASES} == {"en", "zh", "mixed", "typo"}
    assert sum(c["lang"] == "zh" for c in CASES) >= 10


def test_expected_kind_in_top_three_for_ninety_percent(outcomes: dict[str, list[bool]]) -> None:
    hits = [hit for group in outcomes.values() for hit in group]
    assert sum(hits) / len(hits) >= 0.9


@pytest.mark.parametrize("language", ["en", "zh", "mixed", "typo"])
def test_each_language_group_reaches_ninety_percent(outcomes: dict[str, list[bool]], language: str) -> None:
    group = outcomes[language]
    assert sum(group) / len(group) >= 0.9
