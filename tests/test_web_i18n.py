"""The console speaks English and Simplified Chinese: every label in both, every label the page uses exists, and
every sentence the engine writes into a recommendation has a Chinese rendering whose vocabulary is translated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from matching import BaselineRanker
from matching.context import fit_matcher
from matching.eligibility import RULE_TEXT, RULES
from matching.records import CATEGORIES, INSTITUTION_KINDS, OUTCOME_STATUSES, SECTORS, Problem
from matching.tables import read_tables
from service.api.schemas import Role
from service.web import STATIC_DIR, TEMPLATES_DIR
from service.web.i18n import catalogue, choose_language, translate_reason
from training.simulator import simulate, write

ZH = "zh-Hans"
PLACEHOLDER = re.compile(r"\{(\d+)([!*]?)\}")
# Label families the page builds from a vocabulary (`status_${status}` and the like), and what they must cover.
FAMILIES = {
    "status_": OUTCOME_STATUSES,
    "kind_": INSTITUTION_KINDS,
    "sector_": SECTORS,
    "category_": CATEGORIES,
    "role_": tuple(role.value for role in Role),
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


def test_every_word_and_reason_template_exists_in_every_other_language() -> None:
    found = catalogue()
    others = set(found.languages) - {found.default}
    assert {phrase for phrase, texts in found.words.items() if not others <= set(texts)} == set()
    assert [pattern.pattern for pattern, templates in found.reasons if not others <= set(templates)] == []


def test_reason_templates_only_name_groups_their_pattern_has() -> None:
    for pattern, templates in catalogue().reasons:
        for template in templates.values():
            groups = {int(number) for number, _ in PLACEHOLDER.findall(template)}
            assert groups <= set(range(1, pattern.groups + 1)), pattern.pattern
            assert groups == set(range(1, pattern.groups + 1)), f"a group is dropped: {pattern.pattern}"


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


def _pattern_for(sentence: str) -> tuple[re.Match[str], str] | None:
    for pattern, templates in catalogue().reasons:
        match = pattern.match(sentence)
        if match:
            return match, templates[ZH]
    return None


def _untranslated(sentence: str) -> list[str]:
    """Phrases of ``sentence`` that the Chinese rendering would have to show in English."""
    found = _pattern_for(sentence)
    assert found is not None, f"no pattern for {sentence!r}"
    match, template = found
    words = catalogue().words
    left = []
    for number, how in PLACEHOLDER.findall(template):
        value = match.group(int(number))
        if how == "!":
            continue
        items = value.split(", ") if how == "*" else [value]
        for item in items:
            counted = re.match(r"^(.*): \d+$", item)
            phrase = counted.group(1) if how == "*" and counted and item not in words else item
            if phrase not in words:
                left.append(phrase)
    return left


@pytest.fixture(scope="module")
def engine_sentences(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Every reason and escalation sentence the engine writes for a small simulated city and for gibberish
    (the other escalations are hard to provoke on a generated city: see the test after next)."""
    folder = tmp_path_factory.mktemp("city")
    write(simulate(n_enterprises=150, n_institutions=40, seed=3), folder)
    tables = read_tables(folder)
    matcher = fit_matcher(tables, BaselineRanker())
    problems = tables.problems.merge(tables.enterprises.drop(columns=["name"]), on="enterprise_id")
    region = str(tables.enterprises["region"].iloc[0])
    extra = [Problem(text="qwzx vbnm plokij", region=region)]
    sentences: set[str] = set()
    for result in [*matcher.recommend(problems, k=5), *matcher.recommend(extra, k=5)]:
        sentences.update(reason for item in result.institutions for reason in item.reasons)
        if result.escalate_reason:
            sentences.add(result.escalate_reason)
    return sorted(sentences)


def test_every_engine_sentence_has_a_chinese_rendering_with_its_vocabulary_translated(
    engine_sentences: list[str],
) -> None:
    assert len(engine_sentences) > 50
    for prefix in ("need detected:", "matched terms:", "eligibility passed:", "the text states no need"):
        assert any(s.startswith(prefix) for s in engine_sentences), prefix
    assert {s: _untranslated(s) for s in engine_sentences if _untranslated(s)} == {}
    rendered = [translate_reason(s, ZH) for s in engine_sentences]
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in rendered)


def test_the_escalation_sentences_are_translated_with_their_details() -> None:
    excluded = ", ".join(f"{RULE_TEXT[rule]}: {n}" for n, rule in enumerate(RULES, start=1))
    assert translate_reason(f"no eligible institution in the city (excluded: {excluded})", ZH) == (
        "本市没有符合条件的机构（排除原因：机构未在营：1、不服务该企业所在区域：2、不服务该企业所在行业：3、"
        "申请金额超出其放贷范围：4、本月接案已满：5）"
    )
    assert translate_reason("no institution fits well enough (best score 0.04 is below 0.10)", ZH) == (
        "没有足够合适的机构（最高得分 0.04 低于阈值 0.10）"
    )
    assert translate_reason("eligibility passed: active, region, capacity", ZH) == (
        "资格审核通过：机构在营、服务区域、接案余量"
    )


def test_an_unknown_sentence_is_shown_as_the_engine_wrote_it_and_english_is_left_alone() -> None:
    assert translate_reason("a sentence from a newer engine", ZH) == "a sentence from a newer engine"
    assert translate_reason("matched terms: loan, 贷款", "en") == "matched terms: loan, 贷款"
    assert translate_reason("matched terms: loan, 贷款", ZH) == "匹配的词语：loan, 贷款"


def test_the_labels_file_is_what_the_page_fetches() -> None:
    assert Path(STATIC_DIR / "labels.json").is_file()
    assert 'new URL("./labels.json", import.meta.url)' in (STATIC_DIR / "i18n.js").read_text(encoding="utf-8")
