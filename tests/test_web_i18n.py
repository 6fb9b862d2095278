"""The console speaks English and Simplified Chinese: every label in both, every label the page uses exists, and
every reason the engine gives (a code and its parameters, ``matching.explain.reasons``) renders in Chinese with its
vocabulary translated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from matching import BaselineRanker
from matching.eligibility import RULES
from matching.explain.reasons import Reason, reasons_data, render, templates
from matching.records import CASE_STATUSES, CATEGORIES, INSTITUTION_KINDS, OUTCOME_STATUSES, SECTORS, Problem
from matching.tables.context import fit_matcher
from matching.tables.files import read_tables
from service.api.schemas import Role
from service.web import STATIC_DIR, TEMPLATES_DIR
from service.web.i18n import catalogue, choose_language
from training.simulator.generate import simulate, write

ZH = "zh-Hans"
PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+)(\*?))?\}")
# Label families the page builds from a vocabulary (`status_${status}` and the like), and what they must cover.
FAMILIES = {
    "status_": OUTCOME_STATUSES,
    "kind_": INSTITUTION_KINDS,
    "sector_": SECTORS,
    "category_": CATEGORIES,
    "role_": tuple(role.value for role in Role),
    "case_": CASE_STATUSES,
    "source_": ("engine", "caseworker", "rule", "outcome", "province"),
}


def test_the_console_speaks_english_and_simplified_chinese() -> None:
    assert set(catalogue().languages) == {"en", ZH}
    assert catalogue().default == "en"


def test_every_label_exists_in_every_language() -> None:
    found = catalogue()
    missing = {key: sorted(set(found.languages) - {lang for lang, text in texts.items() if text.strip()})
               for key, texts in found.labels.items()}
    assert {key: langs for key, langs in missing.items() if langs} == {}


def test_chinese_labels_are_written_in_chinese() -> None:
    cjk = re.compile(r"[\u4e00-\u9fff]")
    untranslated = [key for key, texts in catalogue().labels.items() if not cjk.search(texts[ZH])]
    assert untranslated == []


def test_every_reason_template_and_word_exists_in_both_languages_with_the_same_placeholders() -> None:
    found = templates()
    for code, texts in found["templates"].items():
        assert set(texts) == {"en", "zh"}, code
        assert sorted(PLACEHOLDER.findall(texts["en"])) == sorted(PLACEHOLDER.findall(texts["zh"])), code
    for vocabulary, words in found["vocabulary"].items():
        assert {code for code, texts in words.items() if set(texts) != {"en", "zh"}} == set(), vocabulary


def test_the_vocabularies_cover_the_domain() -> None:
    vocabulary = templates()["vocabulary"]
    assert set(vocabulary["category"]) == set(CATEGORIES)
    assert set(vocabulary["kind"]) == set(INSTITUTION_KINDS)
    assert set(vocabulary["sector"]) == set(SECTORS)
    assert set(vocabulary["rule"]) == set(vocabulary["check"]) == set(RULES)
    assert set(vocabulary["outcome"]) == set(OUTCOME_STATUSES)


def _used_in_template() -> set[str]:
    html = (TEMPLATES_DIR / "console.html").read_text(encoding="utf-8")
    keys = set(re.findall(r'data-i18n(?:-label)?="(\w+)"', html)) | set(re.findall(r"\bt\.(\w+)", html))
    return {key for key in keys if "{{" not in key}


def _used_in_scripts() -> set[str]:
    keys: set[str] = set()
    for script in STATIC_DIR.glob("*.js"):
        code = script.read_text(encoding="utf-8")
        for expression in re.findall(r"\b(?:i18n|label):\s*([^,}\n]+)", code):
            keys |= set(re.findall(r'"(\w+)"', expression))
        keys |= set(re.findall(r'\b(?:say|showKeyPanel)\(\s*"(\w+)"', code))
        for table in re.findall(r"_LABELS = \{([^}]*)\}", code):
            keys |= set(re.findall(r':\s*"(\w+)"', table))
        for listed in re.findall(r"[lL]abels = \[([^\]]*)\]", code):
            keys |= set(re.findall(r'"(\w+)"', listed))
        keys |= set(re.findall(r'\["(\w+)",\s*el\(', code))  # [label, element] pairs of a definition list
    return keys


def test_every_label_the_page_uses_exists() -> None:
    used = _used_in_template() | _used_in_scripts()
    assert len(used) > 60  # the scan finds the page's labels (a broken scan would pass vacuously)
    assert sorted(used - set(catalogue().labels)) == []


def test_every_label_family_covers_its_whole_vocabulary() -> None:
    code = "\n".join(path.read_text(encoding="utf-8") for path in STATIC_DIR.glob("*.js"))
    code += (TEMPLATES_DIR / "console.html").read_text(encoding="utf-8")
    prefixes = set(re.findall(r"`(\w+_)\$\{", code)) | set(re.findall(r"'(\w+_)' ~", code))
    assert prefixes <= set(FAMILIES), prefixes - set(FAMILIES)
    missing = [f"{prefix}{value}" for prefix, values in FAMILIES.items() for value in values
               if f"{prefix}{value}" not in catalogue().labels]
    assert missing == []


@pytest.mark.parametrize(("header", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", ZH),
    ("zh-Hans", ZH),
    ("zh-TW", ZH),
    ("en-GB,en;q=0.9", "en"),
    ("fr-FR, de;q=0.5", "en"),
    ("fr-FR, zh;q=0.5", ZH),
    ("", "en"),
    (None, "en"),
])
def test_the_page_language_follows_accept_language(header: str | None, expected: str) -> None:
    assert choose_language(header) == expected


def _untranslated(reason: Reason) -> list[str]:
    """Vocabulary parameters of ``reason`` whose Chinese word its Chinese rendering does not show."""
    text = render(reason.code, reason.params, "zh")
    entry = templates()["templates"][reason.code]["zh"]
    vocabulary = templates()["vocabulary"]
    left = []
    for name, how, star in PLACEHOLDER.findall(entry):
        if how not in vocabulary:
            continue
        values = reason.params[name] if star else [reason.params[name]]
        left += [value for value in values if vocabulary[how][value]["zh"] not in text]
    return left


@pytest.fixture(scope="module")
def engine_sentences(tmp_path_factory: pytest.TempPathFactory) -> list[Reason]:
    """Every reason the engine gives for a small simulated city and for gibberish (the other escalations are
    hard to provoke on a generated city: see the test after next), as ``Reason`` objects: the engine's
    sentence with the code and parameters it keeps beside it."""
    folder = tmp_path_factory.mktemp("city")
    write(simulate(n_enterprises=150, n_institutions=40, seed=3), folder)
    tables = read_tables(folder)
    matcher = fit_matcher(tables, BaselineRanker())
    problems = tables.problems.merge(tables.enterprises.drop(columns=["name"]), on="enterprise_id")
    region = str(tables.enterprises["region"].iloc[0])
    extra = [Problem(text="qwzx vbnm plokij", region=region)]
    sentences: dict[str, Reason] = {}
    for result in [*matcher.recommend(problems, k=5), *matcher.recommend(extra, k=5)]:
        for item in result.institutions:
            found = reasons_data(item.reasons, item.reason_data)
            assert len(found) == len(item.reasons)
            for sentence, data in zip(item.reasons, found, strict=True):
                reason = Reason(data["code"], data["params"])
                assert reason == sentence  # the engine's sentence is the English template's
                sentences[sentence] = reason
        if result.escalate_reason:
            assert isinstance(result.escalate_reason, Reason), result.escalate_reason
            sentences[str(result.escalate_reason)] = result.escalate_reason
    return [sentences[text] for text in sorted(sentences)]


def test_every_engine_reason_has_a_chinese_rendering_with_its_vocabulary_translated(
    engine_sentences: list[Reason],
) -> None:
    assert len(engine_sentences) > 50
    codes = {reason.code for reason in engine_sentences}
    assert {"need_detected", "matched_terms", "eligibility_passed", "no_recognisable_need"} <= codes
    assert codes <= set(templates()["templates"]) - {"text"}
    assert {str(r): _untranslated(r) for r in engine_sentences if _untranslated(r)} == {}
    assert all(re.search(r"[\u4e00-\u9fff]", render(r.code, r.params, "zh")) for r in engine_sentences)
    assert all(render(r.code, r.params, "en") == str(r) for r in engine_sentences)


def test_the_escalation_reasons_are_rendered_with_their_details() -> None:
    excluded = Reason("no_eligible_institution", {"excluded": {rule: n for n, rule in enumerate(RULES, start=1)}})
    assert render(excluded.code, excluded.params, "zh") == (
        "本市没有符合条件的机构（排除原因：机构未在营：1、不服务该企业所在区域：2、不服务该企业所在行业：3、"
        "申请金额超出其放贷范围：4、本月接案已满：5）"
    )
    assert str(excluded).startswith("no eligible institution in the city (excluded: institution is not active: 1, ")
    assert render("no_eligible_institution", {"excluded": {}}, "zh") == "本市没有符合条件的机构（排除原因：无）"
    assert render("below_threshold", {"best": 0.04, "threshold": 0.1}, "zh") == (
        "没有足够合适的机构（最高得分 0.04 低于阈值 0.10）")
    assert str(Reason("below_threshold", {"best": 0.04, "threshold": 0.1})) == (
        "no institution fits well enough (best score 0.04 is below 0.10)")
    assert render("eligibility_passed", {"checks": ["active", "region", "capacity"]}, "zh") == (
        "资格审核通过：机构在营、服务区域、接案余量")


def test_an_unknown_code_renders_its_text_and_a_reason_survives_pickling() -> None:
    import pickle

    assert render("from_a_newer_engine", {"text": "a sentence from a newer engine"}, "zh") == (
        "a sentence from a newer engine")
    reason = Reason("matched_terms", {"terms": ["loan", "贷款"]})
    assert render(reason.code, reason.params, "zh") == "匹配的词语：loan、贷款"
    again = pickle.loads(pickle.dumps(reason))
    assert again == reason and again.code == "matched_terms" and again.params == reason.params


def test_the_labels_file_is_what_the_page_fetches() -> None:
    assert Path(STATIC_DIR / "labels.json").is_file()
    assert 'new URL("./labels.json", import.meta.url)' in (STATIC_DIR / "i18n.js").read_text(encoding="utf-8")
