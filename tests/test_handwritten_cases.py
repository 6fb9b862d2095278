"""Hand-written problem statements (English, Chinese, mixed, typos; short and long) against a hand-written city:
an expected institution kind must be in the top 3 for at least 90% of them, in every language group."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
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


# -- with a trained model loaded ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_city() -> Matcher:
    """A simulated city's catalogue and outcomes, ranked by the ranker smematch train fits on them."""
    from matching.tables.context import fit_matcher
    from matching.tables.files import validate_tables
    from training.api import fit_ranker
    from training.simulator.generate import simulate

    city = simulate(n_enterprises=1500, n_institutions=120, seed=5)
    tables = validate_tables(city.enterprises, city.problems, city.institutions, city.outcomes)
    return fit_matcher(tables, fit_ranker(tables).ranker)


def test_with_a_trained_model_an_expected_kind_is_in_the_top_three_for_ninety_percent(trained_city: Matcher) -> None:
    problems = [Problem(text=c["text"], amount=c.get("amount")) for c in CASES]
    hits = []
    for case, result in zip(CASES, trained_city.recommend(problems, k=5), strict=True):
        hits.append(bool({item.kind for item in result.institutions[:3]} & set(case["expect"])))
    assert sum(hits) / len(hits) >= 0.9


@pytest.mark.parametrize("text", ["hello", "thanks", "blorf quazzle snerp vindu", "asdfghjkl", "qwertyuiop zxcv",
                                  "lorem ipsum dolor sit amet", "你好", "谢谢", "龘靐齉爩", "哈哈哈哈哈"])
def test_with_a_trained_model_text_that_states_no_need_is_sent_back_for_a_description(
        trained_city: Matcher, text: str) -> None:
    [result] = trained_city.recommend(Problem(text=text), k=5)
    assert result.escalate and not result.institutions
    assert "please describe the problem" in result.escalate_reason


def test_the_evidence_floor_comes_from_the_held_out_problems_and_travels_in_the_bundle(tmp_path) -> None:  # noqa: ANN001
    from matching import load_bundle, save_bundle
    from matching.tables.files import validate_tables
    from matching.understand.evidence import text_evidence
    from training.config import load_config
    from training.dataset import build_pairs
    from training.simulator.generate import simulate
    from training.train import EVIDENCE_MARGIN, EVIDENCE_QUANTILE, fit_learned_ranker

    city = simulate(n_enterprises=400, n_institutions=40, seed=8)
    data = build_pairs(validate_tables(city.enterprises, city.problems, city.institutions, city.outcomes),
                       config=load_config())
    held_out = data.problems["split"].isin(("calibration", "evaluation")).to_numpy()
    evidence = text_evidence(data.prepared, np.flatnonzero(held_out), data.matcher.catalogue_.index)
    ranker = fit_learned_ranker(data, config=load_config(), version="floor-1")
    assert ranker.need_evidence_below == pytest.approx(EVIDENCE_MARGIN * np.quantile(evidence, EVIDENCE_QUANTILE))
    assert ranker.need_evidence_below < np.median(evidence)
    loaded = load_bundle(save_bundle(ranker, tmp_path / "bundle"))
    assert loaded.need_evidence_below == ranker.need_evidence_below
    assert loaded.escalate_below == ranker.escalate_below
